"""Attacks on grading, through nbgrader's real autograde (issue 8).

A temporary course (the course's nbgrader_config.py, chapter 1) grades a
class of learners who try to take points they did not earn. Each row is
an attack and its asserted score (ch01: 16 points; each gate 2, of which
1 hidden; train_perceptron 8):

| learner     | attack                                                   | score |
|-------------|----------------------------------------------------------|-------|
| ref         | none: the reference solution                             | 16    |
| transformer | and_gate cell registers an IPython input transformer     | 2     |
|             | (turns every later cell into `pass`): only its own later |       |
|             | answer cells are lost; the tests are judged elsewhere    |       |
| patcher     | or_gate cell, correct, also sets `np.allclose = ...`     | 16    |
| custom_exc  | nand_gate cell calls `set_custom_exc` / overrides        | 16    |
|             | `showtraceback` to hide failures                         |       |
| evader      | and_gate returns bools and its cell rebinds `np.bool_`   | 15    |
|             | through an alias (the locked module refuses, and the     |       |
|             | judge sees bools anyway)                                 |       |
| warner      | correct gates that emit a RuntimeWarning on every call   | 16    |
| reader      | train_perceptron cell reads files with `open` / `os`     | 16    |
|             | (nothing to read in the sandbox)                         |       |

Since the tests are judged outside the learner's kernel (issue 13), a
correct answer keeps its points whatever else its cell does; the policy
reports the constructs to the instructor; no attack changes the
reference learner's score.
"""

import csv
import json
import shutil
from pathlib import Path

import pytest

from coursekit import notebooks as nbk
from coursekit.release import write_course_config
from tests.test_autograde_e2e import ROOT, filler, nbgrader

pytestmark = [pytest.mark.grading, pytest.mark.slow]

CHAPTER = "ch01_perceptrons"

TRANSFORMER = (
    "get_ipython().input_transformers_cleanup.append(\n"
    "    lambda lines: ['pass\\n'])\n")
EXPECTED = {"ref": 16, "transformer": 2, "patcher": 16, "custom_exc": 16,
            "evader": 15, "warner": 16, "reader": 16}
POLICY_HITS = {"transformer": "and_gate", "patcher": "or_gate",
               "custom_exc": "nand_gate", "reader": "train_perceptron"}


def submissions(released, source):
    answers, filled = filler(released, source)

    warn = ("\n    np.exp(np.float32(1000.0))  # overflows: a RuntimeWarning"
            "\n    return int(")
    return {
        "ref": filled(),
        "transformer": filled(
            and_gate=answers["and_gate"] + "\n" + TRANSFORMER,
            or_gate="def or_gate(x1, x2):\n    return 0"),
        "patcher": filled(or_gate=answers["or_gate"] + (
            "\nnp.allclose = lambda *a, **k: True\n")),
        "custom_exc": filled(nand_gate=answers["nand_gate"] + (
            "\nip = get_ipython()\n"
            "ip.set_custom_exc((Exception,), lambda *a, **k: None)\n"
            "ip.showtraceback = lambda *a, **k: None\n")),
        "evader": filled(and_gate=(
            "import numpy as np\nimport dlcore.perceptron as P\n\n"
            "def and_gate(x1, x2):\n    return x1 == 1 and x2 == 1\n\n"
            "alias = P.np\nalias.bool_ = str  # assert_int01 would pass\n")),
        "warner": filled(**{
            g: answers[g].replace("\n    return int(", warn)
            for g in ("and_gate", "nand_gate", "or_gate")}),
        "reader": filled(train_perceptron=answers["train_perceptron"] + (
            "\nimport os\nsecret = open('gradebook.db', 'rb').read()\n")),
    }


