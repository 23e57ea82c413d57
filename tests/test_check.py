"""The self-check (``python -m coursekit check``): a learner alone grades
their own notebook with the hidden tests, through class grading's path.

Each case copies a notebook into a temporary folder (the check finds the
chapter from the notebook itself, wherever it lies), runs the command as
a learner would, and reads its output, its exit status and its JSON.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit.feedback import strip_hidden
from coursekit.notebooks import HIDDEN, answer_cells, points, read, regions

ROOT = Path(__file__).resolve().parents[1]
CH05 = "ch05_backprop"
SOURCE = ROOT / "solutions" / CH05 / "exercises.ipynb"
RELEASED = ROOT / "chapters" / CH05 / "exercises.ipynb"

ITEM_POINTS = {k: round(sum(v)) for k, v in points(read(SOURCE)).items()}
TOTAL = sum(ITEM_POINTS.values())
FULL, ZERO = f"{TOTAL} / {TOTAL}", f"0 / {TOTAL}"
DB_AVERAGED = ("self.db = dout.sum(axis=0)", "self.db = dout.mean(axis=0)")


def _env(path=None):
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + \
        (path if path is not None else env.get("PATH", ""))
    return env


def check(*args, env=None, cwd=None):
    """``(exit status, stdout + stderr)`` of ``python -m coursekit check``."""
    proc = subprocess.run([sys.executable, "-m", "coursekit", "check",
                           *map(str, args)], capture_output=True,
                          text=True, env=env or _env(), cwd=cwd or ROOT,
                          timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def solved(tmp_path, edit=None, name="my_work.ipynb"):
    """The released notebook with every answer cell holding the solution
    (``edit``: ``(item, old, new)`` to plant a mistake), saved in
    ``tmp_path``."""
    nb = read(RELEASED)
    solutions = {k: c.source for k, c in answer_cells(read(SOURCE)).items()}
    for item, cell in answer_cells(nb).items():
        cell.source = solutions[item]
        if edit and edit[0] == item:
            assert edit[1] in cell.source, edit
            cell.source = cell.source.replace(edit[1], edit[2])
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def hidden_lines():
    """The lines of chapter 5's hidden tests worth looking for."""
    lines = set()
    for cell in read(SOURCE).cells:
        if HIDDEN[0] in cell.source:
            lines |= {ln.strip() for ln in regions(cell.source, *HIDDEN)
                      if len(ln.strip()) > 25
                      and not ln.strip().startswith(("#", "print", "\""))}
    return lines


def test_full_marks_and_the_file_is_unchanged(tmp_path):
    path = solved(tmp_path)
    before = digest(path)
    rc, out = check(path, "--json", tmp_path / "r.json")
    assert rc == 0, out
    assert FULL in out and "the saved file" in out
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_work.ipynb",
                                                          "r.json"]
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["chapter"] == CH05
    assert (data["score"], data["max_score"]) == (TOTAL, TOTAL)
    assert set(data["items"]["Affine"]) >= {"score", "max_score", "failed"}


def test_a_wrong_item_is_named_with_its_hidden_test_and_message(tmp_path):
    path = solved(tmp_path, ("Affine",) + DB_AVERAGED)
    before = digest(path)
    rc, out = check(path, "--json", tmp_path / "r.json")
    assert rc == 1, out
    assert "test_Affine_hidden_gradients" in out
    assert "times too small" in out, out
    data = json.loads((tmp_path / "r.json").read_text())
    affine = data["items"]["Affine"]
    assert affine["score"] < affine["max_score"]
    assert "test_Affine_hidden_gradients" in [f["test"]
                                              for f in affine["failed"]]
    # the milestone trains the learner's own Affine: it says to fix it
    milestone = data["items"]["train_network"]
    assert any("fix Affine first" in f["message"]
               for f in milestone["failed"]), milestone
    assert all(r["score"] == r["max_score"] for k, r in data["items"].items()
               if k not in ("Affine", "train_network"))
    assert digest(path) == before
    # the report quotes no line of a hidden test's code
    leaked = [ln for ln in hidden_lines() if ln in out]
    assert not leaked, leaked


def test_the_released_notebook_scores_zero_and_says_not_written(tmp_path):
    path = tmp_path / "exercises.ipynb"
    path.write_bytes(RELEASED.read_bytes())
    rc, out = check(path)
    assert rc == 1 and ZERO in out, out
    assert "not written yet" in out


def test_works_without_bubblewrap_and_says_so(tmp_path):
    path = solved(tmp_path, ("Affine",) + DB_AVERAGED)
    # a PATH on which there is no bwrap
    rc, out = check(path, env=_env(path=str(tmp_path)))
    assert rc == 1 and "times too small" in out, out
    assert "without the grading sandbox" in out


