"""The book's editions: English at the site's root, Chinese in ``zh/``.

Both are built from the same sources (scripts/i18n.py builds the Chinese
one with Sphinx's message catalogues in ``locales/``), so code, outputs,
glued numbers and figures are the same; only the text differs. This
extension, loaded by both builds (and by the gettext build that extracts
the messages):

- puts a language switch in every page's header: "中文" on an English
  page, "English" on a Chinese one, leading to the SAME page in the
  other edition. Its link is relative to the page (``zh/chapters/...``
  from an English page, ``../chapters/...`` from a Chinese one), so the
  site works at any base path (``/``, ``/REPO/`` on GitHub Pages,
  ``/en/latest/`` on Read the Docs), as _ext/lite_site.py's links do;
  each page also names its twin in a ``<link rel="alternate">``;
- gives the site's title and footer to the translators: the gettext
  build adds them to the root page's catalogue (``intro.po``), and a
  translated build reads them from there;
- lets a translated message use the page's glued numbers: Sphinx parses
  each msgstr as a little document of its own (``...:<translated>``),
  which myst-nb parses as plain Markdown, without the notebook's glue
  data, so ``{glue:text}`` in a translation failed ("No key ... found in
  glue data"). :class:`KeepGlue` notes the page's notebook renderer
  before Sphinx translates the page, and the translated message's
  document gets it (:func:`_glue_for_translations`): the Chinese page
  shows the same numbers as the English one;
- marks what is not translated yet: with ``translation_progress_classes``
  (set by the translated build) Sphinx gives each text node the class
  ``translated`` or ``untranslated``; ``editions.css`` shows an
  untranslated paragraph, heading or caption in English with a small
  grey "EN" badge.
"""

from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform

# language code -> (folder of its edition in the site, the switch's label
# on the OTHER edition's pages, the code for hreflang/lang)
EDITIONS = {
    "en": ("", "English", "en"),
    "zh_CN": ("zh/", "中文", "zh-CN"),
}
SOURCE = "en"        # the language of the sources
HERE = Path(__file__).resolve().parent


def _language(config):
    return config.language or SOURCE


def _other(config):
    """The language code of the edition the switch leads to."""
    here = _language(config)
    if here == SOURCE:
        return next(code for code in EDITIONS if code != SOURCE)
    return SOURCE


def twin_path(config, pagename):
    """The path, from this edition's output folder, of ``pagename`` in
    the other edition (``zh/chapters/x/y.html`` or ``../chapters/...``)."""
    here, other = EDITIONS[_language(config)][0], EDITIONS[_other(config)][0]
    up = "../" * here.count("/")  # from this edition's folder to the root
    return f"{up}{other}{pagename}.html"


# ---------------------------------------------------------------- the switch

def _switch(app, pagename, templatename, context, doctree):
    if _language(app.config) not in EDITIONS:
        return
    other = _other(app.config)
    _, label, code = EDITIONS[other]
    url = context["pathto"](twin_path(app.config, pagename), 1)
    context["edition_switch"] = {"url": url, "label": label, "lang": code}
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{code}" href="{url}" />')


# ---------------------------------------------------------------- outputs

class KeepOutputs(SphinxTransform):
    """A code cell's outputs are not text to translate: a table that a
    cell displays (``display(Markdown(...))``) is parsed into paragraphs
    and table cells, which Sphinx would extract. Runs before Sphinx's
    ``Locale`` transform (priority 20) and is saved with the doctree
    that the gettext build reads."""

    default_priority = 10

    def apply(self, **kwargs):
        for output in self.document.findall(nodes.container):
            if "cell_output" not in output.get("classes", []):
                continue
            for node in output.findall(nodes.TextElement):
                node["translatable"] = False


class TranslateTocCaptions(SphinxTransform):
    """The table of contents' captions ("Chapters", "Guides"): the
    gettext build extracts them from the root page's toctrees, but
    sphinx-external-toc inserts those (priority 100) after Sphinx's
    ``Locale`` transform has translated the page (20): translated here,
    from the same catalogue, right after."""

    default_priority = 101

    def apply(self, **kwargs):
        if _language(self.config) == SOURCE:
            return
        from sphinx.locale import init as init_locale
        from sphinx.util.i18n import docname_to_domain

        toctrees = list(self.document.findall(addnodes.toctree))
        if not toctrees:
            return
        domain = docname_to_domain(self.env.docname,
                                   self.config.gettext_compact)
        dirs = [str(Path(self.env.srcdir) / d)
                for d in self.config.locale_dirs]
        catalog, found = init_locale(dirs, self.config.language, domain)
        if not found:
            return
        for toctree in toctrees:
            caption = toctree.get("rawcaption") or toctree.get("caption")
            if not caption:
                continue
            text = catalog.gettext(caption)
            if text and text != caption:
                toctree["caption"] = text
                toctree["translated"] = True


