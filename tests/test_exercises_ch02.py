"""Fairness and sharpness of chapter 2's exercise tests (issue 4).

The source notebook's test cells run in this process (coursekit.runner,
scored as nbgrader scores them) against answers a learner could write:
every correct one must pass every test; every plausible mistake must fail
the cells it should, with a message that teaches, and no other item's.
"""

from pathlib import Path

import pytest
from exercise_checks import assert_all_pass, assert_fails_as_planned
from exercise_checks import code as _src, function as _fn

from coursekit.notebooks import read

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "ch02_activations" / "exercises.ipynb"


CORRECT = {
    "step: astype(int), sigmoid: branches by mask, relu: where": {
        "step_function": _fn("step_function", "x", """
            return (x > 0).astype(int)"""),
        "sigmoid": _fn("sigmoid", "x", """
            x = np.asarray(x)
            out = np.empty_like(x)
            pos = x >= 0
            out[pos] = 1 / (1 + np.exp(-x[pos]))
            e = np.exp(x[~pos])
            out[~pos] = e / (1 + e)
            return out"""),
        "relu": _fn("relu", "x", "return np.where(x > 0, x, 0)"),
    },
    "step: float 1.0/0.0, sigmoid: errstate, relu: x * (x > 0)": {
        "step_function": _fn("step_function", "x", """
            return np.where(x > 0, 1.0, 0.0)"""),
        "sigmoid": _fn("sigmoid", "x", """
            with np.errstate(over="ignore"):
                return 1 / (1 + np.exp(-x))"""),
        "relu": _fn("relu", "x", "return x * (x > 0)"),
    },
    "sigmoid via tanh, relu via clip": {
        "sigmoid": _fn("sigmoid", "x", "return 0.5 * (1 + np.tanh(x / 2))"),
        "relu": _fn("relu", "x", "return np.clip(x, 0, None)"),
    },
    "softmax: book style with a 1-D / 2-D branch": {
        "softmax": _fn("softmax", "x", """
            if x.ndim == 2:
                x = x - x.max(axis=1, keepdims=True)
                y = np.exp(x)
                return y / y.sum(axis=1, keepdims=True)
            x = x - np.max(x)
            return np.exp(x) / np.sum(np.exp(x))"""),
    },
    "softmax: a loop over rows, transposes": {
        "softmax": _fn("softmax", "x", """
            if x.ndim == 1:
                e = np.exp(x - x.max())
                return e / e.sum()
            rows = [np.exp(r - r.max()) / np.exp(r - r.max()).sum()
                    for r in x]
            return np.array(rows, dtype=x.dtype)"""),
    },
    "softmax via logsumexp, forward with @ and dlcore's sigmoid": {
        "softmax": _fn("softmax", "x", """
            m = x.max(axis=-1, keepdims=True)
            lse = m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
            return np.exp(x - lse)"""),
        "forward": _src("""
            from dlcore.functions import sigmoid as act

            def forward(network, x):
                a = x
                for i in (1, 2):
                    a = act(a @ network[f"W{i}"] + network[f"b{i}"])
                return a @ network["W3"] + network["b3"]
        """),
    },
    "forward with an own inline sigmoid": {
        "forward": _fn("forward", "network, x", """
            def s(a):
                return 1 / (1 + np.exp(-a))
            h = s(np.dot(x, network["W1"]) + network["b1"])
            h = s(np.dot(h, network["W2"]) + network["b2"])
            return np.dot(h, network["W3"]) + network["b3"]"""),
    },
}

GOOD_FORWARD = _fn("forward", "network, x", """
    h = sigmoid(x @ network["W1"] + network["b1"])
    h = sigmoid(h @ network["W2"] + network["b2"])
    {out}""")

