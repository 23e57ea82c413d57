"""scripts/gpu_run.sh, proven on a machine without a GPU, as far as it goes.

The GPU run must fail clearly here, never pass: with CuPy missing, and with
a CuPy that finds no device (tests/fake_cupy, as CuPy behaves on a CPU
machine). On a fresh Python holding only what the lent GPU machines hold
(NumPy, pytest, scikit-learn, tqdm), with the network cut off, it must
install everything else the GPU tests and lesson import from the wheel
folder of ``scripts/gpu_wheels.py``, and then stop at the missing GPU. On
a "GPU" that is NumPy in disguise (tests/fake_cupy with one device) every
step must run: tests, benchmark, a notebook executed in place, summary.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_run.sh"
FAKE = ROOT / "tests" / "fake_cupy"
sys.path.insert(0, str(ROOT / "scripts"))
import gpu_imports  # noqa: E402
import gpu_run  # noqa: E402
import gpu_wheels  # noqa: E402


def offline_prefix():
    """A command prefix that runs in a network namespace of its own (only
    loopback, which the notebook kernel talks over), or [] where that is
    not allowed; offline_env points the proxies at nothing as well."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if not (unshare and ip):
        return []
    prefix = [unshare, "-n", "sh", "-c", f'{ip} link set lo up && exec "$@"',
              "sh"]
    if subprocess.run(prefix + ["true"], capture_output=True).returncode:
        return []
    return prefix


def offline_env(env):
    dead = "http://127.0.0.1:9"
    return {**env, "http_proxy": dead, "https_proxy": dead,
            "HTTP_PROXY": dead, "HTTPS_PROXY": dead,
            "PIP_INDEX_URL": dead + "/simple"}


def run_script(tmp_path, python, devices=None, args=(), extra_path=()):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "FAKE_CUPY_DEVICES", "VIRTUAL_ENV")}
    env["GPU_PYTHON"] = str(python)
    path = [str(p) for p in extra_path]
    if devices is not None:
        path.append(str(FAKE))
        env["FAKE_CUPY_DEVICES"] = str(devices)
    if path:
        env["PYTHONPATH"] = os.pathsep.join(path)
    out = tmp_path / "out"
    proc = subprocess.run(
        offline_prefix() + [str(SCRIPT), "--out", str(out), *args],
        cwd=tmp_path, env=offline_env(env), capture_output=True, text=True,
        timeout=600)
    summary = json.loads((out / "summary.json").read_text())
    return proc, summary, out


def test_without_cupy_it_fails_and_says_which_python(tmp_path):
    proc, summary, out = run_script(tmp_path, sys.executable)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary["ok"] is False
    assert "CuPy cannot be imported" in summary["failure"]
    assert "GPU_PYTHON" in summary["failure"]  # how to point it elsewhere
    assert "FAILED" in (out / "summary.txt").read_text()
    assert "PASSED" not in proc.stdout


def test_with_cupy_but_no_gpu_it_fails_at_the_probe(tmp_path):
    proc, summary, out = run_script(tmp_path, sys.executable, devices=0)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary["found"]["cupy"].startswith("14.2.0+fake")
    assert summary["failure"].startswith("no usable GPU")
    assert "cudaErrorNoDevice" in summary["failure"]
    assert "tests" not in summary["steps"]  # nothing ran that could pass
    assert "PASSED" not in proc.stdout


def test_the_wheel_list_names_every_module_the_run_imports():
    needed = gpu_imports.needed()
    assert {"pytest", "nbclient", "ipykernel", "sklearn"} <= set(needed)
    assert "numpy" not in needed and "cupy" not in needed
    assert not {"dlcore", "coursekit"} & set(needed)
    names = {gpu_wheels.name_of(line)
             for line in gpu_wheels.requirements(everything=True)}
    # requests comes with pooch (its dependency)
    wanted = {gpu_run.DISTRIBUTIONS.get(m, m) for m in needed} - {"requests"}
    assert wanted <= names, wanted - names


def fresh_python():
    """A Python for a fresh venv: 3.12 (the GPU machines') if one runs
    here, else the one running the tests (without its venv)."""
    for candidate in (Path.home() / ".pyenv/versions/3.12.1/bin/python3.12",
                      shutil.which("python3.12")):
        if candidate and subprocess.run(
                [str(candidate), "-c", "import venv"],
                capture_output=True).returncode == 0:
            return str(candidate)
    return getattr(sys, "_base_executable", sys.executable)


@pytest.mark.slow
def test_offline_on_a_fresh_python_it_installs_what_is_missing(tmp_path):
    """A venv with only what the lent machines have; the rest from the
    wheel folder, with the network cut off; then the missing GPU."""
    env_dir = tmp_path / "image"
    subprocess.run([fresh_python(), "-m", "venv", str(env_dir)], check=True)
    image_python = env_dir / "bin" / "python"
    version = subprocess.run(
        [image_python, "-c", "import sys; print('%d.%d' % sys.version_info"
         "[:2])"], capture_output=True, text=True, check=True).stdout.strip()
    # what the image brings (from the registry, before the network goes)
    on_image = [line for line in gpu_wheels.requirements(everything=True)
                if gpu_wheels.name_of(line) in gpu_wheels.ON_THE_IMAGE]
    subprocess.run([image_python, "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "numpy", *on_image],
                   check=True)
    wheels = tmp_path / "wheels"
    gpu_wheels.download(wheels, version, constraints=False)
    proc, summary, out = run_script(tmp_path, image_python, devices=0,
                                 args=["--wheels", str(wheels)])
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    modules = summary["modules"]
    assert set(modules["missing_at_start"]) >= {"nbclient", "ipykernel",
                                                "pooch"}, modules
    assert "installed_into" in modules, text  # and nothing left missing
    assert summary["failure"].startswith("no usable GPU"), summary
    assert "PASSED" not in proc.stdout


@pytest.mark.slow
def test_on_a_fake_gpu_every_step_runs(tmp_path):
    """NumPy dressed as a GPU: tests, benchmark, notebook, summary."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from dlcore import backend\n"
        "print(backend.gpu_problem() or 'the GPU computes')")]
    lesson = tmp_path / "lesson.ipynb"
    nbformat.write(nb, lesson)
    proc, summary, out = run_script(
        tmp_path, sys.executable, devices=1,
        args=["--quick", "--lesson", str(lesson)])
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert summary["ok"] and summary["gpu"] == "fake GPU (NumPy on the CPU)"
    assert summary["tests"].get("passed", 0) > 50, summary["tests"]
    assert "failed" not in summary["tests"]
    figures = json.loads((out / "gpu_bench.json").read_text())
    assert figures["gpu"]["name"] == "fake GPU (NumPy on the CPU)"
    assert {"matmul_speedup_fp32", "conv_speedup_fp32",
            "convnet_epoch"} <= set(summary["speedups"])
    done = nbformat.read(lesson, as_version=4)  # executed in place
    assert done.cells[0].outputs[0]["text"] == "the GPU computes\n"
    assert (out / "lesson.ipynb").is_file()
    assert "PASSED" in (out / "summary.txt").read_text()
