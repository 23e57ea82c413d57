"""Parallel grading (issue 8, item 5): ``python -m coursekit grade``.

A small chapter-1 class is graded three ways and must get the same
scores: nbgrader's own sequential ``autograde``, ``coursekit grade`` with
2 workers on the SQLite gradebook, and ``coursekit grade`` with 2
workers on a real PostgreSQL server started by the test.

| learner | submission                                              | score |
|---------|---------------------------------------------------------|-------|
| ref     | the reference solution                                  | 16    |
| blank   | the release as is                                       | 0     |
| bug     | or_gate planted bug (computes AND)                      | 14    |
| shadow  | the reference plus a `numpy.py` that breaks NumPy       | 16    |
| snoop   | the reference; and_gate's cell probes for the gradebook | 16    |
|         | through an alias the syntax check can't follow          |       |
"""

import contextlib
import csv
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from coursekit import notebooks as nbk
from coursekit.grade import grade
from coursekit.release import write_course_config
from coursekit.sandbox import sandbox_problem
from tests.test_autograde_e2e import ROOT, _answer, nbgrader

pytestmark = [pytest.mark.grading, pytest.mark.slow]

CHAPTER = "ch01_perceptrons"
EXPECTED = {"ref": 16, "blank": 0, "bug": 14, "shadow": 16, "snoop": 16}
SHADOW = "raise ImportError('a learner numpy.py was imported')\n"


def _probe(path):
    return (
        "import dlcore.perceptron as P\n"
        "try:\n"
        f"    getattr(P.np, 'from' + 'file')({path!r}, dtype='u1')\n"
        "    seen = True\n"
        "except OSError:\n"
        "    seen = False\n"
        "print('gradebook visible:', seen)\n")


