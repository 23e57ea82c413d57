"""Every third-party module chapter 8's GPU run imports, found by reading
the code (not by running it).

    python scripts/gpu_imports.py            # the modules, one per line
    python scripts/gpu_imports.py --missing  # those this Python lacks

The roots are what scripts/gpu_run.py runs: the GPU tests, the GPU
benchmark, the GPU lesson's code cells, and the tools that run them
(pytest; nbclient, nbformat and ipykernel for the lesson). Imports of
dlcore's modules and of the tests' helper modules are followed, wherever
they stand (a function's body too: ``load_digits`` imports scikit-learn
when called). CuPy and NumPy are left out: the GPU machine brings them.
Standard-library modules are left out too.
"""

import argparse
import ast
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "chapters" / "ch08_gpu" / "gpu_your_network.ipynb"
ROOTS = [ROOT / "tests" / "test_gpu.py", ROOT / "benchmarks" / "gpu_bench.py"]
# what runs the roots: the test runner, and the lesson's executor and kernel
RUNNERS = ["pytest", "nbclient", "nbformat", "ipykernel"]
BROUGHT = {"cupy", "cupyx", "cupy_backends", "numpy"}
LOCAL = {"dlcore": ROOT / "dlcore", "tests": ROOT / "tests",
         "coursekit": ROOT / "coursekit"}  # on PYTHONPATH, never followed


def imports_of(source, filename="<cell>"):
    """Dotted names every import statement in ``source`` names."""
    names = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def cell_sources(path):
    """The code cells of a notebook, each IPython magic or shell line
    replaced by ``pass`` (they are not Python)."""
    cells = json.loads(Path(path).read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            yield "\n".join(
                line[:len(line) - len(line.lstrip())] + "pass"
                if line.lstrip().startswith(("%", "!")) else line
                for line in lines)


def local_file(name):
    """The file of a dlcore module or of a tests helper, else None."""
    parts = name.split(".")
    if parts[0] == "dlcore":
        path = ROOT.joinpath(*parts)
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None
    candidate = LOCAL["tests"] / f"{parts[0]}.py"
    return candidate if candidate.is_file() else None


def needed():
    """Sorted top-level names of the third-party modules the run imports."""
    sources = [(p.read_text(), str(p)) for p in ROOTS]
    sources += [(s, f"{LESSON}:cell") for s in cell_sources(LESSON)]
    sources.append(((ROOT / "tests" / "conftest.py").read_text(),
                    "tests/conftest.py"))
    seen_files, found = set(), set(RUNNERS)
    while sources:
        text, filename = sources.pop()
        for name in imports_of(text, filename):
            path = local_file(name)
            if path is not None:
                if path not in seen_files:
                    seen_files.add(path)
                    sources.append((path.read_text(), str(path)))
                continue
            top = name.split(".")[0]
            if top in LOCAL or top in BROUGHT:
                continue
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            found.add(top)
    return sorted(found)


def missing(names=None):
    """The names of ``needed()`` that this Python cannot import."""
    return [n for n in (names or needed())
            if importlib.util.find_spec(n) is None]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--missing", action="store_true",
                        help="only the modules this Python lacks")
    args = parser.parse_args(argv)
    for name in (missing() if args.missing else needed()):
        print(name)


if __name__ == "__main__":
    main()
