"""Shared fixtures and helpers: a seeded random generator per test; the
configuration line grading tests need where the sandbox is missing."""

import numpy as np
import pytest


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