def submissions(released, source, gradebook):
    answers = {k: _answer(c) for k, c in nbk.answer_cells(source).items()}

    def filled(**override):
        nb = nbformat.reads(nbformat.writes(released), as_version=4)
        for item, cell in nbk.answer_cells(nb).items():
            cell.source = override.get(item, answers[item])
        return nb

    return {
        "ref": filled(),
        "blank": nbformat.reads(nbformat.writes(released), as_version=4),
        "bug": filled(or_gate=answers["or_gate"].replace(
            "0.5 * x1 + 0.5 * x2 - 0.2", "0.5 * x1 + 0.5 * x2 - 0.7")),
        "shadow": filled(),
        "snoop": filled(and_gate=answers["and_gate"] + "\n"
                        + _probe(str(gradebook))),
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A course with chapter 1 generated and a class submitted."""
    problem = sandbox_problem()
    if problem:
        pytest.skip(f"no grading sandbox here: {problem}")
    course = tmp_path_factory.mktemp("class")
    write_course_config(course, ROOT)
    shutil.copytree(ROOT / "solutions" / CHAPTER,
                    course / "solutions" / CHAPTER)
    nbgrader(course, "generate_assignment", CHAPTER, "--force")
    released = nbk.read(course / "release" / CHAPTER / "exercises.ipynb")
    source = nbk.read(course / "solutions" / CHAPTER / "exercises.ipynb")
    for learner, nb in submissions(released, source,
                                   course / "gradebook.db").items():
        d = course / "submitted" / learner / CHAPTER
        d.mkdir(parents=True)
        nbformat.write(nb, str(d / "exercises.ipynb"))
    (course / "submitted" / "shadow" / CHAPTER / "numpy.py").write_text(
        SHADOW)
    return course


def _copy(template, dest, extra=""):
    shutil.copytree(template, dest)
    write_course_config(dest, ROOT, extra=extra)
    return dest


def _scores(course):
    out = course / "grades.csv"
    nbgrader(course, "export", "--to", str(out))
    return {r["student_id"]: float(r["score"])
            for r in csv.DictReader(open(out))}


def test_two_workers_give_the_sequential_scores(template, tmp_path):
    seq = _copy(template, tmp_path / "sequential")
    nbgrader(seq, "autograde", CHAPTER, "--force", "--create")
    par = _copy(template, tmp_path / "parallel")
    lines = []
    summary = grade(par, CHAPTER, workers=2, log=lines.append)
    assert summary["failed"] == [], lines
    # the progress, one line per learner, then the summary table
    n = len(EXPECTED)
    assert [ln.split("]")[0] for ln in lines[:n]] == [
        f"[{k}/{n}" for k in range(1, n + 1)]
    assert any(ln.startswith("learners/hour") for ln in lines[n:]), lines
    expected = {k: float(v) for k, v in EXPECTED.items()}
    assert _scores(seq) == expected
    assert _scores(par) == expected
    # the autograded notebooks and logs are where nbgrader puts them
    for learner in EXPECTED:
        assert (par / "autograded" / learner / CHAPTER /
                "exercises.ipynb").exists()
        assert (par / "grading_logs" / CHAPTER / f"{learner}.log").exists()
    snoop = nbk.read(par / "autograded" / "snoop" / CHAPTER /
                     "exercises.ipynb")
    shown = str(nbk.answer_cells(snoop)["and_gate"].outputs)
    assert "gradebook visible: False" in shown


def test_chapters_named_together_share_the_grading_servers(
        template, tmp_path, monkeypatch):
    """``python -m coursekit grade A B``: one pool of servers for both
    (a server's start is paid once per worker, not once per chapter);
    the scores are those of one run."""
    from coursekit import gradeserver
    from coursekit.grade import main

    starts = []
    start = gradeserver.GradingServer._start

    def counted(self):
        starts.append(self)
        start(self)

    monkeypatch.setattr(gradeserver.GradingServer, "_start", counted)
    par = _copy(template, tmp_path / "twice")
    # the same chapter twice: a regrade updates every learner in place
    assert main([CHAPTER, CHAPTER, "--course", str(par), "--workers", "2",
                 "--quiet"]) == 0
    assert 1 <= len(starts) <= 2, f"{len(starts)} servers for 2 workers"
    assert all(s.proc is None for s in starts)  # closed at the end
    assert _scores(par) == {k: float(v) for k, v in EXPECTED.items()}


def test_refuses_without_sandbox_unless_told(template, tmp_path,
                                             monkeypatch):
    import coursekit.grade as g

    course = _copy(template, tmp_path / "nosandbox")
    monkeypatch.setattr(g, "sandbox_problem",
                        lambda: "bubblewrap is not installed (test)")
    with pytest.raises(SystemExit) as err:
        g.grade(course, CHAPTER, workers=1, log=lambda s: None)
    assert "bubblewrap is not installed (test)" in str(err.value)
    assert "--no-sandbox-i-know" in str(err.value)
    assert not (course / "autograded").exists()


# ------------------------------------------------------------ PostgreSQL


def _pg_bin():
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


@pytest.fixture
def postgres():
    """A throwaway PostgreSQL server on a free local port; its URL."""
    with postgres_server() as url:
        yield url


@contextlib.contextmanager
def postgres_server():
    """Start a throwaway PostgreSQL server (skip the test where none can
    run); its URL. As root, the server runs as the ``postgres`` user, or
    ``nobody`` where there is none (PostgreSQL refuses to run as root)."""
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed "
                        "(pip install psycopg2-binary)")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install "
                    "postgresql); .ci/run installs it")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = Path(tempfile.mkdtemp(prefix="coursekit-pg-"))
    prefix = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        import pwd

        user = None
        for name in ("postgres", "nobody"):
            try:
                user = pwd.getpwnam(name)
                break
            except KeyError:
                continue
        if user is None or not shutil.which("runuser"):
            pytest.skip("running as root, and no postgres or nobody user "
                        "(or no runuser) to run PostgreSQL as")
        os.chown(data, user.pw_uid, user.pw_gid)
        os.chmod(data, 0o700)
        prefix = ["runuser", "-u", user.pw_name, "--"]

    def run(*cmd):
        return subprocess.run(prefix + list(cmd), capture_output=True,
                              text=True, timeout=120)

    pgdata = data / "db"
    proc = run(str(bindir / "initdb"), "-D", str(pgdata), "-U", "grader",
               "--auth=trust", "-E", "UTF8")
    assert proc.returncode == 0, proc.stderr
    proc = run(str(bindir / "pg_ctl"), "-D", str(pgdata), "-w",
               "-l", str(data / "log"), "-o",
               f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
               "start")
    assert proc.returncode == 0, proc.stderr + (data / "log").read_text()
    try:
        proc = run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p",
                   str(port), "-U", "grader", "gradebook")
        assert proc.returncode == 0, proc.stderr
        yield f"postgresql+psycopg2://grader@127.0.0.1:{port}/gradebook"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "immediate",
            "stop")
        shutil.rmtree(data, ignore_errors=True)


def test_parallel_workers_write_a_postgresql_gradebook(template, tmp_path,
                                                       postgres):
    course = _copy(template, tmp_path / "pg",
                   extra=f"c.CourseDirectory.db_url = {postgres!r}\n")
    (course / "gradebook.db").unlink()
    nbgrader(course, "generate_assignment", CHAPTER, "--force")
    summary = grade(course, CHAPTER, workers=2, log=lambda s: None)
    assert summary["failed"] == []
    assert not (course / "gradebook.db").exists()
    assert _scores(course) == {k: float(v) for k, v in EXPECTED.items()}
    # the rows are in the server, read back without nbgrader
    import psycopg2

    dsn = postgres.replace("+psycopg2", "")
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from submitted_assignment")
        assert cur.fetchone()[0] == len(EXPECTED)
