"""The book's rendering checks fail where they should: one small page per
class of defect that a reader found in the built book, with the book's own
markup (myst-nb's output areas, sphinx-book-theme's sidebar), served over
HTTP and opened in the same headless Chromium as tests/test_book_browser.py
by the same ``page_defects``. Each planted page must fail on its class and
on no other; a clean page with the look-alikes that are fine (a rendered
table, ``$`` in code, an error message a lesson prints, a cell tagged
``raises-exception``, ``.venv`` in a guide's prose) must pass. No book is
built: the whole file takes a few seconds.
"""

import functools
import http.server
import threading

import pytest
from test_book_browser import _QuietHandler, browser, open_page, page_defects

__all__ = ["browser"]  # the session's Chromium, shared with the book test

TABLE = "raw Markdown table"
MATH = "raw $ math"
ALARM = "warning or traceback in an output"
PATH = "build-machine path"
REPR = "default repr"
SIDEBAR = "title twice in the sidebar"

SEARCH = ('<button class="btn search-button-field search-button__button">'
          '<span class="search-button__default-text">Search</span></button>')
SIDEBAR_OK = ('<p class="caption"><span class="caption-text">Chapters'
              '</span></p><ul><li><a class="reference internal" href="#">'
              '1. Perceptrons</a><ul><li><a class="reference internal" '
              'href="#">1.1. The perceptron</a></li></ul></li></ul>')

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>planted</title>
<link rel="icon" href="data:,"></head>
<body>
<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar">
{search}
<nav class="bd-links bd-docs-nav" aria-label="Main">{nav}</nav>
</div>
<main id="main-content"><article class="bd-article">
<h1>1.1. The perceptron</h1>
<p>A perceptron fires when the sum is positive.</p>
{body}
</article></main>
</body></html>
"""


def output(text, kind="stream", tag=None):
    """A code cell's output area as myst-nb writes it."""
    cls = f"cell docutils container{f' tag_{tag}' if tag else ''}"
    return (f'<div class="{cls}"><div class="cell_input"><pre>x = 1</pre>'
            f'</div><div class="cell_output docutils container">'
            f'<div class="output {kind}"><div class="highlight"><pre>{text}'
            f'</pre></div></div></div></div>')


def markdown_output(html):
    """A ``display(Markdown(...))`` output, rendered to ``html``."""
    return ('<div class="cell docutils container"><div class="cell_output '
            f'docutils container"><div class="output text_markdown">{html}'
            '</div></div></div>')


CLEAN = "".join([
    # a table display(Markdown(...)) rendered as one
    markdown_output("<table><tr><th>H</th><th>OH</th></tr>"
                    "<tr><td>4</td><td>2</td></tr></table>"),
    # typeset math; dollars and pipes in code are code
    '<p>The step <span class="math notranslate nohighlight">'
    r'<mjx-container>[w·x + b &gt; 0]</mjx-container></span>.</p>',
    "<p>In a shell: <code>echo $HOME | wc</code>.</p>",
    "<pre>price = \"$5\"  # | a | b |\n|---|---|</pre>",
    # what a lesson prints on purpose, and a cell meant to fail
    output("ValueError: a filter of size 5 does not fit an input of size 3"),
    output("ValueError                  Traceback (most recent call last)\n"
           "ValueError: shapes differ", kind="traceback",
           tag="raises-exception"),
    # a guide tells the reader where the venv is
    "<p><code>make lab</code> installs into <code>.venv</code>.</p>",
    output("relative error: 3.1e-09; object of type Affine"),
])

PLANTED = {
    # display(Markdown(...)) rendered as CommonMark: no table
    "markdown-table-output": (TABLE, markdown_output(
        "<p>| layer | output |\n|---|---:|\n| conv | (96, 55, 55) |</p>")),
    "markdown-table-prose": (TABLE, "<p>| a | b |\n| 1 | 2 |</p>"),
    "markdown-table-dashes": (TABLE, "<p>x |\u2014:|\u2014:| y</p>"),
    # a formula split by a line that starts with "+": a $ and a bullet
    "dollar-split": (MATH, r"<p>the three share $[\mathbf{w}\cdot\mathbf{x}"
                           "</p><ul><li><p>b &gt; 0]$; only</p></li></ul>"),
    "double-dollar": (MATH, r"<p>$$\hat x = \frac{x - \mu}{\sigma}$$</p>"),
    "warning-stderr": (ALARM, output(
        "auto.py:21: TqdmWarning: IProgress not found.", kind="stderr")),
    "warning-stdout": (ALARM, output("RuntimeWarning: overflow in exp")),
    "traceback": (ALARM, output(
        "KeyboardInterrupt          Traceback (most recent call last)",
        kind="traceback")),
    "error-stderr": (ALARM, output("ValueError: bad shape", kind="stderr")),
    "path-venv": (PATH, output(
        ".venv/lib/python3.11/site-packages/tqdm/auto.py:21: x")),
    "path-home": (PATH, output("saved to /home/builder/figure.png")),
    "path-prose": (PATH, "<p>Data in /root/data/mnist.npz.</p>"),
    "path-this-machine": (PATH, output(f"{__file__}")),
    "object-repr": (REPR, output(
        "&lt;threadpoolctl.threadpool_limits at 0x7f3db04e3a90&gt;",
        kind="text_plain")),
}
PLANTED_SIDEBARS = {
    "caption-and-chapter": (
        SEARCH, '<p class="caption"><span class="caption-text">'
                "1. Perceptrons</span></p>" + SIDEBAR_OK.replace(
                    "Chapters", "Reference")),
    "two-search-boxes": (SEARCH + SEARCH, SIDEBAR_OK),
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The base URL of a server over the planted pages."""
    root = tmp_path_factory.mktemp("planted")
    (root / "clean.html").write_text(
        PAGE.format(search=SEARCH, nav=SIDEBAR_OK, body=CLEAN))
    for name, (_, body) in PLANTED.items():
        (root / f"{name}.html").write_text(
            PAGE.format(search=SEARCH, nav=SIDEBAR_OK, body=CLEAN + body))
    for name, (search, nav) in PLANTED_SIDEBARS.items():
        (root / f"{name}.html").write_text(
            PAGE.format(search=search, nav=nav, body=CLEAN))
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def defects(browser, url):
    open_page(browser, url)
    return page_defects(browser)


def test_a_clean_page_passes(browser, planted):
    assert defects(browser, f"{planted}/clean.html") == []


CASES = {name: kind for name, (kind, _) in PLANTED.items()}
CASES.update({name: SIDEBAR for name in PLANTED_SIDEBARS})


@pytest.mark.parametrize("name", CASES)
def test_each_planted_defect_fails_its_check(browser, planted, name):
    found = defects(browser, f"{planted}/{name}.html")
    assert found, f"{name}: no check failed"
    kinds = {line.split(":")[0] for line in found}
    assert kinds == {CASES[name]}, f"{name}: {found}"


def test_every_class_is_planted():
    assert set(CASES.values()) == {TABLE, MATH, ALARM, PATH, REPR, SIDEBAR}
