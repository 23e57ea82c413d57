"""The in-browser site (JupyterLite) inside the built book.

``_ext/lite_site.py`` builds it into ``lite/`` at the end of the book's
HTML build. Checked here, in two books:

- ``small``: the course's ``_config.yml`` and extensions, package and
  notebooks, with a table of contents of two notebook pages and no
  execution, built in a temporary folder with the network closed (a
  proxy on a closed port); about 15 s;
- ``built``: ``_build/html`` as ``make book`` left it (or ``BOOK_HTML``),
  when it is current and its lite site complete; otherwise skipped
  (tests/test_book_browser.py builds it).

The site holds the package's wheel without the hidden tests and every
``chapters/*/*.ipynb``; every notebook page's JupyterLite button leads to
a file of the site; the leak scan passes. Opening the site needs the
Pyodide runtime from its CDN, which no test here can reach.
"""

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
from lite_site import (CONTENTS, HIDDEN_KIT, hidden_tests_in,  # noqa: E402
                       launch_url, strip_wheel)

NOTEBOOKS = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob(CONTENTS))
BUILT = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
MARKER = "### BEGIN HIDDEN TESTS"
CLOSED = "http://127.0.0.1:9"  # a proxy on a port where nothing listens


# ---------------------------------------------------------------- the wheel

def make_wheel(path, files):
    """A wheel at ``path`` holding ``files`` ({name: text}) and a RECORD
    that lists them with their hashes."""
    dist = "tiny-0.1.dist-info"
    files = dict(files)
    files[f"{dist}/METADATA"] = "Metadata-Version: 2.1\nName: tiny\nVersion: 0.1\n"
    files[f"{dist}/WHEEL"] = ("Wheel-Version: 1.0\nGenerator: hand\n"
                              "Root-Is-Purelib: true\nTag: py3-none-any\n")
    rows = [[name, record_hash(text.encode()), str(len(text.encode()))]
            for name, text in files.items()]
    rows.append([f"{dist}/RECORD", "", ""])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    files[f"{dist}/RECORD"] = out.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return "sha256=" + digest.rstrip(b"=").decode()


def record_rows(wheel):
    zf = zipfile.ZipFile(wheel)
    (record,) = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    return record, list(csv.reader(io.StringIO(zf.read(record).decode())))


def test_strip_wheel_removes_the_hidden_kit(tmp_path):
    hidden_nb = json.dumps({"cells": [{"cell_type": "code", "source": [
        "### BEGIN HIDDEN TESTS\n", "assert relu(-1) == 0\n",
        "### END HIDDEN TESTS\n"]}]})
    wheel = make_wheel(tmp_path / "tiny-0.1-py3-none-any.whl", {
        "coursekit/__init__.py": "",
        "coursekit/notebooks.py": f'HIDDEN = ("{MARKER}", "...")\n',
        "coursekit/course/nbgrader_config.py": "c = get_config()\n",
        "coursekit/course/solutions/ch01/exercises.ipynb": hidden_nb,
        "coursekit/courseware.py": "# not under coursekit/course/\n",
    })
    assert hidden_tests_in(wheel) == [
        "coursekit/course/solutions/ch01/exercises.ipynb"]

    out = tmp_path / "out" / wheel.name
    out.parent.mkdir()
    removed = strip_wheel(wheel, out)
    assert sorted(removed) == ["coursekit/course/nbgrader_config.py",
                               "coursekit/course/solutions/ch01/exercises.ipynb"]
    zf = zipfile.ZipFile(out)
    names = zf.namelist()
    assert not [n for n in names if n.startswith(HIDDEN_KIT)], names
    assert "coursekit/courseware.py" in names
    assert hidden_tests_in(out) == []
    # the RECORD lists exactly the entries left, with their true hashes
    record, rows = record_rows(out)
    assert sorted(r[0] for r in rows) == sorted(names)
    for name, digest, size in rows:
        if name != record:
            data = zf.read(name)
            assert (digest, size) == (record_hash(data), str(len(data))), name
    # every entry left is unchanged
    original = zipfile.ZipFile(wheel)
    for name in names:
        if name != record:
            assert zf.read(name) == original.read(name), name
    # and pip still takes it
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
         "-q", "--target", str(tmp_path / "target"), str(out)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "target" / "coursekit" / "courseware.py").exists()
    assert not (tmp_path / "target" / "coursekit" / "course").exists()


