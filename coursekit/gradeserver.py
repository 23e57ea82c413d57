"""One grading process per worker: nbgrader imported once, a fresh fork
per learner.

Starting ``python -m nbgrader autograde`` for every learner spent about
2.5 s of a notebook's 4 to 5 s on Python's start, nbgrader's imports and
the interpreter's exit (``benchmarks/grading_throughput.py
--breakdown``). A grading server (``python -m coursekit.gradeserver``,
one per worker, started by :class:`GradingServer`) imports nbgrader,
the course's preprocessors and the judge once (:data:`PRELOAD`) and then
reads jobs, one JSON line each, on its stdin. For each job it forks a
child, which grades that one learner with nbgrader's own ``autograde``
app (:func:`grade_learner`, in a temporary course built by
:mod:`coursekit.grade`) and ends with ``os._exit``: every learner gets a
fresh process that no other learner's grading touched, and no kernel,
judge or process outlives its learner. The server itself never runs a
notebook.

The server waits for the child at most the job's ``timeout`` seconds,
then kills its process group (the judge with it; the sandboxed kernel
dies with its parent, ``bwrap --die-with-parent``) and removes what is
left of its kernels' cgroups. When the process that started the server
goes away (its stdin closes), the server kills the running child and
ends, so a grading machine that is stopped leaves no learner half-graded
behind: a gradebook write is one transaction, rolled back with its
connection (:func:`coursekit.grade.merge_learner`).

Replies are one JSON line on stdout: ``{"rc": int, "note": str}`` (``rc``
-1 when the child was killed; ``note`` says why).
"""

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time

# What the children inherit, imported once per server.
PRELOAD = (
    "nbgrader.apps.nbgraderapp", "nbgrader.apps.autogradeapp",
    "nbgrader.converters.autograde", "nbgrader.preprocessors",
    "nbgrader.api", "nbconvert.preprocessors", "nbconvert.writers",
    "nbclient", "jupyter_client.manager", "jupyter_client.session",
    "sqlalchemy.dialects.sqlite", "sqlite3", "zmq",
    "IPython.core.inputtransformer2", "ipykernel.kernelspec",
    "encodings.unicode_escape", "coursekit.preprocessors",
    "coursekit.feedback", "coursekit.judge", "coursekit.phases",
    "coursekit.withheld", "coursekit.policy", "coursekit.grade",
    "dlcore.grading", "dlcore.channel",
)
OPTIONAL = ("psycopg2", "sqlalchemy.dialects.postgresql",
            # the digits' loader, for the judges of chapters 5 and 6
            # (importing scikit-learn takes about 0.9 s)
            "sklearn.datasets", "sklearn.model_selection")