def _released_course(tmp_path_factory, name):
    """A temporary course with chapter 1 generated: (folder, release, source)."""
    course = tmp_path_factory.mktemp(name)
    write_course_config(course, ROOT, extra=(
        "c.Execute.timeout = 10\nc.ExecutePreprocessor.timeout = 10\n"))
    shutil.copytree(ROOT / "solutions" / CHAPTER,
                    course / "solutions" / CHAPTER)
    nbgrader(course, "generate_assignment", CHAPTER, "--force")
    released = nbk.read(course / "release" / CHAPTER / "exercises.ipynb")
    source = nbk.read(course / "solutions" / CHAPTER / "exercises.ipynb")
    return course, released, source


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    from coursekit.sandbox import sandbox_problem

    if sandbox_problem():
        pytest.skip(f"no grading sandbox here: {sandbox_problem()}")
    course, released, source = _released_course(tmp_path_factory, "attacks")
    import nbformat
    for learner, nb in submissions(released, source).items():
        d = course / "submitted" / learner / CHAPTER
        d.mkdir(parents=True)
        nbformat.write(nb, str(d / "exercises.ipynb"))
    auto = nbgrader(course, "autograde", CHAPTER, "--force",
                    "--create", check=False)
    nbgrader(course, "generate_feedback", CHAPTER, "--force", check=False)
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    return {"dir": course, "log": auto.stderr}


def test_every_attack_gets_its_asserted_score(graded_class):
    rows = csv.DictReader(open(graded_class["dir"] / "grades.csv"))
    scores = {r["student_id"]: float(r["score"]) for r in rows}
    assert scores == {k: float(v) for k, v in EXPECTED.items()}, (
        graded_class["log"][-3000:])


def test_policy_violations_are_reported_to_the_instructor(graded_class):
    course = graded_class["dir"]
    reports = {p.name.split("__")[0]: json.loads(p.read_text()) for p in
               (course / "policy_reports" / CHAPTER).glob("*.json")}
    assert set(reports) == set(POLICY_HITS)
    for learner, item in POLICY_HITS.items():
        found = reports[learner]["violations"]
        assert list(found) == [item]
        assert all(v["line"] > 0 for v in found[item])
        assert f"policy: {learner}" in graded_class["log"]
        page = (course / "feedback" / learner / CHAPTER /
                "exercises.html").read_text()
        # a report, not a verdict: the cell ran and was judged
        assert "breaks the grading policy" not in page


def test_runtime_lock_and_visible_warnings(graded_class):
    auto = graded_class["dir"] / "autograded"
    evader = nbk.read(auto / "evader" / CHAPTER / "exercises.ipynb")
    cell = nbk.answer_cells(evader)["and_gate"]
    text = str(cell.outputs)
    assert "can't be replaced while a notebook is graded" in text
    warner = nbk.read(auto / "warner" / CHAPTER / "exercises.ipynb")
    shown = "".join(o.get("text", "") for c in nbk.test_cells(warner)
                    for o in c.outputs)
    assert "RuntimeWarning" in shown and "cost no points" in shown


# ------------------------------------------------- the remaining attacks
#
# A second class, graded with ``python -m coursekit grade --workers 2``
# (each learner's kernel sandboxed), for the rest of issue 8's list:
#
# | learner    | attack                                                 | score |
# |------------|--------------------------------------------------------|-------|
# | ref2       | none: the reference solution                           | 16    |
# | dup        | and_gate's truth-table test cell duplicated (wrong     | 14    |
# |            | and_gate; the copy edited to print "passed")           |       |
# | retyped    | or_gate wrong; its test cells turned into markdown     | 14    |
# | fakegrade  | an extra cell claiming to be a 100-point test          | 16    |
# | kernelspec | notebook's kernelspec changed to another kernel        | 16    |
# | membomb    | and_gate cell allocates 64 GiB before its def          | 14    |
# | osexit     | nand_gate cell calls os._exit(0): a new kernel grades  | 14    |
# |            | the rest, after the earlier cells run again            |       |
# | fakepass   | and_gate wrong, prints fake "passed" lines             | 14    |
# | nan        | or_gate returns NaN                                    | 14    |
# | inf        | nand_gate returns inf                                  | 14    |
# | mutator    | train_perceptron zeroes the caller's labels in place   | 10    |
# | renamed    | notebook handed in as exercises_final.ipynb            | 0     |

MORE_EXPECTED = {"ref2": 16, "dup": 14, "retyped": 14, "fakegrade": 16,
                 "kernelspec": 16, "membomb": 14, "osexit": 14,
                 "fakepass": 14, "nan": 14, "inf": 14, "mutator": 10,
                 "renamed": 0}