# ---------------------------------------------------------------- title, footer

def site_messages(config):
    """The site-wide strings the translators get: the title and the
    footer (HTML as written in _config.yml), as (msgid, where)."""
    found = []
    if config.html_title:
        found.append((config.html_title, "_config.yml:title"))
    footer = (config.html_theme_options or {}).get("extra_footer", "")
    if footer.strip():
        found.append((footer.strip(), "_config.yml:html.extra_footer"))
    return found


def _extract_site_messages(app, doctree, docname):
    """gettext build: the site's strings into the root page's catalogue."""
    if app.builder.name != "gettext" or docname != app.config.root_doc:
        return
    from sphinx.builders.gettext import MsgOrigin
    from sphinx.util.i18n import docname_to_domain

    domain = docname_to_domain(docname, app.builder.config.gettext_compact)
    for msgid, where in site_messages(app.config):
        app.builder.catalogs[domain].add(msgid, MsgOrigin(where, 0))


def _root_catalogue(app, config):
    """The root page's translations, {msgid: msgstr}, fuzzy ones left
    out (they are shown in English, as Sphinx does)."""
    from babel.messages.pofile import read_po

    language = _language(config)
    for folder in config.locale_dirs:
        po = (Path(app.srcdir) / folder / language / "LC_MESSAGES"
              / f"{config.root_doc}.po")
        if po.is_file():
            with po.open("rb") as f:
                catalog = read_po(f)
            return {m.id: m.string for m in catalog
                    if m.id and m.string and not m.fuzzy}
    return {}


def _translate_site(app, config):
    """A translated build: the title and footer from ``intro.po``."""
    if _language(config) == SOURCE:
        return
    found = _root_catalogue(app, config)
    if config.html_title in found:
        config.html_title = found[config.html_title]
    options = dict(config.html_theme_options or {})
    footer = options.get("extra_footer", "")
    if footer.strip() in found:
        options["extra_footer"] = found[footer.strip()]
        config.html_theme_options = options


# ---------------------------------------------------------------- setup

def _configure(app, config):
    config.templates_path.append(str(HERE / "templates"))
    config.html_static_path.append(str(HERE / "static"))
    options = dict(config.html_theme_options or {})
    end = options.get("article_header_end", ["article-header-buttons.html"])
    if isinstance(end, str):
        end = [end]
    if "edition-switch.html" not in end:
        options["article_header_end"] = ["edition-switch.html", *end]
    config.html_theme_options = options
    _translate_site(app, config)


class _KeepRenderer(dict):
    """A document's attributes that keep the notebook renderer myst-nb
    removes at the end of its parse."""

    kept = None

    def pop(self, key, *default):
        value = super().pop(key, *default)
        if key == "nb_renderer":
            self.kept = value
        return value


def _glue_for_translations():
    """Give a translated message's document its page's notebook renderer
    (with the page's glue data) before myst-nb parses it as Markdown."""
    from myst_nb import sphinx_

    parse = sphinx_.Parser.parse
    if getattr(parse, "editions_glue", False):
        return

    def parse_with_glue(self, inputstring, document):
        env = getattr(document.settings, "env", None) or self.env
        kept = env.temp_data.setdefault("editions_nb_renderer", {})
        if document.current_source.endswith("<translated>"):
            renderer = kept.get(env.docname)
            if renderer is not None:
                document.attributes["nb_renderer"] = renderer
            try:
                return parse(self, inputstring, document)
            finally:  # the message's nodes join the page: no renderer in
                document.attributes.pop("nb_renderer", None)  # its pickle
        document.attributes = _KeepRenderer(document.attributes)
        try:
            return parse(self, inputstring, document)
        finally:
            if document.attributes.kept is not None:
                kept[env.docname] = document.attributes.kept
            document.attributes = dict(document.attributes)

    parse_with_glue.editions_glue = True
    sphinx_.Parser.parse = parse_with_glue


def setup(app):
    # after sphinx-external-toc's (500), which sets root_doc from _toc.yml
    app.connect("config-inited", _configure, priority=900)
    app.add_transform(KeepOutputs)
    _glue_for_translations()
    app.add_transform(TranslateTocCaptions)
    app.connect("doctree-resolved", _extract_site_messages)
    app.connect("html-page-context", _switch)
    app.add_css_file("editions.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
