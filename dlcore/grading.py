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

from dlcore.guard import DelegationError, forbid, reference

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
    "check_my_work",
    "in_kernel",
    "assert_ready_to_train",
    "slowest_layer",
]

# The NumPy functions the comparisons use, captured when this module is
# imported (the grading kernel imports it before any learner cell runs):
# a learner who later rebinds ``np.isclose`` cannot change a verdict.
_NP_NAMES = [
    "True_", "abs", "argmax", "array", "array_equal", "asarray",
    "bool_", "dtype", "flatnonzero", "float64", "inf", "integer",
    "isclose", "isnan", "ndarray", "ndim", "nditer", "shape", "size",
    "unravel_index", "where", "zeros", "zeros_like", "maximum", "exp",
    "log", "sign", "ones_like", "arange", "repeat", "sum", "ones",
    "allclose", "generic",
]
_np = types.SimpleNamespace(**{name: getattr(np, name) for name in _NP_NAMES},
                            default_rng=np.random.default_rng)


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


class _Call:
    """A call as messages name it, ``name(args)``, written only when a
    message shows it (the arguments' reprs cost more than many a call)."""

    def __init__(self, name, args, kwargs):
        self.name, self.args, self.kwargs = name, args, kwargs
        self.text = None

    def __str__(self):
        if self.text is None:
            self.text = f"{self.name}({_describe(self.args, self.kwargs)})"
        return self.text


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
    # an item given with its arguments ("Relu()", "Affine(W, b)") is
    # named as written
    what = name if name.endswith(")") else _Call(name, args, kwargs)
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
    global _GRADING_KERNEL
    _GRADING_KERNEL = True
    warnings.showwarning = _show_on_stdout
    return lock_modules()


# ------------------------------------------------------ checking your work

_GRADING_KERNEL = False  # True in a kernel that grades (the check is off)


def check_my_work(notebook=None):
    """Grade this notebook's saved file with every test, hidden ones
    included, as the course's grader does (``python -m coursekit check``),
    and print the report: points per item, each failed test's name and
    message. ``notebook``: its path, found by itself in JupyterLab,
    Jupyter Notebook, VS Code and Colab. Does nothing while a notebook is
    being graded.
    """
    import os
    import subprocess
    import tempfile

    if _GRADING_KERNEL:
        print("Check my work: not run while the notebook is graded")
        return
    if sys.platform == "emscripten":  # Pyodide: JupyterLite in a browser
        print(BROWSER_CHECK)
        return
    if not _self_check_installed():
        return
    try:
        ip = get_ipython()  # noqa: F821 (defined in IPython kernels)
    except NameError:
        ip = None
    with tempfile.TemporaryDirectory(prefix="check-my-work-") as tmp:
        path = notebook or _this_notebook(ip, tmp)
        if path is None:
            print("Check my work could not tell which notebook this is: "
                  "pass its path, e.g. check_my_work('exercises.ipynb'), "
                  "or run `python -m coursekit check NOTEBOOK` in a "
                  "terminal")
            return
        for item in _unsaved(ip, path):
            print(f"note: the saved `{item}` is not the version you last "
                  f"ran; the check reads the saved file, so save the "
                  f"notebook (Ctrl+S / Cmd+S) and run this cell again")
        proc = subprocess.run(
            [sys.executable, "-m", "coursekit", "check", os.fspath(path)],
            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    # all on stdout: a report, not an error in the notebook
    print(proc.stdout + proc.stderr, end="")


BROWSER_CHECK = (
    "Check my work does not run in the browser: it grades the saved "
    "notebook with nbgrader in a second Python process, which JupyterLite "
    "has not. Your work is kept in this browser's storage. To check it, "
    "download the notebook (File > Download) and, on a computer with "
    "Python, run `pip install 'deep-learning-by-hand[learn]'` and then "
    "`python -m coursekit check exercises.ipynb`; or open the chapter in "
    "Colab or Binder (the book's launch buttons) and run this cell there.")


def _self_check_installed():
    """True when nbgrader, which the self-check runs, is importable. On
    Colab it is installed (the package's ``check`` extra) the first time;
    elsewhere the learner is told the command."""
    import importlib.util

    if importlib.util.find_spec("nbgrader") is not None:
        return True
    if "google.colab" not in sys.modules:
        print("Check my work needs nbgrader, which is not installed here: "
              "run `pip install 'deep-learning-by-hand[check]'` (or `make "
              "lab` in the course's folder), restart the kernel and run "
              "this cell again")
        return False
    import subprocess
    from importlib.metadata import PackageNotFoundError, requires

    try:
        wanted = [r.split(";")[0].strip()
                  for r in requires("deep-learning-by-hand") or []
                  if 'extra == "check"' in r]
    except PackageNotFoundError:
        wanted = []
    wanted = wanted or ["nbgrader>=0.9.6,<0.10"]
    print("Installing nbgrader for Check my work (once per Colab "
          "session, about a minute)...")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                           *wanted], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"could not install {' '.join(wanted)}:\n{proc.stderr[-2000:]}")
        return False
    importlib.invalidate_caches()
    return True


