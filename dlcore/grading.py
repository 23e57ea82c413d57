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

import builtins
import contextlib
import re
import signal
import sys
import threading
import types
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
    "lock_modules",
    "grading_kernel_setup",
]

# The NumPy functions the comparisons use, captured when this module is
# imported (the grading kernel imports it before any learner cell runs):
# a learner who later rebinds ``np.isclose`` cannot change a verdict.
_np = types.SimpleNamespace(**{name: getattr(np, name) for name in ['True_', 'abs', 'argmax', 'array', 'array_equal', 'asarray', 'bool_', 'dtype', 'flatnonzero', 'float64', 'inf', 'integer', 'isclose', 'isnan', 'ndarray', 'ndim', 'nditer', 'shape', 'size', 'unravel_index', 'where', 'zeros', 'zeros_like']})


# The judge (coursekit.judge) while it runs a test cell, else None. In a
# learner's own notebook the tests run beside the learner's code and these
# helpers act directly; while a notebook is graded they run in the judge,
# and what must happen in the learner's kernel (forbidding a reference,
# binding a name, interrupting a call) is asked of the judge.
_JUDGE = None


# ---------------------------------------------------------------- calling


def graded(*items):
    """Context manager: while inside, dlcore's references of ``items`` raise.

    A learner's answer that imports, aliases, subclasses or wraps the
    dlcore twin of the item being graded fails with a DelegationError
    that says why (see ``dlcore.guard``).
    """
    if _JUDGE is not None:
        return _JUDGE.graded(items)
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
    if _JUDGE is not None and seconds is not None:
        try:
            with _JUDGE.deadline(seconds):
                yield
        except _TimeLimit:
            raise AssertionError(_too_long(seconds, what)) from None
        return
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
        raise AssertionError(_too_long(seconds, what)) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _too_long(seconds, what):
    return (f"{what} did not finish within {seconds:g} s. Look for a loop "
            f"that never ends (a condition that never becomes false, or a "
            f"bound that ignores an argument such as epochs).")


