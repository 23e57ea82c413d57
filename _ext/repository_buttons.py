"""Launch, repository and issue buttons only for a real repository.

``repository.url`` in ``_config.yml`` is the one setting behind them. When
it names a repository (``https://github.com/OWNER/REPO``, not a
placeholder owner such as ``your-org``), every notebook page gets its
Binder and Colab launch buttons (and JupyterHub's, where
``launch_buttons.jupyterhub_url`` is set) and every page the repository
and issue buttons. When it is empty, the book has none of them: a button
that leads nowhere is worse than no button. The download buttons stay,
and so does the JupyterLite button (to the book's own in-browser site,
which needs no repository), which ``_ext/lite_site.py`` adds either way.
"""

import re

PLACEHOLDERS = {"your-org", "your-name", "your-user", "username", "owner",
                "example", "org"}
REPO = re.compile(r"^https://(github\.com|gitlab\.com|bitbucket\.org)/"
                  r"(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(\.git)?/?$")


def real_repository(url):
    """Whether ``url`` names a repository, not a placeholder."""
    found = REPO.match((url or "").strip())
    return bool(found) and found["owner"].lower() not in PLACEHOLDERS


def _buttons(app, config):
    options = config.html_theme_options
    url = options.get("repository_url", "")
    if real_repository(url):
        options["use_repository_button"] = True
        options["use_issues_button"] = True
        return
    if url:
        from sphinx.util import logging

        logging.getLogger(__name__).warning(
            f"repository.url {url!r} in _config.yml is not a repository's "
            f"address (https://github.com/OWNER/REPO): the book is built "
            f"without launch, repository and issue buttons")
    options.pop("repository_url", None)
    options["launch_buttons"] = {}
    for button in ("use_repository_button", "use_issues_button",
                   "use_edit_page_button"):
        options[button] = False


def setup(app):
    # before the theme reads its options
    app.connect("config-inited", _buttons, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