def test_the_link_is_relative_to_its_page():
    """What the theme's ``pathto(..., 1)`` gives on a nested page."""
    def pathto(target, resource):
        assert resource == 1
        return f"../../{target}"

    assert launch_url(pathto, "chapters/ch01_perceptrons/a b.ipynb") == (
        "../../lite/lab/index.html?path=chapters/ch01_perceptrons/a%20b.ipynb")


# ---------------------------------------------------------------- the books

def build_small_book(tmp):
    """The course's config, extensions, package and notebooks in ``tmp``,
    two notebook pages, no execution, no network; its ``_build/html``."""
    for name in ("_config.yml", "references.bib", "pyproject.toml",
                 "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("_ext", "images", "dlcore", "coursekit"):
        shutil.copytree(ROOT / name, tmp / name, ignore=ignore)
    for notebook in NOTEBOOKS:
        (tmp / notebook).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / notebook, tmp / notebook)
    config = (tmp / "_config.yml").read_text()
    # the default names no repository: the JupyterLite button needs none
    assert '\n  url: ""\n' in config
    assert "\n  execute_notebooks: cache\n" in config
    config = config.replace("\n  execute_notebooks: cache\n",
                            '\n  execute_notebooks: "off"\n')
    (tmp / "_config.yml").write_text(config)
    pages = [n[:-len(".ipynb")] for n in NOTEBOOKS
             if n.startswith("chapters/ch01_")]
    (tmp / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n"
        + "".join(f"  - file: {p}\n" for p in pages))
    (tmp / "intro.md").write_text("# Intro\n\nA page.\n")
    env = dict(os.environ)
    for var in ("http_proxy", "https_proxy", "all_proxy"):
        env[var] = env[var.upper()] = CLOSED
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    jb = Path(sys.executable).parent / "jupyter-book"
    # not -W: the pages' glue keys are missing without execution
    done = subprocess.run([str(jb), "build", str(tmp), "--builder", "html"],
                          env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "JupyterLite build done" in done.stdout
    return tmp / "_build" / "html"


def _newest(paths):
    return max((p.stat().st_mtime for p in paths), default=0.0)


def built_book_problem():
    """Why ``_build/html`` cannot be checked as it is; None if it can."""
    if "BOOK_HTML" in os.environ:
        return None if (BUILT / "lite").is_dir() else f"no lite/ in {BUILT}"
    from test_book_browser import book_is_stale

    stamp = ROOT / "_build" / "jupyterlite" / "built"
    if book_is_stale() or not stamp.exists():
        return "_build/html is missing or older than its sources: make book"
    inputs = [ROOT / "pyproject.toml", *(ROOT / "_ext").glob("*.py")]
    for package in ("dlcore", "coursekit"):
        inputs += [p for p in (ROOT / package).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts]
    built = stamp.stat().st_mtime
    if _newest(inputs) > built:
        return "the package or _ext changed since _build/html: make book"
    if _newest(BUILT.rglob("*.html")) > built:
        return "_build/html is being built (its lite site is not yet)"
    return None


@pytest.fixture(scope="module", params=["small", "built"])
def site(request, tmp_path_factory):
    """A built book's HTML folder with its lite site."""
    if request.param == "small":
        return build_small_book(tmp_path_factory.mktemp("book"))
    problem = built_book_problem()
    if problem:
        pytest.skip(problem)
    return BUILT


def lite_wheel(html):
    wheels = sorted((html / "lite" / "pypi").glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["deep_learning_by_hand"]
    return wheels[0]


# ---------------------------------------------------------------- the site

@pytest.mark.book
def test_the_site_carries_the_wheel_without_hidden_tests(site):
    wheel = lite_wheel(site)
    index = json.loads((site / "lite" / "pypi" / "all.json").read_text())
    assert list(index) == ["deep-learning-by-hand"], list(index)
    jupyterlite = json.loads((site / "lite" / "jupyter-lite.json").read_text())
    urls = json.dumps(jupyterlite["jupyter-config-data"]["litePluginSettings"])
    assert "./pypi/all.json" in urls  # piplite looks there first

    zf = zipfile.ZipFile(wheel)
    names = zf.namelist()
    assert "dlcore/layers.py" in names and "coursekit/check.py" in names
    assert not [n for n in names if n.startswith(HIDDEN_KIT)]
    assert hidden_tests_in(wheel) == []
    record, rows = record_rows(wheel)
    assert sorted(r[0] for r in rows) == sorted(names)
    for name in names:
        text = zf.read(name).decode("utf-8", errors="replace")
        # only the code that defines the marker names it
        if MARKER in text:
            assert name == "coursekit/notebooks.py", name
            assert text == (ROOT / name).read_text(), name


@pytest.mark.book
def test_the_wheel_holds_the_trees_package_and_nothing_else(site):
    """Every file of the bundled wheel is a file of the working tree's
    dlcore/ or coursekit/, byte for byte: nothing else came in."""
    zf = zipfile.ZipFile(lite_wheel(site))
    for name in zf.namelist():
        if ".dist-info/" in name:
            continue
        assert name.startswith(("dlcore/", "coursekit/")), name
        assert (ROOT / name).is_file(), name
        assert zf.read(name) == (ROOT / name).read_bytes(), name


@pytest.mark.book
def test_the_site_has_every_notebook_in_the_chapters_layout(site):
    assert NOTEBOOKS, "no notebooks in chapters/"
    files = site / "lite" / "files"
    missing = [n for n in NOTEBOOKS if not (files / n).is_file()]
    assert not missing, missing
    for notebook in NOTEBOOKS:
        folder, name = notebook.rsplit("/", 1)
        listing = json.loads(
            (site / "lite" / "api" / "contents" / folder / "all.json").read_text())
        assert name in [c["name"] for c in listing["content"]], notebook
    # nothing else: no page source, no hidden kit
    extra = sorted(p.relative_to(files).as_posix() for p in files.rglob("*")
                   if p.is_file()
                   and p.relative_to(files).as_posix() not in NOTEBOOKS)
    assert not extra, extra


def launch_buttons(page):
    """The hrefs of the JupyterLite buttons in a page's HTML."""
    return re.findall(r'<a href="([^"]+)"[^>]*\s+class="[^"]*btn-jupyterlite',
                      page)


@pytest.mark.book
def test_every_notebook_page_has_a_button_that_resolves(site):
    """Relative to its page, so it resolves at any base path."""
    notebook_pages = 0
    for html in sorted(site.rglob("*.html")):
        rel = html.relative_to(site).as_posix()
        if rel.startswith(("lite/", "_sources/", "_static/")):
            continue
        hrefs = launch_buttons(html.read_text(encoding="utf-8"))
        notebook = rel[:-len(".html")] + ".ipynb"
        if notebook not in NOTEBOOKS:
            assert not hrefs, (rel, hrefs)
            continue
        notebook_pages += 1
        assert len(hrefs) == 1, (rel, hrefs)
        url = urlsplit(hrefs[0].replace("&amp;", "&"))
        assert not url.scheme and not url.netloc, hrefs[0]
        assert not url.path.startswith("/"), hrefs[0]
        target = (html.parent / url.path).resolve()
        assert target == (site / "lite" / "lab" / "index.html").resolve(), (
            rel, hrefs[0])
        assert target.is_file(), (rel, hrefs[0])
        (opened,) = parse_qs(url.query)["path"]
        assert opened == notebook, (rel, opened)
        assert (site / "lite" / "files" / opened).is_file(), (rel, opened)
    assert notebook_pages >= 2, "no notebook page with a JupyterLite button"


@pytest.mark.book
def test_the_pages_ask_nothing_of_the_network(site):
    """jupyterlite-sphinx adds a Google Fonts stylesheet to every page;
    the book drops it."""
    for html in site.glob("**/*.html"):
        if not html.relative_to(site).as_posix().startswith("lite/"):
            assert "fonts.googleapis" not in html.read_text(encoding="utf-8")


@pytest.mark.book
def test_the_leak_scan_passes_over_the_site(site):
    """``python -m coursekit leaks`` over ``lite/`` (its notebooks, pages
    and listings), markers included; the book's pages are the browser
    test's (which spares the guides' documented markers)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run([sys.executable, "-m", "coursekit", "leaks",
                           str(site / "lite")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert ", 0 leak(s)" in done.stdout