def _describe(args, kwargs):
    parts = [_short(a) for a in args]
    parts += [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def _short(value):
    if isinstance(value, _np.ndarray):
        return f"<array {value.shape} {value.dtype}>"
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def call(fn, *args, item=None, seconds=None, **kwargs):
    """Call learner code ``fn(*args, **kwargs)`` the way a grader should.

    - Warnings don't cost points: they are caught during the call, then
      handed to an enclosing ``warnings.catch_warnings(record=True)`` if
      a test records them (an item whose contract forbids a warning),
      else printed to stdout, so the learner sees them and nbgrader
      (which fails a cell on any stderr output) does not count them.
    - An exception from the learner's code becomes an AssertionError that
      says which call raised what (a DelegationError passes unchanged:
      its message already says why).
    - ``seconds``: a time limit for the call (see :func:`time_limit`).
    """
    name = item or getattr(fn, "__name__", "your function")
    what = f"{name}({_describe(args, kwargs)})"
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with time_limit(seconds, what):
                try:
                    return fn(*args, **kwargs)
                except (DelegationError, AssertionError):
                    raise
                except Exception as err:
                    raise AssertionError(
                        f"{what} raised {type(err).__name__}: {err}"
                        + _signature_hint(err, name)
                    ) from None
    finally:
        _pass_on(seen, what)


def _signature_hint(err, name):
    """For a ``TypeError`` about the call's arguments: which point of the
    contract the signature misses (code copied from the book often lacks
    a parameter the course's contract adds, such as ``rng`` or ``eps``)."""
    if not isinstance(err, TypeError):
        return ""
    text = str(err)
    for pattern, what in (
            (r"unexpected keyword argument '(\w+)'", "a parameter"),
            (r"missing \d+ required positional arguments?: '(\w+)'",
             "the argument"),
            (r"takes (?:from )?\d+ (?:to \d+ )?positional arguments? but",
             None)):
        found = re.search(pattern, text)
        if found is None:
            continue
        if what is None:
            return (f"; the course's contract (API.md) says which arguments "
                    f"{name} takes and in what order: compare your "
                    f"signature with it")
        return (f"; the course's contract (API.md) gives {name} {what} "
                f"{found.group(1)!r}: code copied from the book may not "
                f"have it, so check your signature against the contract")
    return ""


_ORIGINAL_SHOWWARNMSG = getattr(warnings, "_showwarnmsg_impl", None)


def _recording():
    """True inside an enclosing ``catch_warnings(record=True)``."""
    impl = getattr(warnings, "_showwarnmsg_impl", None)
    return impl is not None and impl is not _ORIGINAL_SHOWWARNMSG


def _pass_on(seen, what):
    for w in seen:
        if _recording():
            warnings.warn_explicit(w.message, w.category, w.filename,
                                   w.lineno)
        else:
            print(f"{w.category.__name__} while running {what}: "
                  f"{w.message} (shown for you; warnings cost no points)")


def _show_on_stdout(message, category, filename, lineno, file=None,
                    line=None):
    print(f"{category.__name__}: {message} (a warning, shown for you; "
          f"it costs no points)")


# ------------------------------------------------------ the grading kernel


class _LockedModule(types.ModuleType):
    """A module whose existing attributes can't be rebound or deleted."""

    def __setattr__(self, name, value):
        d = types.ModuleType.__getattribute__(self, "__dict__")
        if name in d and d[name] is not value and name in _locked_names(
                self):
            raise AttributeError(
                f"{self.__name__}.{name} can't be replaced while a "
                f"notebook is graded (the grading policy forbids "
                f"changing modules the tests use)")
        types.ModuleType.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name in _locked_names(self):
            raise AttributeError(
                f"{self.__name__}.{name} can't be deleted while a "
                f"notebook is graded")
        types.ModuleType.__delattr__(self, name)


_LOCKED = {}
# names IPython and ipykernel themselves rebind in builtins on every cell
_IPYTHON_BUILTINS = {"exit", "quit", "get_ipython", "display", "help",
                     "input", "raw_input", "getpass", "copyright",
                     "credits", "license"}


def _locked_names(module):
    return _LOCKED.get(id(module), ())


LOCKED_MODULES = ("builtins", "numpy", "numpy.testing", "numpy.linalg",
                  "numpy.random", "math", "warnings", "dlcore")


def lock_modules(names=LOCKED_MODULES):
    """Make the attributes that ``names`` (and dlcore's modules) hold now
    impossible to rebind or delete through ``module.attr = ...``.

    Called by the grading kernel before any learner cell runs; new
    attributes (a submodule imported later) can still be added.
    """
    import importlib

    mods = [importlib.import_module(n) for n in names]
    mods += [m for k, m in list(sys.modules.items())
             if k.startswith("dlcore.") and m is not None]
    for mod in mods:
        if type(mod) is not types.ModuleType:
            continue  # already locked, or a module of a custom class
        keep = set(vars(mod))
        if mod is builtins:
            keep = {k for k in keep if not k.startswith("_")}
            keep -= _IPYTHON_BUILTINS
        if mod is warnings:
            keep = {"warn", "warn_explicit", "catch_warnings",
                    "simplefilter", "filterwarnings"}
        _LOCKED[id(mod)] = frozenset(keep)
        mod.__class__ = _LockedModule
    return [m.__name__ for m in mods]


def grading_kernel_setup():
    """What the grading kernel runs before the notebook's first cell.

    Imports this module (capturing NumPy's functions), locks the modules
    the tests use (:func:`lock_modules`) and prints warnings on stdout.
    """
    warnings.showwarning = _show_on_stdout
    return lock_modules()


# ------------------------------------------------------------- comparing


def _shape(x):
    return tuple(_np.shape(x))


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
    got = _np.asarray(actual).dtype
    if got != _np.dtype(dtype):
        extra = f"; {context}" if context else ""
        raise AssertionError(
            f"{name} has dtype {got}, expected {_np.dtype(dtype)}{extra}"
        )


def assert_close(actual, expected, name="the result", context="",
                 rtol=1e-5, atol=1e-8, dtype=None):
    """Compare shape, then dtype (if ``dtype`` is given), then values.

    A value mismatch reports how many entries are off and the worst one:
    its index, the value returned and how far it is from the expected one.
    """
    expected = _np.asarray(expected)
    if actual is None:
        raise AssertionError(f"{name} is None: did you forget to return?")
    assert_shape(actual, expected.shape, name, context)
    if dtype is not None:
        assert_dtype(actual, dtype, name, context)
    got = _np.asarray(actual, dtype=_np.float64)
    want = expected.astype(_np.float64)
    bad = ~_np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=False)
    if bad.any():
        err = _np.where(bad, _np.abs(got - want), -_np.inf)
        err = _np.where(_np.isnan(err), _np.inf, err)
        worst = _np.unravel_index(_np.argmax(err), got.shape)
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
    if isinstance(value, (bool, _np.bool_)):
        raise AssertionError(
            f"{name} returned {value!r}, a boolean; return the int "
            f"{int(value)} instead (e.g. wrap the comparison in int(...))"
        )
    if not isinstance(value, (int, _np.integer)):
        raise AssertionError(
            f"{name} returned {value!r} of type {type(value).__name__}; "
            f"the contract asks for the int 0 or 1"
        )
    if value not in (0, 1):
        raise AssertionError(f"{name} returned {value!r}; expected 0 or 1")


def assert_unchanged(before, after, name):
    """Fail if an input array was modified in place by the learner's code."""
    if not _np.array_equal(before, after):
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
    x = _np.array(x, dtype=_np.float64)
    grad = _np.zeros_like(x)
    it = _np.nditer(x, flags=["multi_index"])
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
    X = _np.asarray(X)
    D = X.shape[1]
    if _np.ndim(w) == 2 and 1 in _np.shape(w):
        raise AssertionError(
            f"w has shape {_np.shape(w)}; return a 1-D w of shape ({D},), "
            f"one weight per column of X (e.g. w.ravel() or np.zeros(D))"
        )
    assert_shape(w, (D,), "w", f"X has {D} columns, one weight each")
    if _np.size(b) != 1:
        raise AssertionError(
            f"b has shape {_np.shape(b)}; the bias is a single number"
        )
    b = float(_np.asarray(b, dtype=_np.float64).reshape(-1)[0])
    scores = X @ _np.asarray(w, dtype=_np.float64) + b
    pred = (scores > 0).astype(int)
    wrong = _np.flatnonzero(pred != _np.asarray(y))
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
    While a notebook is graded the names are bound in the learner's
    namespace, to handles of ``objects``, which stay in the judge.
    """
    if _JUDGE is not None and namespace is _JUDGE.namespace:
        with _JUDGE.substitute(namespace, objects):
            yield
        return
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
