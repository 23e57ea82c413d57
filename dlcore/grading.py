"""Helpers the exercise notebooks' tests use (visible and hidden).

Every helper fails with an ``AssertionError`` whose message teaches: it
names the item, the input, and what is wrong (shape first, then dtype,
then values: where and how far off), without printing the answer's code.

The pattern of a hidden test cell::

    import numpy as np
    from dlcore.grading import graded, call, assert_close

    with graded("relu"):                  # dlcore's relu is off limits
        y = call(relu, np.array([-1.0, 2.0]), item="relu")
    assert_close(y, np.array([0.0, 2.0]), name="relu(x)")
    print("relu: hidden edge cases passed")   # a statement, not a number

Expected values are computed outside ``graded`` (or written down), never
by calling the forbidden reference inside the block.
"""

import contextlib
import signal
import threading
import warnings

import numpy as np

from dlcore.guard import DelegationError, forbid

__all__ = [
    "DelegationError",
    "graded",
    "call",
    "time_limit",
    "assert_shape",
    "assert_dtype",
    "assert_close",
    "assert_int01",
    "assert_unchanged",
    "numerical_gradient64",
    "check_gradient",
    "assert_perceptron_fits",
    "substitute",
]


# ---------------------------------------------------------------- calling


def graded(*items):
    """Context manager: while inside, dlcore's references of ``items`` raise.

    A learner's answer that imports, aliases, subclasses or wraps the
    dlcore twin of the item being graded fails with a DelegationError
    that says why (see ``dlcore.guard``).
    """
    return forbid(*items)


class _TimeLimit(BaseException):
    # BaseException, so a learner's bare ``except Exception`` can't swallow it.
    pass


