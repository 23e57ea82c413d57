"""Shared fixtures and helpers: a seeded random generator per test; the
configuration line grading tests need where the sandbox is missing; GPU
skips turned into failures where a GPU is required."""

import os

import numpy as np
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With ``DLCORE_REQUIRE_GPU=1`` (make test-gpu, scripts/gpu_run.sh) a
    skipped ``gpu`` test fails with the skip's reason: a GPU run must not
    be green where no GPU test ran."""
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and item.get_closest_marker("gpu") is not None
            and os.environ.get("DLCORE_REQUIRE_GPU", "") == "1"):
        reason = report.longrepr
        if isinstance(reason, tuple):  # (path, line, "Skipped: why")
            reason = reason[2]
        report.outcome = "failed"
        report.longrepr = (f"DLCORE_REQUIRE_GPU=1 but this GPU test was "
                           f"skipped: {reason}")


@pytest.fixture
def rng():
    """A NumPy Generator with a fixed seed, fresh for each test."""
    return np.random.default_rng(20240601)


def unsandboxed_fallback():
    """``c.GradingExecute.sandbox = False`` where this machine has no grading
    sandbox (no bubblewrap), so the grading tests still run; else ``""``.

    Instructors never get this silently: the course's own configuration
    refuses to grade without the sandbox unless they pass a flag.
    """
    from coursekit.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem is None:
        return ""
    import warnings

    warnings.warn(f"grading tests run without the sandbox: {problem}")
    return "c.GradingExecute.sandbox = False\n"


@pytest.fixture(params=["in-process", "judged"])
def run(request):
    """The runner of an exercise notebook's cells: in this process (the
    tests beside the answers, as in a learner's own notebook), and as the
    notebook is graded (answers in a kernel, tests in the judge, talking
    over the data-only channel). Fairness and sharpness must hold both
    ways."""
    from coursekit.runner import run_inprocess, run_judged

    return run_inprocess if request.param == "in-process" else run_judged
