"""``python -m coursekit release|leaks|grade|check``: the instructor's
helpers, and the learner's self-check."""

import sys
from pathlib import Path


def leaks_main(argv):
    import argparse

    from coursekit.leaks import all_secrets, scan
    from coursekit.release import ROOT

    parser = argparse.ArgumentParser(
        prog="coursekit leaks",
        description="List files that contain solution code or hidden "
                    "tests of the notebooks in solutions/.")
    parser.add_argument("paths", nargs="*", help="files or folders "
                        "(default: chapters/ and _build/html)")
    parser.add_argument("--no-markers", action="store_true",
                        help="don't flag nbgrader markers (for pages "
                             "that document them, such as the guides)")
    args = parser.parse_args(argv)
    roots = args.paths or [ROOT / "chapters", ROOT / "_build" / "html"]
    files = []
    for p in map(Path, roots):
        if p.is_dir():
            files += [f for f in sorted(p.rglob("*"))
                      if f.suffix in (".ipynb", ".html", ".md", ".txt")]
        elif p.exists():
            files.append(p)
    report = scan(files, all_secrets(ROOT / "solutions"),
                  markers=not args.no_markers)
    for path, found in report.items():
        print(f"{path}:")
        for line in found:
            print(f"    {line}")
    print(f"{len(files)} files checked, {len(report)} leak(s)")
    return 1 if report else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m coursekit {release,leaks,grade,check} [options]")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "release":
        from coursekit.release import main as release_main
        return release_main(rest)
    if cmd == "leaks":
        return leaks_main(rest)
    if cmd == "check":
        from coursekit.check import main as check_main
        return check_main(rest)
    if cmd == "grade":
        from coursekit.grade import main as grade_main
        return grade_main(rest)
    print(f"unknown command {cmd!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