WRONG = {
    "step returns booleans": (
        {"step_function": _fn("step_function", "x", "return x > 0")},
        {"test_step_function_hidden": "booleans"}),
    "step uses >=": (
        {"step_function": _fn("step_function", "x",
                              "return (x >= 0).astype(int)")},
        {"test_step_function_hidden": "h\\(0\\) is 0"}),
    "step written for one number": (
        {"step_function": _fn("step_function", "x",
                              "return 1 if x > 0 else 0")},
        {"test_step_function_values": "raised ValueError",
         "test_step_function_hidden": "raised ValueError"}),
    "sigmoid overflows at -1000": (
        {"sigmoid": _fn("sigmoid", "x", "return 1 / (1 + np.exp(-x))")},
        {"test_sigmoid_hidden_extremes": "overflow"}),
    "sigmoid with np.where over both branches": (
        {"sigmoid": _fn("sigmoid", "x", """
            return np.where(x >= 0, 1 / (1 + np.exp(-x)),
                            np.exp(x) / (1 + np.exp(x)))""")},
        {"test_sigmoid_hidden_extremes": "emitted the warning"}),
    "sigmoid e^x / (1 + e^x) everywhere (NaN at 1000)": (
        {"sigmoid": _fn("sigmoid", "x", """
            with np.errstate(all="ignore"):
                return np.exp(x) / (1 + np.exp(x))""")},
        {"test_sigmoid_hidden_extremes": "NaN"}),
    "sigmoid upcasts float32": (
        {"sigmoid": _fn("sigmoid", "x", """
            x = np.asarray(x, dtype=np.float64)
            e = np.exp(-np.abs(x))
            return np.where(x >= 0, 1 / (1 + e), e / (1 + e))""")},
        {"test_sigmoid_hidden_dtype_shape": "dtype float64, expected float32"}),
    "relu in place": (
        {"relu": _fn("relu", "x", """
            x[x < 0] = 0
            return x""")},
        {"test_relu_hidden": "changed its input x"}),
    "relu upcasts float32": (
        {"relu": _fn("relu", "x", "return np.maximum(np.zeros(x.shape), x)")},
        {"test_relu_hidden": "dtype float64, expected float32"}),
    "relu returns the mask": (
        {"relu": _fn("relu", "x", "return (x > 0).astype(x.dtype)")},
        {"test_relu_values": "values are off",
         "test_relu_hidden": "values are off"}),
    "softmax without the max": (
        {"softmax": _fn("softmax", "x", """
            e = np.exp(x)
            return e / e.sum(axis=-1, keepdims=True)""")},
        {"test_softmax_hidden_large": "overflow"}),
    "softmax over the whole batch": (
        {"softmax": _fn("softmax", "x", """
            e = np.exp(x - np.max(x))
            return e / np.sum(e)""")},
        {"test_softmax_hidden_large": "softmax for a batch",
         "test_softmax_hidden_batch": "rows of your softmax sum to"}),
    "softmax over axis 0": (
        {"softmax": _fn("softmax", "x", """
            e = np.exp(x - x.max(axis=0))
            return e / e.sum(axis=0)""")},
        {"test_softmax_hidden_batch": "rows of your softmax sum to"}),
    "softmax max without keepdims": (
        {"softmax": _fn("softmax", "x", """
            e = np.exp(x - np.max(x, axis=-1))
            return e / np.sum(e, axis=-1, keepdims=True)""")},
        {"test_softmax_hidden_batch": "raised ValueError|values are off"}),
    "softmax for 2-D only": (
        {"softmax": _fn("softmax", "x", """
            e = np.exp(x - x.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)""")},
        {"test_softmax_one_sample": "raised AxisError",
         "test_softmax_hidden_batch": "raised AxisError"}),
    "softmax in place": (
        {"softmax": _fn("softmax", "x", """
            x -= x.max(axis=-1, keepdims=True)
            np.exp(x, out=x)
            x /= x.sum(axis=-1, keepdims=True)
            return x""")},
        {"test_softmax_hidden_batch": "changed its input x"}),
    "softmax upcasts float32": (
        {"softmax": _fn("softmax", "x", """
            x = np.asarray(x, dtype=float)
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)""")},
        {"test_softmax_hidden_batch": "expected float32"}),
    "forward with a sigmoid on the output": (
        {"forward": GOOD_FORWARD.replace(
            "{out}", 'return sigmoid(h @ network["W3"] + network["b3"])')},
        {"test_forward_one_sample": "values are off",
         "test_forward_hidden_batch": "values are off",
         "test_forward_hidden_float32": "values are off"}),
    "forward without the last bias": (
        {"forward": GOOD_FORWARD.replace("{out}",
                                         'return h @ network["W3"]')},
        {"test_forward_one_sample": "values are off",
         "test_forward_hidden_batch": "values are off"}),
    "forward with softmax on the output": (
        {"forward": GOOD_FORWARD.replace(
            "{out}", "from dlcore.functions import softmax\n"
                     '    return softmax(h @ network["W3"] + network["b3"])')},
        {"test_forward_hidden_batch": "values are off"}),
    "forward with W @ x": (
        {"forward": _fn("forward", "network, x", """
            h = sigmoid(network["W1"].T @ x + network["b1"])
            h = sigmoid(network["W2"].T @ h + network["b2"])
            return network["W3"].T @ h + network["b3"]""")},
        {"test_forward_hidden_batch": "raised ValueError"}),
    "forward with relu instead of sigmoid": (
        {"forward": GOOD_FORWARD.replace("sigmoid(", "np.maximum(0, ")
         .replace("{out}", 'return h @ network["W3"] + network["b3"]')},
        {"test_forward_one_sample": "values are off",
         "test_forward_hidden_batch": "values are off"}),
    "forward delegated to dlcore": (
        {"forward": "from dlcore.nets import forward"},
        {"test_forward_one_sample": "delegating",
         "test_forward_hidden_batch": "delegating",
         "test_forward_hidden_float32": "delegating"}),
    "relu delegated through the module": (
        {"relu": _src("""
            import dlcore.functions as F
            def relu(x):
                return F.relu(x)
        """)},
        {"test_relu_values": "delegating", "test_relu_hidden": "delegating"}),
}


@pytest.fixture(scope="module")
def nb():
    return read(SOURCE)


def test_reference_solution_passes_everything(nb, run):
    results = run(nb)
    assert len(results) == 13
    assert all(ok for ok, _ in results.values()), results


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_answers_of_any_style_pass(nb, name, run):
    assert_all_pass(run(nb, CORRECT[name]))


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_mistakes_fail_with_a_teaching_message(nb, name, run):
    answers, must_fail = WRONG[name]
    assert_fails_as_planned(run(nb, answers), answers,
                            must_fail, name)
