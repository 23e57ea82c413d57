"""``python -m coursekit grade <chapter> --workers N``: autograde a class.

Each learner is graded independently, by its own ``nbgrader autograde``
process in a temporary course of its own: the course's config, the
chapter's source folder, and that learner's submission with only its
``.ipynb`` files (and nbgrader's ``timestamp.txt``). N such processes run
at once; every learner kernel runs in the sandbox (coursekit.sandbox).

The gradebook:

- SQLite (the default, ``sqlite:///gradebook.db``): each learner's
  process writes a copy of the gradebook taken when the run starts; this
  process merges that learner's scores and comments into the course's
  gradebook, one learner at a time, as results come in (SQLite does not
  take concurrent writers).
- PostgreSQL (``--db-url postgresql://...`` or ``db_url`` in the
  config): every process writes the shared gradebook directly.

The autograded notebooks land in ``autograded/<learner>/<chapter>/`` as
with nbgrader, policy reports in ``policy_reports/<chapter>/`` and each
learner's nbgrader log in ``grading_logs/<chapter>/<learner>.log``.

While it runs it shows learners done of total, failures so far, the
time elapsed and an estimate of the time left (:class:`Progress`: a bar
on a terminal, one line per learner otherwise, nothing with
``--quiet``), and a summary table at the end.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from coursekit.release import nbgrader_env
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


def _temp_course(tmp, course, cfg, chapter, student, db_url, sandbox):
    root = Path(tmp, student)
    src_name = cfg.CourseDirectory.get("source_directory", "source")
    sub_name = cfg.CourseDirectory.get("submitted_directory", "submitted")
    (root / src_name).mkdir(parents=True)
    os.symlink(Path(course, src_name, chapter).resolve(),
               root / src_name / chapter)
    dest = root / sub_name / student / chapter
    dest.mkdir(parents=True)
    for f in Path(course, sub_name, student, chapter).iterdir():
        if f.is_file() and (f.suffix == ".ipynb" or f.name == "timestamp.txt"):
            shutil.copy2(f, dest / f.name)
    extra = "" if sandbox else "c.GradingExecute.sandbox = False\n"
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(Path(course, 'nbgrader_config.py'))!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {db_url!r}\n" + extra)
    return root


LOG_LIMIT = 256 * 1024  # bytes of a learner's nbgrader log kept


def _grade_one(root, chapter, student, timeout):
    """Run nbgrader autograde for one learner; (returncode, log, seconds).

    Its output goes to a file, read back as bytes (at most the last
    :data:`LOG_LIMIT`) and decoded without failing: nothing a learner's
    kernel writes can stop, slow or bloat the class run.
    """
    t = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "nbgrader", "autograde", chapter,
                 "--student", student, "--force", "--create"],
                cwd=root, env=nbgrader_env(), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
            rc, note = proc.returncode, ""
        except subprocess.TimeoutExpired:
            rc, note = -1, f"timed out after {timeout} s\n"
        size = out.seek(0, os.SEEK_END)
        out.seek(max(0, size - LOG_LIMIT))
        raw = out.read()
    log = raw.decode("utf-8", errors="replace")
    if size > LOG_LIMIT:
        log = f"[... the first {size - LOG_LIMIT} bytes cut]\n" + log
    return rc, note + log, time.perf_counter() - t


def merge_learner(src_url, dst_url, course_id, chapter, student):
    """Copy one learner's autograde results from ``src_url``'s gradebook
    into ``dst_url``'s (scores, comments, flags, timestamp, penalty)."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    # nbgrader's harmless "not in session" noise on a new submission
    with warnings.catch_warnings(), Gradebook(src_url, course_id) as src, \
            Gradebook(dst_url, course_id) as dst:
        warnings.simplefilter("ignore", SAWarning)
        try:
            s = src.find_submission(chapter, student)
        except MissingEntry:
            return False
        dst.update_or_create_student(student)
        dst.update_or_create_submission(chapter, student,
                                        timestamp=s.timestamp)
        for snb in s.notebooks:
            dnb = dst.find_submission_notebook(snb.name, chapter, student)
            dnb.flagged = snb.flagged
            dnb.late_submission_penalty = snb.late_submission_penalty
            for g in snb.grades:
                dg = dst.find_grade(g.name, snb.name, chapter, student)
                dg.auto_score = g.auto_score
                dg.needs_manual_grade = g.needs_manual_grade
            for c in snb.comments:
                dc = dst.find_comment(c.name, snb.name, chapter, student)
                dc.auto_comment = c.auto_comment
        dst.db.commit()
    return True


