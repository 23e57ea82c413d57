"""Checks that hold forever (issue 3, item 8), over every chapter.

- every released notebook in chapters/ is exactly what the release
  generates from solutions/ (no drift; run `make release` after editing a
  source);
- no notebook under chapters/ (released or lesson) holds an nbgrader
  marker or a line of any solution region or hidden test;
- every source notebook follows the conventions and passes all its own
  tests when executed; every released notebook fails its tests as
  released (the stubs raise).
"""

import ast
from pathlib import Path

import pytest

from coursekit import notebooks as nbk
from coursekit.leaks import all_secrets, find_leaks, notebook_text, scan
from coursekit.release import KIT, generate, source_chapters, write_kit

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "solutions").glob("*/*.ipynb"))
IDS = [f"{p.parent.name}/{p.name}" for p in SOURCES]
pytestmark = pytest.mark.slow


def released_path(source):
    return ROOT / "chapters" / source.parent.name / source.name


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    generate(out, ROOT)
    return out


def test_there_is_something_to_check():
    assert "ch01_perceptrons" in source_chapters(ROOT)


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_released_notebook_has_no_drift(source, regenerated):
    fresh = regenerated / source.parent.name / source.name
    committed = released_path(source)
    assert committed.exists(), f"{committed} missing: run `make release`"
    assert committed.read_bytes() == fresh.read_bytes(), (
        f"{committed} differs from what `make release` generates from "
        f"{source}: edit the source, then run `make release`"
    )


def test_the_self_check_kit_has_no_drift(tmp_path):
    """coursekit/course/ is what `make release` writes: the sources' tests
    (hidden ones included) with the answers as released, and the course's
    nbgrader configuration; no solution line is in it."""
    write_kit(ROOT, tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")
                   if p.is_file())
    committed = sorted(p.relative_to(KIT) for p in KIT.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
    assert committed == fresh, "run `make release`"
    for rel in fresh:
        assert (KIT / rel).read_bytes() == (tmp_path / rel).read_bytes(), (
            f"{KIT / rel} differs from what `make release` writes: run it")
    hidden = all_secrets(ROOT / "solutions", kinds=(nbk.HIDDEN,))
    assert scan(sorted(KIT.rglob("*.ipynb")), hidden)  # the tests are there
    answers = all_secrets(ROOT / "solutions", kinds=(nbk.SOLUTION,))
    for path in KIT.rglob("*.ipynb"):
        assert "BEGIN SOLUTION" not in path.read_text(), path
        for item, cell in nbk.answer_cells(nbk.read(path)).items():
            assert not find_leaks(cell.source, answers), (path, item)


def test_release_is_deterministic(regenerated, tmp_path):
    generate(tmp_path, ROOT, chapters=["ch01_perceptrons"])
    a = tmp_path / "ch01_perceptrons" / "exercises.ipynb"
    b = regenerated / "ch01_perceptrons" / "exercises.ipynb"
    assert a.read_bytes() == b.read_bytes()


def test_every_graded_notebook_in_chapters_has_a_source():
    for path in (ROOT / "chapters").glob("*/*.ipynb"):
        nb = nbk.read(path)
        if nbk.test_cells(nb) or nbk.answer_cells(nb):
            src = ROOT / "solutions" / path.parent.name / path.name
            assert src.exists(), f"{path} is graded but has no source {src}"


def test_no_notebook_under_chapters_leaks():
    secrets = all_secrets(ROOT / "solutions")
    assert len(secrets) > 20  # the check has teeth
    report = scan(sorted((ROOT / "chapters").glob("**/*.ipynb")), secrets)
    assert not report, report


def test_leak_finder_finds_planted_leaks(tmp_path):
    source = nbk.read(ROOT / "solutions/ch01_perceptrons/exercises.ipynb")
    secrets = all_secrets(ROOT / "solutions")
    # the source itself leaks all of them; one solution line in an HTML
    # page, split into highlighted spans, is still found
    assert find_leaks(notebook_text(
        ROOT / "solutions/ch01_perceptrons/exercises.ipynb"), secrets)
    line = next(iter(nbk.regions(
        nbk.answer_cells(source)["and_gate"].source, *nbk.SOLUTION)))
    page = tmp_path / "page.html"
    html = line.strip().replace(" ", "</span> <span>")
    page.write_text(f"<pre><span>{html}</span></pre>")
    assert scan([page], secrets)


# ----------------------------------------------------------- conventions


def _ends_in_statement(source):
    body = ast.parse(source).body
    if not body:
        return True
    last = body[-1]
    if isinstance(last, ast.Expr):
        call = last.value
        return (isinstance(call, ast.Call)
                and getattr(call.func, "id", None) == "print")
    return True


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_source_follows_the_notebook_conventions(source):
    nb = nbk.read(source)
    answers = nbk.answer_cells(nb)
    assert answers, "no answer cells"
    ids = [nbk.nbgrader_meta(c).get("grade_id") for c in nb.cells
           if nbk.nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "duplicate grade_id"
    for item, cell in answers.items():
        head = cell.source.split(nbk.SOLUTION[0])[0]
        assert nbk.SOLUTION[0] in cell.source, item
        assert f"def {item}" in head or f"class {item}" in head, (
            f"{item}: its def/class line belongs outside the solution")
    per_item = {}
    for cell in nbk.test_cells(nb):
        meta = nbk.nbgrader_meta(cell)
        item = nbk.item_of(meta["grade_id"], answers)
        assert item, f"{meta['grade_id']} names no item"
        assert meta.get("points", 0) > 0 and meta.get("locked")
        assert _ends_in_statement(cell.source), (
            f"{meta['grade_id']} ends in an expression: nbgrader would "
            f"score a number there as partial credit")
        per_item.setdefault(item, []).append(nbk.is_hidden(cell))
    for item in answers:
        hidden = per_item.get(item, [])
        assert False in hidden and True in hidden, (
            f"{item} needs visible and hidden test cells")
    intro = next(c for c in nb.cells if c.cell_type == "markdown").source
    assert nbk.points_table(nb) in intro, "the intro's points table is stale"
    assert "hidden tests" in intro.lower() and "nbgrader validate" in intro
    assert "Check my work" in intro and \
        "check_my_work()" in nb.cells[-1].source, "no self-check cell last"
    assert all(not c.get("outputs") for c in nb.cells
               if c.cell_type == "code"), "commit sources without outputs"


# ------------------------------------------------------------- execution


def _execute(path, tmp_path):
    from nbclient import NotebookClient

    nb = nbk.read(path)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def _failed(cell):
    return any(o.output_type == "error" or
               (o.output_type == "stream" and o.name == "stderr")
               for o in cell.outputs)


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_source_passes_all_its_own_tests(source, tmp_path):
    nb = _execute(source, tmp_path)
    bad = [nbk.nbgrader_meta(c).get("grade_id", c.source[:40])
           for c in nb.cells if c.cell_type == "code" and _failed(c)]
    assert not bad, f"cells failing in the source: {bad}"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_released_notebook_fails_its_tests(source, tmp_path):
    nb = _execute(released_path(source), tmp_path)
    visible = [c for c in nbk.test_cells(nb)
               if any(ln.strip() and not ln.strip().startswith("#")
                      for ln in c.source.splitlines())]
    assert visible
    passing = [nbk.nbgrader_meta(c)["grade_id"] for c in visible
               if not _failed(c)]
    assert not passing, f"test cells passing on the stubs: {passing}"
    for cell in visible:  # they fail because the stub raises
        text = "".join(o.get("evalue", "") + o.get("text", "")
                       for o in cell.outputs)
        assert "NotImplementedError" in text, text
