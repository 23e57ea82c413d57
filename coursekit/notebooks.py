"""Reading the nbgrader metadata of an exercise notebook.

Conventions (API.md): an answer cell's ``grade_id`` is the item's name;
its test cells' ``grade_id``s start with ``test_<item>``; a test cell is
hidden when its source holds a ``### BEGIN HIDDEN TESTS`` region.
"""

import re

import nbformat

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
MARKERS = SOLUTION + HIDDEN


def read(path):
    """The notebook at ``path`` (nbformat 4)."""
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def answer_cells(nb):
    """The autograded answer cells: ``{item: cell}`` in notebook order."""
    return {
        nbgrader_meta(c)["grade_id"]: c
        for c in nb.cells
        if c.cell_type == "code"
        and nbgrader_meta(c).get("solution")
        and not nbgrader_meta(c).get("grade")
    }


def test_cells(nb):
    """The graded test cells, in notebook order."""
    return [
        c for c in nb.cells
        if c.cell_type == "code" and nbgrader_meta(c).get("grade")
    ]


def item_of(grade_id, items):
    """The item a test cell grades: the longest ``items`` entry it names."""
    best = None
    for item in items:
        if re.match(rf"test_{re.escape(item)}(_|$)", grade_id):
            if best is None or len(item) > len(best):
                best = item
    return best


def is_hidden(cell):
    return HIDDEN[0] in cell.source


def points(nb):
    """``{item: (visible points, hidden points)}`` in notebook order."""
    items = list(answer_cells(nb))
    table = {item: [0.0, 0.0] for item in items}
    for cell in test_cells(nb):
        meta = nbgrader_meta(cell)
        item = item_of(meta["grade_id"], items)
        if item is None:
            raise ValueError(
                f"test cell {meta['grade_id']!r} names no item of {items}"
            )
        table[item][1 if is_hidden(cell) else 0] += float(meta["points"])
    return {k: tuple(v) for k, v in table.items()}


def _num(x):
    return f"{x:g}"


def points_table(nb):
    """The markdown table of points per item for the notebook's intro."""
    lines = [
        "| item | visible points | hidden points | total |",
        "|---|---|---|---|",
    ]
    tv = th = 0.0
    for item, (v, h) in points(nb).items():
        lines.append(f"| `{item}` | {_num(v)} | {_num(h)} | {_num(v + h)} |")
        tv, th = tv + v, th + h
    lines.append(f"| **all** | {_num(tv)} | {_num(th)} | {_num(tv + th)} |")
    return "\n".join(lines)


def regions(source, begin, end):
    """The lines strictly inside each ``begin`` ... ``end`` region."""
    out, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(begin):
            inside = True
        elif stripped.startswith(end):
            inside = False
        elif inside:
            out.append(line)
    return out
