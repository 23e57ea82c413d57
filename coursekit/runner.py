"""Run an exercise notebook's cells in this process, scoring like nbgrader.

For checking tests quickly (fairness and sharpness of hidden tests
against many answers) without a kernel: each code cell is executed in
one shared namespace; a test cell fails when it raises or writes to
stderr, as nbgrader scores it. ``answers`` replaces answer cells' code.
"""

import contextlib
import io
import traceback

from coursekit.notebooks import nbgrader_meta


def run_inprocess(nb, answers=None):
    """``{test grade_id: (passed, message)}`` after running every cell.

    ``answers``: ``{item: source}`` to run instead of the answer cell of
    ``item``. The namespace is fresh for each call.
    """
    answers = answers or {}
    ns = {"__name__": "__main__"}
    results = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = nbgrader_meta(cell)
        source = answers.get(meta.get("grade_id"), cell.source)
        err = io.StringIO()
        message = ""
        try:
            with contextlib.redirect_stderr(err), \
                    contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, f"<cell {meta.get('grade_id')}>",
                             "exec"), ns)
            ok = not err.getvalue()
            if not ok:
                message = "wrote to stderr: " + err.getvalue()[:300]
        except Exception as exc:  # a failing cell, as nbgrader sees it
            ok = False
            message = "".join(
                traceback.format_exception_only(type(exc), exc)
            ).strip()
        if meta.get("grade"):
            results[meta["grade_id"]] = (ok, message)
    return results
