"""``make gpu-wheels``: the wheels scripts/gpu_run.sh may need on a GPU
machine that cannot reach the package registry.

Run it where the registry answers. It downloads binary wheels of
scripts/gpu-requirements.txt and their dependencies, at constraints.txt's
versions, for the GPU machine's Python (3.12 on x86_64 Linux by default),
into gpu-wheels/. NumPy is left out (the GPU machine brings it, with
CuPy), and so are the requirements the project's lent GPU machines have
installed (:data:`ON_THE_IMAGE`, from their package list); ``--all`` takes
those too (60 MiB with SciPy, against 17 MiB without). It prints the
folder's size and fails above the 64 MiB that can be carried to the
machine with the working tree.

    python scripts/gpu_wheels.py                      # Python 3.12
    python scripts/gpu_wheels.py --all --python-version 3.13 --out /tmp/w
"""

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "scripts" / "gpu-requirements.txt"
LIMIT_MIB = 64
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
             "manylinux_2_26_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux_2_12_x86_64",
             "manylinux2010_x86_64", "manylinux_2_5_x86_64",
             "manylinux1_x86_64"]
LEFT_OUT = ("numpy-",)  # the GPU machine's own, which CuPy was built for
# installed on the lent GPU machines' image (its package list, 2026-11-17);
# scripts/gpu_run.py installs what a machine lacks, and says so
ON_THE_IMAGE = {"pytest", "scikit-learn", "tqdm"}


def requirements(everything=False):
    """The requirement lines to download."""
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    if everything:
        return lines
    return [line for line in lines if name_of(line) not in ON_THE_IMAGE]


def name_of(requirement):
    """The distribution a requirement line names."""
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0]


def download(out, python_version, constraints=True, everything=False):
    """Fill ``out`` with the wheels; returns their paths."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet",
           "--disable-pip-version-check", "--only-binary=:all:",
           "--implementation", "cp", "--python-version", python_version,
           "--dest", str(out), *requirements(everything)]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    if constraints:
        cmd += ["-c", str(ROOT / "constraints.txt")]
    subprocess.run(cmd, check=True)
    for wheel in out.glob("*.whl"):
        if wheel.name.lower().startswith(LEFT_OUT):
            wheel.unlink()
    return sorted(out.glob("*.whl"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "gpu-wheels"))
    parser.add_argument("--python-version", default="3.12",
                        help="the GPU machine's Python (default 3.12)")
    parser.add_argument("--all", action="store_true",
                        help="also what the lent GPU machines have "
                             "(pytest, scikit-learn with SciPy, tqdm)")
    parser.add_argument("--no-constraints", action="store_true",
                        help="newest versions in pyproject's ranges instead "
                             "of constraints.txt's")
    args = parser.parse_args(argv)
    wheels = download(args.out, args.python_version,
                      constraints=not args.no_constraints,
                      everything=args.all)
    size = sum(w.stat().st_size for w in wheels) / 2**20
    print(f"{len(wheels)} wheels for CPython {args.python_version}, "
          f"{size:.1f} MiB, in {args.out} (NumPy left out: the GPU machine "
          f"has its own)")
    if size > LIMIT_MIB:
        print(f"more than the {LIMIT_MIB} MiB that can travel with the "
              f"working tree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
