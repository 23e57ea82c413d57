"""``python -m coursekit grade <chapter> --workers N``: autograde a class.

Each learner is graded independently, by nbgrader's own ``autograde`` in
a temporary course of its own: the course's config, the chapter's source
folder, and that learner's submission with only its ``.ipynb`` files
(and nbgrader's ``timestamp.txt``). N learners are graded at once, each
in a fresh process forked by a worker's grading server, which imported
nbgrader once (:mod:`coursekit.gradeserver`); every learner kernel runs
in the sandbox (:mod:`coursekit.sandbox`). With ``--scheduler`` the
learners go to a Dask cluster's workers instead (:mod:`coursekit.cluster`).

The gradebook: each learner is graded into a private SQLite copy of the
course's definitions (:func:`snapshot`); its results are then written
into the course's gradebook in one transaction (:func:`merge_learner`):

- SQLite (the default, ``sqlite:///gradebook.db``): by this process,
  one learner at a time, as results come in (SQLite does not take
  concurrent writers);
- PostgreSQL (``--db-url postgresql://...`` or ``db_url`` in the
  config): by each learner's grading process, on whichever machine.

The autograded notebooks land in ``autograded/<learner>/<chapter>/`` as
with nbgrader, policy reports in ``policy_reports/<chapter>/`` and each
learner's nbgrader log in ``grading_logs/<chapter>/<learner>.log``.

While it runs it shows learners done of total, failures so far, the
time elapsed and an estimate of the time left (:class:`Progress`: a bar
on a terminal, one line per learner otherwise, nothing with
``--quiet``), and a summary table at the end.
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from coursekit.sandbox import sandbox_problem


def load_course_config(course):
    """The course's nbgrader config (a traitlets Config)."""
    from traitlets.config import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py",
                              path=str(course)).load_config()


def resolve_db_url(course, cfg, db_url=None):
    """The gradebook URL, a relative SQLite path made absolute."""
    url = db_url or cfg.CourseDirectory.get("db_url") or \
        "sqlite:///gradebook.db"
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        url = prefix + str(Path(course, url[len(prefix):]).resolve())
    return url


def learners(course, cfg, chapter):
    """Learners with a submission folder for ``chapter``."""
    sub = Path(course, cfg.CourseDirectory.get("submitted_directory",
                                               "submitted"))
    return sorted(p.name for p in sub.iterdir()
                  if (p / chapter).is_dir()) if sub.is_dir() else []


def layout(course, cfg):
    """The folder names and course id a grading job needs (plain data,
    sent along to a cluster's workers)."""
    names = cfg.CourseDirectory
    return {"source": names.get("source_directory", "source"),
            "submitted": names.get("submitted_directory", "submitted"),
            "autograded": names.get("autograded_directory", "autograded"),
            "reports": "policy_reports",
            "course_id": names.get("course_id", ""),
            "config": str(Path(course, "nbgrader_config.py"))}


def submission(course, names, chapter, student):
    """``{file name: bytes}`` of what a learner handed in that grading
    reads: the ``.ipynb`` files and nbgrader's ``timestamp.txt`` (never
    another file: a ``numpy.py`` beside the notebook is not taken)."""
    folder = Path(course, names["submitted"], student, chapter)
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())
            if f.is_file() and (f.suffix == ".ipynb"
                                or f.name == "timestamp.txt")}


