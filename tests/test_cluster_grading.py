"""Class grading on a Dask cluster (issue 18, item 4):
``python -m coursekit grade <chapter> --scheduler tcp://HOST:PORT``.

A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1
(one thread each) and a real PostgreSQL server grade a small chapter-1
class; the scores must be local grading's. Then a worker is killed
while it grades a learner: every learner must still be graded, exactly
once in the gradebook, with the right score.

| learner | submission                                    | score |
|---------|-----------------------------------------------|-------|
| ref     | the reference solution                        | 16    |
| blank   | the release as is                             | 0     |
| bug     | or_gate planted bug (computes AND)            | 14    |
| slow1   | the reference, and_gate's cell sleeps 3 s     | 16    |
| slow2   | the reference, and_gate's cell sleeps 3 s     | 16    |
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from coursekit import notebooks as nbk
from coursekit.release import nbgrader_env, write_course_config
from coursekit.sandbox import sandbox_problem
from tests.test_autograde_e2e import ROOT, filler, nbgrader
from tests.test_parallel_grading import _scores, postgres_server

CHAPTER = "ch01_perceptrons"
EXPECTED = {"ref": 16, "blank": 0, "bug": 14, "slow1": 16, "slow2": 16}


def submissions(released, source):
    answers, filled = filler(released, source)

    slow = "import time\ntime.sleep(3)\n" + answers["and_gate"]
    return {
        "ref": filled(),
        "blank": nbformat.reads(nbformat.writes(released), as_version=4),
        "bug": filled(or_gate=answers["or_gate"].replace(
            "0.5 * x1 + 0.5 * x2 - 0.2", "0.5 * x1 + 0.5 * x2 - 0.7")),
        "slow1": filled(and_gate=slow),
        "slow2": filled(and_gate=slow),
    }


def _course(dest, db_url=None):
    """A course with chapter 1 generated (into ``db_url``'s gradebook,
    default SQLite) and the class submitted."""
    extra = f"c.CourseDirectory.db_url = {db_url!r}\n" if db_url else ""
    dest.mkdir(parents=True, exist_ok=True)
    write_course_config(dest, ROOT, extra=extra)
    shutil.copytree(ROOT / "solutions" / CHAPTER,
                    dest / "solutions" / CHAPTER)
    nbgrader(dest, "generate_assignment", CHAPTER, "--force")
    released = nbk.read(dest / "release" / CHAPTER / "exercises.ipynb")
    source = nbk.read(dest / "solutions" / CHAPTER / "exercises.ipynb")
    for learner, nb in submissions(released, source).items():
        d = dest / "submitted" / learner / CHAPTER
        d.mkdir(parents=True)
        nbformat.write(nb, str(d / "exercises.ipynb"))
    return dest


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A ``dask scheduler`` and ``dask worker`` processes, each in a
    session of its own (so that a worker can be killed whole)."""

    def __init__(self, tmp, workers=2):
        self.tmp = Path(tmp)
        self.env = nbgrader_env()
        self.env.pop("PYTHONPATH", None)
        self.dask = str(Path(sys.executable).parent / "dask")
        port = _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        self.scheduler = self._start(
            "scheduler", [self.dask, "scheduler", "--host", "127.0.0.1",
                          "--port", str(port), "--no-dashboard"])
        self.workers = [self._start(f"worker{i}", [
            self.dask, "worker", self.address, "--nthreads", "1",
            "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard",
            "--memory-limit", "0",
            "--local-directory", str(self.tmp / f"worker{i}")])
            for i in range(workers)]
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def _start(self, name, cmd):
        log = open(self.tmp / f"{name}.log", "wb")
        return subprocess.Popen(cmd, cwd=self.tmp, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True)

    @staticmethod
    def kill(proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()

    def close(self):
        for proc in self.workers + [self.scheduler]:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=20)
                except (OSError, subprocess.TimeoutExpired):
                    self.kill(proc)


@pytest.fixture
def cluster(tmp_path):
    pytest.importorskip("distributed", reason="Dask's distributed is not "
                        "installed (pip install '.[cluster]')")
    pytest.importorskip("psutil", reason="psutil is not installed")
    problem = sandbox_problem()
    if problem:
        pytest.skip(f"no grading sandbox here: {problem}")
    (tmp_path / "cluster").mkdir()
    c = Cluster(tmp_path / "cluster")
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def postgres():
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def local_scores(tmp_path_factory):
    """The class graded on this machine (SQLite): the reference."""
    from coursekit.grade import grade

    if sandbox_problem():
        pytest.skip(f"no grading sandbox here: {sandbox_problem()}")
    course = _course(tmp_path_factory.mktemp("local"))
    summary = grade(course, CHAPTER, workers=2, log=lambda s: None)
    assert summary["failed"] == []
    scores = _scores(course)
    assert scores == {k: float(v) for k, v in EXPECTED.items()}
    return scores


