"""Every chapter's exercises through nbgrader's autograde (issues 4-6).

Chapter 1's pilot (test_autograde_e2e.py) covers the whole workflow and the
bad inputs. Here every other chapter with a source notebook is autograded
for three learners, in one temporary course:

| learner   | submission                                        | score            |
|-----------|---------------------------------------------------|------------------|
| ref       | the reference solution of every item              | the chapter's    |
| blank     | the release as is                                 | 0                |
| delegator | the chapter's first item imported from dlcore     | total minus that |
|           | (every other item answered correctly)             | item's points    |
|           |                                                   | (and a milestone's, |
|           |                                                   | if it trains it) |
"""

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import unsandboxed_fallback

import dlcore
from coursekit import notebooks as nbk
from coursekit.release import nbgrader_env, source_chapters, write_course_config

pytestmark = [pytest.mark.grading, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [c for c in source_chapters(ROOT) if c != "ch01_perceptrons"]
LEARNERS = ("ref", "blank", "delegator")
# the items each chapter's milestone trains (the learner's own, not dlcore's)
_CH05 = {"Relu", "Affine", "SoftmaxWithLoss", "TwoLayerNet"}
_CH07 = {"im2col", "col2im", "Convolution", "Pooling"}
MILESTONE_TRAINS = {
    "ch05_backprop": {"test_train_network_milestone": _CH05,
                      "test_train_network_hidden_milestone": _CH05},
    "ch06_training": {
        "test_compare_optimizers_milestone":
            {"SGD", "Adam", "BatchNormalization", "Dropout"},
        "test_compare_optimizers_hidden_milestone":
            {"Momentum", "RMSprop", "BatchNormalization", "Dropout"}},
    "ch07_cnn": {"test_Pooling_milestone_mnist": _CH07,
                 "test_Pooling_hidden_milestone_mnist": _CH07},
}


def nbgrader(course, *args):
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course,
        env=nbgrader_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"nbgrader {args} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}")
    return proc


def dlcore_module_of(item):
    """The dlcore module whose reference implementation is ``item``."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(dlcore.__path__):
        if info.name in ("plot", "grading"):
            continue
        module = importlib.import_module(f"dlcore.{info.name}")
        obj = getattr(module, item, None)
        if getattr(obj, "__dlcore_item__", None) == item:
            return module.__name__
    raise LookupError(f"no dlcore reference for {item!r}")


def answers(source):
    """``{item: code}``: the source's solutions without their markers."""
    return {
        item: "\n".join(ln for ln in cell.source.splitlines()
                        if ln.strip() not in nbk.SOLUTION)
        for item, cell in nbk.answer_cells(source).items()
    }


def submission(released, code):
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    for item, cell in nbk.answer_cells(nb).items():
        if item in code:
            cell.source = code[item]
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    write_course_config(course, ROOT, extra=unsandboxed_fallback())
    roster = course / "students.csv"
    roster.write_text("id,last_name,first_name,email\n" + "".join(
        f"{name},{name.title()},Class,\n" for name in LEARNERS))
    nbgrader(course, "db", "student", "import", str(roster))
    expected, times = {}, {}
    for chapter in CHAPTERS:
        shutil.copytree(ROOT / "solutions" / chapter,
                        course / "solutions" / chapter)
        nbgrader(course, "generate_assignment", chapter, "--force")
        source = nbk.read(course / "solutions" / chapter / "exercises.ipynb")
        released = nbk.read(course / "release" / chapter / "exercises.ipynb")
        code = answers(source)
        table = nbk.points(source)
        total = sum(v + h for v, h in table.values())
        first = next(iter(table))
        delegated = dict(code)
        delegated[first] = f"from {dlcore_module_of(first)} import {first}"
        subs = {"ref": submission(released, code), "blank": released,
                "delegator": submission(released, delegated)}
        for learner, nb in subs.items():
            folder = course / "submitted" / learner / chapter
            folder.mkdir(parents=True)
            nbformat.write(nb, str(folder / "exercises.ipynb"))
        # a milestone trains the learner's own layers: one delegated to
        # dlcore costs the milestone's points as well
        trains = MILESTONE_TRAINS.get(chapter, {})
        lost = sum(table[first]) + sum(
            float(nbk.nbgrader_meta(c)["points"])
            for c in nbk.test_cells(source)
            if first in trains.get(nbk.nbgrader_meta(c)["grade_id"], ()))
        expected[chapter] = {"ref": total, "blank": 0.0,
                             "delegator": total - lost}
        t = time.perf_counter()
        nbgrader(course, "autograde", chapter, "--student", "ref")
        times[chapter] = time.perf_counter() - t
        nbgrader(course, "autograde", chapter)
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    print("\nautograde one learner's notebook (s):",
          {k: round(v, 1) for k, v in times.items()},
          "total", round(sum(times.values()), 1))
    return {"dir": course, "expected": expected}


def test_every_chapter_scores_as_expected(course):
    rows = list(csv.DictReader(open(course["dir"] / "grades.csv")))
    got = {}
    for r in rows:
        got.setdefault(r["assignment"], {})[r["student_id"]] = float(r["score"])
    assert got == course["expected"]


def test_every_chapter_is_covered():
    assert len(CHAPTERS) >= 6, CHAPTERS