def _this_notebook(ip, tmp):
    """The path of the running notebook's saved file, if it can be told
    (on Colab, the notebook as it is now, written into ``tmp``)."""
    import os

    if "google.colab" in sys.modules:
        from google.colab import _message

        nb = _message.blocking_request("get_ipynb", timeout_sec=60)
        path = os.path.join(tmp, "exercises.ipynb")
        import json

        with open(path, "w") as f:
            json.dump(nb["ipynb"], f)
        return path
    ns = getattr(ip, "user_ns", {}) or {}
    for found in (ns.get("__vsc_ipynb_file__"),
                  os.environ.get("JPY_SESSION_NAME")):
        if found and found.endswith(".ipynb"):
            for cand in (found, os.path.basename(found)):
                if os.path.isfile(cand):
                    return cand
    return "exercises.ipynb" if os.path.isfile("exercises.ipynb") else None


def _unsaved(ip, path):
    """Items whose saved answer cell is not among the cells this kernel
    ran, while a version of it was run (edited, not saved)."""
    import json

    ran = [s.strip() for s in (getattr(ip, "user_ns", {}) or {})
           .get("In", []) if isinstance(s, str)]
    try:
        with open(path) as f:
            cells = json.load(f).get("cells", [])
    except (OSError, ValueError):
        return []
    stale = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        item = meta.get("grade_id")
        if not (meta.get("solution") and not meta.get("grade") and item):
            continue
        src = cell.get("source", "")
        src = ("".join(src) if isinstance(src, list) else src).strip()
        defines = re.compile(rf"^\s*(class|def)\s+{re.escape(item)}\b",
                             re.M)
        if src not in ran and any(defines.search(r) for r in ran):
            stale.append(item)
    return stale


# ------------------------------------------------------------- comparing


def _shape(x, name="the result"):
    """``x``'s shape; a tuple of arrays (``return x, history``) or a
    ragged list fails with a message that says what came back."""
    several = isinstance(x, tuple) and any(
        _np.ndim(v) or not isinstance(v, (int, float, _np.generic))
        for v in x)
    if not several:
        try:
            return tuple(_np.shape(x))
        except ValueError:  # ragged: NumPy cannot make one array of it
            pass
    kinds = ", ".join(_short(v) for v in x[:4])
    more = ", ..." if len(x) > 4 else ""
    raise AssertionError(
        f"{name} is a {type(x).__name__} of {len(x)} values ({kinds}"
        f"{more}), not one array: return just what the contract asks for")


def assert_shape(actual, shape, name="the result", context=""):
    """Fail unless ``actual`` has ``shape``; the message names both."""
    got = _shape(actual, name)
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


# ------------------------------------------------ milestones: training