@pytest.mark.parametrize("case, pattern", [
    ("text", "not a Jupyter notebook"),
    ("folder", "is a folder"),
    ("missing", "no such file"),
    ("other notebook", "not an exercise notebook of this course"),
    ("answer deleted", "answer cell of `Affine` is missing"),
    ("answer renamed", "answer cell of `Affine` is missing"),
])
def test_bad_input_gets_a_clear_error(tmp_path, case, pattern):
    path = tmp_path / "work.ipynb"
    if case == "text":
        path.write_text("print('hello')\n")
    elif case == "folder":
        path = tmp_path
    elif case == "other notebook":
        nbformat.write(nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("x = 1")]), str(path))
    elif case != "missing":
        path = solved(tmp_path)
        nb = read(path)
        cell = answer_cells(nb)["Affine"]
        if case == "answer deleted":
            nb.cells.remove(cell)
        else:
            cell.metadata["nbgrader"]["grade_id"] = "my_affine"
        nbformat.write(nb, str(path))
    rc, out = check(path)
    assert rc == 2, out
    assert pattern in out, out
    assert "Traceback" not in out


def test_a_deleted_test_cell_is_put_back(tmp_path):
    path = solved(tmp_path, ("Affine",) + DB_AVERAGED)
    nb = read(path)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {})
                .get("grade_id") != "test_Affine_hidden_gradients"]
    nbformat.write(nb, str(path))
    rc, out = check(path)
    assert rc == 1 and "times too small" in out, out
    assert "was put back" in out


def test_an_endless_loop_and_a_dying_kernel_are_reported(tmp_path):
    nb = read(solved(tmp_path))
    cells = answer_cells(nb)
    cells["Sigmoid"].source = "while True:\n    pass"
    cells["Relu"].source = "import os\nos._exit(3)"
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(path))
    rc, out = check(path, "--timeout", "3")
    assert rc == 1, out
    assert "`Sigmoid` cell did not finish within the time limit" in out
    assert "`Relu` cell ended the kernel" in out
    # the items after them are still graded
    tln = ITEM_POINTS["TwoLayerNet"]
    assert f"TwoLayerNet        {tln} / {tln}" in out, out


def test_all_prints_the_progress_table(tmp_path):
    from coursekit.check import check_all

    for name in ("ch04_graphs", CH05):
        (tmp_path / name).mkdir()
    (tmp_path / "ch04_graphs" / "exercises.ipynb").write_bytes(
        (ROOT / "chapters" / "ch04_graphs" / "exercises.ipynb")
        .read_bytes())
    solved(tmp_path / CH05, name="exercises.ipynb")
    lines = []
    code, results = check_all(tmp_path, out=lines.append)
    assert code == 1
    table = "\n".join(lines)
    assert "ch05_backprop" in table and FULL in table, table
    assert results[1]["score"] == TOTAL and results[0]["score"] == 0


def test_check_my_work_from_inside_the_notebook(tmp_path):
    """The notebook's last cell checks its saved file from the kernel, and
    says so when what was run is not what was saved."""
    from jupyter_client import KernelManager

    solved(tmp_path, ("Affine",) + DB_AVERAGED, name="exercises.ipynb")
    km = KernelManager()
    km.start_kernel(cwd=str(tmp_path), env=_env())
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        out = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])

        kc.execute_interactive("class Affine:\n    pass  # edited, unsaved",
                               timeout=60, output_hook=hook)
        kc.execute_interactive(
            "from dlcore.grading import check_my_work\ncheck_my_work()",
            timeout=300, output_hook=hook)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(out)
    assert "the saved `Affine` is not the version you last ran" in text
    assert "test_Affine_hidden_gradients" in text, text
    assert "times too small" in text


def test_check_my_work_is_off_while_graded():
    from coursekit.runner import run_inprocess

    # a plain interpreter (no kernel, no notebook): it says what to do
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from dlcore.grading import check_my_work\ncheck_my_work()")])
    assert run_inprocess(nb) == {}
    import dlcore.grading as g

    old, g._GRADING_KERNEL = g._GRADING_KERNEL, True
    try:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            g.check_my_work()
        assert "not run while the notebook is graded" in buf.getvalue()
    finally:
        g._GRADING_KERNEL = old


def test_check_my_work_in_the_browser_says_where_it_runs(monkeypatch,
                                                        capsys):
    """In JupyterLite (Pyodide) there is no second process for nbgrader:
    the cell says so and how to check elsewhere, and runs nothing."""
    import dlcore.grading as g

    monkeypatch.setattr(g.sys, "platform", "emscripten")
    monkeypatch.setattr(subprocess, "run", None)  # nothing may run
    g.check_my_work()
    text = capsys.readouterr().out
    assert "does not run in the browser" in text
    assert "python -m coursekit check" in text and "Colab" in text


def test_check_my_work_without_nbgrader(monkeypatch, capsys):
    """Where nbgrader is missing the cell gives the install command; on
    Colab it installs the package's check extra itself, once."""
    import importlib.util

    import dlcore.grading as g

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (
        None if name == "nbgrader" else real(name, *a)))
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not g._self_check_installed()
    assert "pip install 'deep-learning-by-hand[check]'" in \
        capsys.readouterr().out
    assert not ran  # nothing installed without being asked

    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("colab"))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: (
        ran.append(cmd) or subprocess.CompletedProcess(cmd, 0, "", "")))
    assert g._self_check_installed()
    (cmd,) = ran
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert any(r.startswith("nbgrader") and ">=0.9.6" in r for r in cmd), cmd
    assert "Installing nbgrader" in capsys.readouterr().out


def test_strip_hidden_leaves_no_hidden_line():
    # the helper the leak check above relies on
    for cell in read(SOURCE).cells:
        if HIDDEN[0] in cell.source:
            assert HIDDEN[0] not in strip_hidden(cell.source)
