"""The dlcore a graded kernel sees: the chapter's references withheld.

While a chapter is graded, the learner's (sandboxed) kernel imports a
copy of dlcore in which no reference implementation of an item of that
chapter or of a later one exists, so none can be reached by import,
``gc``, frames, ``__wrapped__`` or the file system. In the copy:

- an item of the chapter being graded is a *forwarding stub*: calling it
  (or instantiating it) asks the judge, which runs dlcore's reference in
  its own process and hands back data or a handle, unless that item is
  the one being tested at that moment, when the judge raises
  ``DelegationError`` (the notebook may allow an earlier item of the same
  chapter: ``xor_gate`` may call ``dlcore.perceptron.and_gate``);
- an item of a later chapter, and the helpers that do an item's job under
  another name (:data:`HELPERS`), raise ``DelegationError``.

Everything else (earlier chapters' items, the backend, data sets, plots)
is dlcore's own code, unchanged.
"""

import ast
import shutil
from pathlib import Path

import dlcore

# module-level names that do an item's job, withheld with the item
HELPERS = {
    "im2col": [("conv", "im2col_t")],
    "col2im": [("conv", "col2im_t")],
    "numerical_gradient": [("grading", "numerical_gradient64"),
                           ("grading", "check_gradient")],
    "TwoLayerNet": [("nets", "MultiLayerNet")],
    "train_network": [("trainer", "Trainer"), ("trainer", "_sgd_epoch")],
    "compare_optimizers": [("trainer", "Trainer")],
}

_FORWARD_FUNCTION = '''def {name}(*args, **kwargs):
    """Withheld while this chapter is graded: the judge runs it."""
    from dlcore.channel import reference_call
    return reference_call({name!r}, args, kwargs)
'''
_FORWARD_CLASS = '''class {name}:
    """Withheld while this chapter is graded: the judge runs it."""

    def __new__(cls, *args, **kwargs):
        from dlcore.channel import reference_call
        return reference_call({name!r}, args, kwargs)
'''
_RAISE = '''def {name}(*args, **kwargs):
    """Withheld while this chapter is graded."""
    from dlcore.guard import DelegationError
    raise DelegationError(
        "dlcore's {name} is not available while this chapter is graded "
        "(it belongs to a later chapter, or does the job of an item you "
        "are asked to write): write that part yourself")
'''


def _marked_item(node):
    """The item name of a ``@reference("name")`` decorator, else None."""
    for dec in getattr(node, "decorator_list", ()):
        if (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name)
                and dec.func.id == "reference" and dec.args
                and isinstance(dec.args[0], ast.Constant)):
            return dec.args[0].value
    return None


def withhold_source(source, forward, withheld):
    """``source`` of a dlcore module with its top-level definitions
    replaced: items in ``forward`` by forwarding stubs, items and names in
    ``withheld`` by stubs that raise."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            continue
        item = _marked_item(node) or node.name
        if item in forward:
            stub = (_FORWARD_CLASS if isinstance(node, ast.ClassDef)
                    else _FORWARD_FUNCTION).format(name=node.name)
        elif item in withheld:
            stub = _RAISE.format(name=node.name)
        else:
            continue
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        edits.append((first - 1, node.end_lineno, stub))
    for start, end, stub in sorted(edits, reverse=True):
        lines[start:end] = [stub]
    return "".join(lines)


def build(dest, current_items, later_items):
    """Write the withheld copy of dlcore into ``dest`` (a folder that
    replaces dlcore's in the sandbox); returns ``dest``."""
    src = Path(dlcore.__file__).resolve().parent
    dest = Path(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc"), dirs_exist_ok=True)
    forward = set(current_items)
    withheld = set(later_items) - forward
    helpers = {}
    for item in forward | withheld:
        for module, name in HELPERS.get(item, ()):
            helpers.setdefault(module, set()).add(name)
    for path in sorted(dest.glob("*.py")):
        text = path.read_text()
        names = withheld | helpers.get(path.stem, set())
        new = withhold_source(text, forward, names)
        if new != text:
            path.write_text(new)
    return dest