def more_submissions(released, source):
    import nbformat

    answers, filled = filler(released, source)

    def find(nb, gid):
        return next(i for i, c in enumerate(nb.cells)
                    if nbk.nbgrader_meta(c).get("grade_id") == gid)

    wrong_and = "def and_gate(x1, x2):\n    return 0"
    subs = {"ref2": filled()}
    dup = filled(and_gate=wrong_and)
    i = find(dup, "test_and_gate_truth_table")
    copy = nbformat.from_dict(json.loads(json.dumps(dup.cells[i])))
    copy.source = 'print("passed")'
    dup.cells.insert(i + 1, copy)
    subs["dup"] = dup
    retyped = filled(or_gate="def or_gate(x1, x2):\n    return 0")
    for gid in ("test_or_gate_truth_table", "test_or_gate_hidden_types"):
        j = find(retyped, gid)
        cell = retyped.cells[j]
        retyped.cells[j] = nbformat.v4.new_markdown_cell(
            cell.source, metadata=cell.metadata)
    subs["retyped"] = retyped
    fake = filled()
    fake.cells.append(nbformat.v4.new_code_cell(
        'print("bonus")', metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True,
            "grade_id": "bonus", "points": 100, "schema_version": 3}}))
    subs["fakegrade"] = fake
    ks = filled()
    ks.metadata.kernelspec = {"name": "bash", "display_name": "Bash",
                              "language": "bash"}
    subs["kernelspec"] = ks
    subs["membomb"] = filled(and_gate="import numpy as np\n"
                             "big = np.ones(2**33)\n" + answers["and_gate"])
    subs["osexit"] = filled(nand_gate=answers["nand_gate"]
                            + "\nimport os\nos._exit(0)\n")
    subs["fakepass"] = filled(and_gate=wrong_and + (
        '\n\nprint("test_and_gate_truth_table passed")'
        '\nprint("hidden test test_and_gate_hidden_types (1 points): '
        'passed")\n'))
    subs["nan"] = filled(or_gate="import numpy as np\n\n"
                         "def or_gate(x1, x2):\n    return np.nan")
    subs["inf"] = filled(nand_gate="import numpy as np\n\n"
                         "def nand_gate(x1, x2):\n    return np.inf")
    subs["mutator"] = filled(train_perceptron=answers[
        "train_perceptron"].replace(
        "def train_perceptron(X, y, lr=0.1, epochs=100, rng=None):\n",
        "def train_perceptron(X, y, lr=0.1, epochs=100, rng=None):\n"
        "    w_b = _train(X, y, lr, epochs, rng)\n"
        "    y[...] = 0\n"
        "    return w_b\n\n\n"
        "def _train(X, y, lr=0.1, epochs=100, rng=None):\n"))
    subs["renamed"] = filled()
    return subs


@pytest.fixture(scope="module")
def more_graded(tmp_path_factory):
    from coursekit.grade import grade
    from coursekit.sandbox import sandbox_problem

    if sandbox_problem():
        pytest.skip(f"no grading sandbox here: {sandbox_problem()}")
    import nbformat

    course, released, source = _released_course(tmp_path_factory, "attacks2")
    for learner, nb in more_submissions(released, source).items():
        d = course / "submitted" / learner / CHAPTER
        d.mkdir(parents=True)
        name = ("exercises_final.ipynb" if learner == "renamed"
                else "exercises.ipynb")
        nbformat.write(nb, str(d / name))
    lines = []
    summary = grade(course, CHAPTER, workers=2, log=lines.append)
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    return {"dir": course, "summary": summary, "lines": lines}


# the duplicated-test-cell attack: nbformat says it renamed the copy's id
@pytest.mark.filterwarnings("ignore::nbformat.warnings.DuplicateCellId")
def test_remaining_attacks_get_their_asserted_scores(more_graded):
    course = more_graded["dir"]
    rows = csv.DictReader(open(course / "grades.csv"))
    scores = {r["student_id"]: float(r["score"]) for r in rows}
    logs = {p.stem: p.read_text()[-1500:] for p in
            (course / "grading_logs" / CHAPTER).glob("*.log")}
    # the renamed notebook is not graded (nbgrader: no notebook matched)
    assert more_graded["summary"]["failed"] == ["renamed"], logs
    scores.setdefault("renamed", 0.0)
    assert scores == {k: float(v) for k, v in MORE_EXPECTED.items()}, (
        more_graded["lines"], logs)


