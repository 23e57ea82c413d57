"""The answer-cell policy, checked on the syntax tree before anything runs.

A learner's code runs in the same kernel as the hidden tests, so a cell
that rewrites later cells, patches numpy or reads files could change its
own verdict or see the tests. Every code cell a learner can edit (answer
cells and cells they added) is parsed, never run, and checked:

- IPython's machinery: ``get_ipython``, magics and ``!`` commands,
  IPython/ipykernel/traitlets imports (input transformers,
  ``set_custom_exc``, ``showtraceback`` and the like);
- imports outside :data:`ALLOWED_IMPORTS` (so no ``os``, ``sys``,
  ``importlib``, ``pathlib``, ``socket``, ``subprocess``, ``shutil``,
  ``urllib``, ``inspect``, ...), and ``dlcore.guard``/``dlcore.grading``;
- rebinding or deleting an attribute of something the cell did not
  create (``np.allclose = ...``, ``builtins.print = ...``), ``setattr``
  or ``delattr`` on it, and top-level names that shadow a built-in or
  the tests' ``np``;
- ``exec``, ``eval``, ``compile``, ``__import__``, ``open``, ``globals``,
  ``vars`` and friends, introspection attributes (``__dict__``,
  ``__globals__``, ``__subclasses__``, frames) and NumPy's file
  functions (``np.load``, ``np.save``, ``tofile``, ...).

:func:`check_source` returns the violations of one cell (line, rule,
message); :func:`check_notebook` those of every learner cell, by item.
``EnforcePolicy`` (nbgrader_config.py) replaces a violating cell before
autograde runs it, so that item scores zero and the feedback says why.
"""

import ast
import builtins
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from coursekit.notebooks import nbgrader_meta

# Top-level modules an answer may import (the learner guide lists them).
ALLOWED_IMPORTS = frozenset({
    "numpy", "cupy", "dlcore", "math", "cmath", "random", "itertools",
    "functools", "collections", "dataclasses", "typing", "abc", "copy",
    "numbers", "operator", "statistics", "heapq", "bisect", "enum",
    "time", "warnings", "string", "fractions", "decimal",
})
FORBIDDEN_MODULES = frozenset({"dlcore.guard", "dlcore.grading"})

FORBIDDEN_CALLS = {
    "exec": "runs code the grader cannot check",
    "eval": "runs code the grader cannot check",
    "compile": "builds code the grader cannot check",
    "__import__": "imports modules around the import rules",
    "open": "reads or writes files",
    "input": "waits for input that never comes while grading",
    "breakpoint": "stops the grader",
    "globals": "reaches the grader's namespace",
    "locals": "reaches the grader's namespace",
    "vars": "reaches a module's or object's namespace",
    "exit": "stops the kernel",
    "quit": "stops the kernel",
    "help": "starts an interactive helper",
    "get_ipython": "uses IPython's machinery, which grades the notebook "
                   "(magics `%...` and shell commands `!...` count)",
    "__builtins__": "reaches the built-ins the tests use",
    "__IPYTHON__": "uses IPython's machinery",
}

# Dunder attributes of the protocols a class may define or call.
PROTOCOL_DUNDERS = frozenset({
    "__init__", "__call__", "__name__", "__qualname__", "__doc__",
    "__len__", "__iter__", "__next__", "__getitem__", "__setitem__",
    "__contains__", "__repr__", "__str__", "__enter__", "__exit__",
    "__add__", "__sub__", "__mul__", "__truediv__", "__matmul__",
    "__neg__", "__pow__", "__radd__", "__rsub__", "__rmul__",
    "__rtruediv__", "__eq__", "__lt__", "__le__", "__gt__", "__ge__",
    "__bool__", "__hash__", "__array__",
})
# Attributes that reach frames, code or file I/O.
FORBIDDEN_ATTRS = {
    **{a: "reaches the interpreter's frames or code" for a in (
        "f_globals", "f_locals", "f_builtins", "f_back", "f_code",
        "tb_frame", "tb_next", "gi_frame", "gi_code", "cr_frame",
        "ag_frame", "co_code")},
    **{a: "reads or writes files" for a in (
        "load", "save", "savez", "savez_compressed", "loadtxt", "savetxt",
        "genfromtxt", "fromfile", "tofile", "fromregex", "memmap",
        "DataSource", "dump", "dumps", "lib", "ctypeslib", "f2py",
        "distutils")},
    **{a: "uses IPython's machinery, which grades the notebook" for a in (
        "input_transformers_cleanup", "input_transformers_post",
        "input_transformer_manager", "ast_transformers", "set_custom_exc",
        "showtraceback", "showsyntaxerror", "run_cell", "run_line_magic",
        "run_cell_magic", "register_magic_function", "user_ns", "events",
        "kernel", "shell")},
}
GUARDED_TOP_NAMES = frozenset({"np", "numpy", "dlcore"})
BUILTIN_NAMES = frozenset(n for n in dir(builtins) if not n.startswith("_"))


