"""The instructor workflow end to end with nbgrader (issue 3, item 7).

A temporary course directory uses the course's nbgrader_config.py (only
the per-cell timeout is lowered, to keep the test fast) and a copy of
solutions/ch01_perceptrons. A pilot class of learners is collected with
``nbgrader zip_collect``, autograded, given feedback and exported to CSV:

| learner   | submission                                             | score |
|-----------|--------------------------------------------------------|-------|
| ref       | the reference solution                                 | 16    |
| blank     | the release as is                                      | 0     |
| bug       | or_gate planted bug (computes AND)                     | 14    |
| editor    | and_gate wrong, its test cells edited to pass; nand    | 12    |
|           | wrong, its truth-table test cell deleted               |       |
| looper    | train_perceptron cell loops forever before its def     | 8     |
| syntax    | syntax error in the and_gate cell                      | 14    |
| delegator | train_perceptron imported from dlcore                  | 8     |
| absent    | submitted no notebook (only notes.txt)                 | 0     |
| missing   | on the roster, submitted nothing                       | 0     |
"""

import csv
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import unsandboxed_fallback

from coursekit import notebooks as nbk
from coursekit.leaks import all_secrets, find_leaks, notebook_text, scan
from coursekit.notebooks import HIDDEN
from coursekit.release import nbgrader_env, write_course_config

pytestmark = [pytest.mark.grading, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "ch01_perceptrons"
TEST_TIMEOUT = 5  # per cell, here only; the course's value is asserted
TOTAL = 16.0


def nbgrader(course, *args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course,
        env=nbgrader_env(), capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"nbgrader {args} failed:\n{proc.stdout}\n"
                             f"{proc.stderr[-4000:]}")
    return proc


def _answer(source_cell):
    """A learner's answer: the solution with its markers removed."""
    return "\n".join(ln for ln in source_cell.source.splitlines()
                     if ln.strip() not in nbk.SOLUTION)


def _find(nb, grade_id):
    return next(c for c in nb.cells
                if nbk.nbgrader_meta(c).get("grade_id") == grade_id)


def filler(released, source):
    """``(answers, filled)``: the reference answers, and a function that
    makes a submission from the release with some answers overridden."""
    answers = {k: _answer(c) for k, c in nbk.answer_cells(source).items()}

    def filled(**override):
        nb = nbformat.reads(nbformat.writes(released), as_version=4)
        for item, cell in nbk.answer_cells(nb).items():
            cell.source = override.get(item, answers[item])
        return nb

    return answers, filled


def make_submissions(released, source):
    """{learner: notebook or None} built from the release and the source."""
    answers, filled = filler(released, source)

    subs = {"ref": filled(), "blank": nbformat.reads(
        nbformat.writes(released), as_version=4)}
    subs["bug"] = filled(or_gate=answers["or_gate"].replace(
        "0.5 * x1 + 0.5 * x2 - 0.2", "0.5 * x1 + 0.5 * x2 - 0.7"))
    editor = filled(
        and_gate="def and_gate(x1, x2):\n    return 0",
        nand_gate="def nand_gate(x1, x2):\n    return 1")
    for gid in ("test_and_gate_truth_table", "test_and_gate_hidden_types"):
        _find(editor, gid).source = 'print("all good")'
    editor.cells.remove(_find(editor, "test_nand_gate_truth_table"))
    subs["editor"] = editor
    subs["looper"] = filled(train_perceptron="while True:\n    pass\n\n"
                            + answers["train_perceptron"])
    subs["syntax"] = filled(and_gate="def and_gate(x1, x2)\n    return 1")
    subs["delegator"] = filled(
        train_perceptron="from dlcore.perceptron import train_perceptron")
    return subs


EXPECTED = {"ref": 16, "blank": 0, "bug": 14, "editor": 12, "looper": 8,
            "syntax": 14, "delegator": 8, "absent": 0, "missing": 0}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    write_course_config(course, ROOT, extra=(
        unsandboxed_fallback() +
        f"c.Execute.timeout = {TEST_TIMEOUT}\n"
        f"c.ExecutePreprocessor.timeout = {TEST_TIMEOUT}\n"))
    shutil.copytree(ROOT / "solutions" / CHAPTER,
                    course / "solutions" / CHAPTER)
    times = {}
    t = time.perf_counter()
    nbgrader(course, "generate_assignment", CHAPTER, "--force")
    times["generate_assignment"] = time.perf_counter() - t
    roster = course / "students.csv"
    roster.write_text("id,last_name,first_name,email\n" + "".join(
        f"{learner},{learner.title()},Pilot,\n" for learner in EXPECTED))
    nbgrader(course, "db", "student", "import", str(roster))

    released = nbk.read(course / "release" / CHAPTER / "exercises.ipynb")
    source = nbk.read(course / "solutions" / CHAPTER / "exercises.ipynb")
    subs = make_submissions(released, source)
    # collection through zip_collect: an LMS download of renamed files
    archive = course / "downloaded" / CHAPTER / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "class.zip", "w") as z:
        for learner, nb in subs.items():
            z.writestr(f"{learner}__exercises.ipynb", nbformat.writes(nb))
        z.writestr("absent__notes.txt", "I could not finish.")
    nbgrader(course, "zip_collect", CHAPTER)
    # a learner who handed in a folder without the notebook
    absent = course / "submitted" / "absent" / CHAPTER
    absent.mkdir(parents=True)
    (absent / "notes.txt").write_text("I could not finish.")

    t = time.perf_counter()
    nbgrader(course, "autograde", CHAPTER, "--student", "ref")
    times["autograde one learner"] = time.perf_counter() - t
    t = time.perf_counter()
    auto = nbgrader(course, "autograde", CHAPTER, "--force", check=False)
    times["autograde the class"] = time.perf_counter() - t
    t = time.perf_counter()
    fb = nbgrader(course, "generate_feedback", CHAPTER, "--force",
                  check=False)
    times["generate_feedback"] = time.perf_counter() - t
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    print("\nwall times (s):", {k: round(v, 1) for k, v in times.items()})
    return {"dir": course, "autograde": auto, "feedback": fb,
            "times": times}


