"""Throughput of ``python -m coursekit grade`` (issue 8, item 7; issue
18, items 2 and 4).

Not a test: a synthetic class across every released chapter (for each
learner and chapter, by turns: the reference solution, the release left
blank, the reference with its first answer left as released, the
reference again), graded with 1 and then 2 local workers and through a
local 2-worker Dask cluster with a PostgreSQL gradebook (skipped, with
the reason, where Dask or PostgreSQL is missing), each learner's kernel
sandboxed. Prints, in one run: learners per hour (a learner = every
chapter) for each setting, the median time of grading one notebook and
where it goes (:mod:`coursekit.phases`: start, nbgrader, database,
policy, kernel start, learner cells, tests, kernel stop, write), and the
projected wall time of 300 and 10,000 learners on this machine and, at
the one-worker rate, on N workers of a core each.

    .venv/bin/python benchmarks/grading_throughput.py            # 100
    .venv/bin/python benchmarks/grading_throughput.py --learners 8
    .venv/bin/python benchmarks/grading_throughput.py --learners 4 \
        --no-cluster                     # local workers only

``report()`` is what ``benchmarks/bench.py`` calls. Run it on an
otherwise idle machine; the figures of the project's 2-core machine are
in guides/instructor.md.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coursekit import notebooks as nbk  # noqa: E402
from coursekit.grade import grade  # noqa: E402
from coursekit.gradeserver import ServerPool  # noqa: E402
from coursekit.phases import median_breakdown  # noqa: E402
from coursekit.release import (nbgrader_env, source_chapters,  # noqa: E402
                               write_course_config)


def answer(cell):
    return "\n".join(ln for ln in cell.source.splitlines()
                     if ln.strip() not in nbk.SOLUTION)


def submission(released, source, kind):
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    if kind == "blank":
        return nb
    answers = {k: answer(c) for k, c in nbk.answer_cells(source).items()}
    for i, (item, cell) in enumerate(nbk.answer_cells(nb).items()):
        if not (kind == "buggy" and i == 0):
            cell.source = answers[item]
    return nb


def build(course, chapters, learners):
    course.mkdir(parents=True)
    write_course_config(course)
    for ch in chapters:
        shutil.copytree(ROOT / "solutions" / ch, course / "solutions" / ch)
        subprocess.run([sys.executable, "-m", "nbgrader",
                        "generate_assignment", ch, "--force"], cwd=course,
                       env=nbgrader_env(), check=True, capture_output=True)
    kinds = ["correct", "blank", "buggy", "correct"]
    for ch in chapters:
        for nbpath in sorted((course / "release" / ch).glob("*.ipynb")):
            released = nbk.read(nbpath)
            source = nbk.read(course / "solutions" / ch / nbpath.name)
            for i in range(learners):
                d = course / "submitted" / f"learner{i:03d}" / ch
                d.mkdir(parents=True, exist_ok=True)
                nb = submission(released, source, kinds[i % len(kinds)])
                nbformat.write(nb, str(d / nbpath.name))


def _grade_class(template, tmp, name, chapters, learners, log, **how):
    """Grade a copy of ``template``, every chapter; ``(learners/hour,
    per-notebook seconds, phases per notebook, failed)``."""
    course = Path(tmp, name)
    shutil.copytree(template, course)
    extra = ""
    if how.get("db_url"):
        extra = f"c.CourseDirectory.db_url = {how['db_url']!r}\n"
        (course / "gradebook.db").unlink()
    write_course_config(course, extra=extra)
    if extra:
        for ch in chapters:
            subprocess.run([sys.executable, "-m", "nbgrader",
                            "generate_assignment", ch, "--force"],
                           cwd=course, env=nbgrader_env(), check=True,
                           capture_output=True)
    per_notebook, phases, wall, failed = [], [], 0.0, 0
    with ServerPool() as pool:  # every chapter by the same servers
        for ch in chapters:
            s = grade(course, ch, log=lambda m: None, pool=pool, **how)
            wall += s["wall_s"]
            failed += len(s["failed"])
            per_notebook += list(s["seconds"].values())
            phases += list(s["phases"].values())
            log(f"  {name} {ch}: {s['wall_s']:.0f} s, median "
                f"{statistics.median(s['seconds'].values()):.1f} s per "
                f"notebook")
    return 3600 * learners / wall, per_notebook, phases, failed


def _hours(seconds):
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else \
        f"{seconds / 60:.0f} min"


def _cluster(tmp):
    """A local PostgreSQL server and a 2-worker Dask cluster (the test
    suite's helpers), or the reason there is none."""
    import contextlib

    stack = contextlib.ExitStack()
    try:
        import pytest  # noqa: F401 (the helpers skip through it)

        sys.path.insert(0, str(ROOT / "tests"))  # their conftest

        from tests.test_cluster_grading import Cluster
        from tests.test_parallel_grading import postgres_server

        url = stack.enter_context(postgres_server())
        Path(tmp, "dask-cluster").mkdir()
        cluster = Cluster(Path(tmp, "dask-cluster"))
        stack.callback(cluster.close)
        return stack, url, cluster.address
    except BaseException as err:  # pytest's skip is a BaseException
        stack.close()
        if isinstance(err, KeyboardInterrupt):
            raise
        return None, None, f"{type(err).__name__}: {err}"


def report(learners=100, workers=(1, 2), chapters=None, cluster=True,
           log=print):
    """Grade a synthetic class with each of ``workers`` and (``cluster``)
    through a local 2-worker Dask cluster; print learners per hour, the
    per-notebook median and its breakdown, and projections. Returns the
    figures as a dict."""
    chapters = chapters or source_chapters()
    cores = os.cpu_count() or 1
    log(f"machine: {platform.processor() or platform.machine()}, {cores} "
        f"cores; load average {os.getloadavg()[0]:.2f} at the start")
    rates, phases, medians = {}, [], {}
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        template = Path(tmp, "template")
        t = time.perf_counter()
        build(template, chapters, learners)
        log(f"{learners} learners x {len(chapters)} chapters prepared in "
            f"{time.perf_counter() - t:.0f} s")
        for n in workers:
            rate, nbs, ph, failed = _grade_class(
                template, tmp, f"w{n}", chapters, learners, log,
                workers=n)
            rates[f"{n} local worker(s)"] = rate
            medians[n] = statistics.median(nbs)
            phases += ph
            log(f"{n} local worker(s): {rate:.0f} learners/hour; "
                f"per-notebook median {medians[n]:.1f} s; {failed} failed")
        if cluster:
            stack, url, address = _cluster(tmp)
            if stack is None:
                log(f"Dask cluster: skipped ({address})")
            else:
                with stack:
                    rate, nbs, _, failed = _grade_class(
                        template, tmp, "dask", chapters, learners, log,
                        scheduler=address, db_url=url)
                rates["2-worker Dask cluster"] = rate
                log(f"2-worker Dask cluster (PostgreSQL): {rate:.0f} "
                    f"learners/hour; per-notebook median "
                    f"{statistics.median(nbs):.1f} s; {failed} failed")
    breakdown = median_breakdown(phases)
    log("where a notebook's time goes (median over the local runs' "
        "notebooks, s):")
    for name, secs in breakdown.items():
        log(f"  {name:<14} {secs:6.2f}")
    log(f"  {'(sum)':<14} {sum(breakdown.values()):6.2f}")
    one = rates.get("1 local worker(s)")
    for n_learners in (300, 10_000):
        parts = [f"{k}: {_hours(3600 * n_learners / r)}"
                 for k, r in rates.items()]
        if one:
            parts += [f"{n} workers on {n} cores (linear, not measured): "
                      f"{_hours(3600 * n_learners / (one * n))}"
                      for n in (8, 32, 128)]
        log(f"{n_learners} learners x {len(chapters)} chapters on this "
            f"{cores}-core machine: " + "; ".join(parts))
    return {"rates": rates, "medians": medians, "breakdown": breakdown}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chapters", nargs="*",
                        help="default: every released chapter")
    parser.add_argument("--no-cluster", action="store_true",
                        help="skip the Dask cluster's line")
    args = parser.parse_args(argv)
    report(args.learners, args.workers, args.chapters,
           cluster=not args.no_cluster,
           log=lambda m: print(m, flush=True))


if __name__ == "__main__":
    main()