@dataclass(frozen=True)
class Violation:
    line: int
    rule: str
    message: str

    def __str__(self):
        return f"line {self.line}: {self.message}"


def _ipython_to_python(source):
    """``source`` with magics and ``!`` lines turned into Python calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # no IPython: magics stay syntax errors
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:
        return source


class _Bindings(ast.NodeVisitor):
    """Names the cell binds itself (not by import), and names it imports."""

    def __init__(self):
        self.local, self.imported = set(), set()

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.local.add(node.id)

    def visit_arg(self, node):
        self.local.add(node.arg)

    def _def(self, node):
        self.local.add(node.name)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _def

    def visit_Import(self, node):
        for a in node.names:
            self.imported.add(a.asname or a.name.split(".")[0])

    def visit_ImportFrom(self, node):
        for a in node.names:
            self.imported.add(a.asname or a.name)

    def visit_ExceptHandler(self, node):
        if node.name:
            self.local.add(node.name)
        self.generic_visit(node)


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else None


class _Checker(ast.NodeVisitor):
    def __init__(self, bindings):
        self.own = bindings.local - bindings.imported
        self.found = []

    def flag(self, node, rule, message):
        self.found.append(Violation(getattr(node, "lineno", 0), rule, message))

    def foreign(self, target):
        """True when ``target``'s root is not an object the cell created."""
        root = _root(target)
        return root is None or root not in self.own

    # imports
    def _check_module(self, node, module):
        top = module.split(".")[0]
        if any(module == m or module.startswith(m + ".")
               for m in FORBIDDEN_MODULES):
            self.flag(node, "import", f"`{module}` is the grader's own "
                      f"module; answers may not import it")
        elif top not in ALLOWED_IMPORTS:
            self.flag(node, "import", f"importing `{module}` is not "
                      f"allowed: answers may import only numpy, dlcore "
                      f"and a few pure standard modules (the learner "
                      f"guide lists them); files, the network, the "
                      f"interpreter and IPython are off limits")

    def visit_Import(self, node):
        for a in node.names:
            self._check_module(node, a.name)
            bound = a.asname or a.name.split(".")[0]
            if bound in GUARDED_TOP_NAMES and a.name.split(".")[0] != {
                    "np": "numpy"}.get(bound, bound):
                self.flag(node, "shadow", f"`{bound}` must stay the real "
                          f"module the tests use")

    def visit_ImportFrom(self, node):
        if node.level:
            self.flag(node, "import", "relative imports read files "
                      "beside the notebook")
            return
        self._check_module(node, node.module or "")
        for a in node.names:
            full = f"{node.module}.{a.name}"
            if full in FORBIDDEN_MODULES:
                self._check_module(node, full)
            if a.name == "*":
                self.flag(node, "import", "`import *` hides which names "
                          "the cell rebinds")
            if (a.asname or a.name) in GUARDED_TOP_NAMES | BUILTIN_NAMES:
                self.flag(node, "shadow", f"`{a.asname or a.name}` would "
                          f"replace a name the tests rely on")

    # rebinding attributes of things the cell did not create
    def _check_targets(self, targets, node, verb):
        for t in targets:
            for sub in ast.walk(t):
                if (isinstance(sub, ast.Attribute)
                        and isinstance(sub.ctx, (ast.Store, ast.Del))
                        and self.foreign(sub.value)):
                    name = ast.unparse(sub)
                    self.flag(node, "rebind", f"{verb} `{name}` changes "
                              f"an object this cell did not create (a "
                              f"module such as numpy, dlcore or builtins, "
                              f"or one the tests use)")

    def visit_Assign(self, node):
        self._check_targets(node.targets, node, "assigning to")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._check_targets([node.target], node, "assigning to")
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._check_targets([node.target], node, "assigning to")
        self.generic_visit(node)

    def visit_Delete(self, node):
        self._check_targets(node.targets, node, "deleting")
        self.generic_visit(node)

    def _loop_targets(self, node):
        self._check_targets([node.target], node, "assigning to")
        self.generic_visit(node)

    visit_For = visit_AsyncFor = visit_comprehension = _loop_targets

    def visit_withitem(self, node):
        if node.optional_vars is not None:
            self._check_targets([node.optional_vars], node.context_expr,
                                "assigning to")
        self.generic_visit(node)

    def visit_Call(self, node):
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("setattr", "delattr"):
            if not node.args or self.foreign(node.args[0]):
                self.flag(node, "rebind", f"`{f.id}` on an object this "
                          f"cell did not create (a module, or one the "
                          f"tests use)")
            elif len(node.args) > 1 and not (
                    isinstance(node.args[1], ast.Constant)
                    and not str(node.args[1].value).startswith("__")):
                pass  # a computed name on the cell's own object: allowed
        if isinstance(f, ast.Name) and f.id == "getattr" and len(
                node.args) > 1:
            name = node.args[1]
            if isinstance(name, ast.Constant) and str(name.value) \
                    .startswith("__") and name.value not in PROTOCOL_DUNDERS:
                self.flag(node, "introspection", f"`getattr(..., "
                          f"{name.value!r})` reaches the interpreter's "
                          f"internals")
        self.generic_visit(node)

    # names and attributes
    def visit_Name(self, node):
        if node.id in FORBIDDEN_CALLS and not (
                isinstance(node.ctx, ast.Store) and node.id in BUILTIN_NAMES):
            self.flag(node, "forbidden", f"`{node.id}` "
                      f"{FORBIDDEN_CALLS[node.id]}")

    def visit_Attribute(self, node):
        a = node.attr
        if a.startswith("__") and a.endswith("__") \
                and a not in PROTOCOL_DUNDERS:
            self.flag(node, "introspection", f"`.{a}` reaches the "
                      f"interpreter's internals (namespaces, classes, "
                      f"frames)")
        elif a in FORBIDDEN_ATTRS and not (
                a in ("kernel", "shell", "events", "lib", "load", "save",
                      "dump", "dumps") and not self.foreign(node.value)):
            self.flag(node, "forbidden", f"`.{a}` {FORBIDDEN_ATTRS[a]}")
        elif a.startswith("_") and not a.startswith("__") \
                and self.foreign(node.value) and _root(node.value) is not None:
            self.flag(node, "private", f"`.{a}` is a private part of a "
                      f"module or object this cell did not create")
        self.generic_visit(node)

    def visit_Global(self, node):
        self.flag(node, "rebind", "`global` rebinds names the tests use; "
                  "return values instead")

    def visit_Nonlocal(self, node):
        pass


