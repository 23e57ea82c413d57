"""``dlcore.glue``: lessons keep their glued numbers for the book and run
where myst-nb is not installed (the learner's set, Binder, Colab)."""

import sys
import types
from pathlib import Path

import pytest

from coursekit.notebooks import read
from dlcore.glue import glue

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p for p in (ROOT / "chapters").glob("*/*.ipynb")
                 if p.name != "exercises.ipynb")


def test_no_lesson_needs_myst_nb():
    found = [p.relative_to(ROOT).as_posix() for p in LESSONS
             if any("myst_nb" in c.source for c in read(p).cells
                    if c.cell_type == "code")]
    assert not found, f"import glue from dlcore.glue instead: {found}"


def test_in_the_book_it_is_myst_nbs_glue(monkeypatch):
    calls = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append(
        (name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    glue("acc", 0.97, display=False)
    glue("fig", "a figure")
    assert calls == [("acc", 0.97, False), ("fig", "a figure", True)]


@pytest.mark.parametrize("display, shown", [(True, ["0.97"]), (False, [])])
def test_without_myst_nb_it_shows_the_value_when_asked(monkeypatch, display,
                                                        shown):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import fails
    seen = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display",
                        lambda v: seen.append(str(v)))
    glue("acc", 0.97, display=display)
    assert seen == shown
