"""Run in the browser, no install: a JupyterLite site inside the book.

When the book's folder holds the course's package (``pyproject.toml``),
the HTML build ends with a JupyterLite site in ``lite/`` of the built
book, made by jupyterlite-sphinx with the Pyodide kernel:

- its files are every notebook ``chapters/*/*.ipynb``, in the same
  folders (``lite/files/chapters/ch01_perceptrons/...``);
- the package's wheel, built from the working tree (offline, from a copy,
  so no ``build/`` is left behind) with every ``coursekit/course/`` entry
  (the exercises' hidden tests) removed, is its piplite wheel: a
  notebook's ``%pip install deep-learning-by-hand`` installs it from the
  site;
- every notebook page of the book gets a JupyterLite launch button, with
  or without ``repository.url``. Its link is relative to its page
  (``../../lite/lab/index.html?path=...``), made for each page: the book
  works at any base path without a setting (``/``, GitHub Pages'
  ``/REPO/``, Read the Docs' ``/en/latest/``), where the theme's
  ``launch_buttons.jupyterlite_url``, one string for every page, would
  have to be site-absolute and so name one of them.

The Pyodide runtime itself is not bundled: the browser loads it from the
Pyodide CDN when a reader opens the site.
"""

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from base64 import urlsafe_b64encode
from pathlib import Path, PurePosixPath
from urllib.parse import quote

CONTENTS = "chapters/*/*.ipynb"   # the notebooks the site carries
HIDDEN_KIT = "coursekit/course/"  # the self-check's kit: hidden tests
LITE = "lite"                     # jupyterlite-sphinx's folder in the book
APP = "lab/index.html"            # JupyterLab, as the Binder button opens
# the marker as a line of its own, or as a line of a notebook cell (JSON)
HIDDEN_LINE = re.compile(r'(^|")[ \t]*### BEGIN HIDDEN TESTS[ \t]*(\\n"|$)',
                         re.MULTILINE)
KERNEL_EXTENSION = "@jupyterlite/pyodide-kernel-extension"
# not copied for the wheel's build: the book, caches, downloaded data sets
# and nbgrader's folders (see .gitignore)
TOP_LEVEL_SKIP = {".git", "_build", "artifacts", "data", "downloaded",
                  "release", "submitted", "autograded", "feedback", "source",
                  ".pytest_cache", ".hypothesis", ".ruff_cache"}


# ---------------------------------------------------------------- the wheel

def _record_hash(data):
    digest = urlsafe_b64encode(hashlib.sha256(data).digest())
    return "sha256=" + digest.rstrip(b"=").decode()


def strip_wheel(src, dest, prefix=HIDDEN_KIT):
    """Copy the wheel ``src`` to ``dest`` without its entries under
    ``prefix``; the ``*.dist-info/RECORD`` is rewritten without them.

    Returns the names removed. Every other entry keeps its bytes and its
    zip metadata (date, mode, compression).
    """
    src, dest = Path(src), Path(dest)
    removed = []
    tmp = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w") as zout:
        for info in zin.infolist():
            if info.filename.startswith(prefix):
                removed.append(info.filename)
                continue
            data = zin.read(info)
            if re.fullmatch(r"[^/]+\.dist-info/RECORD", info.filename):
                rows = csv.reader(io.StringIO(data.decode("utf-8")))
                out = io.StringIO()
                writer = csv.writer(out, lineterminator="\n")
                writer.writerows(row for row in rows
                                 if row and not row[0].startswith(prefix))
                data = out.getvalue().encode("utf-8")
            zout.writestr(info, data)
    tmp.replace(dest)
    return removed


def hidden_tests_in(wheel):
    """The entries of ``wheel`` that hold hidden tests: a notebook, or a
    file with a ``### BEGIN HIDDEN TESTS`` line (the code that defines the
    marker names it inside a line; that is no test)."""
    found = []
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            text = zf.read(name).decode("utf-8", errors="replace")
            if name.endswith(".ipynb") or HIDDEN_LINE.search(text):
                found.append(name)
    return found


