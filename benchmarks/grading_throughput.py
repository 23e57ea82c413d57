"""Throughput of ``python -m coursekit grade`` (issue 8, item 7).

Not a test: a synthetic class across every released chapter (for each
learner and chapter, by turns: the reference solution, the release left
blank, the reference with its first answer left as released, the
reference again), graded with 1 and then 2 workers, each learner's
kernel sandboxed. Prints learners per hour (a learner = every chapter)
and the median wall time of grading one learner's notebook (one
``nbgrader autograde`` process: start-up, sandboxed kernel, tests).

    .venv/bin/python benchmarks/grading_throughput.py            # 100
    .venv/bin/python benchmarks/grading_throughput.py --learners 8

Run it on an otherwise idle machine; the figures of the project's 2-core
machine are in guides/instructor.md.
"""

import argparse
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chapters", nargs="*",
                        help="default: every released chapter")
    args = parser.parse_args(argv)
    chapters = args.chapters or source_chapters()
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        template = Path(tmp, "template")
        t = time.perf_counter()
        build(template, chapters, args.learners)
        print(f"{args.learners} learners x {len(chapters)} chapters "
              f"prepared in {time.perf_counter() - t:.0f} s")
        for workers in args.workers:
            course = Path(tmp, f"w{workers}")
            shutil.copytree(template, course)
            write_course_config(course)
            per_notebook, wall, failed = [], 0.0, 0
            for ch in chapters:
                s = grade(course, ch, workers=workers, log=lambda m: None)
                wall += s["wall_s"]
                failed += len(s["failed"])
                per_notebook += list(s["seconds"].values())
                print(f"  {workers} worker(s) {ch}: {s['wall_s']:.0f} s, "
                      f"median {statistics.median(s['seconds'].values()):.1f}"
                      f" s per notebook", flush=True)
            print(f"{workers} worker(s): {args.learners} learners in "
                  f"{wall:.0f} s = {3600 * args.learners / wall:.0f} "
                  f"learners/hour; per-notebook median "
                  f"{statistics.median(per_notebook):.1f} s; "
                  f"{failed} failed", flush=True)


if __name__ == "__main__":
    main()
