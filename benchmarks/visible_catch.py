"""How many of the catalogued learner mistakes the visible tests catch.

Each chapter's test module (tests/test_exercises_chNN.py) lists plausible
mistakes (``WRONG`` / ``MISTAKES``: answers and the cells that must fail).
Each one is run against its chapter's notebook twice, in this process:
with the visible tests only (what a learner sees in the released
notebook) and with the hidden tests too. A mistake is caught when some
test cell of its item fails. Prints one line per chapter and the total.

    python benchmarks/visible_catch.py [--list] [ch05 ...]

``--list`` names each mistake the visible tests miss.
"""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from coursekit.feedback import strip_hidden  # noqa: E402
from coursekit.notebooks import answer_cells, item_of, read  # noqa: E402
from coursekit.notebooks import is_hidden  # noqa: E402
from coursekit.runner import run_inprocess  # noqa: E402

CHAPTERS = ["ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08"]


def visible_only(nb):
    """``nb`` with every hidden test region removed (hidden-only cells
    dropped), the solutions kept."""
    nb = read_copy(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code" and is_hidden(cell):
            rest = strip_hidden(cell.source)
            if not any(line.strip() and not line.strip().startswith("#")
                       for line in rest.splitlines()):
                continue
            cell.source = rest
        cells.append(cell)
    nb.cells = cells
    return nb


def read_copy(nb):
    import copy
    return copy.deepcopy(nb)


def mistakes(module):
    for name in ("WRONG", "MISTAKES"):
        if hasattr(module, name):
            return getattr(module, name)
    return {}


def caught(results, items, answers):
    """Whether a test cell of an item in ``answers`` failed."""
    for grade_id, (ok, _) in results.items():
        if not ok and item_of(grade_id, items) in answers:
            return True
    return False


def main(argv):
    show = "--list" in argv
    chosen = [a for a in argv if not a.startswith("-")] or CHAPTERS
    total = [0, 0, 0]
    for ch in chosen:
        mod = importlib.import_module(f"test_exercises_{ch}")
        path = next((ROOT / "solutions").glob(f"{ch}_*/exercises.ipynb"))
        full = read(path)
        vis = visible_only(full)
        items = list(answer_cells(full))
        if hasattr(mod, "SOL"):  # chapter 6 builds mistakes from these
            mod.SOL = {k: c.source for k, c in answer_cells(full).items()}
        counts = [0, 0, 0]
        for name, entry in sorted(mistakes(mod).items()):
            answers = entry[0]
            if callable(answers):
                answers = answers()
            elif isinstance(answers, str):  # chapter 8: one item's source
                answers = {items[0]: answers}
            if not any(item in items for item in answers):
                continue  # not an item bug (e.g. a whole-notebook case)
            v = caught(run_inprocess(vis, answers), items, answers)
            h = caught(run_inprocess(full, answers), items, answers)
            counts[0] += 1
            counts[1] += v
            counts[2] += h
            if show and not v:
                print(f"    visible tests miss: {name}")
        print(f"{ch}: {counts[0]} mistakes, visible tests catch "
              f"{counts[1]} ({100 * counts[1] / max(counts[0], 1):.0f}%), "
              f"all tests catch {counts[2]}")
        total = [a + b for a, b in zip(total, counts)]
    print(f"all: {total[0]} mistakes, visible tests catch {total[1]} "
          f"({100 * total[1] / max(total[0], 1):.0f}%), all tests catch "
          f"{total[2]}")


if __name__ == "__main__":
    main(sys.argv[1:])
