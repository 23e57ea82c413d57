"""``make release``: regenerate chapters/<chapter>/ exercises from solutions/.

For every chapter folder under solutions/ holding notebooks, nbgrader's
``generate_assignment`` runs in a temporary course directory (with the
course's nbgrader_config.py), and the generated notebooks are copied into
chapters/<chapter>/. Nothing else in chapters/ is touched, so the lesson
notebooks beside the exercises stay as they are. The output is
deterministic: a second run writes the same bytes.

The release also writes the self-check's kit, coursekit/course/ (see
:data:`KIT`), so that a package installed without a clone can check a
notebook as the class grader does.
"""

import copy
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from coursekit.notebooks import nbgrader_meta, read

ROOT = Path(__file__).resolve().parents[1]
# What the package carries for the self-check where no clone is at hand
# (pip install, Colab): the course's nbgrader configuration and every
# source notebook with its tests, hidden ones included, but the answer
# cells as released (the stubs, never the solutions).
KIT = Path(__file__).resolve().parent / "course"


def source_chapters(root=ROOT):
    """Chapter folders under solutions/ that hold at least one notebook."""
    return sorted(p.name for p in (Path(root) / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


def nbgrader_env():
    """The environment nbgrader needs: this Python's bin first on PATH
    (nbgrader runs alembic as a subprocess)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def write_course_config(course, root=ROOT, extra=""):
    """A temporary course's nbgrader_config.py: the course's, re-rooted."""
    Path(course, "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(Path(root) / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(course)!r}\n" + extra
    )


def generate(dest, root=ROOT, chapters=None, quiet=True):
    """Release ``chapters`` (default: all) into ``dest``/<chapter>/.

    Returns the list of notebook paths written.
    """
    root, dest = Path(root), Path(dest)
    chapters = chapters or source_chapters(root)
    written = []
    with tempfile.TemporaryDirectory(prefix="release-") as course:
        write_course_config(course, root)
        for chapter in chapters:
            src = root / "solutions" / chapter
            shutil.copytree(
                src, Path(course, "solutions", chapter),
                ignore=shutil.ignore_patterns(".ipynb_checkpoints",
                                              "__pycache__"))
            cmd = [sys.executable, "-m", "nbgrader", "generate_assignment",
                   chapter, "--force", "--log-level=WARN"]
            proc = subprocess.run(cmd, cwd=course, env=nbgrader_env(),
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(
                    f"nbgrader generate_assignment {chapter} failed:\n"
                    f"{proc.stdout}\n{proc.stderr}")
            out = dest / chapter
            out.mkdir(parents=True, exist_ok=True)
            for nb in sorted(Path(course, "release", chapter)
                             .glob("*.ipynb")):
                shutil.copyfile(nb, out / nb.name)
                written.append(out / nb.name)
    return written


def kit_notebook(source, released):
    """The self-check's copy of a source notebook: ``source`` with each
    answer cell's text replaced by the released stub (``released``, the
    notebook the release generated from it); outputs cleared."""
    stubs = {nbgrader_meta(c)["grade_id"]: c.source for c in released.cells
             if nbgrader_meta(c).get("solution")}
    kit = copy.deepcopy(source)
    for cell in kit.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            cell.source = stubs[meta["grade_id"]]
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return kit


def write_kit(root=ROOT, kit=KIT, released=None):
    """Write the self-check's kit (:data:`KIT`) from ``root``'s sources
    and the released notebooks in ``released`` (default: chapters/);
    chapters no longer in solutions/ are removed. Returns the paths."""
    root, kit = Path(root), Path(kit)
    released = Path(released) if released else root / "chapters"
    chapters = source_chapters(root)
    if (kit / "solutions").is_dir():
        for old in (kit / "solutions").iterdir():
            if old.name not in chapters:
                shutil.rmtree(old)
    kit.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "nbgrader_config.py", kit / "nbgrader_config.py")
    written = [kit / "nbgrader_config.py"]
    for chapter in chapters:
        out = kit / "solutions" / chapter
        out.mkdir(parents=True, exist_ok=True)
        for src in sorted((root / "solutions" / chapter).glob("*.ipynb")):
            nb = kit_notebook(read(src), read(released / chapter / src.name))
            nbformat.write(nb, str(out / src.name))
            written.append(out / src.name)
    return written


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(
        prog="coursekit release",
        description="Regenerate chapters/<chapter>/ exercise notebooks "
                    "from solutions/ with nbgrader.")
    parser.add_argument("chapters", nargs="*",
                        help="chapter folders (default: every one)")
    parser.add_argument("--dest", default=str(ROOT / "chapters"),
                        help="where to write (default: chapters/)")
    args = parser.parse_args(argv)
    for path in generate(args.dest, chapters=args.chapters or None):
        print(f"released {path}")
    if Path(args.dest).resolve() == (ROOT / "chapters").resolve():
        write_kit()
        print(f"wrote the self-check's kit into {KIT}")