# ------------------------------------ attacks judged outside the kernel
#
# Issue 13: the test cells run in the judge (coursekit.judge), so a trick
# played inside the learner's kernel can win nothing. Every learner below
# hands in the same wrong or_gate (it returns 0: 14 of 16 without any
# trick, the honest twin "twin"); each adds one trick that took points
# when the tests ran in the kernel. Graded through the class path
# (``python -m coursekit grade``, sandboxed), each must score exactly what
# the twin scores, and no attack may change another learner's score,
# the course's files or the class run's completion.

WRONG_OR = "def or_gate(x1, x2):\n    return 0\n"
TRICKS = {
    # the comparisons' helpers rewritten through the module's __dict__
    "grading_dict": (
        "import dlcore.grading as _g\n"
        "class _Yes(int):\n    def __eq__(self, other): return True\n"
        "getattr(_g, '__dict__')['call'] = lambda fn, *a, **k: _Yes(1)\n"),
    # the module replaced in sys.modules by one whose call always agrees
    "sys_modules": (
        "import sys, types\n"
        "_fake = types.ModuleType('dlcore.grading')\n"
        "class _Yes(int):\n    def __eq__(self, other): return True\n"
        "_fake.__dict__.update(call=lambda fn, *a, **k: _Yes(1),\n"
        "    graded=__import__('contextlib').nullcontext,\n"
        "    substitute=lambda *a, **k: __import__('contextlib')"
        ".nullcontext(), assert_int01=lambda *a, **k: None)\n"
        "sys.modules['dlcore.grading'] = _fake\n"),
    # a daemon thread that keeps re-patching the helpers
    "thread": (
        "import threading, time\nimport dlcore.grading as _g\n"
        "class _Yes(int):\n    def __eq__(self, other): return True\n"
        "def _patch():\n    while True:\n"
        "        _g.__dict__['call'] = lambda fn, *a, **k: _Yes(1)\n"
        "        time.sleep(0.001)\n"
        "threading.Thread(target=_patch, daemon=True).start()\n"),
    # an int whose == is always true, returned as the answer
    "eq_int": (
        "class _Yes(int):\n    def __eq__(self, other): return True\n"
        "    __hash__ = int.__hash__\n"
        "def or_gate(x1, x2):\n    return _Yes(0)\n"),
    # NumPy's namespace dictionary changed
    "numpy_dict": (
        "import numpy\n"
        "vars(numpy)['array_equal'] = lambda *a, **k: True\n"
        "vars(numpy)['isclose'] = lambda a, b, **k: numpy.ones("
        "numpy.shape(a), bool)\n"),
    # an automagic line the policy cannot parse
    "automagic": (
        "time import dlcore.grading as _g; _g.call = "
        "lambda fn, *a, **k: 1\n"),
    # the kernel's descriptors: a byte no decoder takes, then a flood
    "pipe_bytes": (
        "from random import _os\n"
        "_os.write(2, b'\\xff\\xfe not utf-8 \\xff')\n"
        "_os.write(1, b'\\xff' * (8 * 2**20))\n"),
    # an attempt to make the course's files writable and change them
    "remount": (
        "from random import _os\n"
        "import dlcore\n"
        "_d = _os.path.dirname(dlcore.__file__)\n"
        "_os.system('mount -o remount,rw,bind ' + _d + ' ' + _d)\n"
        "try:\n"
        "    open(_os.path.join(_d, 'grading.py'), 'a').write('\\n#x\\n')\n"
        "except OSError:\n    pass\n"),
    # delegation past the guard: the reference reached through __wrapped__
    # (its twin imports dlcore's or_gate plainly and scores zero for it)
    "wrapped": (
        "import dlcore.perceptron as _P\n"
        "or_gate = getattr(_P.or_gate, '__wrapped__', _P.or_gate)\n"),
    # ... or through the garbage collector's list of every object
    "gc_walk": (
        "import gc\n"
        "_refs = [o for o in gc.get_objects() if callable(o) and getattr(o,"
        " '__name__', '') == 'or_gate' and getattr(o, '__module__', '')"
        " == 'dlcore.perceptron']\n"
        "_inner = [getattr(o, '__wrapped__', o) for o in _refs]\n"
        "if _inner:\n    or_gate = _inner[-1]\n"),
}
# a last cell that prints the kernel's input history: the hidden tests
# are not in it, since they never ran there
HISTORY = "print(list(In))\n"