def _top_level_shadowing(tree, checker):
    """Top-level bindings of built-in names or of ``np``/``numpy``/``dlcore``."""
    for stmt in tree.body:
        names = []
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef)):
            names = [stmt.name]
        elif isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = getattr(stmt, "targets", None) or [stmt.target]
            names = [n.id for t in targets for n in ast.walk(t)
                     if isinstance(n, ast.Name)
                     and isinstance(n.ctx, ast.Store)]
        for name in names:
            if name in BUILTIN_NAMES or name in GUARDED_TOP_NAMES:
                checker.flag(stmt, "shadow", f"defining `{name}` at the "
                             f"top level replaces the "
                             f"{'built-in' if name in BUILTIN_NAMES else 'module'}"
                             f" the tests use; pick another name")


UNPARSABLE = "unparsable"


def check_source(source):
    """The policy violations of one cell's ``source``, in line order.

    A cell that is not valid Python even after IPython's rewriting (a
    syntax error, or a line IPython would run as an automagic command such
    as ``time import x``) is one violation, of rule ``unparsable``: it
    cannot be checked, so it is not run.
    """
    code = _ipython_to_python(source)
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return [Violation(err.lineno or 1, UNPARSABLE,
                          f"not valid Python ({err.msg}), so it cannot be "
                          f"checked and is not run (a line IPython would "
                          f"run as a magic command counts too)")]
    bindings = _Bindings()
    bindings.visit(tree)
    checker = _Checker(bindings)
    checker.visit(tree)
    _top_level_shadowing(tree, checker)
    seen, out = set(), []
    for v in sorted(checker.found, key=lambda v: v.line):
        if (v.line, v.message) not in seen:
            seen.add((v.line, v.message))
            out.append(v)
    return out


