"""nbgrader configuration of the course (nbgrader 0.9.x).

Run nbgrader from the repository root (the instructor guide lists the
commands). Sources are the notebooks in solutions/<chapter>/; the
assignment id is the chapter folder's name (e.g. ch01_perceptrons).
"""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata,
                                    ClearOutput, DeduplicateIds, GetGrades,
                                    IgnorePattern, LimitOutput,
                                    OverwriteCells, OverwriteKernelspec,
                                    SaveAutoGrades)

from coursekit.feedback import SanitizeHiddenTests
from coursekit.preprocessors import (CapOutput, EnforcePolicy,
                                     GradingExecute, StripForeignCells)

c = get_config()  # noqa: F821 (provided by traitlets when loading)

c.CourseDirectory.course_id = "dl-by-hand"
c.CourseDirectory.source_directory = "solutions"
# nbgrader's own folders, all gitignored. `make release` copies the
# released exercise notebooks from release/ into chapters/.
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# Per-cell timeout while autograding (seconds); see the instructor guide.
# The slowest legitimate test cell of the course trains a small network
# on the digits data; 60 s leaves it a wide margin on a slow laptop, and
# an endless loop costs the class one minute per offending cell: the
# cell is interrupted and the rest of the notebook still runs.
c.Execute.timeout = 60
c.ExecutePreprocessor.timeout = 60
c.Execute.interrupt_on_timeout = True

# A learner who deletes a test cell still gets that test run: nbgrader
# puts it back from the gradebook (edited test cells are always restored
# from the gradebook by checksum).
c.OverwriteCells.add_missing_cells = True

# The answer-cell policy (coursekit/policy.py, the learner guide): after
# the test cells are restored and before anything runs, a learner cell
# that breaks it is replaced by its reasons and a stub that fails the
# item's tests; reports go to policy_reports/<chapter>/.
# StripForeignCells first: a fake extra grade cell or a duplicated test
# cell becomes a plain learner cell (nbgrader would otherwise fail the
# whole notebook).
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    StripForeignCells,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    EnforcePolicy,
    CheckCellMetadata,
]
# nbgrader's list with Execute replaced by GradingExecute: the learner's
# cells run in the (sandboxed) kernel, every test cell in the judge
# (coursekit/judge.py), outside it, so no verdict can be changed from the
# learner's code; CapOutput cuts floods of output to 100,000 characters.
c.Autograde.autograde_preprocessors = [
    GradingExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    CapOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Feedback shows each failed hidden test's name, points and message,
# never its source or traceback.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    SanitizeHiddenTests,
    CSSHTMLHeaderPreprocessor,
]

# zip_collect (FileNameCollectorPlugin): files in downloaded/<chapter>/archive/ named
# <student_id>__<notebook>.ipynb (or zips of such files).
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9-]+)__(?P<file_id>[^/]+\.ipynb)$"
)

# The exchange (nbgrader release_assignment / fetch / submit / collect)
# lives on a shared disk; set its path for your server:
# c.Exchange.root = "/srv/nbgrader/exchange"
