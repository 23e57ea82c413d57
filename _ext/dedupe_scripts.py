"""Work around Sphinx 7.4's duplicated inline scripts (sphinx-doc/sphinx#13402).

An inline script registered after the builder started (sphinx-thebe's
``const THEBE_JS_URL = ...``) is added twice, once as ``None`` and once as
``''``; the second copy throws a SyntaxError in the browser console.
Fixed in Sphinx 8.2, which jupyter-book 1.x cannot use.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", script.priority,
               tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