def build_wheel(root, workdir):
    """The wheel of the package at ``root``, built offline (no index, no
    build isolation: setuptools comes from the environment) from a copy
    of the tree in ``workdir``; its path."""
    root, workdir = Path(root).resolve(), Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    src, dist = workdir / "src", workdir / "dist"

    def ignore(folder, names):
        skip = {n for n in names if n.startswith(".venv") or n.endswith(
            ".egg-info") or n in ("build", "__pycache__", ".ipynb_checkpoints")}
        if Path(folder).resolve() == root:  # outputs and downloads
            skip |= TOP_LEVEL_SKIP & set(names)
        return skip

    shutil.copytree(root, src, ignore=ignore)
    # an absolute path: pip reads a bare name ("src") as a requirement
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
         "--no-build-isolation", "-q", "-w", str(dist), str(src.resolve())],
        capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"building the package's wheel failed:\n"
                           f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    (wheel,) = dist.glob("*.whl")
    return wheel


# ---------------------------------------------------------------- the link

def launch_url(pathto, notebook, base=""):
    """The link from a page to ``notebook`` (a path such as
    ``chapters/ch01_perceptrons/perceptrons.ipynb``) in the lite site;
    ``pathto`` is the page's template function, which makes the path to
    ``lite/`` relative to the page. ``base``: the path from this build's
    output folder to the site's root, where ``lite/`` is (``../`` for
    the Chinese edition in ``zh/``, see ``lite_site_base``)."""
    return f"{pathto(f'{base}{LITE}/{APP}', 1)}?path={quote(notebook)}"


def _in_site(app, pagename):
    """The notebook of ``pagename`` if the lite site carries it."""
    notebook = f"{pagename}.ipynb"
    if (PurePosixPath(notebook).match(CONTENTS)
            and (Path(app.srcdir) / notebook).is_file()):
        return notebook
    return None


def _add_button(app, pagename, templatename, context, doctree):
    notebook = _in_site(app, pagename)
    buttons = context.get("header_buttons")
    if notebook is None or buttons is None:
        return
    button = {"type": "link", "text": "JupyterLite",
              "tooltip": "Run in the browser (JupyterLite): no install",
              "icon": "_static/images/logo_jupyterlite.svg",
              "label": "jupyterlite",
              "url": launch_url(context["pathto"], notebook,
                                app.config.lite_site_base)}
    for group in buttons:
        if group.get("label") == "launch-buttons":  # the theme's: append
            group["buttons"].append(button)
            return
    # no repository, no theme launch menu: one of the same shape, first
    buttons.insert(0, {"type": "group", "label": "launch-buttons",
                       "tooltip": "Launch interactive content",
                       "icon": "fas fa-rocket", "buttons": [button]})


# ---------------------------------------------------------------- the build

def lite_config():
    """The build options (``jupyter_lite_config.json`` of the lite folder).

    No source maps: 24 MB of site instead of 68. Of the JupyterLab
    extensions installed where the book is built, only the Pyodide
    kernel's: the site does not change with the environment (nbgrader's,
    from the test extra, would be copied in and fail in the browser).
    """
    from jupyter_core.paths import jupyter_path

    found = [Path(d) / KERNEL_EXTENSION for d in jupyter_path("labextensions")
             if (Path(d) / KERNEL_EXTENSION / "package.json").is_file()]
    if not found:
        raise RuntimeError(f"{KERNEL_EXTENSION} is not installed: "
                           f"pip install -e '.[book]'")
    return {"LiteBuildConfig": {
        "no_sourcemaps": True,
        "no_unused_shared_packages": True,
        "ignore_sys_prefix": ["federated_extensions"],
        "federated_extensions": [str(found[0])],
    }}


def _staging(app):
    """``_build/jupyterlite``: the wheel's build, the lite folder, the
    contents; beside ``_build/html``, never published."""
    return Path(app.outdir).parent / "jupyterlite"


