"""Clear the outputs of lesson and source notebooks before they are
committed (the book build executes the lessons; GPU lessons, whose
outputs come from a real GPU run, are left alone).

    python scripts/strip_outputs.py [--check] NOTEBOOK ...

``--check`` changes nothing and exits 1 when a notebook has outputs.
The pre-commit configuration runs it on the notebooks being committed.
"""

import sys
from pathlib import Path

import nbformat

KEEP = ("gpu_",)  # lessons committed with the outputs of a GPU run


def has_outputs(nb):
    return any(c.get("outputs") or c.get("execution_count")
               for c in nb.cells if c.cell_type == "code")


def strip(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def main(argv):
    check = "--check" in argv
    dirty = []
    for name in (a for a in argv if a != "--check"):
        path = Path(name)
        if path.suffix != ".ipynb" or path.name.startswith(KEEP):
            continue
        nb = nbformat.read(str(path), as_version=4)
        if has_outputs(nb):
            dirty.append(str(path))
            if not check:
                nbformat.write(strip(nb), str(path))
    verb = "has outputs" if check else "outputs cleared"
    for name in dirty:
        print(f"{name}: {verb}")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
