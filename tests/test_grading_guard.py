"""dlcore.grading, and the fairness and sharpness of chapter 1's tests.

The chapter-1 source notebook's test cells are run in this process
(coursekit.runner, scored as nbgrader scores them) against answers a
learner could write: every correct one must pass every test, every wrong
one must fail the tests it should, with a message that teaches.
"""

from pathlib import Path
import textwrap

import numpy as np
import pytest

from coursekit.notebooks import read
from dlcore import grading
from dlcore.guard import DelegationError
from dlcore.perceptron import and_gate as dl_and_gate

ROOT = Path(__file__).resolve().parents[1]
CH01 = ROOT / "solutions" / "ch01_perceptrons" / "exercises.ipynb"


# ------------------------------------------------------- grading helpers


def test_assert_close_reports_shape_first():
    with pytest.raises(AssertionError, match=r"shape \(2, 3\).*\(2, 1, 3\)"):
        grading.assert_close(np.zeros((2, 3)), np.zeros((2, 1, 3)), "dx")


def test_assert_close_reports_dtype_then_values():
    with pytest.raises(AssertionError, match="dtype float64, expected float32"):
        grading.assert_close(np.zeros(3), np.zeros(3, np.float32), "y",
                             dtype=np.float32)
    with pytest.raises(AssertionError,
                       match=r"1 of 4 values are off; the worst at index "
                             r"\(1, 0\) is 5, off by 2"):
        grading.assert_close(np.array([[1.0, 2.0], [5.0, 4.0]]),
                             np.array([[1.0, 2.0], [3.0, 4.0]]), "y")
    grading.assert_close(np.float32([1, 2]), [1, 2 + 1e-7], "y")


def test_assert_close_catches_nan_and_none():
    with pytest.raises(AssertionError, match="1 of 2 values are off"):
        grading.assert_close(np.array([1.0, np.nan]), [1.0, 2.0], "y")
    with pytest.raises(AssertionError, match="forget to return"):
        grading.assert_close(None, [1.0], "y")


@pytest.mark.parametrize("value, pattern", [
    (True, "boolean"), (np.True_, "boolean"), (1.0, "type float"),
    (2, "expected 0 or 1"), ("1", "type str"),
])
def test_assert_int01_rejects(value, pattern):
    with pytest.raises(AssertionError, match=pattern):
        grading.assert_int01(value, "and_gate(1, 1)")


def test_assert_int01_accepts_python_and_numpy_ints():
    for v in (0, 1, np.int64(1), np.int32(0)):
        grading.assert_int01(v, "gate")


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_call_captures_warnings_and_explains_errors(capsys):
    def noisy(x):
        return np.log(x)  # RuntimeWarning at 0

    assert grading.call(noisy, np.array([0.0]))[0] == -np.inf
    assert capsys.readouterr().err == ""

    def broken(x):
        return x.nope

    with pytest.raises(AssertionError,
                       match=r"broken\(<array \(2,\) float64>\) raised "
                             r"AttributeError"):
        grading.call(broken, np.zeros(2))


def test_call_stops_an_endless_loop_with_a_message():
    def forever():
        while True:
            pass

    with pytest.raises(AssertionError, match="did not finish within 0.2 s"):
        grading.call(forever, seconds=0.2)


def test_graded_trips_every_route_to_the_reference():
    import dlcore.perceptron as P

    alias = dl_and_gate

    def wrapper(a, b):
        return P.and_gate(a, b)

    with grading.graded("and_gate"):
        for route in (dl_and_gate, alias, wrapper):
            with pytest.raises(DelegationError, match="delegating to dlcore"):
                grading.call(route, 1, 1)
        # other items stay usable
        assert P.or_gate(0, 1) == 1
    assert dl_and_gate(1, 1) == 1


def test_check_gradient():
    x = np.array([[1.0, -2.0, 3.0]])
    grading.check_gradient(lambda v: np.sum(v ** 2), x, 2 * x, "dx")
    with pytest.raises(AssertionError, match=r"shape \(3,\).*\(1, 3\)"):
        grading.check_gradient(lambda v: np.sum(v ** 2), x, 2 * x[0], "dx")
    with pytest.raises(AssertionError, match="central differences"):
        grading.check_gradient(lambda v: np.sum(v ** 2), x, x, "dx")
    assert x.tolist() == [[1.0, -2.0, 3.0]]  # left unchanged


def test_grading_helpers_never_call_a_reference():
    src = (ROOT / "dlcore" / "grading.py").read_text()
    assert "dlcore.perceptron" not in src and "dlcore.gradients" not in src


# ------------------------------------ chapter 1: fairness and sharpness

def _src(text):
    return textwrap.dedent(text).strip("\n")