def _collect(root, course, auto_name, report_name, chapter, student):
    """Copy one learner's autograded notebook and policy report home."""
    out = root / auto_name / student / chapter
    dest = course / auto_name / student / chapter
    if out.is_dir():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(out, dest, symlinks=True)
    rep = root / report_name / chapter
    if rep.is_dir():
        d = course / report_name / chapter
        d.mkdir(parents=True, exist_ok=True)
        for f in rep.iterdir():
            if f.is_file() and not f.is_symlink():
                shutil.copy2(f, d / f.name)


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


def grade(course, chapter, workers=1, db_url=None, sandbox=True,
          timeout=3600, log=print, bar=False, quiet=False):
    """Autograde every learner of ``chapter``; returns a summary dict.

    Progress goes to ``log`` one line per learner (or to a tqdm bar with
    ``bar``; nothing with ``quiet``), then the summary table."""
    course = Path(course).resolve()
    cfg = load_course_config(course)
    if sandbox:
        problem = sandbox_problem()
        if problem:
            raise SystemExit(
                f"refusing to grade: {problem}.\nLearner code would run "
                "unsandboxed, able to read the solutions and rewrite the "
                "gradebook. Install bubblewrap, or pass "
                "--no-sandbox-i-know to grade anyway.")
    url = resolve_db_url(course, cfg, db_url)
    course_id = cfg.CourseDirectory.get("course_id", "")
    sqlite = url.startswith("sqlite:")
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(url, course_id) as gb:
        try:
            gb.find_assignment(chapter)
        except MissingEntry:
            raise SystemExit(f"{chapter} is not in the gradebook {url}: run "
                             f"nbgrader generate_assignment {chapter} first")
    auto_name = cfg.CourseDirectory.get("autograded_directory",
                                        "autograded")
    report_name = "policy_reports"
    students = learners(course, cfg, chapter)
    logs = course / "grading_logs" / chapter
    logs.mkdir(parents=True, exist_ok=True)
    results, t0 = {}, time.perf_counter()
    progress = Progress(len(students), log=log, bar=bar, quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        template = None
        if sqlite:
            template = Path(tmp, "gradebook-template.db")
            shutil.copyfile(url[len("sqlite:///"):], template)

        def work(student):
            worker_url = url
            if sqlite:
                worker_url = f"sqlite:///{Path(tmp, student, 'grades.db')}"
            root = _temp_course(tmp, course, cfg, chapter, student,
                                worker_url, sandbox)
            if sqlite:
                shutil.copyfile(template, root / "grades.db")
            return (root, worker_url) + _grade_one(root, chapter, student,
                                                   timeout)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(work, s): s for s in students}
            for fut in as_completed(futures):
                student = futures[fut]
                try:
                    root, worker_url, rc, text, secs = fut.result()
                    (logs / f"{student}.log").write_text(text)
                    merged = True
                    if sqlite:
                        merged = merge_learner(worker_url, url, course_id,
                                               chapter, student)
                    _collect(root, course, auto_name, report_name,
                             chapter, student)
                except Exception as err:  # this learner only: go on
                    rc, merged, secs = -1, False, 0.0
                    (logs / f"{student}.log").write_text(
                        f"grading failed: {type(err).__name__}: {err}\n")
                ok = rc == 0 and merged
                results[student] = {"ok": ok, "seconds": secs}
                progress.update(student, ok, secs, "" if ok else
                                f": see {logs / student}.log")
    progress.close()
    wall = time.perf_counter() - t0
    n = len(students)
    summary = {"learners": n, "workers": workers, "wall_s": wall,
               "failed": sorted(s for s, r in results.items()
                                if not r["ok"]),
               "per_hour": 3600 * n / wall if wall else 0.0,
               "seconds": {s: r["seconds"] for s, r in results.items()}}
    for line in summary_table(summary, chapter):
        log(line)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="coursekit grade",
        description="Autograde every submission of a chapter in parallel, "
                    "each learner's kernel sandboxed.")
    parser.add_argument("chapter", help="assignment id, e.g. "
                        "ch01_perceptrons")
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
    args = parser.parse_args(argv)
    summary = grade(args.course, args.chapter, workers=args.workers,
                    db_url=args.db_url, sandbox=not args.no_sandbox_i_know,
                    bar=sys.stderr.isatty(), quiet=args.quiet)
    return 1 if summary["failed"] else 0