@contextlib.contextmanager
def time_limit(seconds, what):
    """Fail with a teaching message if the block runs longer than ``seconds``.

    Uses SIGALRM, so it works in the main thread on POSIX (where
    nbgrader runs the kernel); elsewhere the block runs unbounded and
    nbgrader's per-cell timeout is the backstop.
    """
    usable = (
        hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable or seconds is None:
        yield
        return

    def _ring(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, _ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _TimeLimit:
        raise AssertionError(
            f"{what} did not finish within {seconds:g} s. Look for a loop "
            f"that never ends (a condition that never becomes false, or a "
            f"bound that ignores an argument such as epochs)."
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _describe(args, kwargs):
    parts = [_short(a) for a in args]
    parts += [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def _short(value):
    if isinstance(value, np.ndarray):
        return f"<array {value.shape} {value.dtype}>"
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def call(fn, *args, item=None, seconds=None, **kwargs):
    """Call learner code ``fn(*args, **kwargs)`` the way a grader should.

    - Warnings are captured, not printed: nbgrader scores any output on
      stderr as a failure, and a correct answer must not lose points to
      a warning.
    - An exception from the learner's code becomes an AssertionError that
      says which call raised what (a DelegationError passes unchanged:
      its message already says why).
    - ``seconds``: a time limit for the call (see :func:`time_limit`).
    """
    name = item or getattr(fn, "__name__", "your function")
    what = f"{name}({_describe(args, kwargs)})"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with time_limit(seconds, what):
            try:
                return fn(*args, **kwargs)
            except (DelegationError, AssertionError):
                raise
            except Exception as err:
                raise AssertionError(
                    f"{what} raised {type(err).__name__}: {err}"
                ) from None


# ------------------------------------------------------------- comparing


def _shape(x):
    return tuple(np.shape(x))


def assert_shape(actual, shape, name="the result", context=""):
    """Fail unless ``actual`` has ``shape``; the message names both."""
    got = _shape(actual)
    if got != tuple(shape):
        extra = f"; {context}" if context else ""
        raise AssertionError(
            f"{name} has shape {got}, expected shape {tuple(shape)}{extra}"
        )


def assert_dtype(actual, dtype, name="the result", context=""):
    """Fail unless ``actual``'s dtype is ``dtype`` (float32 in, float32 out)."""
    got = np.asarray(actual).dtype
    if got != np.dtype(dtype):
        extra = f"; {context}" if context else ""
        raise AssertionError(
            f"{name} has dtype {got}, expected {np.dtype(dtype)}{extra}"
        )


def assert_close(actual, expected, name="the result", context="",
                 rtol=1e-5, atol=1e-8, dtype=None):
    """Compare shape, then dtype (if ``dtype`` is given), then values.

    A value mismatch reports how many entries are off and the worst one:
    its index, the value returned and how far it is from the expected one.
    """
    expected = np.asarray(expected)
    if actual is None:
        raise AssertionError(f"{name} is None: did you forget to return?")
    assert_shape(actual, expected.shape, name, context)
    if dtype is not None:
        assert_dtype(actual, dtype, name, context)
    got = np.asarray(actual, dtype=np.float64)
    want = expected.astype(np.float64)
    bad = ~np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=False)
    if bad.any():
        err = np.where(bad, np.abs(got - want), -np.inf)
        err = np.where(np.isnan(err), np.inf, err)
        worst = np.unravel_index(np.argmax(err), got.shape)
        where = f"at index {tuple(int(i) for i in worst)}" if got.ndim else ""
        extra = f" ({context})" if context else ""
        raise AssertionError(
            f"{name}{extra}: {int(bad.sum())} of {bad.size} values are off; "
            f"the worst {where} is {got[worst]:.6g}, off by "
            f"{abs(got[worst] - want[worst]):.3g}"
        )


def assert_int01(value, name):
    """Fail unless ``value`` is the int 0 or 1 (not a bool, not a float).

    NumPy integer scalars count as ints; ``True``/``np.True_`` and ``1.0``
    do not.
    """
    if isinstance(value, (bool, np.bool_)):
        raise AssertionError(
            f"{name} returned {value!r}, a boolean; return the int "
            f"{int(value)} instead (e.g. wrap the comparison in int(...))"
        )
    if not isinstance(value, (int, np.integer)):
        raise AssertionError(
            f"{name} returned {value!r} of type {type(value).__name__}; "
            f"the contract asks for the int 0 or 1"
        )
    if value not in (0, 1):
        raise AssertionError(f"{name} returned {value!r}; expected 0 or 1")


def assert_unchanged(before, after, name):
    """Fail if an input array was modified in place by the learner's code."""
    if not np.array_equal(before, after):
        raise AssertionError(
            f"your code changed its input {name} in place; work on a copy "
            f"(inputs are never modified unless the contract says so)"
        )


# -------------------------------------------------------------- gradients


def numerical_gradient64(f, x, h=1e-4):
    """Central differences of scalar ``f`` at ``x``, computed in float64.

    ``x`` (any shape) is copied to float64 and perturbed one entry at a
    time; ``f`` receives that copy. Returns an array shaped like ``x``.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        saved = x[i]
        x[i] = saved + h
        f_plus = float(f(x))
        x[i] = saved - h
        f_minus = float(f(x))
        x[i] = saved
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def check_gradient(f, x, analytic, name="the gradient", rtol=1e-4,
                   atol=1e-6):
    """Compare ``analytic`` with float64 central differences of ``f`` at ``x``.

    Shape first (``your dx has shape ...; the input had shape ...``), then
    values, reported as in :func:`assert_close`.
    """
    if _shape(analytic) != _shape(x):
        raise AssertionError(
            f"your {name} has shape {_shape(analytic)}; the input had "
            f"shape {_shape(x)}, and a gradient has its input's shape"
        )
    numeric = numerical_gradient64(f, x)
    assert_close(analytic, numeric, name=name,
                 context="compared with central differences",
                 rtol=rtol, atol=atol)


# ------------------------------------------------- chapter 1: perceptrons


def assert_perceptron_fits(w, b, X, y, data="the data"):
    """Fail unless the perceptron ``w . x + b > 0`` classifies all of X right.

    Checks the returned pair first: w of shape (D,), b a single number.
    A point misclassified exactly on the line ``w . x + b = 0`` gets a
    hint about ``>`` versus ``>=``.
    """
    X = np.asarray(X)
    D = X.shape[1]
    if np.ndim(w) == 2 and 1 in np.shape(w):
        raise AssertionError(
            f"w has shape {np.shape(w)}; return a 1-D w of shape ({D},), "
            f"one weight per column of X (e.g. w.ravel() or np.zeros(D))"
        )
    assert_shape(w, (D,), "w", f"X has {D} columns, one weight each")
    if np.size(b) != 1:
        raise AssertionError(
            f"b has shape {np.shape(b)}; the bias is a single number"
        )
    b = float(np.asarray(b, dtype=np.float64).reshape(-1)[0])
    scores = X @ np.asarray(w, dtype=np.float64) + b
    pred = (scores > 0).astype(int)
    wrong = np.flatnonzero(pred != np.asarray(y))
    if wrong.size:
        msg = (
            f"on {data} ({len(X)} points, linearly separable), your "
            f"(w, b) misclassifies {wrong.size} point(s), e.g. x = "
            f"{X[wrong[0]].tolist()} with label {int(y[wrong[0]])}"
        )
        on_line = wrong[scores[wrong] == 0]
        if on_line.size:
            msg += (
                "; it lies exactly on the line w . x + b = 0, where a "
                "perceptron outputs 0 (it fires only when w . x + b > 0): "
                "does your training use >= instead of >?"
            )
        else:
            msg += (
                "; training should go on until an epoch makes no mistake "
                "(is every weight, and the bias, updated on a mistake?)"
            )
        raise AssertionError(msg)


@contextlib.contextmanager
def substitute(namespace, **objects):
    """Bind ``objects`` in ``namespace`` (e.g. ``globals()``) for the block.

    Grades one item on its own: while ``xor_gate`` is tested, the names
    of the gates it may call are bound to correct ones, so a mistake in a
    gate costs that gate's points only. The old bindings come back after.
    """
    missing = object()
    saved = {k: namespace.get(k, missing) for k in objects}
    namespace.update(objects)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                namespace.pop(k, None)
            else:
                namespace[k] = v
