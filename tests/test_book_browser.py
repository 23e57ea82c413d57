"""The built book, as a reader sees it: headless Chromium, network blocked.

Every page of the table of contents, in both editions (the Chinese one
in ``zh/``), is opened from a local HTTP server over ``_build/html``
(both built first, one build at a time across test workers, if missing
or older than their sources).
Each page must load without console errors, with every image loaded and
every formula typeset by the bundled MathJax, and without the defects a
reader finds (``page_defects``): raw Markdown tables or ``$`` math in the
text, a warning or traceback in a cell's output, a path of the build
machine, an object's default repr, a title twice in the sidebar. No page
may show solution code or hidden tests; the search page must find
"backpropagation", the Chinese one 反向传播.
tests/test_rendering_checks.py shows that each of these checks fails on
a page with that defect. Screenshots of the landing page, one page per
chapter, and the Chinese landing, lesson and exercise pages go to
``artifacts/screenshots/``.

Needs Debian's ``chromium`` and ``chromium-driver`` packages and the
``selenium`` package (the ``test`` extra); without them the tests are
skipped. Chromium is never downloaded.
"""

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from coursekit.leaks import all_secrets, find_leaks

ROOT = Path(__file__).resolve().parent.parent
# BOOK_HTML: test a book built elsewhere, as it is (no build)
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
SHOTS = ROOT / "artifacts" / "screenshots"
INSTALL = ("install it with: apt-get install -y chromium chromium-driver "
           "(and pip install -e '.[test]' for selenium)")

pytestmark = pytest.mark.book


# ---------------------------------------------------------------- pages

def toc_pages():
    """The book's pages in table-of-contents order: root first."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return pages


PAGES = toc_pages()
CHAPTER_PAGES = [p for p in PAGES if p.startswith("chapters/")]
# the Chinese edition's twin of every page (scripts/i18n.py)
ZH_PAGES = [f"zh/{p}" for p in PAGES]


def screenshot_pages():
    """The landing page and each chapter's first lesson (else its index)."""
    chosen = {PAGES[0]: "intro"}
    for chapter in sorted({p.split("/")[1] for p in CHAPTER_PAGES}):
        pages = [p for p in CHAPTER_PAGES if p.split("/")[1] == chapter]
        lessons = [p for p in pages
                   if not p.endswith(("/index", "/exercises"))]
        chosen[(lessons or pages)[0]] = chapter
    # the Chinese edition: the landing page, a lesson, an exercise page
    chosen.update({"zh/intro": "zh-intro",
                   "zh/chapters/ch05_backprop/02_affine_softmax": "zh-lesson",
                   "zh/chapters/ch05_backprop/exercises": "zh-exercises"})
    return chosen


SCREENSHOTS = screenshot_pages()


# ---------------------------------------------------------------- the build

SOURCE_SUFFIXES = {".md", ".ipynb", ".yml", ".bib", ".svg", ".png"}
SOURCE_DIRS = ["chapters", "guides", "reference", "images"]


def _newest(paths):
    return max((p.stat().st_mtime for p in paths), default=0.0)


def book_is_stale():
    """True when _build/html is missing or older than a source file."""
    if not (HTML / "index.html").exists():
        return True
    sources = [ROOT / n for n in ("_config.yml", "_toc.yml", "intro.md",
                                  "references.bib")]
    for d in SOURCE_DIRS:
        sources += [p for p in (ROOT / d).rglob("*")
                    if p.suffix in SOURCE_SUFFIXES
                    and ".ipynb_checkpoints" not in p.parts]
    built = _newest(p for p in HTML.rglob("*.html"))
    return _newest(p for p in sources if p.exists()) > built


ZH = "zh"  # the Chinese edition's folder in the site (scripts/i18n.py)


def zh_is_stale():
    """True when the Chinese edition is missing or older than its
    catalogues, the extensions or the English build."""
    built = HTML / ZH / "intro.html"
    if not built.exists():
        return True
    sources = [*(ROOT / "locales").rglob("*.po"), ROOT / "_config.yml",
               ROOT / "_toc.yml", *(ROOT / "_ext").rglob("*"),
               HTML / "intro.html"]
    return _newest(p for p in sources if p.is_file()) > built.stat().st_mtime


@contextlib.contextmanager
def build_lock():
    """One build of the book at a time: test files on other pytest-xdist
    workers that need the book wait here, then find it built."""
    import fcntl

    lock = ROOT / "_build" / ".test-build.lock"
    lock.parent.mkdir(exist_ok=True)
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(cmd, what):
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=1800)
    assert run.returncode == 0, (
        f"{what} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")


