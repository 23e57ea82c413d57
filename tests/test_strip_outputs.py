"""scripts/strip_outputs.py, the pre-commit hook that keeps outputs out of
committed lesson and source notebooks."""

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "strip_outputs.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def executed(path):
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=3)
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), str(path))
    return path


def test_outputs_are_found_then_cleared_and_gpu_lessons_kept(tmp_path):
    lesson = executed(tmp_path / "lesson.ipynb")
    gpu = executed(tmp_path / "gpu_your_network.ipynb")
    gpu_before = gpu.read_bytes()
    done = run("--check", lesson, gpu)
    assert done.returncode == 1 and "lesson.ipynb: has outputs" in done.stdout
    assert "gpu_" not in done.stdout
    assert run(lesson, gpu).returncode == 1
    cell = nbformat.read(str(lesson), as_version=4).cells[0]
    assert cell.outputs == [] and cell.execution_count is None
    assert cell.source == "print(1)"
    assert gpu.read_bytes() == gpu_before
    assert run("--check", lesson).returncode == 0


def test_the_committed_notebooks_have_no_outputs():
    notebooks = sorted(ROOT.glob("chapters/*/*.ipynb")) + sorted(
        ROOT.glob("solutions/*/*.ipynb"))
    done = run("--check", *notebooks)
    assert done.returncode == 0, done.stdout
