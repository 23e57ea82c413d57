"""Where a graded notebook's time goes: named phases of one learner's
grading, each second counted once.

:class:`Phases` keeps a stack of the phases entered; time is charged to
the innermost one, so the phases of a learner add up to its wall time
(a gradebook write inside a preprocessor counts as ``database``, not as
the preprocessor). :func:`instrument` wraps the methods of nbgrader,
nbclient and coursekit that mark the phases; it is called in the
process that grades one learner (a fresh fork per learner: the wrappers
never outlive it). ``python -m coursekit grade`` returns each learner's
phases in its summary and ``benchmarks/grading_throughput.py
--breakdown`` prints their medians.

The phases (:data:`ORDER`):

- ``start``: from the job handed over to the grading process running
  it (a fork of the preloaded grading server; a whole Python start and
  nbgrader's imports where nbgrader runs as its own process);
- ``nbgrader``: nbgrader's app, its config and what no other phase
  covers (reading and converting the notebook, the sanitize
  preprocessors other than the policy);
- ``database``: every gradebook open, query and write (nbgrader's
  ``init_assignment``, ``StripForeignCells``, ``SaveAutoGrades``, the
  late penalty) and the merge of a SQLite copy into the gradebook;
- ``policy``: the answer-cell policy (``EnforcePolicy``);
- ``kernel start``: the withheld dlcore copy, the sandbox and the
  kernel until it answers;
- ``learner cells``: the learner's cells, run in the kernel;
- ``tests``: the test cells in the judge, the judge's start included;
- ``kernel stop``: the kernel shut down and its sandbox removed;
- ``write``: the autograded notebook written, the results copied home
  and the log kept.
"""

import contextlib
import functools
import json
import time

ORDER = ("start", "nbgrader", "database", "policy", "kernel start",
         "learner cells", "tests", "kernel stop", "write")


class Phases:
    """Seconds per phase; time goes to the innermost phase entered."""

    def __init__(self, clock=time.perf_counter, outer="nbgrader"):
        self.clock = clock
        self.seconds = {}
        self.stack = [outer]
        self.t = clock()

    def _charge(self):
        now = self.clock()
        name = self.stack[-1]
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self.t
        self.t = now

    @contextlib.contextmanager
    def __call__(self, name):
        self._charge()
        self.stack.append(name)
        try:
            yield
        finally:
            self._charge()
            self.stack.pop()

    def add(self, name, seconds):
        """Charge ``seconds`` measured elsewhere to ``name``."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def done(self):
        """The phases so far, ``{name: seconds}``."""
        self._charge()
        return dict(self.seconds)

    def dump(self, path):
        with open(path, "w") as f:
            json.dump(self.done(), f)


def _wrap(phases, owner, attr, name):
    original = getattr(owner, attr)
    if getattr(original, "__coursekit_phase__", None):
        return

    @functools.wraps(original)
    def timed(*args, **kwargs):
        with phases(name):
            return original(*args, **kwargs)

    timed.__coursekit_phase__ = name
    setattr(owner, attr, timed)


def instrument(phases):
    """Charge the grading steps of this process to ``phases``. Only for
    a process that grades one learner and ends (the wrappers stay)."""
    from nbclient import NotebookClient
    from nbconvert.preprocessors import ExecutePreprocessor
    from nbconvert.writers import FilesWriter
    from nbgrader.api import Gradebook
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

    from coursekit import preprocessors as pp
    from coursekit import withheld

    plan = [
        (Gradebook, "__init__", "database"),
        (Gradebook, "close", "database"),
        (Autograde, "init_assignment", "database"),
        (pp.StripForeignCells, "preprocess", "database"),
        (SaveAutoGrades, "preprocess", "database"),
        (AssignLatePenalties, "preprocess", "database"),
        (pp.EnforcePolicy, "preprocess", "policy"),
        (withheld, "build", "kernel start"),
        (pp.GradingExecute, "_later_items", "kernel start"),
        (pp.GradingExecute, "_course_files", "kernel start"),
        (pp.GradingExecute, "create_kernel_manager", "kernel start"),
        (pp.GradingExecute, "start_new_kernel", "kernel start"),
        (NotebookClient, "start_new_kernel_client", "kernel start"),
        (NotebookClient, "_cleanup_kernel", "kernel stop"),
        (ExecutePreprocessor, "preprocess_cell", "learner cells"),
        (pp.JudgeProcess, "__init__", "tests"),
        (pp.JudgeProcess, "forked", "tests"),
        (pp.JudgeProcess, "attach", "tests"),
        (pp.JudgeProcess, "run", "tests"),
        (pp.JudgeProcess, "close", "tests"),
        (FilesWriter, "write", "write"),
    ]
    for owner, attr, name in plan:
        _wrap(phases, owner, attr, name)
    return phases


def median_breakdown(per_learner):
    """``{phase: median seconds}`` over learners' ``{phase: seconds}``
    (a phase a learner lacks counts 0), in :data:`ORDER`, then others."""
    import statistics

    names = [n for n in ORDER if any(n in p for p in per_learner)]
    names += sorted({n for p in per_learner for n in p} - set(names))
    return {n: statistics.median(p.get(n, 0.0) for p in per_learner)
            for n in names} if per_learner else {}
