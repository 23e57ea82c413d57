"""``python -m coursekit check NOTEBOOK``: grade your own work.

A learner's saved exercise notebook is graded as a class is graded
(nbgrader_config.py's autograde), without a gradebook and without
changing the file: everything happens to a copy, in a temporary folder.

1. The chapter is found from the notebook's own cells (their nbgrader
   ids). Its test cells and locked cells are replaced by the chapter's
   source cells in ``solutions/`` (hidden tests included), a deleted test
   cell is put back, and a cell that claims an id the chapter does not
   have runs as a plain cell (nbgrader's ``OverwriteCells`` and the
   course's ``StripForeignCells``).
2. The answer-cell policy refuses cells that cannot be parsed
   (:func:`coursekit.policy.enforce`, as ``EnforcePolicy`` does).
3. ``GradingExecute`` runs the learner's cells in a kernel (in the
   grading sandbox where bubblewrap is available) and every test cell in
   the judge, with the course's per-cell time limit.
4. nbgrader's ``determine_grade`` scores each test cell; a failed test is
   reported by its name and teaching message
   (:func:`coursekit.feedback.failure`), never a line of its code.

The hidden tests are in ``solutions/`` for anyone who opens it: the
self-check is for learning, not for secrecy (see the learner guide).
Installed from the wheel, without a clone, the package checks with its
kit (``coursekit/course/``, written by ``make release``): the same
configuration and tests, the answers as released.
"""

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from coursekit.notebooks import answer_cells, item_of, nbgrader_meta
from coursekit.release import KIT, ROOT

# a clone grades with its own solutions/; an installed package with its kit
COURSE = ROOT if (ROOT / "solutions").is_dir() else KIT
SOLUTIONS = COURSE / "solutions"
# --all: the clone's chapters/, or the chapters/ folder where it is run
CHAPTERS = ROOT / "chapters" if COURSE == ROOT else Path("chapters")


class CheckError(Exception):
    """The notebook could not be checked (exit status 2); the message
    says what to do."""


# ------------------------------------------------------------ the inputs


def load(path):
    """The notebook saved at ``path``; :class:`CheckError` if it is none."""
    path = Path(path)
    if path.is_dir():
        raise CheckError(f"{path} is a folder: give an exercise notebook, "
                         f"e.g. {path / 'exercises.ipynb'}, or use --all")
    if not path.exists():
        raise CheckError(f"{path}: no such file")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as err:
        raise CheckError(
            f"{path} is not a Jupyter notebook that can be read "
            f"({type(err).__name__}: {str(err)[:200]}). Give the .ipynb "
            f"file of a chapter's exercises, e.g. "
            f"chapters/ch05_backprop/exercises.ipynb") from None
    if not isinstance(nb.get("cells"), list):
        raise CheckError(f"{path} is not a Jupyter notebook (no cells)")
    return nb


def sources(root=SOLUTIONS):
    """``{(chapter, notebook name): path}`` of the instructor sources."""
    if not Path(root).is_dir():
        raise CheckError(
            f"the chapters' tests are not here ({root} is missing): "
            f"reinstall the course's package (pip install "
            f"'deep-learning-by-hand[check]'), or clone the course "
            f"repository and run the check from there (see the learner "
            f"guide)")
    return {(p.parent.name, p.name): p
            for p in sorted(Path(root).glob("*/*.ipynb"))
            if ".ipynb_checkpoints" not in p.parts}


def _ids(nb):
    return {nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}


def find_source(nb, path, root=SOLUTIONS):
    """``(chapter, source notebook)`` of the learner's ``nb``: the source
    whose answer and test cells it shares most."""
    ids = _ids(nb)
    best, overlap = None, 0
    for key, src_path in sources(root).items():
        src = nbformat.read(str(src_path), as_version=4)
        n = len(ids & _ids(src))
        if n > overlap:
            best, overlap = (key[0], src), n
    if best is None:
        raise CheckError(
            f"{path} is not an exercise notebook of this course: none of "
            f"its cells is an answer or test cell of a chapter (their "
            f"nbgrader ids). The exercise notebooks are "
            f"chapters/<chapter>/exercises.ipynb")
    return best


