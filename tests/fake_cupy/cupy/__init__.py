"""A fake CuPy for proving scripts/gpu_run.sh on a machine without a GPU.

Not the stand-in of tests/standin.py (which checks that code asks for its
array module): this one only lets the GPU run's steps be exercised here.
``FAKE_CUPY_DEVICES`` (default 0) is the number of devices it reports:

- 0: what CuPy does on a machine without a usable GPU: it imports, and
  asking for the devices raises ``cudaErrorNoDevice``;
- 1: a "GPU" that is NumPy on the CPU: its arrays are a subclass of
  ``numpy.ndarray`` defined here (so ``get_array_module`` finds this
  module), its functions NumPy's with their array results turned into that
  subclass, and it has the parts of ``cupy.cuda`` the tests, the benchmark
  and the lesson use.

Put ``tests/fake_cupy`` on ``PYTHONPATH`` to use it.
"""

import os
import time
import types

import numpy as np

__version__ = "14.2.0+fake"


class CUDARuntimeError(RuntimeError):
    pass


def _devices():
    count = int(os.environ.get("FAKE_CUPY_DEVICES", "0"))
    if count < 1:
        raise CUDARuntimeError(
            "cudaErrorNoDevice: no CUDA-capable device is detected")
    return count


class _Device:
    compute_capability = "90"

    def synchronize(self):
        _devices()


class _Event:
    def record(self):
        self.time = time.perf_counter()

    def synchronize(self):
        pass


class _Pool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0


runtime = types.SimpleNamespace(
    getDeviceCount=_devices,
    getDeviceProperties=lambda i: {"name": b"fake GPU (NumPy on the CPU)",
                                   "major": 9, "minor": 0},
    memGetInfo=lambda: (80 * 2**30, 80 * 2**30),
    runtimeGetVersion=lambda: 13000,
    driverGetVersion=lambda: 13000,
)
cuda = types.SimpleNamespace(
    runtime=runtime, Device=_Device, Event=_Event,
    get_elapsed_time=lambda start, stop: (stop.time - start.time) * 1e3)


class ndarray(np.ndarray):
    """A "device" array: NumPy's, with CuPy's ``get``."""

    def get(self):
        return np.array(self)


def _device(x):
    if isinstance(x, np.ndarray) and not isinstance(x, ndarray):
        return x.view(ndarray)
    if isinstance(x, (tuple, list)):
        return type(x)(_device(v) for v in x)
    if isinstance(x, np.random.Generator):
        return _Proxy(x)
    return x


def _on_device(fn):
    def call(*args, **kwargs):
        return _device(fn(*args, **kwargs))
    return call


class _Proxy:
    """An object (a module, a Generator) whose functions give device arrays."""

    def __init__(self, obj):
        self._obj = obj

    def __getattr__(self, name):
        attr = getattr(self._obj, name)
        return _on_device(attr) if callable(attr) else attr


def asnumpy(x):
    return np.array(x)


def asarray(x, dtype=None):
    _devices()
    return np.asarray(x, dtype=dtype).view(ndarray)


def get_default_memory_pool():
    return _Pool()


random = _Proxy(np.random)


def __getattr__(name):  # everything else: NumPy's, results on the "device"
    obj = getattr(np, name)
    if callable(obj) and not isinstance(obj, type):
        return _on_device(obj)
    return obj