GATE_W = {"and_gate": (0.5, 0.5, -0.7), "nand_gate": (-0.5, -0.5, 0.7),
          "or_gate": (0.5, 0.5, -0.2)}

CORRECT = {
    "numpy gates, other weights": {
        "and_gate": _src("""
            import numpy as np
            def and_gate(x1, x2):
                w, b = np.array([1.0, 1.0]), -1.5
                return 1 if np.sum(w * np.array([x1, x2])) + b > 0 else 0
        """),
        "or_gate": _src("""
            import numpy as np
            def or_gate(x1, x2):
                return int(np.dot([1, 1], [x1, x2]) - 0.5 > 0)
        """),
    },
    "xor from dlcore's gates": {
        "xor_gate": _src("""
            from dlcore.perceptron import and_gate as A, nand_gate as N
            import dlcore.perceptron as P
            def xor_gate(x1, x2):
                return A(N(x1, x2), P.or_gate(x1, x2))
        """),
    },
    "xor as two inline layers": {
        "xor_gate": _src("""
            def xor_gate(x1, x2):
                s1 = int(-x1 - x2 + 1.5 > 0)
                s2 = int(x1 + x2 - 0.5 > 0)
                return int(s1 + s2 - 1.5 > 0)
        """),
    },
    "train: vectorised, random init from rng, shuffled": {
        "train_perceptron": _src("""
            import numpy as np
            def train_perceptron(X, y, lr=0.1, epochs=100, rng=None):
                rng = rng if rng is not None else np.random.default_rng(1)
                X = np.asarray(X, dtype=np.float64)
                w = rng.normal(scale=0.01, size=X.shape[1])
                b = np.float64(0)
                for _ in range(epochs):
                    done = True
                    for i in rng.permutation(len(X)):
                        y_hat = np.where(X[i] @ w + b > 0, 1, 0)
                        if y_hat != y[i]:
                            w += lr * (y[i] - y_hat) * X[i]
                            b += lr * (y[i] - y_hat)
                            done = False
                    if done:
                        break
                return w, b
        """),
    },
    "train: batch perceptron, bias as an extra column": {
        "train_perceptron": _src("""
            import numpy as np
            def train_perceptron(X, y, lr=0.1, epochs=100, rng=None):
                Xb = np.hstack([X, np.ones((len(X), 1))])
                wb = np.zeros(Xb.shape[1])
                for _ in range(epochs):
                    err = y - (Xb @ wb > 0).astype(int)
                    if not err.any():
                        break
                    wb = wb + lr * Xb.T @ err
                return wb[:-1], wb[-1]
        """),
    },
}


def _gate(name, body):
    return f"import numpy as np\ndef {name}(x1, x2):\n    {body}\n"


def _train(body_lines):
    """A loop-style train_perceptron with one line changed."""
    base = {
        "prep": "X = np.asarray(X, dtype=float)",
        "init": "w = np.zeros(X.shape[1]); b = 0.0",
        "loop": "for _ in range(epochs):",
        "pred": "y_hat = int(X[i] @ w + b > 0)",
        "upd_w": "w = w + lr * (y[i] - y_hat) * X[i]",
        "upd_b": "b = b + lr * (y[i] - y_hat)",
        "ret": "return w, b",
    }
    base.update(body_lines)
    return _src(f"""
        import numpy as np
        def train_perceptron(X, y, lr=0.1, epochs=100, rng=None):
            {base['prep']}
            {base['init']}
            {base['loop']}
                mistakes = 0
                for i in range(len(X)):
                    {base['pred']}
                    if y_hat != y[i]:
                        mistakes += 1
                        {base['upd_w']}
                        {base['upd_b']}
                if mistakes == 0:
                    break
            {base['ret']}
    """)