# ----------------------------------------------------- the graded copy


def graded_copy(nb, src):
    """The notebook to grade: ``nb``'s cells with the source's test and
    locked cells restored (hidden tests included), missing ones put back
    after their predecessors, and cells claiming ids the source does not
    have (or repeating one) made plain. Returns ``(notebook, notes)``;
    :class:`CheckError` when an answer cell is missing."""
    nb = copy.deepcopy(nb)
    src_cells = {nbgrader_meta(c)["grade_id"]: c for c in src.cells
                 if nbgrader_meta(c).get("grade_id")}
    order = list(src_cells)
    notes, seen, cells = [], set(), []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if gid is None:
            cells.append(cell)
            continue
        if gid not in src_cells or gid in seen:
            del cell.metadata["nbgrader"]
            notes.append(f"a cell claims the id {gid!r}, which "
                         + ("another cell already has" if gid in seen
                            else "the chapter does not have")
                         + ": it ran as one of your own cells")
            cells.append(cell)
            continue
        seen.add(gid)
        cells.append(_restored(cell, src_cells[gid]))
    missing = [gid for gid in order if gid not in seen]
    lost = [gid for gid in missing
            if gid in answer_cells(src)]
    if lost:
        names = ", ".join(f"`{g}`" for g in lost)
        raise CheckError(
            f"the answer cell of {names} is missing from your notebook: it "
            f"was deleted, or its cell metadata (the nbgrader id) changed. "
            f"Copy the cell back from a fresh copy of the notebook (for "
            f"example `git show HEAD:chapters/<chapter>/exercises.ipynb > "
            f"fresh.ipynb`), paste your code into it, save, and check "
            f"again")
    for gid in missing:  # a test or locked cell: put it back
        before = order[:order.index(gid)]
        at = 0
        for i, cell in enumerate(cells):
            if nbgrader_meta(cell).get("grade_id") in before:
                at = i + 1
        cells.insert(at, _restored(None, src_cells[gid]))
        notes.append(f"the cell {gid!r} was missing: it was put back")
    nb.cells = cells
    nb.metadata["kernelspec"] = copy.deepcopy(
        src.metadata.get("kernelspec", nb.metadata.get("kernelspec", {})))
    return nb, notes


def _restored(cell, src_cell):
    """The learner's answer cell with the source's metadata, or the
    source's own cell (a test or locked cell), outputs cleared."""
    meta = nbgrader_meta(src_cell)
    if cell is not None and meta.get("solution") and not meta.get("locked"):
        cell.metadata["nbgrader"] = copy.deepcopy(meta)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        return cell
    new = copy.deepcopy(src_cell)
    if new.cell_type == "code":
        new.outputs, new.execution_count = [], None
    return new


# ------------------------------------------------------------- grading


def _sandbox():
    """``(use it, the line saying so)``."""
    from coursekit.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem is None:
        return True, "your code ran in the grading sandbox"
    return False, (f"your code ran without the grading sandbox ({problem}); "
                   f"that is fine for your own code on your own machine")


def execute(nb, chapter, name, sandbox, workdir, timeout=None):
    """Run ``nb`` as autograde does: learner cells in a kernel, test cells
    in the judge; ``timeout``: seconds per cell (default: the course's)."""
    from coursekit.grade import load_course_config
    from coursekit.preprocessors import GradingExecute

    cfg = load_course_config(COURSE)
    cfg.CourseDirectory.root = str(COURSE)
    cfg.GradingExecute.sandbox = sandbox
    if timeout:
        cfg.Execute.timeout = cfg.ExecutePreprocessor.timeout = timeout
    resources = {"nbgrader": {"assignment": chapter,
                              "notebook": Path(name).stem,
                              "student": "self-check"},
                 "metadata": {"path": str(workdir)}}
    GradingExecute(config=cfg).preprocess(nb, resources)
    return nb


