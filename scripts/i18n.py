"""The book's Chinese edition: message catalogues, build, coverage.

The Chinese (zh_CN) edition is built from the same sources as the English
one with Sphinx's internationalisation: the text of every page is a list
of messages (paragraphs, headings, list items, captions, glossary terms,
the table of contents' captions, the site's title), each translated in a
catalogue ``locales/zh_CN/LC_MESSAGES/<page>.po`` that mirrors the page's
path; code cells, their outputs, glued numbers and figures are not in the
catalogues and come out the same in both editions.

    python scripts/i18n.py update     # extract (pot) + merge into the .po
    python scripts/i18n.py build      # the Chinese site into _build/html/zh
    python scripts/i18n.py coverage   # translated/total per catalogue
    python scripts/i18n.py check      # translations keep the markup

``pot`` and ``po`` are update's two halves. The builds go through
jupyter-book's own ``build_sphinx`` with its configuration (_config.yml,
_toc.yml) and a few overrides, each with its own output and doctree
folders under ``_build/i18n/``, and the notebooks' execution cache of the
English build (``_build/.jupyter_cache``): no notebook runs again.
"""

import argparse
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "zh_CN"
LOCALES = ROOT / "locales"
BUILD = ROOT / "_build"
WORK = BUILD / "i18n"               # the gettext and Chinese builds
POT_DIR = WORK / "gettext"
CACHE = BUILD / ".jupyter_cache"    # the English build's execution cache
SITE = BUILD / "html"               # the published site
EDITION = "zh"                      # the Chinese edition's folder in it


def catalogue_dir(language=LANGUAGE):
    return LOCALES / language / "LC_MESSAGES"


# ---------------------------------------------------------------- builds

def base_config(name, default=None):
    """A setting of the English build, as jupyter-book computes it."""
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(
        user_yaml=ROOT / "_config.yml", sourcedir=ROOT,
        cli_config={"latex_individualpages": False})
    return config.get(name, default)


def sphinx_build(builder, outdir, doctreedir, overrides=None, fresh=False,
                 force=False):
    """jupyter-book's build of the book with ``builder``, strict (warnings
    are errors, keep going to report them all); 0 on success."""
    from jupyter_book.sphinx import build_sphinx

    config = {
        # what `jupyter-book build .` passes
        "external_toc_path": (ROOT / "_toc.yml").as_posix(),
        "latex_individualpages": False,
        # the English build's cache: nothing executes again
        "nb_execution_cache_path": str(CACHE),
    }
    config.update(overrides or {})
    result = build_sphinx(ROOT, outdir, noconfig=True,
                          path_config=str(ROOT / "_config.yml"),
                          confoverrides=config, doctreedir=doctreedir,
                          builder=builder, warningiserror=True,
                          keep_going=True, freshenv=fresh,
                          force_all=force)
    if isinstance(result, Exception):
        raise result
    return result


def extract(out=POT_DIR):
    """The .pot files, one per page, in ``out`` (``_build/i18n/gettext``;
    its doctrees beside it)."""
    out = Path(out)
    started = time.perf_counter()
    # read afresh (seconds: nothing executes): every page's messages,
    # and none of a page that left the book
    shutil.rmtree(out, ignore_errors=True)
    doctrees = out.parent / f".doctrees-{out.name}"
    code = sphinx_build("gettext", out, doctrees, {
        # outputs are not messages: nothing runs, not even where the
        # execution cache is empty (a fresh clone); a glued number's
        # role stays in its message as written, so its missing value is
        # no matter here
        "nb_execution_mode": "off",
        "suppress_warnings": [*base_config("suppress_warnings", []),
                              "mystnb.glue"],
    }, fresh=True)
    print(f"extracted in {time.perf_counter() - started:.0f} s: {out}")
    return code


def search_words(language=LANGUAGE):
    """The Chinese terms of the translators' glossary, one per line, as a
    jieba user dictionary: Sphinx's Chinese search splits the text into
    words with jieba, whose own dictionary lacks the field's terms (it
    split 反向传播 into 反向 and 传播, so a search for 反向传播 found
    nothing in the pages' text)."""
    glossary = ROOT / "locales" / language / "GLOSSARY.md"
    words = set()
    for line in glossary.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not line.startswith("|"):
            continue
        for word in re.split(r"[；;/，,（）()、\s]+", cells[1]):
            if re.fullmatch(r"[\u4e00-\u9fff]{2,}", word):
                words.add(word)
    path = WORK / language / "search-words.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{w} 100\n" for w in sorted(words)),
                    encoding="utf-8")
    return path


