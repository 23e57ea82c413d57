"""Finding solution code or hidden tests where learners can see them.

The secrets of a source notebook are the non-trivial lines of its
solution regions and hidden-test regions. A released notebook, a lesson
notebook or a page of the built book leaks when it contains an nbgrader
marker or one of those lines.
"""

import re
from pathlib import Path

from coursekit.notebooks import HIDDEN, MARKERS, SOLUTION, read, regions

MIN_LENGTH = 12  # shorter lines (`else:`, `return w, b`) say nothing


# Loop headers over a literal range carry no answer.
_BOILERPLATE = re.compile(r"for \w+ in range\(\d+\):")


def _trivial(line):
    s = line.strip()
    return (
        len(s) < MIN_LENGTH
        or _BOILERPLATE.fullmatch(s) is not None
        or s.startswith("#")
        or s.startswith(("import ", "from "))
        or s in ('"""', "'''")
    )


def _split(source_nb, kinds):
    """(lines inside secret regions, lines outside them), stripped."""
    inside_all, outside = set(), set()
    for cell in source_nb.cells:
        inside = set()
        if cell.cell_type == "code":
            for begin, end in kinds:
                inside |= {ln.strip() for ln in regions(cell.source, begin, end)}
        inside_all |= inside
        outside |= {ln.strip() for ln in cell.source.splitlines()} - inside
    return inside_all, outside


def secret_lines(source_nb, kinds=(SOLUTION, HIDDEN)):
    """The non-trivial lines inside solution and hidden-test regions.

    Lines that the source also shows outside those regions (a visible
    test's ``with graded("relu"):``) are public, so not secrets.
    """
    inside, public = _split(source_nb, kinds)
    return {ln for ln in inside if not _trivial(ln)} - public


def public_lines(source_nb, kinds=(SOLUTION, HIDDEN)):
    """The lines a source notebook shows outside its secret regions."""
    return _split(source_nb, kinds)[1]


def all_secrets(solutions_dir, kinds=(SOLUTION, HIDDEN)):
    """Secrets of every source notebook under ``solutions_dir``.

    ``kinds=(HIDDEN,)``: hidden tests only (for feedback, which shows the
    learner's own solution code).
    """
    secrets, public = set(), set()
    for path in sorted(Path(solutions_dir).glob("*/*.ipynb")):
        nb = read(path)
        secrets |= secret_lines(nb, kinds)
        public |= public_lines(nb, kinds)
    # A line one chapter shows in the open (a visible test's boilerplate)
    # reveals nothing when another chapter's hidden test repeats it; nor
    # does a line of the grading helpers, which tracebacks of visible
    # tests show and every learner has.
    import dlcore.grading

    grading = Path(dlcore.grading.__file__).read_text()
    public |= {ln.strip() for ln in grading.splitlines()}
    return secrets - public


def find_leaks(text, secrets, markers=True):
    """The markers (if ``markers``) and secret lines found in ``text``.

    Lines are compared stripped, so indentation and HTML around a code
    line don't hide it; HTML-escaped text is unescaped first.
    """
    import html

    plain = html.unescape(text)
    lines = {line.strip() for line in plain.splitlines()}
    found = [m for m in MARKERS if markers and m.lstrip("# ") in plain]
    found += sorted(s for s in secrets if s in lines or s in plain)
    return found


def notebook_text(path):
    """Every cell's source and text outputs of the notebook at ``path``."""
    nb = read(path)
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            parts.extend(str(v) for v in out.get("data", {}).values())
            parts.extend(out.get("traceback", []))
    return "\n".join(parts)


def scan(paths, secrets, markers=True):
    """``{path: leaks}`` for the notebooks/HTML/text files that leak."""
    report = {}
    for path in map(Path, paths):
        if path.suffix == ".ipynb":
            text = notebook_text(path)
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix in (".html", ".htm"):
                # highlighted code is split into <span>s: drop the tags
                text = re.sub(r"<[^>]+>", "", text)
        leaks = find_leaks(text, secrets, markers)
        if leaks:
            report[str(path)] = leaks
    return report
