"""The distribution: one wheel, ``deep-learning-by-hand``, with the import
packages ``dlcore`` (its data files included) and ``coursekit`` (the
self-check's kit included: the exercises' tests, never their solutions),
and nothing of the tests or the book. Installed alone, in a fresh
environment, it checks a released notebook."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from a copy of the working tree (building in place
    would leave build/ behind), offline: setuptools comes from the test
    extra."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "_build", "*.egg-info", "build", "__pycache__",
        ".pytest_cache", ".hypothesis", "artifacts"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp / "dist"),
                    str(src)], check=True, capture_output=True, timeout=300)
    (path,) = (tmp / "dist").glob("*.whl")
    return path


def test_the_wheel_holds_the_packages_and_their_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert wheel.name.startswith("deep_learning_by_hand-")
    for needed in ("dlcore/__init__.py", "dlcore/layers.py",
                   "dlcore/data/sample_weights.npz", "coursekit/check.py",
                   "coursekit/__main__.py"):
        assert needed in names, needed
    tops = {n.split("/")[0] for n in names}
    assert tops <= {"dlcore", "coursekit"} | {
        n.split("/")[0] for n in names if ".dist-info/" in n}, tops
    kit = [n for n in names if n.startswith("coursekit/course/")]
    assert "coursekit/course/nbgrader_config.py" in kit
    assert {f"coursekit/course/solutions/{p.parent.name}/{p.name}"
            for p in (ROOT / "solutions").glob("*/*.ipynb")} <= set(kit)
    zf = zipfile.ZipFile(wheel)
    assert not [n for n in kit if b"BEGIN SOLUTION" in zf.read(n)]
    stray = [n for n in names if n not in kit and (
        n.endswith((".ipynb", ".md", ".yml"))
        or n.startswith(("tests/", "chapters/", "solutions/")))]
    assert not stray, stray


def test_the_wheels_metadata(wheel):
    zf = zipfile.ZipFile(wheel)
    (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
    msg = Parser().parsestr(zf.read(meta).decode())
    assert msg["Name"] == "deep-learning-by-hand"
    assert msg["Requires-Python"] == ">=3.11"
    extras = set(msg.get_all("Provides-Extra"))
    assert {"data", "check", "learn", "course", "book", "test", "gpu",
            "bench"} <= extras
    requires = msg.get_all("Requires-Dist")
    assert any(r.startswith("nbgrader") and ">=0.9.6" in r
               and 'extra == "check"' in r for r in requires), requires
    # the learner's set: the data sets, the self-check and JupyterLab
    learn = [r.split(";")[0] for r in requires if 'extra == "learn"' in r]
    assert sorted(learn) == ["deep-learning-by-hand[check,data]",
                             "jupyterlab<5,>=4.4"], learn


def test_the_installed_wheel_checks_a_released_notebook(wheel, tmp_path):
    """pip install of the wheel into a fresh environment (its dependencies
    taken from this one, offline), then the self-check on a released
    notebook, away from any clone: it grades with the package's kit."""
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                    str(fresh)], check=True)
    py = fresh / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path("
         "'purelib'))"], check=True, capture_output=True, text=True
    ).stdout.strip()
    deps = subprocess.run(
        [sys.executable, "-c", "import numpy, os; print(os.path.dirname("
         "os.path.dirname(numpy.__file__)))"], check=True,
        capture_output=True, text=True).stdout.strip()
    Path(site, "dependencies.pth").write_text(deps + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py),
                    "install", "--no-deps", "--no-index", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    work = tmp_path / "learner"
    work.mkdir()
    shutil.copy(ROOT / "chapters" / "ch01_perceptrons" / "exercises.ipynb",
                work / "exercises.ipynb")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{fresh / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = subprocess.run(
        [str(py), "-c", "import coursekit.check as c, dlcore; "
         "print(dlcore.__file__); print(c.COURSE)"], cwd=work, env=env,
        check=True, capture_output=True, text=True).stdout.split()
    assert where[0].startswith(site) and where[1].startswith(site), where
    proc = subprocess.run(
        [str(py), "-m", "coursekit", "check", "exercises.ipynb", "--json",
         "result.json"], cwd=work, env=env, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # stubs fail
    result = json.loads((work / "result.json").read_text())
    assert result["chapter"] == "ch01_perceptrons"
    assert result["score"] == 0 and result["max_score"] > 0
    assert "not written yet" in proc.stdout
