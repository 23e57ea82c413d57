"""Launch, repository and issue buttons follow ``repository.url``: none in
a book built with the default configuration (no placeholder anywhere),
every one well formed once a fork's URL is set. A two-page book with the
course's ``_config.yml`` and extensions is built each way."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
from repository_buttons import real_repository  # noqa: E402

FORK = "https://github.com/someone/deep-learning-by-hand"
TOC = "format: jb-book\nroot: intro\nchapters:\n  - file: lesson\n"


def build(tmp, url=None):
    """Build the small book in ``tmp`` (with ``repository.url`` set to
    ``url`` if given); ``{page: html}``."""
    for name in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / name, tmp / name)
    shutil.copytree(ROOT / "_ext", tmp / "_ext")
    shutil.copytree(ROOT / "images", tmp / "images")
    config = (tmp / "_config.yml").read_text()
    assert '\n  url: ""\n' in config  # the default ships no URL
    if url:
        config = config.replace('\n  url: ""\n', f"\n  url: {url}\n")
    (tmp / "_config.yml").write_text(config)
    (tmp / "_toc.yml").write_text(TOC)
    (tmp / "intro.md").write_text("# Intro\n\nA page.\n")
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A lesson\n\nText.")]),
        str(tmp / "lesson.ipynb"))
    jb = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run([str(jb), "build", str(tmp), "--builder", "html",
                           "-W"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = tmp / "_build" / "html"
    return {p: (html / f"{p}.html").read_text() for p in ("intro", "lesson")}


@pytest.fixture(scope="module")
def default_book(tmp_path_factory):
    return build(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def fork_book(tmp_path_factory):
    return build(tmp_path_factory.mktemp("fork"), FORK)


def test_the_default_book_has_no_dead_button(default_book):
    for name, page in default_book.items():
        for dead in ("your-org", "example.edu", "mybinder.org",
                     "colab.research.google.com", "github.com",
                     "git-pull"):
            assert dead not in page, (name, dead)
    # the download button stays
    assert "_sources/lesson.ipynb" in default_book["lesson"]


def test_a_forks_url_gives_every_button_well_formed(fork_book):
    page = fork_book["lesson"]
    want = [
        "https://mybinder.org/v2/gh/someone/deep-learning-by-hand/main"
        "?urlpath=lab/tree/lesson.ipynb",
        "https://colab.research.google.com/github/someone/"
        "deep-learning-by-hand/blob/main/lesson.ipynb",
        FORK,
        f"{FORK}/issues/new?title=Issue%20on%20page%20%2Flesson.html"
        "&body=Your%20issue%20content%20here.",
    ]
    links = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"',
                                                         page)]
    for url in want:
        assert url in links, (url, [h for h in links if "//" in h])
    assert "git-pull" not in page  # no JupyterHub configured
    assert FORK in fork_book["intro"]  # the repository button on every page


@pytest.mark.parametrize("url, real", [
    ("https://github.com/someone/deep-learning-by-hand", True),
    ("https://github.com/someone/deep-learning-by-hand.git", True),
    ("https://gitlab.com/a-group/course/", True),
    ("", False),
    ("https://github.com/your-org/deep-learning-by-hand", False),
    ("https://github.com/someone", False),
    ("github.com/someone/repo", False),
])
def test_what_counts_as_a_repository(url, real):
    assert real_repository(url) is real