def twin_submissions(released, source):
    import nbformat

    answers, filled = filler(released, source)

    subs = {"correct": filled(), "twin": filled(or_gate=WRONG_OR),
            "delegating_twin": filled(
                or_gate="from dlcore.perceptron import or_gate\n")}
    for name, trick in TRICKS.items():
        code = trick if name == "eq_int" else WRONG_OR + trick
        if name == "automagic":  # the magic line is a cell of its own
            nb = filled(or_gate=WRONG_OR)
            at = next(i for i, c in enumerate(nb.cells)
                      if nbk.nbgrader_meta(c).get("grade_id") == "or_gate")
            nb.cells.insert(at + 1, nbformat.v4.new_code_cell(trick))
            subs[name] = nb
            continue
        subs[name] = filled(or_gate=code)
    history = filled(or_gate=WRONG_OR)
    history.cells.append(nbformat.v4.new_code_cell(HISTORY))
    subs["history"] = history
    chatty = filled(**{g: answers[g].replace(
        "\n    return int(", "\n    print('thinking... ' * 50)"
        "\n    return int(") for g in ("and_gate", "nand_gate", "or_gate")})
    subs["chatty"] = chatty
    return subs


@pytest.fixture(scope="module")
def twins_graded(tmp_path_factory):
    import hashlib

    import nbformat

    import dlcore
    from coursekit.grade import grade
    from coursekit.sandbox import sandbox_problem

    if sandbox_problem():
        pytest.skip(f"no grading sandbox here: {sandbox_problem()}")
    package = Path(dlcore.__file__).parent

    def fingerprint():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(package.glob("*.py"))}

    before = fingerprint()
    course, released, source = _released_course(tmp_path_factory, "twins")
    subs = twin_submissions(released, source)
    for learner, nb in subs.items():
        d = course / "submitted" / learner / CHAPTER
        d.mkdir(parents=True)
        nbformat.write(nb, str(d / "exercises.ipynb"))
    lines = []
    summary = grade(course, CHAPTER, workers=2, log=lines.append)
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    rows = csv.DictReader(open(course / "grades.csv"))
    return {"dir": course, "summary": summary, "lines": lines,
            "scores": {r["student_id"]: float(r["score"]) for r in rows},
            "source": source, "unchanged": fingerprint() == before}


@pytest.mark.parametrize("attack", sorted(TRICKS) + ["history"])
def test_an_attack_scores_what_its_honest_twin_scores(twins_graded, attack):
    scores = twins_graded["scores"]
    assert scores["twin"] == 14.0, scores
    assert scores["delegating_twin"] == 14.0, scores
    assert scores[attack] == scores["twin"], (attack, scores)


def test_the_class_run_survives_every_attack(twins_graded):
    scores = twins_graded["scores"]
    print("\nattack           twin  attack")
    for name in sorted(TRICKS) + ["history"]:
        print(f"{name:16s} {scores['twin']:5.0f} {scores[name]:7.0f}")
    summary = twins_graded["summary"]
    assert summary["failed"] == [], twins_graded["lines"]
    assert summary["learners"] == len(TRICKS) + 5
    assert twins_graded["scores"]["correct"] == 16.0
    assert twins_graded["unchanged"], "a learner changed dlcore's files"
    log = (twins_graded["dir"] / "grading_logs" / CHAPTER /
           "pipe_bytes.log").read_text()
    assert len(log) < 400_000


def test_correct_code_that_prints_a_lot_keeps_full_points(twins_graded):
    assert twins_graded["scores"]["chatty"] == 16.0


def test_hidden_tests_never_reach_the_learners_kernel(twins_graded):
    from coursekit.leaks import find_leaks, secret_lines
    from coursekit.notebooks import HIDDEN

    auto = (twins_graded["dir"] / "autograded" / "history" / CHAPTER /
            "exercises.ipynb")
    history = nbk.read(auto).cells[-1]
    printed = "".join(o.get("text", "") for o in history.outputs)
    assert "def or_gate" in printed  # the learner's own cells are there
    hidden = secret_lines(twins_graded["source"], kinds=(HIDDEN,))
    assert len(hidden) > 20
    assert not find_leaks(printed, hidden, markers=False), printed[:2000]
