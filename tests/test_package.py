"""The distribution: one wheel, ``deep-learning-by-hand``, with the import
packages ``dlcore`` (its data files included) and ``coursekit``, and
nothing of the tests, the book or the exercises' sources."""

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
    stray = [n for n in names if n.endswith((".ipynb", ".md", ".yml"))
             or n.startswith(("tests/", "chapters/", "solutions/"))]
    assert not stray, stray


def test_the_wheels_metadata(wheel):
    zf = zipfile.ZipFile(wheel)
    (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
    msg = Parser().parsestr(zf.read(meta).decode())
    assert msg["Name"] == "deep-learning-by-hand"
    assert msg["Requires-Python"] == ">=3.11"
    extras = set(msg.get_all("Provides-Extra"))
    assert {"learn", "course", "book", "test", "gpu", "bench"} <= extras
    requires = msg.get_all("Requires-Dist")
    assert any(r.startswith("nbgrader") and ">=0.9.6" in r and "learn" in r
               for r in requires), requires
