"""Every notebook opens anywhere: its first cell installs the course's
package where it is missing (Colab, JupyterLite) and does nothing where
it is installed (make lab, Binder, the book's build, grading).

The cell is the same in every lesson and exercise notebook (locked in
the exercises); a new notebook starts with a copy of it (the message
below prints it).
"""

import re
import tomllib
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
INSTALL = '''\
# On Colab or in the browser (JupyterLite) this installs the course's
# package; where it is installed already (make lab, Binder), it does nothing.
import importlib.util

if importlib.util.find_spec("dlcore") is None:
    %pip install --quiet "deep-learning-by-hand[data]"'''
NOTEBOOKS = sorted(ROOT.glob("chapters/*/*.ipynb")) + sorted(
    ROOT.glob("solutions/*/*.ipynb"))
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_notebook_starts_with_the_install_cell(path):
    first = nbformat.read(str(path), as_version=4).cells[0]
    assert first.cell_type == "code" and first.source == INSTALL, (
        f"{path.name}: the first cell must be the install cell, tagged "
        f"remove-cell (the book does not show it):\n\n{INSTALL}")
    assert "remove-cell" in first.metadata.get("tags", [])
    assert not first.get("outputs")
    if path.name == "exercises.ipynb":
        # the course's cell, not the learner's: locked (nbgrader restores
        # it), so the answer-cell policy, which forbids importlib and
        # magics in a learner's cells, does not apply to it
        meta = first.metadata.get("nbgrader", {})
        assert meta.get("locked") and not meta.get("solution") and \
            not meta.get("grade"), meta
        from coursekit.policy import check_notebook

        assert check_notebook(nbformat.read(str(path), as_version=4)) == {}


def test_it_installs_this_distribution_with_an_extra_it_has():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    spec = re.search(r'%pip install --quiet "([^"\[]+)\[(\w+)\]"', INSTALL)
    assert spec.group(1) == project["name"]
    assert spec.group(2) in project["optional-dependencies"]


def _run(find_spec_result):
    """Run the cell as IPython would; returns the magics it called."""
    calls = []

    class Shell:
        def run_line_magic(self, name, line):
            calls.append((name, line))

    code = TransformerManager().transform_cell(INSTALL)
    import importlib.util

    real = importlib.util.find_spec
    importlib.util.find_spec = lambda name, *a: (
        find_spec_result if name == "dlcore" else real(name, *a))
    try:
        exec(compile(code, "<install cell>", "exec"),
             {"get_ipython": Shell})
    finally:
        importlib.util.find_spec = real
    return calls


def test_it_does_nothing_where_the_package_is_installed():
    assert _run(object()) == []


def test_it_installs_with_pip_where_the_package_is_missing():
    # IPython (Colab) runs %pip inside the if
    assert _run(None) == [
        ("pip", 'install --quiet "deep-learning-by-hand[data]"')]
    # JupyterLite's Pyodide kernel rewrites an indented %pip line to
    # `await piplite.install(...)` at the same indentation (its
    # litetransform.pip_magic: ^(\s*)%pip\b(.*)$)
    lines = [ln for ln in INSTALL.splitlines()
             if re.match(r"^(\s*)%pip\b(.*)$", ln)]
    assert lines == ['    %pip install --quiet '
                     '"deep-learning-by-hand[data]"']
