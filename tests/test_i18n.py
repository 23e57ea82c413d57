"""The Chinese edition (scripts/i18n.py, _ext/editions.py, locales/).

The catalogues: every one parses, they hold exactly the messages that the
English sources give today (an extraction in a temporary folder, about
10 s: nothing executes), no translation breaks the MyST markup of its
message, and everything is translated (a page changed in English fails
here until its catalogue is updated and translated: README, 中文版); a
message left untranslated is shown in English, marked (a two-paragraph
project). The built site (``book`` marker; built with the English one
when missing or stale, as tests/test_book_browser.py does): every page
has its twin, the language switch leads to it and back, ``<html lang>``,
the same glued numbers and figures as the English page, JupyterLite
links into the site's root, and the search index finds 反向传播.
"""

import json
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import i18n  # noqa: E402
from test_book_browser import book  # noqa: E402

__all__ = ["book"]  # the English book, built once per session

CATALOGUES = i18n.catalogue_dir()
GLOSSARY = i18n.LOCALES / i18n.LANGUAGE / "GLOSSARY.md"


def po_files():
    return i18n.catalogues()


def active_ids(catalog):
    return {m.id for m in catalog if m.id}


# ---------------------------------------------------------------- catalogues

def test_there_is_a_catalogue_per_page():
    from test_book_browser import PAGES

    names = {p.relative_to(CATALOGUES).with_suffix("").as_posix()
             for p in po_files()}
    assert set(PAGES) <= names, sorted(set(PAGES) - names)


@pytest.mark.parametrize("po", po_files(), ids=lambda p: p.stem)
def test_every_catalogue_parses(po):
    from babel.messages.pofile import read_po

    with open(po, "rb") as f:
        catalog = read_po(f, abort_invalid=True)
    assert catalog.locale.language == "zh" and catalog.locale.territory == "CN"
    assert active_ids(catalog), f"{po} has no messages"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The .pot files of the sources as they are now."""
    out = tmp_path_factory.mktemp("i18n") / "gettext"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "i18n.py"),
                          "pot", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out


def test_catalogues_are_in_sync_with_the_sources(extracted):
    """What `python scripts/i18n.py update` would add or retire: nothing."""
    pots = {p.relative_to(extracted).with_suffix("").as_posix(): p
            for p in extracted.rglob("*.pot")}
    pos = {p.relative_to(CATALOGUES).with_suffix("").as_posix(): p
           for p in po_files()}
    assert set(pots) == set(pos), (
        f"pages without a catalogue: {sorted(set(pots) - set(pos))}; "
        f"catalogues without a page: {sorted(set(pos) - set(pots))}; "
        f"run `make book-po`")
    stale = []
    for page, pot in sorted(pots.items()):
        want, have = active_ids(i18n.read(pot)), active_ids(
            i18n.read(pos[page]))
        if want != have:
            stale.append(f"{page}: {len(want - have)} new, "
                         f"{len(have - want)} gone")
    assert not stale, f"run `make book-po`: {stale}"


def test_code_and_outputs_are_not_in_the_catalogues():
    """Code cells, their outputs and hidden tests are no messages."""
    leaks = re.compile(r"^(import |from \w+ import |def |class \w+\(|print\(|"
                       r">>> |### BEGIN)|^\s*np\.\w+\(")
    found = [(po.name, m.id[:60]) for po in po_files()
             for m in i18n.read(po) if m.id and leaks.search(m.id)]
    assert not found


def test_the_site_title_and_toc_captions_are_messages():
    ids = active_ids(i18n.read(CATALOGUES / "intro.po"))
    assert {"Deep Learning, Built by Hand", "Chapters", "Guides",
            "Reference"} <= ids


# ---------------------------------------------------------------- markup

@pytest.mark.parametrize("msgid, msgstr", [
    ("See {doc}`exercises` and $x^2$.", "见 {doc}`exercises` 和 $x^2$。"),
    ("In the {doc}`exercise notebook <exercises>` you write `Relu`.",
     "在{doc}`练习笔记本 <exercises>`中，你编写 `Relu`。"),
    ("A {term}`backpropagation` step.",
     "一步{term}`反向传播 <backpropagation>`。"),
    ("Read [nbgrader](https://nbgrader.readthedocs.io).",
     "阅读 [nbgrader 文档](https://nbgrader.readthedocs.io)。"),
    ("It is {glue:text}`err:.1e`.", "它是 {glue:text}`err:.1e`。"),
    ("1. Activation layers", "1\\. 激活函数层"),
    # a code span ending in "}" right before the next code span is no role
    ("Compute `e^{-x}` with `np.exp`, not `math.exp`.",
     "用 `np.exp` 计算 `e^{-x}`，而不是 `math.exp`。"),
])
def test_markup_kept_is_accepted(msgid, msgstr):
    assert i18n.markup_problems(msgid, msgstr) == []


@pytest.mark.parametrize("msgid, msgstr, kind", [
    ("See {doc}`exercises`.", "见练习。", "roles"),
    ("See {doc}`exercises`.", "见 {ref}`exercises`。", "roles"),
    ("See {doc}`exercises`.", "见 {doc}`练习`。", "roles"),
    ("It is {glue:text}`err:.1e`.", "它是 {glue:text}`err:.2f`。", "roles"),
    ("The derivative $y(1-y)$.", "导数 $y(1 - y)$。", "math"),
    ("The derivative $y(1-y)$.", "导数 y(1-y)。", "math"),
    ("Read [it](https://a.example).", "读[它](https://b.example)。", "links"),
    ("Call `forward`.", "调用 `正向`。", "code"),
    # Sphinx keeps a translation only if it parses as one paragraph
    ("1. Activation layers", "1. 激活函数层", "starts like a list"),
    ("Softmax with loss", "- Softmax 与损失", "starts like a list"),
])
def test_broken_markup_is_caught(msgid, msgstr, kind):
    problems = i18n.markup_problems(msgid, msgstr)
    assert problems and problems[0].startswith(kind), problems


def test_no_translation_breaks_the_markup():
    lines = []
    assert i18n.check(out=lines.append) == 0, "\n".join(lines)


def test_a_fuzzy_translation_counts_as_untranslated():
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale=i18n.LANGUAGE)
    catalog.add("One", "一")
    catalog.add("Two", "二", flags=["fuzzy"])
    catalog.add("Three", "")
    assert i18n.counts(catalog) == (1, 3)


def test_everything_is_translated():
    lines = []
    done, total = i18n.coverage(out=lines.append)
    assert done == total, "\n".join(lines)


def test_the_pages_of_the_pipeline_are_translated():
    """The landing page and chapter 5's index: fully (issue 19)."""
    for page in ("intro.po", "chapters/ch05_backprop/index.po"):
        done, total = i18n.counts(i18n.read(CATALOGUES / page))
        assert done == total, f"{page}: {done}/{total}"