def score(nb):
    """``(items, notes)``: per item its score, max_score and failed tests
    (name and message); notes on the learner's cells that failed."""
    from nbgrader.utils import determine_grade

    from coursekit.feedback import failure
    from coursekit.preprocessors import is_test_cell

    names = list(answer_cells(nb))
    items = {n: {"score": 0.0, "max_score": 0.0, "failed": []}
             for n in names}
    notes = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = nbgrader_meta(cell)
        if is_test_cell(cell):
            got, most = determine_grade(cell)
            entry = items.setdefault(
                item_of(meta["grade_id"], names) or meta["grade_id"],
                {"score": 0.0, "max_score": 0.0, "failed": []})
            entry["score"] += float(got or 0.0)
            entry["max_score"] += float(most)
            if (got or 0.0) < most:
                entry["failed"].append({
                    "test": meta["grade_id"],
                    "message": failure(cell) or "wrote to stderr"})
            continue
        note = _cell_note(cell, meta, i)
        if note:
            notes.append(note)
    return items, notes


def _cell_note(cell, meta, index):
    """What went wrong in one of the learner's cells, if anything."""
    errors = [o for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    if not errors:
        return None
    err = errors[-1]
    label = (f"your `{meta['grade_id']}` cell" if meta.get("grade_id")
             else f"your cell {index + 1}")
    if err.get("ename") == "KernelDied":
        return (f"{label} ended the kernel (os._exit, a crash, or too much "
                f"memory); the cells after it ran in a new kernel")
    if err.get("ename") in ("KeyboardInterrupt", "CellTimeoutError"):
        return (f"{label} did not finish within the time limit of a cell "
                f"and was stopped: an endless loop, or a loop over every "
                f"entry where whole-array NumPy would do?")
    return f"{label} raised {err.get('ename')}: {err.get('evalue')}"


def check(path, root=SOLUTIONS, timeout=None):
    """Grade the notebook saved at ``path``; the result dict of
    :func:`report` (``chapter``, ``score``, ``max_score``, ``items``),
    plus ``notes`` and ``seconds``. :class:`CheckError` if it cannot."""
    t0 = time.perf_counter()
    path = Path(path)
    nb = load(path)
    chapter, src = find_source(nb, path, root)
    graded, notes = graded_copy(nb, src)
    from coursekit.policy import enforce

    for label, found in enforce(graded).items():
        notes += [f"your {label} cell breaks the answer-cell policy: {v}"
                  for v in found]
    use_sandbox, how = _sandbox()
    with tempfile.TemporaryDirectory(prefix="coursekit-check-") as tmp:
        try:
            execute(graded, chapter, path.name, use_sandbox, tmp, timeout)
        except CheckError:
            raise
        except Exception as err:
            raise CheckError(
                f"the notebook could not be run ({type(err).__name__}: "
                f"{str(err)[:300]}); run it top to bottom in Jupyter to see "
                f"where it stops") from None
    items, cell_notes = score(graded)
    return {"chapter": chapter,
            "score": sum(v["score"] for v in items.values()),
            "max_score": sum(v["max_score"] for v in items.values()),
            "items": items, "notes": notes + cell_notes, "sandbox": how,
            "seconds": time.perf_counter() - t0}


# ------------------------------------------------------------ printing


def _pts(x):
    return f"{x:g}"


def _age(path):
    secs = time.time() - Path(path).stat().st_mtime
    if secs < 90:
        return f"{secs:.0f} s ago"
    if secs < 5400:
        return f"{secs / 60:.0f} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(
        Path(path).stat().st_mtime))


