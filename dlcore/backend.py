"""The NumPy/CuPy switch.

Compute code never imports CuPy. It asks for the array module of its
inputs and allocates with it, so the same code runs on the CPU and the GPU::

    xp = get_array_module(x)
    out = xp.zeros_like(x)

The *active* backend only decides where the nets create their weights:
``use("cupy")`` or the environment variable ``DLCORE_BACKEND=cupy``. Data
sets are read from disk into NumPy arrays whatever the backend; move them
with ``to_gpu``. Asking for CuPy where it is missing is an error, never a
silent fallback to NumPy.

``gpu_problem()`` says whether a GPU really computes here (it runs a small
kernel and a matrix product), and ``tf32(False)`` pins CuPy's float32
matrix products to full float32 inside a ``with`` block.
"""

import contextlib
import os

import numpy as np

_BACKENDS = ("numpy", "cupy")
_active = None


class BackendError(RuntimeError):
    """CuPy was asked for but cannot be used here."""


INSTALL_ADVICE = (
    "Install CuPy for your CUDA version with its toolkit libraries: "
    "`pip install -e '.[gpu]'` (CUDA 12) or `pip install -e '.[gpu-cuda13]'` "
    "(CUDA 13); see the README's GPU section. Or stay on the CPU with "
    "dlcore.backend.use('numpy').")


def _import_cupy():
    try:
        import cupy
    except ModuleNotFoundError as err:
        if err.name != "cupy":  # CuPy is there but a part of it is not
            raise BackendError(f"CuPy failed to import: {err}. "
                               + INSTALL_ADVICE) from err
        raise BackendError("CuPy is not installed. " + INSTALL_ADVICE) from err
    except ImportError as err:  # CuPy's own diagnosis: keep it
        raise BackendError(f"CuPy is installed but failed to import: {err}. "
                           + INSTALL_ADVICE) from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA driver missing or broken
        raise BackendError(
            f"CuPy is installed but no CUDA GPU can be used ({err}). "
            "Stay on the CPU with dlcore.backend.use('numpy')."
        ) from err
    if count < 1:
        raise BackendError(
            "CuPy is installed but this machine has no CUDA GPU. "
            "Stay on the CPU with dlcore.backend.use('numpy')."
        )
    return cupy


_LIBRARY_HINTS = ("libcublas", "libnvrtc", "nvrtc", "libcurand", "libcusparse",
                  "libcusolver", "libcufft", "cannot open shared object")


def gpu_problem():
    """Why no GPU computes here (a string), or None when one does.

    Beyond finding a device, this runs what every layer needs: an
    elementwise kernel (compiled by NVRTC on first use) and a float32
    matrix product (cuBLAS), and checks their results against NumPy.
    CuPy installed without the CUDA libraries fails here, not in the
    middle of a lesson.
    """
    try:
        cupy = _import_cupy()
    except BackendError as err:
        return str(err)
    try:
        x = np.linspace(-1.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64)
        d = cupy.asarray(x)
        kernel = cupy.asnumpy(cupy.maximum(d * 2 + 1, 0))
        with tf32(False):
            product = cupy.asnumpy(d @ d)
        cupy.cuda.Device().synchronize()
    except Exception as err:
        text = f"{type(err).__name__}: {err}"
        if any(h in text for h in _LIBRARY_HINTS):
            return (f"CuPy found a GPU but cannot load a CUDA library "
                    f"({text}). Install CuPy with its `[ctk]` extra, which "
                    f"brings the CUDA toolkit libraries (for example "
                    f"`pip install 'cupy-cuda12x[ctk]'`), or a CUDA toolkit "
                    f"matching the wheel.")
        return f"CuPy found a GPU but a computation on it failed ({text})."
    if not np.allclose(kernel, np.maximum(x * 2 + 1, 0)):
        return "the GPU computed a wrong elementwise result"
    if not np.allclose(product, x @ x, rtol=1e-4, atol=1e-4):
        return "the GPU computed a wrong matrix product"
    return None


@contextlib.contextmanager
def tf32(enabled):
    """Inside the block, CuPy's float32 matrix products use TF32 tensor
    cores (``enabled``) or full float32 (not); the setting before the
    block comes back after it, also when the block raises.

    CuPy reads ``CUPY_TF32=1`` once, on its first float32 product; this
    switches the same setting at run time.
    """
    cupy = _import_cupy()
    try:
        from cupy._core import _routines_linalg as linalg

        get, set_ = linalg.get_compute_type, linalg.set_compute_type
    except (ImportError, AttributeError) as err:
        raise BackendError(
            f"CuPy {cupy.__version__} has no run-time switch for TF32 "
            f"({err}); set or unset CUPY_TF32=1 before starting Python "
            f"instead") from err
    previous = get(np.float32)
    set_(np.float32, getattr(linalg, "COMPUTE_TYPE_TF32", 7) if enabled
         else getattr(linalg, "COMPUTE_TYPE_DEFAULT", 1))
    try:
        yield
    finally:
        set_(np.float32, previous)


def use(name):
    """Make ``name`` ("numpy" or "cupy") the active backend; returns its module."""
    global _active
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {_BACKENDS}")
    module = np if name == "numpy" else _import_cupy()
    _active = name
    return module


def active():
    """The name of the active backend ("numpy" unless asked otherwise)."""
    global _active
    if _active is None:
        name = os.environ.get("DLCORE_BACKEND", "numpy").strip().lower() or "numpy"
        if name not in _BACKENDS:
            raise ValueError(
                f"DLCORE_BACKEND={name!r} is not a backend: use 'numpy' or 'cupy'"
            )
        use(name)
    return _active


def xp():
    """The active array module (numpy or cupy)."""
    return np if active() == "numpy" else _import_cupy()


def get_array_module(*arrays):
    """The array module (numpy or cupy) that owns ``arrays``.

    Objects that are not arrays (Python numbers, None) are ignored; with no
    device array among them the answer is NumPy.
    """
    for a in arrays:
        module = type(a).__module__.split(".")[0]
        if module == "cupy":
            import cupy

            return cupy
        # A stand-in array module (used by the tests) names itself this way.
        xp_attr = getattr(type(a), "__array_module__", None)
        if xp_attr is not None:
            return xp_attr
    return np


def to_gpu(x):
    """Copy a NumPy array (or a dict of them) to the GPU."""
    if isinstance(x, dict):
        return {k: to_gpu(v) for k, v in x.items()}
    cupy = _import_cupy()
    return cupy.asarray(x)


def to_cpu(x):
    """Copy a CuPy array (or a dict of them) to host memory; NumPy passes through."""
    if isinstance(x, dict):
        return {k: to_cpu(v) for k, v in x.items()}
    if get_array_module(x) is not np:  # CuPy (or the tests' stand-in)
        return x.get()
    return np.asarray(x)


def asarray_like(x, like):
    """``x`` as an array of ``like``'s module and dtype."""
    return get_array_module(like).asarray(x, dtype=like.dtype)