def test_the_glossary_for_translators():
    text = GLOSSARY.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and not line.startswith(("| English",
                                                             "| ---"))]
    assert len(rows) >= 60
    for zh in ("感知机", "激活函数", "损失函数", "计算图", "反向传播",
               "批归一化", "卷积", "池化", "半精度", "梯度下降", "数值微分",
               "过拟合", "随机梯度下降", "学习率", "小批量", "交叉熵误差",
               "均方误差", "正向传播"):
        assert zh in text, zh


# ---------------------------------------------------------------- the site

@pytest.fixture(scope="module")
def site(book):
    """``_build/html`` with the Chinese edition in ``zh/``: both built by
    test_book_browser's fixture when missing or stale, one build at a
    time across test workers."""
    return Path(book)


def soup(path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def resolve(page, href):
    """The site path a relative ``href`` on ``page`` leads to."""
    path = urlsplit(href).path
    parts = []
    for part in (PurePosixPath(page).parent / path).parts:
        if part == "..":
            assert parts, f"{href} on {page} leaves the site"
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def switch(page_soup):
    links = page_soup.select("a.btn-edition-switch")
    assert len(links) == 1, "no single language switch"
    return links[0]


def toc_pages():
    from test_book_browser import PAGES
    return PAGES


@pytest.mark.book
def test_every_page_has_a_chinese_twin_and_the_switch_leads_there(site):
    problems = []
    for page in toc_pages():
        en, zh = f"{page}.html", f"{i18n.EDITION}/{page}.html"
        if not (site / zh).is_file():
            problems.append(f"{zh} missing")
            continue
        to_zh, to_en = switch(soup(site / en)), switch(soup(site / zh))
        if resolve(en, to_zh["href"]) != zh or to_zh.text.strip() != "中文":
            problems.append(f"{en}: switch {to_zh['href']!r}")
        if resolve(zh, to_en["href"]) != en or \
                to_en.text.strip() != "English":
            problems.append(f"{zh}: switch {to_en['href']!r}")
    assert not problems


@pytest.mark.book
def test_chinese_pages_say_they_are_chinese(site):
    for page in toc_pages():
        html = soup(site / i18n.EDITION / f"{page}.html").html
        assert html["lang"] == "zh-CN", page
    assert soup(site / "intro.html").html["lang"] == "en"


def glued(page_soup):
    return [s.get_text() for s in page_soup.select(".pasted-text")]


def images(page_soup):
    article = page_soup.select_one("article") or page_soup
    return [img["src"] for img in article.find_all("img")]


@pytest.mark.book
def test_glued_numbers_and_figures_are_the_english_ones(site):
    """Same numbers, same figures (the same relative paths: each edition
    has its own _images at the same depth)."""
    counted = 0
    for page in toc_pages():
        en = soup(site / f"{page}.html")
        zh = soup(site / i18n.EDITION / f"{page}.html")
        # the same numbers; Chinese word order may put them in another
        assert sorted(glued(zh)) == sorted(glued(en)), page
        assert images(zh) == images(en), page
        for src in images(zh):
            if not src.startswith(("data:", "http")):
                target = resolve(f"{i18n.EDITION}/{page}.html", src)
                assert (site / target).is_file(), (page, src)
        counted += len(glued(en))
    assert counted > 10, "no glued numbers found: has myst-nb changed?"


@pytest.mark.book
def test_jupyterlite_links_lead_to_the_sites_lite(site):
    found = 0
    for page in toc_pages():
        zh = f"{i18n.EDITION}/{page}.html"
        for a in soup(site / zh).select("a.btn-jupyterlite"):
            target = resolve(zh, a["href"])
            assert target == "lite/lab/index.html", (zh, a["href"])
            assert (site / target).is_file()
            found += 1
    assert found, "no JupyterLite button on a Chinese page"
    assert not (site / i18n.EDITION / "lite").exists()


def test_untranslated_text_is_marked(tmp_path):
    """A message left empty shows in English with the class the CSS badges
    ("EN"); a translated one does not: a two-paragraph Sphinx project
    with the book's theme and this extension (every message of the book
    is translated, so the book itself shows no untranslated text)."""
    from babel.messages.catalog import Catalog

    (tmp_path / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / '_ext')!r})\n"
        "extensions = ['myst_parser', 'editions']\n"
        "html_theme = 'sphinx_book_theme'\n"
        "language = 'zh_CN'\n"
        "locale_dirs = ['locales']\n"
        "gettext_compact = False\n"
        "translation_progress_classes = True\n")
    (tmp_path / "index.md").write_text(
        "# Title\n\nThe first paragraph.\n\nThe second paragraph.\n")
    po = tmp_path / "locales" / "zh_CN" / "LC_MESSAGES" / "index.po"
    po.parent.mkdir(parents=True)
    catalog = Catalog(locale="zh_CN")
    catalog.add("Title", "标题")
    catalog.add("The first paragraph.", "第一段。")
    catalog.add("The second paragraph.", "")  # not translated yet
    i18n.write(po, catalog)
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(tmp_path),
         str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    page = soup(out / "index.html")
    untranslated = page.select("article p.untranslated")
    assert [p.get_text() for p in untranslated] == ["The second paragraph."]
    assert page.select_one("article p.translated").get_text() == "第一段。"
    css = (out / "_static" / "editions.css").read_text()
    assert ".untranslated" in css and 'content: "EN"' in css