def _configure(app, config):
    staging = _staging(app)
    config.jupyterlite_dir = str(staging / "lite_dir")
    config.jupyterlite_content_dir = str(staging / "contents")
    config.jupyterlite_contents = None
    # myst-nb renders the notebooks; jupyterlite-sphinx must not claim them
    config.jupyterlite_bind_ipynb_suffix = False


def _builds_the_site(app):
    """Whether this build makes the lite site: an HTML build at the
    site's root (an edition in a subfolder links to the root's)."""
    return app.builder.format == "html" and not app.config.lite_site_base


def _prepare(app, error):
    """Before the lite build: the stripped wheel and the notebooks."""
    if error is not None or not _builds_the_site(app):
        return
    root, staging = Path(app.srcdir), _staging(app)
    (staging / "built").unlink(missing_ok=True)
    lite_dir = Path(app.config.jupyterlite_dir)
    contents = Path(app.config.jupyterlite_content_dir)
    for folder in (lite_dir / "pypi", contents, Path(app.outdir) / LITE):
        shutil.rmtree(folder, ignore_errors=True)  # nothing stale survives
    (lite_dir / "pypi").mkdir(parents=True)
    contents.mkdir(parents=True)
    (lite_dir / "jupyter_lite_config.json").write_text(
        json.dumps(lite_config(), indent=2) + "\n")

    wheel = build_wheel(root, staging / "wheel")
    bundled = lite_dir / "pypi" / wheel.name
    strip_wheel(wheel, bundled)
    left = hidden_tests_in(bundled)
    if left:
        raise RuntimeError(f"the wheel for the lite site still holds hidden "
                           f"tests after removing {HIDDEN_KIT}: {left}")

    for notebook in sorted(root.glob(CONTENTS)):
        target = contents / notebook.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, target)


def _lite_build(app, error):
    """jupyterlite-sphinx's build, with a useful message if it fails (its
    own report of a failure raises UnboundLocalError in 0.23 when the
    output is silenced)."""
    from jupyterlite_sphinx.jupyterlite_sphinx import jupyterlite_build

    if not _builds_the_site(app):
        return
    try:
        jupyterlite_build(app, error)
    except (subprocess.CalledProcessError, UnboundLocalError) as err:
        from sphinx.errors import ExtensionError

        raise ExtensionError(
            "jupyter lite build failed; to see its output, add "
            "jupyterlite_silence: false under sphinx: config: in "
            "_config.yml and build again") from err


def _stamp(app, error):
    """``_build/jupyterlite/built``: written last, so a build whose lite
    site is complete can be told from one that stopped halfway."""
    if error is None and _builds_the_site(app):
        (_staging(app) / "built").write_text(str(Path(app.outdir)) + "\n")


def setup(app):
    meta = {"parallel_read_safe": True, "parallel_write_safe": True}
    if not (Path(app.srcdir) / "pyproject.toml").is_file():
        return meta  # no package to bundle: no site, and no button
    # "": the site is built here; "../": this build is an edition in a
    # subfolder of the site (scripts/i18n.py), whose buttons lead to the
    # root's lite/ and which builds none of its own
    app.add_config_value("lite_site_base", "", "html", types=[str])
    app.setup_extension("jupyterlite_sphinx")
    # Its build runs at build-finished; ours wraps it (see _lite_build).
    from jupyterlite_sphinx.jupyterlite_sphinx import jupyterlite_build

    for listener in list(app.events.listeners["build-finished"]):
        if listener.handler is jupyterlite_build:
            app.disconnect(listener.id)
    # It adds a Google Fonts stylesheet to every page (for its "try it"
    # buttons, which the book does not use): the book makes no request to
    # the network.
    app.registry.css_files[:] = [
        (name, attrs) for name, attrs in app.registry.css_files
        if not str(name).startswith(("http://", "https://"))]
    app.connect("config-inited", _configure, priority=400)  # before its own
    app.connect("html-page-context", _add_button, priority=502)  # theme: 501
    app.connect("build-finished", _prepare, priority=400)
    app.connect("build-finished", _lite_build, priority=500)
    app.connect("build-finished", _stamp, priority=600)
    return meta