def report(result, path, out=print):
    """Print one line per item (points earned of points possible) and,
    under it, each failed test's name and message."""
    out(f"{result['chapter']}: {path} (the saved file, saved "
        f"{_age(path)}; unsaved changes in your editor are not seen)")
    width = max([len(k) for k in result["items"]] + [5])
    for item, r in result["items"].items():
        mark = "ok" if r["score"] >= r["max_score"] else "  "
        out(f"  {mark} {item:<{width}}  {_pts(r['score']):>4} / "
            f"{_pts(r['max_score'])}")
        if r["failed"] and all("NotImplementedError" in f["message"]
                               for f in r["failed"]):
            out("       not written yet (it raises NotImplementedError)")
            continue
        for f in r["failed"]:
            out(f"       {f['test']}: {f['message']}")
    out(f"     {'total':<{width}}  {_pts(result['score']):>4} / "
        f"{_pts(result['max_score'])}")
    for note in result.get("notes", []):
        out(f"  note: {note}")
    out(f"  ({result['sandbox']}; checked in {result['seconds']:.1f} s)")


def public(result):
    """The result as ``--json`` writes it (API of the self-check)."""
    return {"chapter": result["chapter"], "score": result["score"],
            "max_score": result["max_score"], "items": result["items"],
            "notes": result.get("notes", [])}


def status(result):
    return 0 if result["score"] >= result["max_score"] else 1


def check_all(chapters=CHAPTERS, out=print, timeout=None):
    """Check every chapter's exercise notebook; print the progress table.
    Returns ``(exit status, [result or None])``."""
    paths = sorted(Path(chapters).glob("*/exercises.ipynb"))
    if not paths:
        raise CheckError(
            f"no exercise notebooks under {Path(chapters).resolve()}: run "
            f"--all in the folder that holds chapters/<chapter>/"
            f"exercises.ipynb, or check one notebook at a time")
    rows, results, worst = [], [], 0
    for p in paths:
        try:
            r = check(p, timeout=timeout)
            results.append(public(r))
            rows.append((p.parent.name, f"{_pts(r['score'])} / "
                         f"{_pts(r['max_score'])}", _done(r)))
            worst = max(worst, status(r))
        except CheckError as err:
            results.append(None)
            rows.append((p.parent.name, "-", f"not checked: {err}"))
            worst = 2
    width = max(len(r[0]) for r in rows)
    out(f"{'chapter':<{width}}  {'points':>9}  items done")
    for name, pts, done in rows:
        out(f"{name:<{width}}  {pts:>9}  {done}")
    got = sum(r["score"] for r in results if r)
    most = sum(r["max_score"] for r in results if r)
    out(f"{'course':<{width}}  {_pts(got) + ' / ' + _pts(most):>9}")
    return worst, results


def _done(result):
    items = result["items"]
    full = sum(1 for r in items.values() if r["score"] >= r["max_score"])
    return f"{full} of {len(items)}"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="coursekit check",
        description="Grade your own exercise notebook with the hidden "
                    "tests, as your instructor's grader would. Reads the "
                    "saved file and changes nothing.")
    parser.add_argument("notebook", nargs="?",
                        help="an exercise notebook (.ipynb)")
    parser.add_argument("--all", action="store_true",
                        help="check every chapter's exercises.ipynb in "
                             "chapters/ and print the progress table")
    parser.add_argument("--timeout", type=int, metavar="SECONDS",
                        help="time limit of one cell (default: the "
                             "course's, as in grading)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the result as JSON to FILE")
    args = parser.parse_args(argv)
    if bool(args.notebook) == bool(args.all):
        parser.error("give one notebook, or --all")
    try:
        if args.all:
            code, results = check_all(timeout=args.timeout)
            data = {"chapters": results}
        else:
            result = check(args.notebook, timeout=args.timeout)
            report(result, args.notebook)
            code, data = status(result), public(result)
    except CheckError as err:
        print(f"coursekit check: {err}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))
    return code
