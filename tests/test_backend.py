"""The NumPy/CuPy switch: NumPy by default, CuPy only when asked, never silently."""

import builtins
import os
import subprocess
import sys
import types
from pathlib import Path

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
            raise ModuleNotFoundError("No module named 'cupy'", name="cupy")
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


# ---------------------------------------------------------------- a fake CuPy
# gpu_problem() and tf32() on machines without a GPU: a module that stands
# in for cupy (computing with NumPy), broken in the ways real installs break.


def fake_cupy(monkeypatch, devices=1, asarray=np.asarray, matmul_error=0.0):
    """Install a fake ``cupy`` in sys.modules; returns it."""
    compute = {"float32": 0}  # 0: TBD, as CuPy starts
    linalg = types.SimpleNamespace(
        COMPUTE_TYPE_DEFAULT=1, COMPUTE_TYPE_TF32=7,
        get_compute_type=lambda dtype: compute["float32"] or 1,
        set_compute_type=lambda dtype, kind: compute.update(float32=kind))

    class Array(np.ndarray):
        def __matmul__(self, other):
            return np.asarray(self) @ np.asarray(other) + matmul_error

    def count():
        if isinstance(devices, Exception):
            raise devices
        return devices

    cupy = types.ModuleType("cupy")
    cupy.__version__ = "14.2.0-fake"
    cupy.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=count),
        Device=lambda: types.SimpleNamespace(synchronize=lambda: None))
    cupy.asarray = lambda x, dtype=None: asarray(x, dtype=dtype).view(Array)
    cupy.asnumpy = np.asarray
    cupy.maximum = np.maximum
    core = types.ModuleType("cupy._core")
    core._routines_linalg = linalg
    cupy._core = core
    cupy.compute = compute
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupy._core", core)
    monkeypatch.setitem(sys.modules, "cupy._core._routines_linalg", linalg)
    return cupy


def test_gpu_problem_is_none_where_the_gpu_computes(monkeypatch):
    cupy = fake_cupy(monkeypatch)
    assert backend.gpu_problem() is None
    assert cupy.compute["float32"] in (0, 1)  # the probe left TF32 off


def test_gpu_problem_says_no_cupy(no_cupy):
    assert "CuPy is not installed" in backend.gpu_problem()


def test_cupys_own_import_error_is_not_called_missing(monkeypatch):
    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("CuPy failed to load libnvrtc.so.12: "
                              "cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    with pytest.raises(backend.BackendError) as err:
        backend.use("cupy")
    assert "not installed" not in str(err.value)
    assert "libnvrtc.so.12" in str(err.value)  # CuPy's diagnosis, kept
    assert "[gpu]" in str(err.value)


def test_gpu_problem_without_a_device(monkeypatch):
    fake_cupy(monkeypatch, devices=0)
    assert "no CUDA GPU" in backend.gpu_problem()
    fake_cupy(monkeypatch, devices=RuntimeError("cudaErrorNoDevice"))
    assert "cudaErrorNoDevice" in backend.gpu_problem()


def test_gpu_problem_names_the_missing_cuda_library(monkeypatch):
    def no_cublas(x, dtype=None):
        raise RuntimeError("libcublasLt.so.12: cannot open shared object "
                           "file: No such file or directory")

    fake_cupy(monkeypatch, asarray=no_cublas)
    problem = backend.gpu_problem()
    assert "libcublasLt.so.12" in problem and "[ctk]" in problem


def test_gpu_problem_catches_wrong_results(monkeypatch):
    fake_cupy(monkeypatch, matmul_error=1.0)
    assert "wrong matrix product" in backend.gpu_problem()


def test_tf32_switches_and_always_restores(monkeypatch):
    cupy = fake_cupy(monkeypatch)
    cupy.compute["float32"] = 7  # as with CUPY_TF32=1
    with backend.tf32(False):
        assert cupy.compute["float32"] == 1
    assert cupy.compute["float32"] == 7
    with pytest.raises(ZeroDivisionError):
        with backend.tf32(False):
            1 / 0
    assert cupy.compute["float32"] == 7  # also after an error
    cupy.compute["float32"] = 1
    with backend.tf32(True):
        assert cupy.compute["float32"] == 7
    assert cupy.compute["float32"] == 1


def test_tf32_without_the_switch_says_what_to_do(monkeypatch):
    fake_cupy(monkeypatch)
    monkeypatch.setitem(sys.modules, "cupy._core._routines_linalg", None)
    monkeypatch.delattr(sys.modules["cupy._core"], "_routines_linalg")
    with pytest.raises(backend.BackendError, match="CUPY_TF32=1"):
        with backend.tf32(False):
            pass


def test_require_gpu_turns_a_gpu_skip_into_a_failure(tmp_path):
    """make test-gpu sets DLCORE_REQUIRE_GPU=1: no GPU, no green run."""
    (tmp_path / "test_g.py").write_text(
        "import pytest\n"
        "pytestmark = pytest.mark.gpu\n"
        "def test_needs_gpu():\n"
        "    pytest.skip('no GPU in this test')\n")
    import shutil

    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-o", "markers=gpu", str(tmp_path / "test_g.py")]
    env = {k: v for k, v in os.environ.items()
           if k != "DLCORE_REQUIRE_GPU"}
    relaxed = subprocess.run(cmd, capture_output=True, text=True,
                             env=env, cwd=tmp_path)
    assert relaxed.returncode == 0 and "1 skipped" in relaxed.stdout
    strict = subprocess.run(cmd, capture_output=True, text=True,
                            env={**env, "DLCORE_REQUIRE_GPU": "1"},
                            cwd=tmp_path)
    assert strict.returncode == 1, strict.stdout
    assert "1 failed" in strict.stdout
    assert "no GPU in this test" in strict.stdout
