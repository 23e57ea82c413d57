"""The NumPy/CuPy switch: NumPy by default, CuPy only when asked, never silently."""

import builtins
import subprocess
import sys

import numpy as np
import pytest

from dlcore import backend


@pytest.fixture(autouse=True)
def _restore_backend():
    saved = backend._active
    yield
    backend._active = saved


@pytest.fixture
def no_cupy(monkeypatch):
    """Make `import cupy` fail, as on a machine without CuPy."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "cupy" or name.startswith("cupy."):
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.delitem(sys.modules, "cupy", raising=False)


def test_numpy_is_the_default(monkeypatch):
    monkeypatch.delenv("DLCORE_BACKEND", raising=False)
    backend._active = None
    assert backend.active() == "numpy"
    assert backend.xp() is np


def test_get_array_module_of_numpy_arrays_and_scalars():
    assert backend.get_array_module(np.ones(3)) is np
    assert backend.get_array_module(1.0, None, np.float32(2)) is np
    assert backend.get_array_module() is np


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'torch'"):
        backend.use("torch")


def test_environment_variable_chooses_and_is_checked(monkeypatch):
    monkeypatch.setenv("DLCORE_BACKEND", "NumPy")
    backend._active = None
    assert backend.active() == "numpy"
    monkeypatch.setenv("DLCORE_BACKEND", "tensorflow")
    backend._active = None
    with pytest.raises(ValueError, match="DLCORE_BACKEND='tensorflow'"):
        backend.active()


def test_asking_for_cupy_without_it_fails_loudly(no_cupy):
    with pytest.raises(backend.BackendError, match=r"pip install -e '\.\[gpu\]'"):
        backend.use("cupy")
    # The failed switch leaves the previous backend active.
    backend._active = "numpy"
    with pytest.raises(backend.BackendError, match="CuPy is not installed"):
        backend.to_gpu(np.ones(2))
    assert backend.active() == "numpy"


def test_to_cpu_passes_numpy_through_and_maps_dicts():
    x = np.arange(3.0)
    assert backend.to_cpu(x) is x
    params = backend.to_cpu({"W": x, "b": np.zeros(2)})
    assert set(params) == {"W", "b"} and params["W"] is x


def test_asarray_like_takes_module_and_dtype():
    like = np.zeros(2, dtype=np.float32)
    out = backend.asarray_like([1, 2], like)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32


def test_importing_dlcore_stays_light():
    code = (
        "import sys, dlcore, dlcore.backend, dlcore.guard, dlcore.perceptron\n"
        "heavy = [m for m in ('matplotlib', 'sklearn', 'cupy', 'scipy')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
