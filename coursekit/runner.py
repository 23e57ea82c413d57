"""Run an exercise notebook's cells in this process, scoring like nbgrader.

For checking tests quickly (fairness and sharpness of hidden tests
against many answers) without a kernel: each code cell is executed in
one shared namespace; a test cell fails when it raises or writes to
stderr, as nbgrader scores it. ``answers`` replaces answer cells' code.
"""

import atexit
import contextlib
import io
import time
import traceback

from coursekit.notebooks import nbgrader_meta


def _code_cells(nb, answers):
    """``(cell, nbgrader metadata, source to run)`` of each code cell,
    an answer cell's source replaced by ``answers[item]`` if given."""
    answers = answers or {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            meta = nbgrader_meta(cell)
            source = answers.get(meta.get("grade_id"), cell.source)
            yield cell, meta, _python(source)


def _python(source):
    """The cell as plain Python: IPython syntax (the install cell's
    ``%pip``) turned into the calls a kernel makes."""
    if "%" not in source and "!" not in source:
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def run_inprocess(nb, answers=None, printed=None):
    """``{test grade_id: (passed, message)}`` after running every cell.

    ``answers``: ``{item: source}`` to run instead of the answer cell of
    ``item``. The namespace is fresh for each call. ``printed``: a dict
    that gets ``{test grade_id: (seconds, stdout)}``.
    """
    ns = {"__name__": "__main__"}
    results = {}
    for cell, meta, source in _code_cells(nb, answers):
        err, out = io.StringIO(), io.StringIO()
        message = ""
        start = time.perf_counter()
        try:
            with contextlib.redirect_stderr(err), \
                    contextlib.redirect_stdout(out):
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
            if printed is not None:
                printed[meta["grade_id"]] = (time.perf_counter() - start,
                                             out.getvalue())
    return results


# ------------------------------------------------------ through the judge

_KERNEL = {}


def _judged_kernel():
    """One kernel (with the grading kernel's setup) and its judge, kept for
    the whole process; each run starts from an empty namespace."""
    from jupyter_client import KernelManager

    from coursekit.judge import Judge
    from coursekit.preprocessors import KERNEL_SETUP

    km = _KERNEL.get("km")
    if km is None or not km.is_alive():
        km = KernelManager()
        km.start_kernel(extra_arguments=[
            f"--IPKernelApp.exec_lines={KERNEL_SETUP}"])
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        _KERNEL.update(km=km, kc=kc, judge=Judge(km.connection_file))
        atexit.register(_stop_judged_kernel)
    return _KERNEL["kc"], _KERNEL["judge"]


def _stop_judged_kernel():
    if "km" in _KERNEL:
        _KERNEL["judge"].link.disconnect()
        _KERNEL["kc"].stop_channels()
        _KERNEL["km"].shutdown_kernel(now=True)
        _KERNEL.clear()


def run_judged(nb, answers=None, timeout=60):
    """:func:`run_inprocess`'s results, with the notebook run as it is
    graded: answer cells in a kernel, test cells in the judge
    (``coursekit.judge``), which reaches the learner's code only through
    the data-only channel."""
    from coursekit.preprocessors import is_test_cell

    kc, judge = _judged_kernel()
    kc.execute_interactive("get_ipython().reset(new_session=False)",
                           timeout=timeout, output_hook=lambda m: None)
    results = {}
    for cell, meta, source in _code_cells(nb, answers):
        if not is_test_cell(cell):
            kc.execute_interactive(source, timeout=timeout,
                                   output_hook=lambda m: None)
            continue
        outputs = judge.run_cell(source, meta["grade_id"], timeout)
        errors = [o for o in outputs if o["output_type"] == "error"]
        message = (f"{errors[0]['ename']}: {errors[0]['evalue']}"
                   if errors else "")
        results[meta["grade_id"]] = (not errors, message)
    return results