@pytest.fixture(scope="session")
def book():
    """``_build/html`` with both editions (the Chinese one in ``zh/``), as
    ``make book`` builds them, when missing or stale."""
    if "BOOK_HTML" in os.environ:
        return HTML
    with build_lock():
        if book_is_stale():
            jb = Path(sys.executable).parent / "jupyter-book"
            _run([str(jb) if jb.exists() else "jupyter-book", "build", ".",
                  "--builder", "html"], "jupyter-book build")
        if zh_is_stale():
            _run([sys.executable, str(ROOT / "scripts" / "i18n.py"),
                  "build"], "the Chinese edition's build")
    return HTML


@pytest.fixture(scope="session")
def server(book):
    """The base URL of an HTTP server on localhost serving the book."""
    handler = functools.partial(_QuietHandler, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# ---------------------------------------------------------------- browser

def _chromium_paths():
    browser = os.environ.get("CHROMIUM") or shutil.which("chromium")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    return browser, driver


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium that can reach localhost and nothing else."""
    chromium, chromedriver = _chromium_paths()
    if not chromium or not chromedriver:
        pytest.skip(f"Chromium or chromedriver not found; {INSTALL}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip(f"selenium is not installed; {INSTALL}")
    os.environ.setdefault("SE_OFFLINE", "true")  # no Selenium Manager fetch

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [
        "--headless=new",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        # the network: names resolve to nothing, and anything that is not
        # loopback goes to a proxy on a closed port
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, "
        "EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--disable-gpu",
    ]:
        options.add_argument(flag)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses root else
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})

    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


# JavaScript run in the page ------------------------------------------------

# Resolves when every image has loaded or failed (lazy ones made eager),
# then reports the ones without pixels.
BROKEN_IMAGES = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { i.loading = "eager"; });
Promise.all(imgs.map(i => i.decode().catch(() => null))).then(() => {
  done(imgs.filter(i => !i.complete || i.naturalWidth === 0)
           .map(i => i.getAttribute("src")));
});
"""

# Resolves when MathJax has typeset the page (or at once if no MathJax).
MATH_DONE = """
const done = arguments[arguments.length - 1];
const mj = window.MathJax;
if (!mj || !mj.startup || !mj.startup.promise) { done(mj ? "loading" : "none"); }
else { mj.startup.promise.then(() => done("typeset"), e => done(String(e))); }
"""

# The formulas of the page: how many, and how many MathJax left untouched.
MATH_STATE = """
const math = Array.from(document.querySelectorAll(".math"));
const body = document.body.cloneNode(true);
body.querySelectorAll("pre, code, script, style").forEach(e => e.remove());
return {
  formulas: math.length,
  untypeset: math.filter(e => !e.querySelector("mjx-container"))
                 .map(e => e.textContent.slice(0, 80)),
  containers: document.querySelectorAll("mjx-container").length,
  rawDollars: body.textContent.includes("$$"),
};
"""


# What a reader sees as broken, in five classes; each entry is
# [class, what]. arguments[0]: strings that only a path on the build
# machine contains (anywhere on the page); arguments[1]: ones that are
# only wrong in a cell's output (the guides show ".venv" on purpose).
DEFECTS = r"""
const [machine, outputOnly] = arguments;
const found = [];
const add = (kind, what) => found.push([kind, what.replace(/\s+/g, " ")
                                               .trim().slice(0, 100)]);
// the text of root without the elements matching drop
function text(root, drop) {
  const copy = root.cloneNode(true);
  copy.querySelectorAll(drop).forEach(e => e.remove());
  return copy.textContent;
}
const article = document.querySelector("article") || document.body;
const CODE = "pre, script, style, mjx-container, .math, mjx-assistive-mml";

// 1. Markdown left as text: table rows, $ or $$ (code and typeset math
//    aside; inline code stays for tables, whose cells hold it)
for (const line of text(article, CODE).split("\n")) {
  // (a separator row's --- may have become an em dash)
  if (/\|\s*:?[-\u2013\u2014]+:?\s*\|/.test(line)
      || /^\s*\|.*\|.*\|\s*$/.test(line)) {
    add("raw Markdown table", line);
  }
}
const prose = text(article, CODE + ", code, kbd");
for (const m of prose.matchAll(/\$/g)) {
  add("raw $ math", prose.slice(Math.max(0, m.index - 40), m.index + 40));
}

// 2. a warning or traceback in a cell's output: any "...Warning:" or
//    traceback, and "...Error:" lines on stderr or in an error output (a
//    lesson may print an error's message on purpose; cells tagged
//    raises-exception show their traceback on purpose)
const outputs = Array.from(document.querySelectorAll(".cell_output"))
  .filter(o => !o.closest(".tag_raises-exception"));
const ALARM = /(^|\s)([A-Z]\w*)?Warning\b:|Traceback \(most recent/;
const ERROR = /(^|\s)([A-Z]\w*)?Error\b:/;
for (const out of outputs) {
  for (const line of out.textContent.split("\n")) {
    if (ALARM.test(line)) add("warning or traceback in an output", line);
  }
  for (const err of out.querySelectorAll(".stderr, .traceback")) {
    for (const line of err.textContent.split("\n")) {
      if (ERROR.test(line)) add("warning or traceback in an output", line);
    }
  }
}

// 3. a path of the build machine
const all = text(document.body, "script, style");
const outs = outputs.map(o => o.textContent).join("\n");
for (const [where, marks] of [[all, machine], [outs, outputOnly]]) {
  for (const mark of marks) {
    const at = where.indexOf(mark);
    if (at >= 0) {
      add("build-machine path", where.slice(Math.max(0, at - 30), at + 60));
    }
  }
}

// 4. an object's default repr
for (const m of all.matchAll(/ at 0x[0-9a-fA-F]+/g)) {
  add("default repr", all.slice(Math.max(0, m.index - 50), m.index + 20));
}

// 5. a title twice in the sidebar (numbers aside: "1. Perceptrons" as a
//    caption and as a chapter), and more than one search box there
const sidebar = document.querySelector(".bd-sidebar-primary");
if (sidebar) {
  const seen = new Set();
  const titles = sidebar.querySelectorAll(".caption-text, nav a");
  for (const e of titles) {
    const key = e.textContent.replace(/^[\d.\s]+/, "").replace(/\s+/g, " ")
                 .trim().toLowerCase();
    if (!key) continue;
    if (seen.has(key)) add("title twice in the sidebar", e.textContent);
    seen.add(key);
  }
  const boxes = Array.from(sidebar.querySelectorAll(
      ".search-button-field, input[type=search], form.bd-search"))
    .filter(e => e.getClientRects().length);
  if (boxes.length > 1) {
    add("title twice in the sidebar", `${boxes.length} search boxes`);
  }
}
return found;
"""

# Strings that name this machine's paths (the checkout, the venv, the
# home folder) and common roots of any build machine's.
MACHINE_PATHS = sorted({str(ROOT) + "/", sys.prefix + "/",
                        str(Path.home()) + "/", "/work/", "/root/",
                        "/home/", "/tmp/"})
OUTPUT_ONLY = [".venv", "site-packages", "dist-packages"]


def page_defects(driver, machine=MACHINE_PATHS, output_only=OUTPUT_ONLY):
    """The open page's defects, as "class: what" lines (none: [])."""
    found = driver.execute_script(DEFECTS, list(machine), list(output_only))
    lines = []
    for kind, what in found:
        line = f"{kind}: {what}"
        if line not in lines:
            lines.append(line)
    return lines


def _wait(driver, condition, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(condition)


def open_page(driver, url):
    """Load ``url``; return the console entries that it logged."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    _wait(driver, lambda d: d.execute_script(
        "return document.readyState") == "complete")
    state = "loading"
    for _ in range(50):  # MathJax's startup object appears after load
        state = driver.execute_async_script(MATH_DONE)
        if state != "loading":
            break
        time.sleep(0.1)
    return state, driver.get_log("browser")


def save_screenshot(driver, path, full=False):
    """The viewport as a PNG at ``path``; ``full``: the whole page."""
    import base64

    path.parent.mkdir(parents=True, exist_ok=True)
    if not full:
        assert driver.save_screenshot(str(path)), path
        return
    width, height = driver.execute_script(
        "return [document.documentElement.scrollWidth,"
        " document.documentElement.scrollHeight]")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height,
                 "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


# ---------------------------------------------------------------- tests

def test_network_is_blocked(browser):
    """The browser reaches the book and nothing beyond localhost."""
    # from a blank page: the book's first page must meet a fresh profile
    browser.get("about:blank")
    outcome = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch("https://example.com/", {mode: "no-cors"})
          .then(() => done("reached"), () => done("blocked"));
    """)
    assert outcome == "blocked", "the test browser can reach the internet"
    browser.get_log("browser")


@pytest.mark.parametrize("page", PAGES + ZH_PAGES)
def test_page_renders(browser, server, page):
    """No console error, every image loaded, every formula typeset, and
    none of the defects of ``page_defects``."""
    state, log = open_page(browser, f"{server}/{page}.html")
    problems = []
    if "404" in browser.title:
        problems.append(f"not found: {browser.title}")
    problems += [f"console: {e['message']}" for e in log
                 if e["level"] == "SEVERE"]
    problems += [f"image not loaded: {src}"
                 for src in browser.execute_async_script(BROKEN_IMAGES)]
    math = browser.execute_script(MATH_STATE)
    if math["formulas"] and state != "typeset":
        problems.append(f"MathJax did not run ({state})")
    if math["containers"] < math["formulas"]:
        problems.append(f"{math['formulas']} formulas but only "
                        f"{math['containers']} typeset")
    problems += [f"formula left as TeX: {t}" for t in math["untypeset"][:3]]
    if math["rawDollars"]:
        problems.append("raw $$ in the text")
    problems += page_defects(browser)

    if page in SCREENSHOTS:
        save_screenshot(browser, SHOTS / f"{SCREENSHOTS[page]}.png",
                        full=page in (PAGES[0], "zh/intro"))
    assert not problems, f"{page}:\n" + "\n".join(problems)


def test_landing_page_has_the_course_map(browser, server):
    """The map is a numbered figure, and its image has real pixels."""
    open_page(browser, f"{server}/intro.html")
    fig = browser.execute_script("""
        const f = document.getElementById("course-map");
        if (!f) return null;
        const img = f.querySelector("img");
        return {number: f.querySelector(".caption-number").textContent,
                width: img.naturalWidth,
                shown: img.getBoundingClientRect().width};
    """)
    assert fig is not None, "no figure with the id course-map"
    assert fig["number"].strip().startswith("Fig. 1"), fig
    assert fig["width"] > 0 and fig["shown"] > 400, fig


def test_lesson_page_has_a_download_button_and_no_dead_one(browser, server):
    """The .ipynb download on a lesson page; no launch button while
    repository.url is unset (tests/test_repository_buttons.py builds the
    book with one)."""
    lesson = next(p for p in CHAPTER_PAGES
                  if not p.endswith(("/index", "/exercises")))
    open_page(browser, f"{server}/{lesson}.html")
    links = browser.execute_script("""
        return Array.from(document.querySelectorAll(
            ".article-header-buttons a"))
          .map(a => a.getAttribute("href") || "");
    """)
    assert any(href.endswith(f"{lesson}.ipynb") and "_sources" in href
               for href in links), f"no .ipynb download button: {links}"
    dead = [h for h in links if any(host in h for host in (
        "mybinder.org", "colab.research.google.com", "git-pull",
        "your-org"))]
    assert not dead, dead


@pytest.mark.parametrize("edition, query", [("", "backpropagation"),
                                            ("zh/", "反向传播")])
def test_search_finds_backpropagation(browser, server, edition, query):
    """The search page, run by the browser, finds the word in chapter 5
    (in the Chinese edition, in its text: jieba with the glossary's
    terms, scripts/i18n.py)."""
    browser.get(f"{server}/{edition}search.html?q={query}")
    results = _wait(browser, lambda d: d.execute_script("""
        const items = document.querySelectorAll("#search-results li");
        const msg = document.querySelector("#search-results p");
        if (items.length) return Array.from(items, li =>
            li.querySelector("a").getAttribute("href"));
        return msg && /did not match/.test(msg.textContent) ? [] : false;
    """))
    assert results, f"the {edition or 'English '}search found nothing for {query}"
    assert any("ch05_backprop" in href for href in results), results


@pytest.fixture(scope="session")
def secrets():
    found = all_secrets(ROOT / "solutions")
    assert found, "no solution or hidden-test lines under solutions/"
    return found


@pytest.mark.parametrize("page", PAGES + ZH_PAGES)
def test_page_shows_no_solution(browser, server, secrets, page):
    """No nbgrader marker (except the guides, which document them) and no
    line of a source notebook's solution or hidden tests, in all the text
    of the page, hidden or shown."""
    open_page(browser, f"{server}/{page}.html")
    text = browser.execute_script(
        "return document.documentElement.textContent")
    guide = page.startswith(("guides/", "zh/guides/"))
    leaks = find_leaks(text, secrets, markers=not guide)
    assert not leaks, f"{page} shows solution or hidden-test text: {leaks}"
