"""Importing dlcore's modules stays light: no matplotlib, scikit-learn or
CuPy until a function that needs one runs (dlcore.plot is the exception)."""

import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "sklearn", "cupy")

MODULES = ["dlcore", "dlcore.backend", "dlcore.functions", "dlcore.layers",
           "dlcore.nets", "dlcore.trainer", "dlcore.datasets"]


def imported_after(module):
    """The heavy packages present in sys.modules after importing ``module``
    in a fresh interpreter."""
    code = (
        f"import sys, {module}\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"import {module} failed:\n{done.stderr}"
    return done.stdout.split()


@pytest.mark.parametrize("module", MODULES)
def test_import_is_light(module):
    assert imported_after(module) == []


def test_plot_imports_matplotlib():
    # the check above would pass vacuously if it could not see an import
    assert "matplotlib" in imported_after("dlcore.plot")