@pytest.mark.book
def test_no_chinese_page_shows_untranslated_text(site):
    """Every message is translated, so no element of a Chinese page may
    carry the class "untranslated": one does where Sphinx dropped a
    translation (a msgstr that is not one paragraph, such as "1. ...",
    which parses as a list)."""
    shown = {}
    for page in toc_pages():
        # the text that editions.css badges (an image is marked too, by
        # Sphinx, though its alt text is translated: not shown)
        found = soup(site / i18n.EDITION / f"{page}.html").select(
            ", ".join(f"article {tag}.untranslated" for tag in (
                "p", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "li",
                ".caption-text")))
        if found:
            shown[page] = [e.get_text()[:60] for e in found[:3]]
    assert not shown, shown


def search_index(site):
    text = (site / i18n.EDITION / "searchindex.js").read_text("utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


@pytest.mark.book
def test_the_chinese_search_finds_backpropagation(site):
    """Sphinx's search (searchtools.js) finds a query among the index's
    terms: the pages' text is split into words by jieba, with the
    glossary's terms as words of their own (scripts/i18n.py), so
    反向传播 is found in the text of the pages that use it, not only in
    a title."""
    index = search_index(site)
    docs = index["docnames"]
    for query, at_least in (("反向传播", 10), ("激活函数", 5), ("卷积", 3)):
        found = index["terms"].get(query, [])
        found = [found] if isinstance(found, int) else found
        assert len(found) >= at_least, (query, [docs[i] for i in found])
    backprop = {docs[i] for i in index["terms"]["反向传播"]}
    assert "chapters/ch05_backprop/02_affine_softmax" in backprop
