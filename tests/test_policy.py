"""The answer-cell policy (issue 8, item 2): what it refuses, and that no
reference solution of any chapter trips it."""

from pathlib import Path

import pytest

from coursekit.notebooks import read
from coursekit.policy import check_notebook, check_source, replacement

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(ROOT.glob("solutions/*/*.ipynb"))
RELEASED = sorted(ROOT.glob("chapters/*/exercises.ipynb"))

BAD = {
    "get_ipython().input_transformers_cleanup.append(f)": "IPython",
    "import IPython": "importing `IPython`",
    "from ipykernel import kernelapp": "importing `ipykernel`",
    "ip.set_custom_exc((Exception,), f)": "IPython",
    "shell.showtraceback = f": "IPython",
    "!cat ../../solutions/ch01/exercises.ipynb": "get_ipython",
    "%run ../grader.py": "get_ipython",
    "import numpy as np\nnp.allclose = lambda *a, **k: True": "np.allclose",
    "import numpy.testing as t\nt.assert_allclose = print": "t.assert_allclose",
    "import numpy as np\nsetattr(np, 'isclose', len)": "setattr",
    "import dlcore.layers as L\ndel L.Affine": "deleting",
    "import numpy as np\nnp.__dict__['isclose'] = len": "__dict__",
    "exec('x = 1')": "exec",
    "eval('1')": "eval",
    "compile('1', 'f', 'eval')": "compile",
    "__import__('os')": "__import__",
    "import importlib": "importlib",
    "import sys\nsys.modules['numpy'] = None": "sys",
    "data = open('gradebook.db').read()": "open",
    "import os\nos._exit(0)": "`os`",
    "from pathlib import Path": "pathlib",
    "import socket": "socket",
    "import subprocess": "subprocess",
    "import shutil": "shutil",
    "from urllib.request import urlopen": "urllib",
    "import numpy as np\nx = np.load('solutions.npy')": ".load",
    "from dlcore.guard import _forbidden": "dlcore.guard",
    "def isinstance(*a):\n    return True": "built-in",
    "np = None": "module",
    "x = ().__class__.__base__.__subclasses__()": "__class__",
    # cannot be parsed, so cannot be checked: refused, not let through
    "def and_gate(x1, x2)\n    return 1": "not valid Python",
    "time import dlcore.grading as g; g.call = None": "not valid Python",
}


@pytest.mark.parametrize("source", list(BAD))
def test_forbidden_code_is_found_with_its_line_and_reason(source):
    found = check_source(source)
    assert found, f"the policy let through: {source!r}"
    assert any(BAD[source] in v.message for v in found), found
    assert all(1 <= v.line <= source.count("\n") + 1 for v in found)


GOOD = [
    "import numpy as np\n\nclass A:\n    def __init__(self, W):\n"
    "        super().__init__()\n        self.W = W\n        self.dW = None\n"
    "    def backward(self, d):\n        self.dW = d\n"
    "        for p in [self]:\n            p.W -= 0.1 * p.dW\n"
    "        return d\n",
    "def f(x):\n    raise NotImplementedError()",
    "from dlcore.perceptron import train_perceptron",  # the guard's job
    "import math, itertools, warnings\nfrom collections import OrderedDict",
    "while True:\n    pass",
]


@pytest.mark.parametrize("source", GOOD)
def test_honest_code_passes(source):
    assert check_source(source) == []


@pytest.mark.parametrize("path", SOURCES + RELEASED,
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_solution_or_release_trips_the_policy(path):
    assert check_notebook(read(path)) == {}


def test_every_chapter_with_a_source_is_checked():
    assert len(SOURCES) >= 1
    assert any("ch01_perceptrons" in str(p) for p in SOURCES)


def test_replacement_fails_the_item_and_says_why():
    src = "import numpy as np\ndef relu(x):\n    return x\nnp.maximum = min\n"
    found = check_source(src)
    code = replacement("relu", src, found, "relu")
    ns = {}
    exec(compile(code, "<policy>", "exec"), ns)
    with pytest.raises(AssertionError, match="line 4"):
        ns["relu"](1)
    assert "np.maximum = min" in code  # the learner's code, as a comment