def _temp_course(tmp, course, names, chapter, student, db_url, sandbox,
                 files=None):
    """A course of one learner under ``tmp``: the config, the chapter's
    source folder (a link) and the learner's :func:`submission` (or
    ``files``, its bytes sent along) only."""
    root = Path(tmp, student)
    (root / names["source"]).mkdir(parents=True)
    os.symlink(Path(course, names["source"], chapter).resolve(),
               root / names["source"] / chapter)
    dest = root / names["submitted"] / student / chapter
    dest.mkdir(parents=True)
    if files is None:
        files = submission(course, names, chapter, student)
    for name, data in files.items():
        (dest / Path(name).name).write_bytes(data)
    extra = "" if sandbox else "c.GradingExecute.sandbox = False\n"
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({names['config']!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {db_url!r}\n" + extra)
    return root


LOG_LIMIT = 256 * 1024  # bytes of a learner's nbgrader log kept


def read_log(path, note=""):
    """The learner's log: at most its last :data:`LOG_LIMIT` bytes, read
    as bytes and decoded without failing, so nothing a learner's kernel
    writes can stop, slow or bloat the class run."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - LOG_LIMIT))
            raw = f.read()
    except OSError:
        size, raw = 0, b""
    log = raw.decode("utf-8", errors="replace")
    if size > LOG_LIMIT:
        log = f"[... the first {size - LOG_LIMIT} bytes cut]\n" + log
    return note + log


# ------------------------------------------------------------ gradebooks
#
# Every learner is graded into a private SQLite gradebook holding only
# the course's definitions (snapshot()), never another learner's rows;
# its results are then written into the course's gradebook in one
# transaction (merge_learner): by this process for SQLite (one writer),
# by the grading process itself for PostgreSQL. A learner whose grading
# stops half-way (a timeout, a machine lost) leaves nothing behind.

DEFINITIONS = ("course", "assignment", "notebook", "base_cell",
               "grade_cells", "solution_cells", "task_cells",
               "source_cell")


def snapshot(url, path):
    """Write a SQLite gradebook at ``path`` holding ``url``'s course
    definitions (assignments, notebooks, cells): what autograde reads."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, inspect, text

    src = create_engine(url, future=True)
    dst = create_engine(f"sqlite:///{path}", future=True)
    try:
        Base.metadata.create_all(bind=dst)
        tables = {t.name: t for t in Base.metadata.sorted_tables}
        with src.connect() as s, dst.begin() as d:
            for name in DEFINITIONS:
                rows = [dict(r) for r in
                        s.execute(tables[name].select()).mappings()]
                if rows:
                    d.execute(tables[name].insert(), rows)
            if "alembic_version" in inspect(src).get_table_names():
                version = s.execute(text(
                    "SELECT version_num FROM alembic_version")).scalar()
                d.execute(text("CREATE TABLE alembic_version "
                               "(version_num VARCHAR(32) NOT NULL)"))
                d.execute(text("INSERT INTO alembic_version VALUES (:v)"),
                          {"v": version})
    finally:
        src.dispose()
        dst.dispose()


def extensions(gb, chapter):
    """``{learner: seconds}`` of the extensions granted for ``chapter``
    (kept in the learners' submissions, which a snapshot leaves out)."""
    from nbgrader.api import Assignment, Student, SubmittedAssignment

    rows = (gb.db.query(Student.id, SubmittedAssignment.extension)
            .join(SubmittedAssignment.student)
            .join(SubmittedAssignment.assignment)
            .filter(Assignment.name == chapter,
                    SubmittedAssignment.extension.isnot(None)))
    return {sid: ext.total_seconds() for sid, ext in rows}


def private_gradebook(template, path, chapter, student, extension=None):
    """The learner's gradebook: a copy of the snapshot, with the
    learner's extension if one was granted. Its URL."""
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    if extension:
        import datetime

        from nbgrader.api import Gradebook

        with Gradebook(url) as gb:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(
                chapter, student,
                extension=datetime.timedelta(seconds=extension))
    return url


@contextlib.contextmanager
def one_transaction(gb):
    """Everything ``gb`` (an nbgrader Gradebook) writes inside, in one
    transaction: nbgrader commits after each row, here it only flushes
    until the end; on any error nothing is written."""
    session = gb.db.registry()
    session.commit = session.flush
    try:
        yield gb
    except BaseException:
        del session.commit
        session.rollback()
        raise
    del session.commit
    session.commit()


def merge_learner(src_url, dst, course_id, chapter, student):
    """Write one learner's autograde results from ``src_url``'s gradebook
    into ``dst`` (a URL or an open Gradebook): scores, comments, flags,
    timestamp, penalty, in one transaction. Rows are found by learner
    and chapter and updated, so writing the same results again changes
    nothing and no row is ever doubled. False if ``src_url`` has none."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    with contextlib.ExitStack() as stack:
        # nbgrader's harmless "not in session" noise on a new submission
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", SAWarning)
        src = stack.enter_context(Gradebook(src_url, course_id))
        if isinstance(dst, str):
            dst = stack.enter_context(Gradebook(dst, course_id))
        try:
            s = src.find_submission(chapter, student)
        except MissingEntry:
            return False
        with one_transaction(dst):
            dst.update_or_create_student(student)
            dst.update_or_create_submission(chapter, student,
                                            timestamp=s.timestamp)
            for snb in s.notebooks:
                dnb = dst.find_submission_notebook(snb.name, chapter,
                                                   student)
                dnb.flagged = snb.flagged
                dnb.late_submission_penalty = snb.late_submission_penalty
                for g in snb.grades:
                    dg = dst.find_grade(g.name, snb.name, chapter, student)
                    dg.auto_score = g.auto_score
                    dg.needs_manual_grade = g.needs_manual_grade
                for c in snb.comments:
                    dc = dst.find_comment(c.name, snb.name, chapter,
                                          student)
                    dc.auto_comment = c.auto_comment
    return True


def store(course, names, chapter, student, files):
    """Write one learner's :func:`outputs` into the course (its
    autograded folder replaced, as nbgrader does)."""
    auto = str(Path(names["autograded"], student, chapter))
    if any(rel.startswith(auto + os.sep) for rel in files):
        shutil.rmtree(Path(course, auto), ignore_errors=True)
    for rel, data in files.items():
        path = Path(course, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def outputs(root, names, chapter, student):
    """``{path relative to the course: bytes}`` of what grading one
    learner produced: its autograded folder and its policy reports."""
    found = {}
    out = Path(root, names["autograded"], student, chapter)
    if out.is_dir():
        for f in sorted(out.rglob("*")):
            if f.is_file() and not f.is_symlink():
                found[str(Path(names["autograded"], student, chapter,
                               f.relative_to(out)))] = f.read_bytes()
    rep = Path(root, names["reports"], chapter)
    if rep.is_dir():
        for f in sorted(rep.iterdir()):
            if f.is_file() and not f.is_symlink():
                found[str(Path(names["reports"], chapter, f.name))] = \
                    f.read_bytes()
    return found


def _clock(seconds):
    """``seconds`` as h:mm:ss (or m:ss)."""
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Learners done of ``total``, failures so far, time elapsed and left.

    ``bar``: a tqdm bar on stderr (a terminal); otherwise each learner
    gets one line through ``log``, unless ``quiet``. The time left is the
    mean time per learner so far times the learners left.
    """

    def __init__(self, total, log=print, bar=False, quiet=False,
                 clock=time.perf_counter):
        self.total, self.log, self.quiet, self.clock = total, log, quiet, clock
        self.done, self.failed, self.t0 = 0, [], clock()
        self.bar = None
        if bar and not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="learner", file=sys.stderr)

    def update(self, student, ok, seconds, why=""):
        self.done += 1
        if not ok:
            self.failed.append(student)
        elapsed = self.clock() - self.t0
        left = elapsed / self.done * (self.total - self.done)
        if self.bar is not None:
            self.bar.set_postfix(failed=len(self.failed), refresh=False)
            self.bar.update(1)
            if not ok:
                self.bar.write(f"FAILED {student}{why}", file=sys.stderr)
        elif not self.quiet:
            self.log(f"[{self.done}/{self.total}] "
                     f"{'graded' if ok else 'FAILED'} {student} "
                     f"({seconds:.1f} s){why}; {len(self.failed)} failed so "
                     f"far; {_clock(elapsed)} elapsed, about "
                     f"{_clock(left)} left")

    def close(self):
        if self.bar is not None:
            self.bar.close()


