"""constraints.txt: the versions that make, CI, Binder and the book's
publishing install (pip -c), so that a new release of a dependency cannot
break a fresh clone unseen. `make constraints` rewrites it on purpose."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
TEXT = (ROOT / "constraints.txt").read_text()


def pins():
    found = {}
    for line in TEXT.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!-]+)", line)
        assert m, f"constraints.txt: {line!r} is not NAME==VERSION"
        found[canonicalize_name(m.group(1))] = Version(m.group(2))
    return found


def requirements(extras=("learn", "test")):
    """The requirements of the package with ``extras``, its own extras
    followed."""
    seen, todo, reqs = set(), list(extras), list(PROJECT["dependencies"])
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == PROJECT["name"]:
                todo += sorted(req.extras)
            else:
                reqs.append(text)
    return [Requirement(r) for r in reqs]


def test_written_by_make_constraints_with_the_oldest_python():
    head = re.search(r"with Python (\d+)\.(\d+)\.(\d+)", TEXT)
    assert "make constraints" in TEXT and head, "write it with make constraints"
    oldest = re.search(r">=\s*(\d+)\.(\d+)", PROJECT["requires-python"])
    assert head.groups()[:2] == oldest.groups(), (
        f"constraints.txt was resolved on Python {'.'.join(head.groups())}; "
        f"resolve it on the oldest supported one ({PROJECT['requires-python']})"
        f": make constraints CONSTRAINTS_PYTHON=python3.11")


def test_every_requirement_is_pinned_within_its_range():
    pinned = pins()
    for req in requirements():
        name = canonicalize_name(req.name)
        if req.marker and not req.marker.evaluate():
            continue
        assert name in pinned, f"{req.name} is not in constraints.txt: " \
            "run make constraints"
        assert pinned[name] in req.specifier, (
            f"constraints.txt pins {req.name}=={pinned[name]}, outside "
            f"pyproject.toml's {req}: run make constraints")


def test_no_pin_needs_a_newer_python_than_it_was_resolved_on():
    """A pinned release installed here says which Pythons it supports;
    each must take the Python the file was resolved on (what CI's
    /usr/bin/python3 and a learner's oldest supported Python run)."""
    head = re.search(r"with Python (\d+\.\d+\.\d+)", TEXT).group(1)
    for name, version in pins().items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        needs = dist.metadata.get("Requires-Python")
        if Version(dist.version) == version and needs:
            assert Version(head) in SpecifierSet(needs), (
                f"{name}=={version} needs Python {needs}")