def preload():
    """Import what grading needs and cache the sandbox's checks, before
    any fork (the children inherit both)."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    for name in OPTIONAL:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from coursekit.cgroups import cgroup_problem
    from coursekit.sandbox import sandbox_problem

    sandbox_problem()
    cgroup_problem()
    warm_validators()
    warm_gradebook()
    warm_datasets()


def warm_datasets():
    """Parse the MNIST sample once, for the judges of chapter 7 (each
    loads it: 0.15 s), where it is installed."""
    from dlcore.datasets import DatasetError, load_mnist_sample

    try:
        load_mnist_sample()
    except DatasetError:
        pass


def warm_validators():
    """Compile nbformat's notebook schema validators, strict and relaxed:
    fastjsonschema compiles each on first use, in every process that
    uses it (0.09 s a child)."""
    import nbformat
    from nbformat.validator import get_validator

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nbformat.validate(nbformat.reads(nbformat.writes(nb), as_version=4))
    for relax in (False, True):
        get_validator(nb.nbformat, nb.nbformat_minor, relax_add_props=relax)


def warm_gradebook():
    """Run the gradebook calls of one autograde once, on a scratch
    gradebook: SQLAlchemy builds its mappers and operator tables on
    first use, in every process that uses them (0.2 s a child)."""
    import tempfile
    import warnings

    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    from coursekit.grade import merge_learner, snapshot

    with tempfile.TemporaryDirectory(prefix="coursekit-warm-") as tmp, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        empty = f"sqlite:///{tmp}/empty.db"
        from sqlalchemy import create_engine, text

        engine = create_engine(empty)
        with engine.begin() as db:  # an alembic version: no subprocess
            db.execute(text("CREATE TABLE alembic_version "
                            "(version_num VARCHAR(32) NOT NULL)"))
            db.execute(text("INSERT INTO alembic_version VALUES ('0')"))
        engine.dispose()
        with Gradebook(empty, "warm") as gb:
            gb.add_assignment("a")
            gb.add_notebook("n", "a")
            gb.add_grade_cell("g", "n", "a", max_score=1, cell_type="code")
            gb.add_solution_cell("s", "n", "a")
            gb.add_source_cell("s", "n", "a", cell_type="code",
                               source="", checksum="")
            gb.add_task_cell("t", "n", "a", max_score=1,
                             cell_type="markdown")
        snapshot(empty, f"{tmp}/definitions.db")
        one = f"sqlite:///{tmp}/definitions.db"
        with Gradebook(one, "warm") as gb:
            gb.update_or_create_student("x")
            gb.update_or_create_submission("a", "x")
            gb.find_notebook("n", "a")
            gb.find_source_cell("s", "n", "a")
            gb.find_graded_cell("g", "n", "a")
            gb.find_graded_cell("t", "n", "a")
            gb.find_solution_cell("s", "n", "a")
            nb = gb.find_submission_notebook("n", "a", "x")
            gb.find_grade("g", "n", "a", "x").auto_score = 1
            gb.find_comment("s", "n", "a", "x").auto_comment = ""
            nb.late_submission_penalty = None
            gb.db.commit()
        merge_learner(one, empty, "warm", "a", "x")


# ------------------------------------------------------ the child: one learner


def _exit_code(err):
    code = err.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def grade_learner(job):
    """Grade one learner in this (fresh) process; its exit status.

    ``job``: ``root`` (the temporary course), ``chapter``, ``student``,
    ``phases`` (where the time breakdown goes), ``sent`` (when the job
    was handed over, ``time.time()``), and ``merge``: ``None``, or where
    to write the learner's results (``{"dst": url, "course_id": ...}``),
    done here in one transaction after nbgrader succeeded.
    """
    from coursekit import preprocessors
    from coursekit.phases import Phases, instrument

    preprocessors.FORK_JUDGE = True  # this process is a fresh fork
    _scratch_sqlite()
    phases = Phases()
    phases.add("start", max(0.0, time.time() - job.get("sent", time.time())))
    instrument(phases)
    os.chdir(job["root"])
    rc = 1
    try:
        from nbgrader.apps.nbgraderapp import NbGraderApp

        try:
            NbGraderApp.launch_instance(argv=[
                "autograde", job["chapter"], "--student", job["student"],
                "--force", "--create"])
            rc = 0
        except SystemExit as err:
            rc = _exit_code(err)
        merge = job.get("merge")
        if rc == 0 and merge:
            from coursekit.grade import merge_learner

            with phases("database"):
                merge_learner(job["db_url"], merge["dst"],
                              merge["course_id"], job["chapter"],
                              job["student"])
    except BaseException:  # the log says why; the class goes on
        import traceback

        traceback.print_exc()
        rc = rc or 1
    finally:
        try:
            phases.dump(job["phases"])
        except (OSError, KeyError):
            pass
    return rc


def _scratch_sqlite():
    """The learner's private SQLite gradebook is scratch: no fsync per
    commit (nbgrader commits some 40 times a notebook)."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_connection, record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute("PRAGMA synchronous = OFF")