def summary_table(summary, chapter):
    """The lines that end a run: counts, time, rate, slowest learners."""
    secs = summary["seconds"]
    times = sorted(secs.values())
    median = times[len(times) // 2] if times else 0.0
    slow = sorted(secs, key=secs.get, reverse=True)[:3]
    failed = summary["failed"]
    rows = [("chapter", chapter),
            ("learners", str(summary["learners"])),
            ("graded", str(summary["learners"] - len(failed))),
            ("failed", f"{len(failed)}" + (f" ({', '.join(failed)}; see "
                                          f"grading_logs/{chapter}/)"
                                          if failed else "")),
            ("workers", str(summary["workers"])),
            ("wall time", f"{_clock(summary['wall_s'])} "
                          f"({summary['wall_s']:.1f} s)"),
            ("learners/hour", f"{summary['per_hour']:.0f}"),
            ("per notebook", f"median {median:.1f} s" + (
                f"; slowest {', '.join(f'{s} {secs[s]:.1f} s' for s in slow)}"
                if slow else ""))]
    width = max(len(k) for k, _ in rows)
    return [f"{k:<{width}}  {v}" for k, v in rows]


def check_sandbox(sandbox):
    """Refuse to grade without a sandbox unless told to."""
    if sandbox:
        problem = sandbox_problem()
        if problem:
            raise SystemExit(
                f"refusing to grade: {problem}.\nLearner code would run "
                "unsandboxed, able to read the solutions and rewrite the "
                "gradebook. Install bubblewrap, or pass "
                "--no-sandbox-i-know to grade anyway.")


def open_gradebook(url, course_id, chapter):
    """The course's gradebook, open; SystemExit if ``chapter`` is not
    in it."""
    from nbgrader.api import Gradebook, MissingEntry

    gb = Gradebook(url, course_id)
    try:
        gb.find_assignment(chapter)
    except MissingEntry:
        gb.close()
        raise SystemExit(f"{chapter} is not in the gradebook {url}: run "
                         f"nbgrader generate_assignment {chapter} first")
    return gb


def job_for(root, chapter, student, private_url, timeout, merge=None):
    """What a grading server needs to grade one learner in ``root``."""
    return {"root": str(root), "chapter": chapter, "student": student,
            "timeout": timeout, "db_url": private_url, "merge": merge,
            "log": str(Path(root, "grading.log")),
            "phases": str(Path(root, "phases.json"))}


def read_phases(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def grade(course, chapter, workers=1, db_url=None, sandbox=True,
          timeout=3600, log=print, bar=False, quiet=False, scheduler=None,
          pool=None):
    """Autograde every learner of ``chapter``; returns a summary dict.

    ``workers`` learners at a time on this machine, each by a grading
    server (:mod:`coursekit.gradeserver`; from ``pool``, a
    :class:`~coursekit.gradeserver.ServerPool` that outlives this call,
    to grade several chapters with the same servers); with ``scheduler`` (a Dask
    scheduler's address) on that cluster's workers instead
    (:mod:`coursekit.cluster`). Progress goes to ``log`` one line per
    learner (or to a tqdm bar with ``bar``; nothing with ``quiet``),
    then the summary table. The summary's ``phases`` gives each
    learner's time per phase (:mod:`coursekit.phases`)."""
    course = Path(course).resolve()
    cfg = load_course_config(course)
    url = resolve_db_url(course, cfg, db_url)
    sqlite = url.startswith("sqlite:")
    if scheduler and sqlite:
        raise SystemExit(
            f"refusing to grade on a cluster into the SQLite gradebook "
            f"{url}: the cluster's workers write each learner's results "
            f"into the gradebook themselves, and a SQLite file takes one "
            f"writer on one machine. Give a PostgreSQL gradebook every "
            f"worker reaches (--db-url postgresql+psycopg2://USER@HOST/DB, "
            f"or c.CourseDirectory.db_url in nbgrader_config.py; run "
            f"nbgrader generate_assignment {chapter} against it first), "
            f"or grade on this machine without --scheduler.")
    check_sandbox(sandbox)
    names = layout(course, cfg)
    gb = open_gradebook(url, names["course_id"], chapter)
    students = learners(course, cfg, chapter)
    logs = course / "grading_logs" / chapter
    logs.mkdir(parents=True, exist_ok=True)
    results, t0 = {}, time.perf_counter()
    progress = Progress(len(students), log=log, bar=bar, quiet=quiet)

    def done(student, rc, text, secs, files, phases, merged=True):
        """Keep one learner's log and files; its line of progress."""
        t = time.perf_counter()
        (logs / f"{student}.log").write_text(text)
        store(course, names, chapter, student, files)
        phases["write"] = phases.get("write", 0.0) + \
            time.perf_counter() - t
        ok = rc == 0 and merged
        results[student] = {"ok": ok, "seconds": secs, "phases": phases}
        progress.update(student, ok, secs, "" if ok else
                        f": see {logs / student}.log")

    try:
        with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
            template = Path(tmp, "definitions.db")
            snapshot(url, template)
            granted = extensions(gb, chapter)
            if scheduler:
                from coursekit.cluster import grade_on_cluster

                grade_on_cluster(scheduler, course, names, chapter,
                                 students, url, template, granted, sandbox,
                                 timeout, done)
            else:
                _grade_here(tmp, course, names, chapter, students, url, gb,
                            template, granted, sandbox, timeout, workers,
                            done, pool)
    finally:
        gb.close()
    progress.close()
    wall = time.perf_counter() - t0
    n = len(students)
    summary = {"learners": n, "workers": workers, "wall_s": wall,
               "failed": sorted(s for s, r in results.items()
                                if not r["ok"]),
               "per_hour": 3600 * n / wall if wall else 0.0,
               "seconds": {s: r["seconds"] for s, r in results.items()},
               "phases": {s: r["phases"] for s, r in results.items()}}
    if scheduler:
        summary["workers"] = f"cluster {scheduler}"
    for line in summary_table(summary, chapter):
        log(line)
    return summary


def _grade_here(tmp, course, names, chapter, students, url, gb, template,
                granted, sandbox, timeout, workers, done, pool=None):
    """Grade ``students`` on this machine, ``workers`` at a time, by the
    servers of ``pool`` (default: a pool of this call's own)."""
    from coursekit.gradeserver import ServerPool

    sqlite = url.startswith("sqlite:")
    merge = None if sqlite else {"dst": url,
                                 "course_id": names["course_id"]}

    def work(student):
        db = Path(tmp, student, "grades.db")
        root = _temp_course(tmp, course, names, chapter, student,
                            f"sqlite:///{db}", sandbox)
        private = private_gradebook(template, db, chapter, student,
                                    granted.get(student))
        job = job_for(root, chapter, student, private, timeout, merge)
        t = time.perf_counter()
        with pool.lend() as server:
            reply = server.grade(job)
        return root, job, reply, time.perf_counter() - t

    with contextlib.ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(ServerPool())
        threads = stack.enter_context(
            ThreadPoolExecutor(max_workers=max(1, workers)))
        futures = {threads.submit(work, s): s for s in students}
        for fut in as_completed(futures):
            student = futures[fut]
            try:
                root, job, reply, secs = fut.result()
                phases = read_phases(job["phases"])
                merged = True
                if sqlite and reply["rc"] == 0:
                    t = time.perf_counter()
                    merged = merge_learner(job["db_url"], gb,
                                           names["course_id"], chapter,
                                           student)
                    phases["database"] = phases.get("database", 0.0) + \
                        time.perf_counter() - t
                done(student, reply["rc"],
                     read_log(job["log"], reply.get("note", "")), secs,
                     outputs(root, names, chapter, student), phases,
                     merged)
            except Exception as err:  # this learner only: go on
                done(student, -1, f"grading failed: {type(err).__name__}: "
                     f"{err}\n", 0.0, {}, {}, False)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="coursekit grade",
        description="Autograde every submission of a chapter in parallel, "
                    "each learner's kernel sandboxed.")
    parser.add_argument("chapters", nargs="+", metavar="chapter",
                        help="assignment id, e.g. ch01_perceptrons; "
                        "several are graded one after the other by the "
                        "same grading servers")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="learners graded at once (default: CPUs)")
    parser.add_argument("--db-url", help="gradebook URL (default: the "
                        "config's, sqlite:///gradebook.db)")
    parser.add_argument("--course", default=".", help="course root "
                        "(default: the current folder)")
    parser.add_argument("--no-sandbox-i-know", action="store_true",
                        help="grade without the sandbox: learner code can "
                             "read solutions and rewrite the gradebook")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress, only the summary at the end")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="grade on the workers of this Dask "
                             "scheduler (needs a PostgreSQL gradebook "
                             "they reach; --workers is then ignored)")
    parser.add_argument("--timeout", type=int, default=3600,
                        metavar="SECONDS", help="time limit of one "
                        "learner's grading (default: 3600)")
    args = parser.parse_args(argv)
    from coursekit.gradeserver import ServerPool

    failed = False
    with ServerPool() as pool:
        for chapter in args.chapters:
            summary = grade(args.course, chapter, workers=args.workers,
                            db_url=args.db_url,
                            sandbox=not args.no_sandbox_i_know,
                            timeout=args.timeout, bar=sys.stderr.isatty(),
                            quiet=args.quiet, scheduler=args.scheduler,
                            pool=pool)
            failed = failed or bool(summary["failed"])
    return 1 if failed else 0
