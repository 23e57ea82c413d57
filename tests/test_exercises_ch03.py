"""Fairness and sharpness of chapter 3's exercise tests (issue 4).

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
SOURCE = ROOT / "solutions" / "ch03_learning" / "exercises.ipynb"


BOOK_CEE = """
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] {guard})) / batch_size
"""


def _ngrad(lines):
    """An nditer-style numerical_gradient with some lines changed."""
    base = {
        "h": "h = 1e-4",
        "plus": "x[idx] = tmp + h",
        "f1": "fxh1 = f(x)",
        "minus": "x[idx] = tmp - h",
        "f2": "fxh2 = f(x)",
        "grad": "grad[idx] = (fxh1 - fxh2) / (2 * h)",
        "restore": "x[idx] = tmp",
    }
    base.update(lines)
    return _src(f"""
        import numpy as np
        def numerical_gradient(f, x):
            {base['h']}
            grad = np.zeros_like(x)
            it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
            while not it.finished:
                idx = it.multi_index
                tmp = float(x[idx])
                {base['plus']}
                {base['f1']}
                {base['minus']}
                {base['f2']}
                {base['grad']}
                {base['restore']}
                it.iternext()
            return grad
    """)


def _gd(lines):
    base = {"copy": "x = init_x.copy()", "loop": "for i in range(step_num):",
            "step": "x -= lr * numerical_gradient(f, x)", "ret": "return x"}
    base.update(lines)
    return _src(f"""
        import numpy as np
        def gradient_descent(f, init_x, lr=0.01, step_num=100):
            {base['copy']}
            {base['loop']}
                {base['step']}
            {base['ret']}
    """)


# the book's gradient_descent keeps a history of x (and returns it too)
GD_WITH_HISTORY = _src("""
    import numpy as np
    def gradient_descent(f, init_x, lr=0.01, step_num=100):
        x = np.copy(init_x)
        history = []
        for _ in range(step_num):
            history.append(x.copy())
            x = x - lr * numerical_gradient(f, x)
        return x
