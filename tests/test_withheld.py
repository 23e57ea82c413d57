"""coursekit.withheld: the dlcore copy a graded kernel sees has no code
that does an item of the chapter (or a later one), under its own name or
a helper's."""

import ast

from coursekit import withheld


def _bodies(path):
    """{top-level function or class name: its source} of a module."""
    text = path.read_text()
    return {node.name: ast.get_source_segment(text, node)
            for node in ast.parse(text).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def test_train_networks_steps_are_withheld_under_every_name(tmp_path):
    """Chapter 5 grades train_network: its reference is forwarded to the
    judge, and the helpers that take its steps (the trainer's epoch, the
    milestones' train_quietly, Trainer) are not in the kernel's dlcore."""
    dest = withheld.build(tmp_path / "dlcore", ["train_network"], [])
    trainer = _bodies(dest / "trainer.py")
    grading = _bodies(dest / "grading.py")
    assert "reference_call('train_network'" in trainer["train_network"]
    for name, body in (("_sgd_epoch", trainer["_sgd_epoch"]),
                       ("Trainer", trainer["Trainer"])):
        assert "raise DelegationError" in body, name
        assert "gradient" not in body, name
    assert "reference_call" in grading["train_quietly"]
    assert "_sgd_epoch" not in grading["train_quietly"]


def test_a_later_chapter_keeps_them(tmp_path):
    dest = withheld.build(tmp_path / "dlcore", ["Convolution"], [])
    trainer = _bodies(dest / "trainer.py")
    grading = _bodies(dest / "grading.py")
    assert "network.gradient" in trainer["_sgd_epoch"]
    assert "_sgd_epoch(" in trainer["train_network"]
    assert "_sgd_epoch(" in grading["train_quietly"]