def _layer_case(seed):
    g = _np.default_rng(seed)
    x = g.standard_normal((4, 3))
    return g, x + 0.3 * _np.sign(x)  # no entry near the ReLU's kink


def _check_relu(cls):
    g, x = _layer_case(1)
    dout = g.standard_normal(x.shape)
    unit = call(cls, item="Relu()")
    assert_close(call(unit.forward, x.copy(), item="Relu.forward"),
                 _np.where(x > 0, x, 0.0), name="Relu.forward(x)")
    assert_close(call(unit.backward, dout.copy(), item="Relu.backward"),
                 _np.where(x > 0, dout, 0.0), name="Relu.backward(dout)")


def _check_affine(cls):
    g, x = _layer_case(2)
    W, b = g.standard_normal((3, 2)), g.standard_normal(2)
    dout = g.standard_normal((4, 2))
    unit = call(cls, W.copy(), b.copy(), item="Affine(W, b)")
    assert_close(call(unit.forward, x.copy(), item="Affine.forward"),
                 x @ W + b, name="Affine.forward(x)")
    assert_close(call(unit.backward, dout.copy(), item="Affine.backward"),
                 dout @ W.T, name="Affine's dx")
    assert_close(getattr(unit, "dW", None), x.T @ dout, name="Affine's dW")
    assert_close(getattr(unit, "db", None), dout.sum(axis=0),
                 name="Affine's db")


def _softmax_ce(scores, t):
    z = scores - scores.max(axis=1, keepdims=True)
    y = _np.exp(z) / _np.exp(z).sum(axis=1, keepdims=True)
    n = len(t)
    loss = -_np.log(y[_np.arange(n), t] + 1e-7).mean()
    onehot = _np.zeros_like(y)
    onehot[_np.arange(n), t] = 1.0
    return loss, (y - onehot) / n


def _check_softmax_with_loss(cls):
    g, x = _layer_case(3)
    t = _np.array([0, 2, 1, 2])
    loss, dx = _softmax_ce(x, t)
    unit = call(cls, item="SoftmaxWithLoss()")
    assert_close(call(unit.forward, x.copy(), t.copy(),
                      item="SoftmaxWithLoss.forward"), loss,
                 name="SoftmaxWithLoss's loss")
    assert_close(call(unit.backward, item="SoftmaxWithLoss.backward"), dx,
                 name="SoftmaxWithLoss's dx")


def _check_two_layer_net(cls):
    g, x = _layer_case(4)
    t = _np.array([1, 0, 1, 1])
    net = call(cls, 3, 5, 2, rng=_np.default_rng(5),
               item="TwoLayerNet(3, 5, 2, rng=...)")
    p = {k: _np.asarray(v) for k, v in net.params.items()}
    hidden = _np.maximum(x @ p["W1"] + p["b1"], 0.0)
    scores = hidden @ p["W2"] + p["b2"]
    assert_close(call(net.predict, x.copy(), item="TwoLayerNet.predict"),
                 scores, name="TwoLayerNet.predict(x)")
    loss, dscores = _softmax_ce(scores, t)
    grads = call(net.gradient, x.copy(), t.copy(),
                 item="TwoLayerNet.gradient")
    dh = (dscores @ p["W2"].T) * (hidden > 0)
    want = {"W1": x.T @ dh, "b1": dh.sum(axis=0),
            "W2": hidden.T @ dscores, "b2": dscores.sum(axis=0)}
    for key, value in want.items():
        got = grads.get(key) if isinstance(grads, dict) else None
        assert_close(got, value, name=f"TwoLayerNet.gradient's {key!r}")