def _rows(db_url):
    """Per learner: submissions of the chapter, and grade rows with a
    score, read from the server without nbgrader."""
    import psycopg2

    with psycopg2.connect(db_url.replace("+psycopg2", "")) as conn, \
            conn.cursor() as cur:
        cur.execute(
            "select sa.student_id, count(distinct sa.id), "
            "count(g.id), count(g.auto_score) "
            "from submitted_assignment sa "
            "join assignment a on a.id = sa.assignment_id "
            "join submitted_notebook sn on sn.assignment_id = sa.id "
            "left join grade g on g.notebook_id = sn.id "
            "where a.name = %s group by sa.student_id", (CHAPTER,))
        return {r[0]: r[1:] for r in cur.fetchall()}


def test_sqlite_is_refused_with_a_scheduler(tmp_path):
    from coursekit.grade import grade

    write_course_config(tmp_path, ROOT)
    with pytest.raises(SystemExit) as err:
        grade(tmp_path, CHAPTER, scheduler="tcp://127.0.0.1:1",
              log=lambda s: None)
    message = str(err.value)
    assert "SQLite" in message and "PostgreSQL" in message
    assert "--db-url postgresql+psycopg2://" in message


@pytest.mark.slow
@pytest.mark.grading
def test_a_cluster_gives_the_local_scores(local_scores, cluster, postgres,
                                          tmp_path):
    from coursekit.grade import grade

    course = _course(tmp_path / "course", db_url=postgres)
    lines = []
    summary = grade(course, CHAPTER, scheduler=cluster.address,
                    log=lines.append)
    assert summary["failed"] == [], lines
    assert _scores(course) == local_scores
    assert not (course / "gradebook.db").exists()
    rows = _rows(postgres)
    assert set(rows) == set(EXPECTED)
    for learner, (subs, grades, scored) in rows.items():
        assert subs == 1 and grades == scored > 0, (learner, rows)
    for learner in EXPECTED:
        assert (course / "autograded" / learner / CHAPTER /
                "exercises.ipynb").exists()
        log = (course / "grading_logs" / CHAPTER / f"{learner}.log")
        assert log.read_text().startswith("[graded on ")
    # both workers took part
    hosts = {(course / "grading_logs" / CHAPTER / f"{s}.log")
             .read_text().split("]")[0] for s in EXPECTED}
    assert len(hosts) == 2, hosts


def _grading_now(worker):
    """The learner a worker's grading server is grading now, or None
    (its child's working folder is that learner's temporary course)."""
    import psutil

    try:
        tree = psutil.Process(worker.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for proc in tree:
        try:
            if "coursekit.gradeserver" in " ".join(proc.cmdline()):
                for child in proc.children():
                    name = Path(child.cwd()).name
                    if name in EXPECTED:
                        return name
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


@pytest.mark.slow
@pytest.mark.grading
def test_a_worker_killed_mid_run_loses_no_learner(local_scores, cluster,
                                                  postgres, tmp_path):
    from coursekit.grade import grade

    course = _course(tmp_path / "course", db_url=postgres)
    out = {}
    run = threading.Thread(target=lambda: out.update(summary=grade(
        course, CHAPTER, scheduler=cluster.address, log=lambda s: None)))
    run.start()
    killed, victim, end = None, set(), time.monotonic() + 180
    while killed is None and time.monotonic() < end and run.is_alive():
        for worker in cluster.workers:
            learner = _grading_now(worker)
            if learner:
                import psutil

                time.sleep(0.5)  # well into that learner's grading
                killed = learner
                victim = {worker.pid} | {p.pid for p in psutil.Process(
                    worker.pid).children(recursive=True)}
                cluster.kill(worker)
                break
        time.sleep(0.05)
    run.join(timeout=600)
    assert killed is not None, "no worker was seen grading a learner"
    assert not run.is_alive()
    summary = out["summary"]
    assert summary["failed"] == [], summary
    assert _scores(course) == local_scores
    rows = _rows(postgres)
    assert set(rows) == set(EXPECTED)
    for learner, (subs, grades, scored) in rows.items():
        assert subs == 1 and grades == scored > 0, (learner, rows)
    # the killed worker's learner was graded again, on the other worker
    log = (course / "grading_logs" / CHAPTER / f"{killed}.log").read_text()
    assert not any(f":{pid}]" in log.splitlines()[0] for pid in victim), log
