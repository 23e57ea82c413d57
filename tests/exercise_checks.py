"""The fairness and sharpness checks every chapter's exercise tests share.

``results`` is what ``coursekit.runner.run_inprocess`` returns: for each
test cell's grade_id, ``(passed, message)``.
"""

import re
import textwrap


def code(text):
    """A learner's answer written as an indented block in a test file."""
    return textwrap.dedent(text).strip("\n")


def function(name, args, body):
    """The source of ``def name(args):`` with ``body``, NumPy imported."""
    body = textwrap.indent(code(body), "    ")
    return f"import numpy as np\n\ndef {name}({args}):\n{body}\n"


def failures(results):
    """``{grade_id: message}`` of the test cells that failed."""
    return {k: m for k, (ok, m) in results.items() if not ok}


def assert_all_pass(results):
    """A correct answer, whatever its style, passes every test cell."""
    failed = failures(results)
    assert not failed, failed


def assert_fails_as_planned(results, answers, must_fail, name):
    """A planted mistake fails the cells in ``must_fail`` with a message
    matching each one's pattern, and costs no other item's points (a cell
    of an item not in ``answers`` must pass)."""
    for grade_id, pattern in must_fail.items():
        ok, message = results[grade_id]
        assert not ok, f"{grade_id} passed {name!r}"
        assert re.search(pattern, message), (grade_id, message)
    others = {k: m for k, m in failures(results).items()
              if not any(k.startswith(f"test_{i}_") for i in answers)}
    assert not others, others