def _conv_direct(x, W, b, stride, pad):
    """Cross-correlation by loops (tiny sizes), for the checks below."""
    N, C, H, Wd = x.shape
    FN, _, FH, FW = W.shape
    xp = _np.zeros((N, C, H + 2 * pad, Wd + 2 * pad))
    xp[:, :, pad:pad + H, pad:pad + Wd] = x
    oh, ow = (H + 2 * pad - FH) // stride + 1, (Wd + 2 * pad - FW) // stride + 1
    out = _np.zeros((N, FN, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * stride:i * stride + FH, j * stride:j * stride + FW]
            for f in range(FN):
                out[:, f, i, j] = (win * W[f]).sum(axis=(1, 2, 3)) + b[f]
    return out


def _check_convolution(cls):
    g = _np.default_rng(6)
    x, W, b = (g.standard_normal((2, 2, 5, 5)),
               g.standard_normal((3, 2, 3, 3)), g.standard_normal(3))
    unit = call(cls, W.copy(), b.copy(), stride=1, pad=1,
                item="Convolution(W, b, stride=1, pad=1)")
    y = call(unit.forward, x.copy(), item="Convolution.forward")
    assert_close(y, _conv_direct(x, W, b, 1, 1),
                 name="Convolution.forward(x)")
    dout = g.standard_normal((2, 3, 5, 5))
    dx = call(unit.backward, dout.copy(), item="Convolution.backward")
    for name, value, f in (
            ("dx", dx, lambda v: (_conv_direct(v, W, b, 1, 1) * dout).sum()),
            ("dW", getattr(unit, "dW", None),
             lambda v: (_conv_direct(x, v, b, 1, 1) * dout).sum()),
            ("db", getattr(unit, "db", None),
             lambda v: (_conv_direct(x, W, v, 1, 1) * dout).sum())):
        base = {"dx": x, "dW": W, "db": b}[name]
        check_gradient(f, base, value, name=f"Convolution's {name}")


def _check_pooling(cls):
    g = _np.default_rng(7)
    x = g.permutation(64).reshape(1, 1, 8, 8).astype(float)  # no ties
    unit = call(cls, 2, 2, item="Pooling(2, 2)")
    y = call(unit.forward, x.copy(), item="Pooling.forward")
    want = x.reshape(1, 1, 4, 2, 4, 2).max(axis=(3, 5))
    assert_close(y, want, name="Pooling(2, 2).forward(x)")
    dout = g.standard_normal((1, 1, 4, 4))
    dx = call(unit.backward, dout.copy(), item="Pooling.backward")
    route = (x == _np.repeat(_np.repeat(want, 2, axis=2), 2, axis=3))
    assert_close(dx, route * _np.repeat(_np.repeat(dout, 2, axis=2), 2,
                                        axis=3),
                 name="Pooling.backward(dout)")


def _windows(x, fh, fw, stride, pad):
    """im2col by loops (tiny sizes), for the checks below."""
    N, C, H, W = x.shape
    xp = _np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    xp[:, :, pad:pad + H, pad:pad + W] = x
    oh, ow = (H + 2 * pad - fh) // stride + 1, (W + 2 * pad - fw) // stride + 1
    rows = [xp[n, :, i * stride:i * stride + fh,
               j * stride:j * stride + fw].ravel()
            for n in range(N) for i in range(oh) for j in range(ow)]
    return _np.array(rows)


def _check_im2col(fn):
    g = _np.default_rng(8)
    x = g.standard_normal((2, 2, 5, 4))
    assert_close(call(fn, x.copy(), 3, 2, stride=2, pad=1,
                      item="im2col(x, 3, 2, stride=2, pad=1)"),
                 _windows(x, 3, 2, 2, 1), name="im2col")


def _check_col2im(fn):
    g = _np.default_rng(9)
    x = g.standard_normal((2, 2, 5, 4))
    col = g.standard_normal(_windows(x, 3, 2, 2, 1).shape)
    back = call(fn, col.copy(), x.shape, 3, 2, stride=2, pad=1,
                item="col2im(col, (2, 2, 5, 4), 3, 2, stride=2, pad=1)")
    # the adjoint of im2col: <im2col(x), col> == <x, col2im(col)>
    assert_shape(back, x.shape, "col2im")
    assert abs(float(_np.sum(_np.asarray(back) * x))
               - float(_np.sum(_windows(x, 3, 2, 2, 1) * col))) < 1e-6, (
        "col2im is not the adjoint of im2col (overlapping windows summed, "
        "padding dropped)")


def _optimizer_steps(name, hyper):
    """Two steps of the optimizer ``name`` by the contract's formulas."""
    g = _np.default_rng(10)
    p0 = g.standard_normal((3, 2))
    grads = [g.standard_normal((3, 2)) for _ in range(2)]
    p, state = p0.copy(), {}
    lr = hyper["lr"]
    for t, gr in enumerate(grads, 1):
        if name == "SGD":
            p = p - lr * gr
        elif name == "Momentum":
            v = hyper.get("momentum", 0.9) * state.get("v", 0.0) - lr * gr
            state["v"], p = v, p + v
        elif name == "AdaGrad":
            state["h"] = state.get("h", 0.0) + gr * gr
            p = p - lr * gr / (state["h"] ** 0.5 + 1e-7)
        elif name == "RMSprop":
            d = hyper.get("decay_rate", 0.99)
            state["h"] = d * state.get("h", 0.0) + (1 - d) * gr * gr
            p = p - lr * gr / (state["h"] ** 0.5 + 1e-7)
        else:  # Adam
            b1, b2 = hyper.get("beta1", 0.9), hyper.get("beta2", 0.999)
            state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * gr
            state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * gr * gr
            mh, vh = state["m"] / (1 - b1 ** t), state["v"] / (1 - b2 ** t)
            p = p - lr * mh / (vh ** 0.5 + 1e-8)
    return p0, grads, p


def _check_optimizer(name):
    def check(cls):
        hyper = {"lr": 0.1}
        p0, grads, want = _optimizer_steps(name, hyper)
        opt = call(cls, **hyper, item=f"{name}(lr=0.1)")
        params = {"W": p0.copy()}
        for gr in grads:
            call(opt.update, params, {"W": gr.copy()},
                 item=f"{name}.update(params, grads)")
        assert_close(params["W"], want, rtol=1e-5, atol=1e-7,
                     name=f"params['W'] after two steps of {name}")
    return check


def _check_batchnorm(cls):
    g = _np.default_rng(11)
    x = g.standard_normal((6, 3)) * 2.0 + 1.0
    gamma, beta = g.standard_normal(3), g.standard_normal(3)
    dout = g.standard_normal((6, 3))
    unit = call(cls, gamma.copy(), beta.copy(),
                item="BatchNormalization(gamma, beta)")

    def fwd(v):
        mu, var = v.mean(axis=0), v.var(axis=0)
        return gamma * (v - mu) / (var + 1e-5) ** 0.5 + beta

    y = call(unit.forward, x.copy(), True,
             item="BatchNormalization.forward(x, train_flg=True)")
    assert_close(y, fwd(x), name="BatchNormalization.forward (training)")
    dx = call(unit.backward, dout.copy(), item="BatchNormalization.backward")
    check_gradient(lambda v: float((fwd(v) * dout).sum()), x, dx,
                   name="BatchNormalization's dx")


def _check_dropout(cls):
    x = _np.ones((200, 50))
    unit = call(cls, 0.5, rng=_np.default_rng(12), item="Dropout(0.5, rng)")
    y = _np.asarray(call(unit.forward, x.copy(), True,
                         item="Dropout.forward(x, train_flg=True)"))
    kept = y != 0
    assert 0.4 < kept.mean() < 0.6 and _np.allclose(y[kept], 2.0), (
        "in training, Dropout(0.5) should keep about half the units and "
        "scale them by 1 / (1 - 0.5) = 2")
    dx = _np.asarray(call(unit.backward, x.copy(), item="Dropout.backward"))
    assert _np.array_equal(dx != 0, kept), (
        "Dropout.backward should use the mask of the last training forward")
    z = call(unit.forward, x.copy(), False,
             item="Dropout.forward(x, train_flg=False)")
    assert_close(z, x, name="Dropout in inference (the identity)")


_TRAINING_CHECKS = {
    **{k: _check_optimizer(k)
       for k in ("SGD", "Momentum", "AdaGrad", "RMSprop", "Adam")},
    "BatchNormalization": _check_batchnorm,
    "Dropout": _check_dropout,
    "im2col": _check_im2col,
    "col2im": _check_col2im,
    "Convolution": _check_convolution,
    "Pooling": _check_pooling,
    "Relu": _check_relu,
    "Affine": _check_affine,
    "SoftmaxWithLoss": _check_softmax_with_loss,
    "TwoLayerNet": _check_two_layer_net,
}


def in_kernel(module, name):
    """dlcore's ``module.name`` where the learner's code runs: a milestone
    builds its network from the learner's layers and trains it there, next
    to them (while a notebook is graded, a handle of the kernel's; in a
    learner's own notebook, the one imported here)."""
    if _JUDGE is not None:
        return _JUDGE.kernel_dlcore(module, name)
    import importlib

    return getattr(importlib.import_module(f"dlcore.{module}"), name)


_HOMES = {"im2col": "conv", "col2im": "conv", "SGD": "optim",
          "Momentum": "optim", "AdaGrad": "optim", "RMSprop": "optim",
          "Adam": "optim", "BatchNormalization": "layers", "Dropout": "layers",
          "Relu": "layers", "Affine": "layers", "SoftmaxWithLoss": "layers",
          "Convolution": "layers", "Pooling": "layers", "TwoLayerNet": "nets"}


def _is_dlcores(obj, name):
    """Is the learner's ``name`` bound to dlcore's own class of that name?"""
    try:
        return obj is in_kernel(_HOMES[name], name)
    except Exception:
        return False


def assert_ready_to_train(items, milestone="this milestone"):
    """Fail, naming the first item to fix, unless every item in ``items``
    (``{name: your class}``, in the order to check) passes a quick check
    of what training relies on (forward values and gradients).
    """
    for name, obj in items.items():
        if _is_dlcores(obj, name):
            raise AssertionError(
                f"{milestone} trains your own code, but the name {name} in "
                f"your notebook is dlcore's {name}, not yours: a cell "
                f"imports it (`from dlcore.{_HOMES[name]} import {name}` "
                f"or a star import, perhaps in a later item's cell), after "
                f"your own {name} was defined. Remove that import and run "
                f"the notebook again, so that your classes are used")
        try:
            _TRAINING_CHECKS[name](obj)
        except (AssertionError, DelegationError) as err:
            raise AssertionError(
                f"{milestone} trains your own code, and your {name} is not "
                f"right yet ({err}): fix {name} first (its tests above say "
                f"more), then run this cell again") from None


def slowest_layer(layers, x):
    """``(name, seconds)`` of the layer whose forward and backward on
    ``x`` took longest, and a line listing every layer's time.

    ``layers``: ``{name: a built layer}`` applied in order, as in the
    network (each forward's output is the next one's input).
    """
    import time

    times, out = {}, x
    for name, layer in layers.items():
        start = time.perf_counter()
        nxt = layer.forward(out)
        layer.backward(_np.ones_like(_np.asarray(nxt)))
        times[name] = time.perf_counter() - start
        out = nxt
    worst = max(times, key=times.get)
    listing = ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in times.items())
    return worst, times[worst], listing


@reference("train_network")
def train_quietly(network, x_train, t_train, epochs, batch_size, lr,
                  rng=None):
    """dlcore's ``train_network`` without its records: its epochs of
    steps, so the same weights, but no loss and accuracies over the whole
    training and test sets after each epoch (40% of a convnet milestone's
    time, and a milestone judges the weights on its own held-out digits).
    Withheld with ``train_network`` (its ``@reference``).
    """
    from dlcore.trainer import _sgd_epoch

    rng = np.random.default_rng(rng)
    for _ in range(epochs):
        _sgd_epoch(network, x_train, t_train, batch_size, lr, rng)