def test_course_config_values():
    from traitlets.config import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert cfg.Execute.timeout == 60
    assert cfg.Execute.interrupt_on_timeout is True
    assert cfg.OverwriteCells.add_missing_cells is True
    names = [p.__name__ for p in cfg.GenerateFeedback.preprocessors]
    assert "SanitizeHiddenTests" in names


def test_exported_csv_has_every_learners_expected_score(course):
    rows = list(csv.DictReader(open(course["dir"] / "grades.csv")))
    scores = {r["student_id"]: float(r["score"]) for r in rows
              if r["assignment"] == CHAPTER}
    assert scores == {k: float(v) for k, v in EXPECTED.items()}, (
        course["autograde"].stderr[-3000:])
    assert {float(r["max_score"]) for r in rows} == {TOTAL}


def test_the_run_survives_bad_submissions(course):
    log = course["autograde"].stderr
    auto = course["dir"] / "autograded"
    for learner in EXPECTED:
        if learner not in ("absent", "missing"):
            assert (auto / learner / CHAPTER / "exercises.ipynb").exists()
    # the endless loop was interrupted by the per-cell timeout
    looped = nbk.read(auto / "looper" / CHAPTER / "exercises.ipynb")
    errs = [o for o in _find(looped, "train_perceptron").outputs
            if o.output_type == "error"]
    assert errs and errs[0].ename in ("CellTimeoutError", "KeyboardInterrupt")
    # the edited test cells were restored from the gradebook
    assert "Attribute 'checksum'" in log or "checksum" in log
    edited = nbk.read(auto / "editor" / CHAPTER / "exercises.ipynb")
    assert "graded(\"and_gate\")" in _find(
        edited, "test_and_gate_truth_table").source
    # the deleted one was put back
    assert _find(edited, "test_nand_gate_truth_table")


def test_feedback_shows_names_and_messages_but_no_hidden_test(course):
    fb_dir = course["dir"] / "feedback"
    pages = sorted(fb_dir.glob(f"*/{CHAPTER}/*.html"))
    learners = {p.parts[-3] for p in pages}
    assert {"ref", "bug", "delegator", "blank"} <= learners
    hidden = all_secrets(ROOT / "solutions", kinds=(HIDDEN,))
    assert len(hidden) > 20
    # teeth: the autograded notebook (what nbgrader would show) leaks
    auto = course["dir"] / "autograded" / "bug" / CHAPTER / "exercises.ipynb"
    assert find_leaks(notebook_text(auto), hidden, markers=False)
    report = scan(pages, hidden, markers=False)
    assert not report, report
    for page in pages:
        assert "HIDDEN TESTS" not in page.read_text()
    bug = (fb_dir / "bug" / CHAPTER / "exercises.html").read_text()
    assert "hidden test test_or_gate_hidden_types (1 points) failed" in bug
    assert re.search(r"or_gate\(0, 1\) returned 0", bug)
    delegator = (fb_dir / "delegator" / CHAPTER / "exercises.html").read_text()
    assert "delegating to dlcore" in delegator
    assert "Traceback" not in bug.split("hidden test")[-1][:400]
