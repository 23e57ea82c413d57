"""The NumPy/CuPy switch.

Compute code never imports CuPy. It asks for the array module of its
inputs and allocates with it, so the same code runs on the CPU and the GPU::

    xp = get_array_module(x)
    out = xp.zeros_like(x)

The *active* backend only decides where new data is created (data sets,
weight initialisation in the nets): ``use("cupy")`` or the environment
variable ``DLCORE_BACKEND=cupy``. Asking for CuPy where it is missing is an
error, never a silent fallback to NumPy.
"""

import os

import numpy as np

_BACKENDS = ("numpy", "cupy")
_active = None


class BackendError(RuntimeError):
    """CuPy was asked for but cannot be used here."""


def _import_cupy():
    try:
        import cupy
    except ImportError as err:
        raise BackendError(
            "CuPy is not installed. Install the GPU extra with "
            "`pip install -e '.[gpu]'` (CUDA 12; see the README for CUDA 13), "
            "or stay on the CPU with dlcore.backend.use('numpy')."
        ) from err
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