def build(language=LANGUAGE):
    """The translated HTML site, then copied to ``_build/html/zh``."""
    out = WORK / language / "html"
    started = time.perf_counter()
    # Sphinx copies its static files and templates only when a page is
    # written: after an edit of _ext's own, write every page again
    stamp = out / ".buildinfo"
    assets = [p for d in ("static", "templates")
              for p in (ROOT / "_ext" / d).rglob("*") if p.is_file()]
    force = stamp.exists() and any(
        p.stat().st_mtime > stamp.stat().st_mtime for p in assets)
    code = sphinx_build("html", out, WORK / language / ".doctrees", {
        "language": language,
        # fuzzy or empty: shown in English with the class "untranslated"
        "translation_progress_classes": True,
        # the edition's JupyterLite buttons lead to the site's lite/
        "lite_site_base": "../",
        # the field's terms as words for the search (jieba)
        "html_search_options": {"dict": str(search_words(language))},
    }, force=force)
    if code:
        return code
    target = SITE / EDITION
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(out, target, ignore=shutil.ignore_patterns(".buildinfo"))
    print(f"{language} edition built in {time.perf_counter() - started:.0f}"
          f" s: {target / 'index.html'}")
    return 0


# ---------------------------------------------------------------- catalogues

def read(path):
    from babel.messages.pofile import read_po

    with open(path, "rb") as f:
        return read_po(f, locale=LANGUAGE if path.suffix == ".po" else None)


def write(path, catalog):
    from babel.messages.pofile import write_po

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        write_po(f, catalog, width=79, omit_header=False,
                 include_previous=False, sort_output=False,
                 ignore_obsolete=False)


PROJECT = "Deep Learning, Built by Hand"
HEADER = """\
# The Chinese (simplified) text of the book's page {page}.
# Made by scripts/i18n.py; translate the msgstr lines only, following
# locales/zh_CN/GLOSSARY.md (terms and style). See the README's 中文版.
#"""


def merge(pot_dir=POT_DIR, language=LANGUAGE):
    """Each .pot into its .po, as msgmerge does: translations kept, new
    messages added empty, a message whose English changed a little kept
    as a fuzzy guess (shown in English until a translator checks it),
    others that left the page kept as obsolete (``#~``). Returns the
    catalogues of pages no longer in the book (left as they are)."""
    from babel.messages.catalog import Catalog

    out = catalogue_dir(language)
    pots = sorted(pot_dir.rglob("*.pot"))
    if not pots:
        sys.exit(f"no .pot files in {pot_dir}: run `pot` first")
    for pot in pots:
        name = pot.relative_to(pot_dir).with_suffix(".po")
        template = read(pot)
        po_path = out / name
        if po_path.exists():
            catalog = read(po_path)
            before = po_path.read_bytes()
            # the header stays as it is: a catalogue whose messages did
            # not change is written back byte for byte
            catalog.update(template, update_header_comment=False,
                           update_creation_date=False)
            state = "updated"
        else:
            catalog = Catalog(locale=language, project=PROJECT,
                              version="", fuzzy=False,
                              header_comment=HEADER.format(
                                  page=name.with_suffix("").as_posix()),
                              msgid_bugs_address="",
                              last_translator="", language_team="")
            catalog.update(template)
            before, state = None, "created"
        write(po_path, catalog)
        if po_path.read_bytes() == before:
            state = "same"
        print(f"{state:8} {po_path.relative_to(ROOT)}")
    wanted = {p.relative_to(pot_dir).with_suffix(".po") for p in pots}
    stale = [p for p in sorted(out.rglob("*.po"))
             if p.relative_to(out) not in wanted]
    for p in stale:
        print(f"stale    {p.relative_to(ROOT)}: its page left the book; "
              f"delete it (git rm) or move its translations")
    return stale


def catalogues(language=LANGUAGE):
    return sorted(catalogue_dir(language).rglob("*.po"))