""")


CORRECT = {
    "book style losses": {
        "mean_squared_error": _fn("mean_squared_error", "y, t", """
            if y.ndim == 1:
                return 0.5 * np.sum((y - t) ** 2)
            return 0.5 * np.sum((y - t) ** 2) / y.shape[0]"""),
        "cross_entropy_error": _fn("cross_entropy_error", "y, t",
                                   BOOK_CEE.format(guard="+ 1e-7")),
    },
    "losses via mean, clip guard, one-hot built with eye": {
        "mean_squared_error": _fn("mean_squared_error", "y, t", """
            d = (np.atleast_2d(y) - np.atleast_2d(t)) ** 2
            return float(np.mean(0.5 * d.sum(axis=1)))"""),
        "cross_entropy_error": _fn("cross_entropy_error", "y, t", """
            y = np.atleast_2d(y)
            t = np.asarray(t)
            if t.size != y.size:
                t = np.eye(y.shape[1])[t.reshape(-1)]
            t = t.reshape(y.shape)
            logs = np.log(np.clip(y, 1e-7, None))
            return float(-(t * logs).sum(axis=1).mean())"""),
    },
    "numerical_gradient: book nditer, gradient_descent with history": {
        "numerical_gradient": _ngrad({}),
        "gradient_descent": GD_WITH_HISTORY,
    },
    "numerical_gradient: flat loop over np.unravel_index, h = 1e-5": {
        "numerical_gradient": _src("""
            import numpy as np
            def numerical_gradient(f, x):
                h = 1e-5
                grad = np.zeros(x.shape)
                for k in range(x.size):
                    i = np.unravel_index(k, x.shape)
                    old = x[i].copy()
                    x[i] = old + h
                    a = f(x)
                    x[i] = old - h
                    b = f(x)
                    x[i] = old
                    grad[i] = (a - b) / (2 * h)
                return grad
        """),
    },
    "numerical_gradient restoring by +/- h (a rounding off)": {
        "numerical_gradient": _ngrad({
            "plus": "x[idx] += h", "minus": "x[idx] -= 2 * h",
            "restore": "x[idx] += h"}),
    },
    "gradient_descent with its own inline central difference": {
        "gradient_descent": _src("""
            import numpy as np
            def gradient_descent(f, init_x, lr=0.01, step_num=100):
                x = np.array(init_x, dtype=np.float64)
                for _ in range(step_num):
                    g = np.zeros_like(x)
                    for i in np.ndindex(x.shape):
                        e = np.zeros_like(x)
                        e[i] = 1e-4
                        g[i] = (f(x + e) - f(x - e)) / 2e-4
                    x = x - lr * g
                return x
        """),
    },
}

WRONG = {
    "MSE summed over the batch": (
        {"mean_squared_error": _fn("mean_squared_error", "y, t",
                                   "return 0.5 * np.sum((y - t) ** 2)")},
        {"test_mean_squared_error_hidden_batch": "5 times too large"}),
    "MSE averaged over every element": (
        {"mean_squared_error": _fn("mean_squared_error", "y, t", """
            if y.ndim == 1:
                return 0.5 * np.sum((y - t) ** 2)
            return 0.5 * np.mean((y - t) ** 2)""")},
        {"test_mean_squared_error_hidden_batch": "4 times too small"}),
    "MSE without the 1/2": (
        {"mean_squared_error": _fn("mean_squared_error", "y, t", """
            return np.sum((y - t) ** 2) / (y.shape[0] if y.ndim == 2 else 1)
            """)},
        {"test_mean_squared_error_one_sample": "values are off",
         "test_mean_squared_error_hidden_batch": "twice too large"}),
    "MSE per sample, not averaged": (
        {"mean_squared_error": _fn("mean_squared_error", "y, t",
                                   "return 0.5 * np.sum((y - t) ** 2, axis=-1)")},
        {"test_mean_squared_error_hidden_batch": "returned 5 values"}),
    "CEE without the guard": (
        {"cross_entropy_error": _fn("cross_entropy_error", "y, t",
                                    BOOK_CEE.format(guard=""))},
        {"test_cross_entropy_error_hidden_guard": "inf when y is 0"}),
    "CEE with the guard outside the log": (
        {"cross_entropy_error": _fn("cross_entropy_error", "y, t",
                                    BOOK_CEE.format(guard="").replace(
                                        "])) /", "]) + 1e-7) /"))},
        {"test_cross_entropy_error_hidden_guard": "inf when y is 0"}),
    "CEE summed over the batch": (
        {"cross_entropy_error": _fn("cross_entropy_error", "y, t",
                                    BOOK_CEE.format(guard="+ 1e-7").replace(
                                        ") / batch_size", ")"))},
        {"test_cross_entropy_error_hidden_batch": "4 times too large",
         "test_cross_entropy_error_hidden_indices": "values are off"}),
    "CEE one-hot only": (
        {"cross_entropy_error": _fn("cross_entropy_error", "y, t", """
            n = y.shape[0] if y.ndim == 2 else 1
            return -np.sum(t * np.log(y + 1e-7)) / n""")},
        {"test_cross_entropy_error_hidden_indices": "values are off|raised"}),
    "CEE mean over all entries": (
        {"cross_entropy_error": _fn("cross_entropy_error", "y, t", """
            if y.ndim == 1:
                return -np.sum(t * np.log(y + 1e-7))
            return -np.mean(t * np.log(y + 1e-7))""")},
        {"test_cross_entropy_error_hidden_batch": "5 times too small"}),
    "numerical_gradient with a forward difference": (
        {"numerical_gradient": _ngrad({
            "minus": "x[idx] = tmp", "grad": "grad[idx] = (fxh1 - fxh2) / h"})},
        {"test_numerical_gradient_hidden_central": "one-sided"}),
    "numerical_gradient (a - b) / 2 * h": (
        {"numerical_gradient": _ngrad({
            "grad": "grad[idx] = (fxh1 - fxh2) / 2 * h"})},
        {"test_numerical_gradient_square": "values are off"}),
    "numerical_gradient never restores x": (
        {"numerical_gradient": _ngrad({"restore": "pass"})},
        {"test_numerical_gradient_hidden_in_place": "original values"}),
    "numerical_gradient perturbs a copy": (
        {"numerical_gradient": _ngrad({
            "plus": "x = x.copy(); x[idx] = tmp + h"})},
        {"test_numerical_gradient_hidden_in_place": "perturb x itself"}),
    "numerical_gradient for 1-D only": (
        {"numerical_gradient": _src("""
            import numpy as np
            def numerical_gradient(f, x):
                h = 1e-4
                grad = np.zeros_like(x)
                for i in range(x.size):
                    tmp = x[i]
                    x[i] = tmp + h
                    a = f(x)
                    x[i] = tmp - h
                    b = f(x)
                    x[i] = tmp
                    grad[i] = (a - b) / (2 * h)
                return grad
        """)},
        {"test_numerical_gradient_hidden_in_place": "raised|values are off",
         "test_numerical_gradient_hidden_shapes": "raised"}),
    "numerical_gradient through a flat copy of x": (
        {"numerical_gradient": _src("""
            import numpy as np
            def numerical_gradient(f, x):
                h = 1e-4
                flat = x.ravel()
                grad = np.zeros(x.size)
                for i in range(x.size):
                    tmp = flat[i]
                    flat[i] = tmp + h
                    a = f(x)
                    flat[i] = tmp - h
                    b = f(x)
                    flat[i] = tmp
                    grad[i] = (a - b) / (2 * h)
                return grad.reshape(x.shape)
        """)},
        {"test_numerical_gradient_hidden_shapes": "transposed view"}),
    "gradient_descent modifies init_x": (
        {"gradient_descent": _gd({"copy": "x = init_x"})},
        {"test_gradient_descent_hidden_init_x": "changed init_x"}),
    "gradient_descent ignores lr": (
        {"gradient_descent": _gd({
            "step": "x -= 0.01 * numerical_gradient(f, x)"})},
        {"test_gradient_descent_quadratic": "values are off",
         "test_gradient_descent_hidden_init_x": "values are off",
         "test_gradient_descent_hidden_arguments": "lr and step_num"}),
    "gradient_descent ignores step_num": (
        {"gradient_descent": _gd({"loop": "for i in range(100):"})},
        {"test_gradient_descent_hidden_init_x": "values are off",
         "test_gradient_descent_hidden_arguments": "lr and step_num"}),
    "gradient_descent takes one step too many": (
        {"gradient_descent": _gd({"loop": "for i in range(step_num + 1):"})},
        {"test_gradient_descent_hidden_arguments": "steps instead of step_num"}),
    "gradient_descent climbs": (
        {"gradient_descent": _gd({
            "step": "x += lr * numerical_gradient(f, x)"})},
        {"test_gradient_descent_quadratic": "values are off"}),
    "gradient_descent with another default lr": (
        {"gradient_descent": _gd({}).replace("lr=0.01", "lr=0.1")},
        {"test_gradient_descent_hidden_arguments": "the defaults"}),
    "gradient_descent returns the history too (the book's variant)": (
        {"gradient_descent": GD_WITH_HISTORY.replace(
            "return x", "return x, np.array(history)")},
        {"test_gradient_descent_quadratic": "is a tuple of 2 values"}),
    "gradient_descent delegated": (
        {"gradient_descent": _src("""
            from dlcore import gradients
            def gradient_descent(f, init_x, lr=0.01, step_num=100):
                return gradients.gradient_descent(f, init_x, lr, step_num)
        """)},
        {"test_gradient_descent_quadratic": "delegating",
         "test_gradient_descent_hidden_init_x": "delegating",
         "test_gradient_descent_hidden_arguments": "delegating"}),
    "numerical_gradient delegated": (
        {"numerical_gradient": "from dlcore.gradients import "
                               "numerical_gradient"},
        {"test_numerical_gradient_square": "delegating",
         "test_numerical_gradient_hidden_central": "delegating"}),
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
