"""nbgrader preprocessors of the course's autograde (nbgrader_config.py).

``EnforcePolicy`` runs among the sanitize preprocessors, after
``OverwriteCells`` has restored the test cells and before any cell runs:
each learner cell that breaks the answer-cell policy
(:mod:`coursekit.policy`) is replaced by a cell that says which line and
why, keeps the learner's code as comments, and defines the item as a stub
that fails its tests with the same reasons. The instructor's report is a
log warning per violation and a JSON file per notebook under
``<course>/<report_dir>/<assignment>/<student>__<notebook>.json``
(``python -m coursekit grade`` prints them).
"""

import os

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from coursekit.policy import (check_source, learner_cells, replacement,
                              write_report)


class EnforcePolicy(NbGraderPreprocessor):
    """Replace learner cells that break the policy before anything runs."""

    report_dir = Unicode(
        "policy_reports",
        help="Folder (relative to the course root) of the policy reports",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        student = info.get("student", "?")
        assignment = info.get("assignment", "?")
        notebook = info.get("notebook", "?")
        report = {}
        for index, label, cell in learner_cells(nb):
            found = check_source(cell.source)
            if not found:
                continue
            report[label] = found
            item = label if not label.startswith("cell ") else None
            for v in found:
                self.log.warning("policy: %s %s/%s %s %s", student,
                                 assignment, notebook, label, v)
            cell.source = replacement(label, cell.source, found, item)
        root = os.getcwd()  # nbgrader runs in the course root
        path = os.path.join(root, self.report_dir, assignment,
                            f"{student}__{notebook}.json")
        write_report(path, student, assignment, notebook, report)
        return nb, resources


from nbgrader.preprocessors import Execute  # noqa: E402

# Run by the grading kernel before the notebook's first cell.
KERNEL_SETUP = "import dlcore.grading as _g; _g.grading_kernel_setup(); del _g"


class GradingExecute(Execute):
    """nbgrader's Execute, whose kernel first runs :data:`KERNEL_SETUP`:
    dlcore.grading captures NumPy's functions and locks the modules the
    tests use before any learner code runs, and warnings go to stdout."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_arguments = list(self.extra_arguments) + [
            f"--IPKernelApp.exec_lines={KERNEL_SETUP}"]