def _child(job, log_path, keep_closed=()):
    """The forked child: its own session, stdout and stderr into the
    learner's log, dead with the server; ``keep_closed``: the server's
    fds it must not hold (the reply pipe)."""
    try:
        for fd in keep_closed:
            os.close(fd)
        os.setsid()
        _die_with_parent()
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(null)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False,
                          errors="replace")
        sys.stderr = open(2, "w", buffering=1, closefd=False,
                          errors="replace")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        rc = grade_learner(job)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        rc = 1
    os._exit(rc if 0 <= rc < 256 else 1)


def _die_with_parent():
    """SIGKILL this process when the one that forked it dies (Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ------------------------------------------------------------- the server


def _kill(pid):
    """Kill the child's process group and reap it; remove the cgroups
    its kernels were given."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    from coursekit.cgroups import remove_owned_by

    remove_owned_by(pid)


def _wait(pid, timeout, control):
    """``(exit status or None, note)``; ``None`` when killed. Returns
    early (killing the child) when ``control`` (our stdin) closes."""
    deadline = time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            if pidfd is None:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return os.waitstatus_to_exitcode(status), ""
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(pid)
                return None, f"timed out after {timeout} s\n"
            watch = [control] + ([pidfd] if pidfd is not None else [])
            ready, _, _ = select.select(watch, [], [],
                                        left if pidfd is not None
                                        else min(left, 0.02))
            if pidfd is not None and pidfd in ready:
                _, status = os.waitpid(pid, 0)
                return os.waitstatus_to_exitcode(status), ""
            if control in ready:  # the grader is gone (or broke the
                _kill(pid)        # protocol): stop here
                raise SystemExit(0)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _lines(fd):
    """Lines of ``fd``, read unbuffered (so that select() on ``fd`` sees
    what has not been read yet)."""
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        yield line.decode()


def serve(control=0, replies=None):
    """Read jobs from ``control``; fork and wait for a child per job."""
    replies = replies or sys.stdout
    for line in _lines(control):
        if not line.strip():
            continue
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(job, job["log"], [replies.fileno()])
        rc, note = _wait(pid, job.get("timeout", 3600), control)
        replies.write(json.dumps({"rc": -1 if rc is None else rc,
                                  "note": note}) + "\n")
        replies.flush()


def main():
    # replies go to a private copy of stdout; anything else printed by
    # the server (a failed import) goes to stderr
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    preload()
    serve(0, replies)
    return 0


# ------------------------------------------------- the grader's handle


class GradingServer:
    """A grading server process, started on first use; :meth:`grade`
    sends it one learner and waits for the reply. Not thread-safe: one
    per worker thread."""

    def __init__(self, env=None):
        self.env = env
        self.proc = None

    def _start(self):
        from coursekit.release import nbgrader_env

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "coursekit.gradeserver"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=self.env or nbgrader_env(), text=True, bufsize=1)

    def grade(self, job):
        """The server's reply to ``job`` (``rc``, ``note``)."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        job = dict(job, sent=time.time())
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except OSError:
            line = ""
        if not line:
            self.close()
            return {"rc": -1, "note": "the grading server stopped\n"}
        return json.loads(line)

    def close(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


class ServerPool:
    """Grading servers lent to the threads that grade, one thread at a
    time each, and kept for the next learner, and for the next chapter
    when one pool serves several :func:`coursekit.grade.grade` calls (a
    server's start, about 2.5 s, is then paid once per worker, not once
    per chapter). All are closed at the end::

        with ServerPool() as pool:
            with pool.lend() as server:
                server.grade(job)
    """

    def __init__(self):
        self._idle = []
        self._all = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lend(self):
        with self._lock:
            srv = self._idle.pop() if self._idle else None
        if srv is None:
            srv = GradingServer()
            with self._lock:
                self._all.append(srv)
        try:
            yield srv
        finally:
            with self._lock:
                self._idle.append(srv)

    def close(self):
        with self._lock:
            servers, self._all, self._idle = self._all, [], []
        for srv in servers:
            srv.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    sys.exit(main())
