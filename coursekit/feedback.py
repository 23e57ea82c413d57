"""Feedback without hidden tests: an nbgrader preprocessor.

nbgrader's feedback shows each test cell's source and outputs, so the
hidden tests' code and the traceback of a failing hidden assert (which
quotes hidden lines) would reach the learner. ``SanitizeHiddenTests``,
listed in ``GenerateFeedback.preprocessors`` (nbgrader_config.py), turns
every cell holding a hidden-test region into: its visible part (the
comment saying what is checked), and one line of output, either that the
hidden test passed or its name, points and teaching message
(``ExceptionType: message``), with no traceback.
"""

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from coursekit.notebooks import HIDDEN, nbgrader_meta


def strip_hidden(source):
    """``source`` without its hidden-test regions (markers included)."""
    out, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(HIDDEN[0]):
            inside = True
        elif stripped.startswith(HIDDEN[1]):
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out).rstrip()


def failure(cell):
    """A graded test cell's teaching message, ``ExceptionType: message``
    (never its code or traceback), or None when it passed."""
    errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
    if not errors:
        return None
    err = errors[0]
    return f"{err.ename}: {err.evalue}" if err.evalue else err.ename


def summary(cell):
    """The one line of feedback for a hidden test cell."""
    meta = nbgrader_meta(cell)
    grade_id = meta.get("grade_id", "?")
    points = meta.get("points", 0)
    message = failure(cell)
    if message is None:
        return f"hidden test {grade_id} ({points:g} points): passed\n"
    return (f"hidden test {grade_id} ({points:g} points) failed:\n"
            f"{message}\n")


class SanitizeHiddenTests(NbGraderPreprocessor):
    """Replace hidden tests' source and outputs by a name and a message."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or HIDDEN[0] not in cell.source:
            return cell, resources
        line = summary(cell)
        cell.source = strip_hidden(cell.source)
        cell.outputs = [nbformat.v4.new_output(
            "stream", name="stdout", text=line)]
        cell.execution_count = None
        return cell, resources