# (answers, {test grade_id that must fail: regex its message must match})
WRONG = {
    "gate returns a bool": (
        {"and_gate": _gate("and_gate", "return 0.5*x1 + 0.5*x2 - 0.7 > 0")},
        {"test_and_gate_hidden_types": "boolean"}),
    "gate returns np.bool_": (
        {"or_gate": _gate("or_gate",
                          "return np.dot([0.5, 0.5], [x1, x2]) - 0.2 > 0")},
        {"test_or_gate_hidden_types": "boolean"}),
    "gate returns a float": (
        {"nand_gate": _gate("nand_gate",
                            "return float(-0.5*x1 - 0.5*x2 + 0.7 > 0)")},
        {"test_nand_gate_hidden_types": "type float"}),
    "gate with > where the weights need >=": (
        {"and_gate": _gate("and_gate", "return int(x1 + x2 - 2 > 0)")},
        {"test_and_gate_truth_table": r"and_gate\(1, 1\) returned 0",
         "test_and_gate_hidden_types": "returned 0"}),
    "gate delegated through the module": (
        {"and_gate": _src("""
            import dlcore.perceptron as P
            def and_gate(x1, x2):
                return P.and_gate(x1, x2)
        """)},
        {"test_and_gate_truth_table": "delegating to dlcore",
         "test_and_gate_hidden_types": "delegating to dlcore"}),
    "xor from one perceptron": (
        {"xor_gate": _gate("xor_gate", "return int(x1 + x2 - 0.5 > 0)")},
        {"test_xor_gate_truth_table": r"xor_gate\(1, 1\) returned 1",
         "test_xor_gate_hidden_types": "returned 1"}),
    "xor imported from dlcore": (
        {"xor_gate": "from dlcore.perceptron import xor_gate"},
        {"test_xor_gate_truth_table": "delegating",
         "test_xor_gate_hidden_types": "delegating"}),
    "train subclass-free wrapper of dlcore": (
        {"train_perceptron": _src("""
            from dlcore import perceptron
            def train_perceptron(X, y, lr=0.1, epochs=100, rng=None):
                return perceptron.train_perceptron(X, y, lr, epochs, rng)
        """)},
        {"test_train_perceptron_and": "delegating",
         "test_train_perceptron_hidden_fit": "delegating",
         "test_train_perceptron_hidden_inputs": "delegating",
         "test_train_perceptron_hidden_hyperparameters": "delegating"}),
    "bias never updated": (
        {"train_perceptron": _train({"upd_b": "pass"})},
        {"test_train_perceptron_and": "misclassifies",
         "test_train_perceptron_hidden_fit": "misclassifies"}),
    "w of shape (D, 1)": (
        {"train_perceptron": _train({
            "init": "w = np.zeros((X.shape[1], 1)); b = 0.0",
            "pred": "y_hat = int((X[i] @ w + b)[0] > 0)",
            "upd_w": "w = w + lr * (y[i] - y_hat) * X[i][:, None]"})},
        {"test_train_perceptron_and": r"shape \(2, 1\); return a 1-D w",
         "test_train_perceptron_hidden_inputs": r"shape \(3, 1\)"}),
    "modifies X in place": (
        {"train_perceptron": _train({
            "prep": "X /= np.abs(X).max()"})},
        {"test_train_perceptron_hidden_inputs": "changed its input X"}),
    "ignores epochs (fixed count)": (
        {"train_perceptron": _train({"loop": "for _ in range(100):"})},
        {"test_train_perceptron_hidden_hyperparameters": "epochs=1, 2 and 3"}),
    "ignores epochs (loops until no mistake)": (
        {"train_perceptron": _train({"loop": "while True:"})},
        {"test_train_perceptron_hidden_hyperparameters":
            "did not finish within"}),
    "ignores lr": (
        {"train_perceptron": _train({
            "upd_w": "w = w + 0.1 * (y[i] - y_hat) * X[i]",
            "upd_b": "b = b + 0.1 * (y[i] - y_hat)"})},
        {"test_train_perceptron_hidden_hyperparameters": "lr=0.1 and lr=1.0"}),
    "uses >= in training": (
        {"train_perceptron": _train({"pred": "y_hat = int(X[i] @ w + b >= 0)"})},
        {"test_train_perceptron_hidden_fit": "instead of >"}),
    "stops after one epoch (does not converge)": (
        {"train_perceptron": _train({"loop": "for _ in range(1):"})},
        {"test_train_perceptron_hidden_fit": "misclassifies"}),
    "update with the wrong sign": (
        {"train_perceptron": _train({
            "upd_w": "w = w - lr * (y[i] - y_hat) * X[i]",
            "upd_b": "b = b - lr * (y[i] - y_hat)"})},
        {"test_train_perceptron_and": "misclassifies"}),
    "returns w only": (
        {"train_perceptron": _train({"ret": "return w"})},
        {"test_train_perceptron_and": "return the pair"}),
}


@pytest.fixture(scope="module")
def ch01():
    return read(CH01)


def test_reference_solution_passes_everything(ch01, run):
    results = run(ch01)
    assert results and all(ok for ok, _ in results.values()), results


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_answers_of_any_style_pass(ch01, name, run):
    results = run(ch01, CORRECT[name])
    failed = {k: m for k, (ok, m) in results.items() if not ok}
    assert not failed, failed


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_mistakes_fail_with_a_teaching_message(ch01, name, run):
    import re

    answers, must_fail = WRONG[name]
    results = run(ch01, answers)
    for grade_id, pattern in must_fail.items():
        ok, message = results[grade_id]
        assert not ok, f"{grade_id} passed {name!r}"
        assert re.search(pattern, message), (grade_id, message)
    # a mistake in one item costs no other item's points
    items = {k for k in answers}
    others = {k: m for k, (ok, m) in results.items()
              if not ok and not any(k.startswith(f"test_{i}") for i in items)}
    assert not others, others