def learner_cells(nb):
    """``[(index, label, cell)]``: the code cells a learner can edit.

    The label is the item name of an answer cell, else ``cell <n>``.
    Test cells and locked cells are the instructor's (nbgrader restores
    them), so they are not learner code.
    """
    out = []
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or meta.get("grade") \
                or meta.get("locked"):
            continue
        label = meta.get("grade_id") if meta.get("solution") else None
        out.append((i, label or f"cell {i + 1}", cell))
    return out


def check_notebook(nb):
    """``{label: [Violation]}`` for the learner cells that break the policy."""
    report = {}
    for _, label, cell in learner_cells(nb):
        found = check_source(cell.source)
        if found:
            report.setdefault(label, []).extend(found)
    return report


def enforce(nb, replace_violations=False):
    """Apply the policy to ``nb`` in place: a cell that cannot be parsed
    (so not checked) is replaced by :func:`replacement`, and with
    ``replace_violations`` every violating cell is. Returns
    :func:`check_notebook`'s report. Class grading (the EnforcePolicy
    preprocessor) and the self-check (coursekit.check) both use it."""
    report = {}
    for _, label, cell in learner_cells(nb):
        found = check_source(cell.source)
        if not found:
            continue
        report[label] = found
        item = label if not label.startswith("cell ") else None
        refused = [v for v in found if v.rule == UNPARSABLE]
        if replace_violations or refused:
            cell.source = replacement(label, cell.source, refused or found,
                                      item)
    return report


def replacement(label, source, violations, item=None):
    """What runs instead of a violating cell: the reasons, the learner's
    code as comments, and (for an answer cell) a stub of the item that
    fails every test with the reasons."""
    reasons = "; ".join(map(str, violations))
    lines = [
        "# GRADING POLICY: this cell was not run, because it breaks the",
        "# answer-cell policy (see the learner guide):",
        *[f"#   {v}" for v in violations],
        "# Your code, as submitted (not run):",
        *[f"#     {line}" for line in source.splitlines()],
    ]
    message = (f"your {label} cell was not run: it breaks the grading "
               f"policy ({reasons}); this item scores zero")
    if item and item.isidentifier():
        lines += [
            f"def {item}(*args, **kwargs):",
            f"    raise AssertionError({message!r})",
        ]
    lines.append(f"print({message!r})")
    return "\n".join(lines)


def write_report(path, student, assignment, notebook, report):
    """Write (or remove, when clean) the JSON report of one notebook."""
    path = Path(path)
    if not report:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "student": student, "assignment": assignment, "notebook": notebook,
        "violations": {k: [asdict(v) for v in vs]
                       for k, vs in report.items()},
    }, indent=1))


def read_reports(report_dir):
    """Every report under ``report_dir``: a list of dicts (see write_report)."""
    return [json.loads(p.read_text())
            for p in sorted(Path(report_dir).rglob("*.json"))]