def counts(catalog):
    """(translated, total) of a catalogue; fuzzy ones are untranslated."""
    messages = [m for m in catalog if m.id]
    done = [m for m in messages if m.string and not m.fuzzy]
    return len(done), len(messages)


def coverage(language=LANGUAGE, out=print):
    rows, done_all, total_all = [], 0, 0
    for po in catalogues(language):
        done, total = counts(read(po))
        done_all, total_all = done_all + done, total_all + total
        rows.append((str(po.relative_to(catalogue_dir(language))), done,
                     total))
    width = max((len(r[0]) for r in rows), default=10)
    for name, done, total in rows:
        pct = 100 * done / total if total else 100.0
        out(f"{name:{width}}  {done:5}/{total:<5} {pct:6.1f}%")
    pct = 100 * done_all / total_all if total_all else 100.0
    out(f"{'total':{width}}  {done_all:5}/{total_all:<5} {pct:6.1f}%")
    return done_all, total_all


# ---------------------------------------------------------------- markup

ROLE = re.compile(r"(?<![`A-Za-z0-9_])\{([A-Za-z][\w:+.-]*)\}`([^`]*)`")
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")
CODE = re.compile(r"(?<![`\w}])`([^`\n]+)`")
TARGET = re.compile(r"<([^<>]+)>\s*$")
# what would make a message's text something other than one paragraph
BLOCK_START = re.compile(r"\d+[.)]\s|[-*+>]\s|#{1,6}\s")


def markup(text):
    """What a translation must keep of its message: the roles with their
    targets (``{term}`中文 <English>``` keeps the target ``English``), the
    math, the links and the inline code."""
    roles = []
    for name, content in ROLE.findall(text):
        target = TARGET.search(content)
        roles.append((name, (target.group(1) if target else content).strip()))
    rest = ROLE.sub(" ", text)
    return {
        "roles": Counter(roles),
        "math": Counter(m.strip() for m in MATH.findall(rest)),
        "links": Counter(a or b for a, b in LINK.findall(rest)),
        "code": Counter(CODE.findall(MATH.sub(" ", rest))),
    }


def markup_problems(msgid, msgstr):
    """How ``msgstr`` breaks the markup of ``msgid``: [] if it does not."""
    if not msgstr:
        return []
    want, got = markup(msgid), markup(msgstr)
    problems = []
    for kind in want:
        if want[kind] != got[kind]:
            lost = sorted((want[kind] - got[kind]).elements())
            added = sorted((got[kind] - want[kind]).elements())
            problems.append(f"{kind}: lost {lost}, added {added}")
    # Sphinx parses a msgstr on its own and uses it only if it is one
    # paragraph: "1. 激活函数" parses as a list, and the heading stayed
    # English (write "1\\. 激活函数")
    if BLOCK_START.match(msgstr):
        problems.append(f"starts like a list, heading or quote, so Sphinx "
                        f"drops it: escape its first mark "
                        f"({msgstr[:12]!r})")
    return problems


def check(language=LANGUAGE, out=print):
    bad = 0
    for po in catalogues(language):
        for m in read(po):
            if not m.id or not m.string:
                continue
            for problem in markup_problems(m.id, m.string):
                bad += 1
                out(f"{po.relative_to(ROOT)}: {m.id[:60]!r}: {problem}")
    out(f"{bad} markup problem(s)")
    return bad


# ---------------------------------------------------------------- command line

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in [
            ("pot", "extract the messages into _build/i18n/gettext"),
            ("po", "merge the .pot files into locales/*/LC_MESSAGES"),
            ("update", "pot, then po"),
            ("build", "build the translated site into _build/html/zh"),
            ("coverage", "translated/total messages per catalogue"),
            ("check", "translations that break the markup (exit 1)")]:
        command = sub.add_parser(name, help=text)
        if name == "pot":
            command.add_argument("--out", type=Path, default=POT_DIR,
                                 help="folder of the .pot files")
    args = parser.parse_args(argv)
    if args.command in ("pot", "update"):
        code = extract(getattr(args, "out", POT_DIR))
        if code:
            return code
    if args.command in ("po", "update"):
        merge()
        return 0
    if args.command == "build":
        return build()
    if args.command == "coverage":
        coverage()
        return 0
    if args.command == "check":
        return 1 if check() else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
