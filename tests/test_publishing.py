"""Publishing: the GitHub Pages workflow and the Read the Docs config build
the book with the Makefile's own `book` command, cache its execution and
publish _build/html. Change the Makefile's flags and these tests fail until
both configs follow."""

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

yaml = pytest.importorskip("yaml")  # PyYAML comes with jupyter-book

ROOT = Path(__file__).parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
RTD = ROOT / ".readthedocs.yaml"


# ---------------------------------------------------------------- helpers

def book_recipe(makefile_text):
    """The lines of the Makefile's ``book:`` recipe, tabs included."""
    lines = makefile_text.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"book\s*:", line)]
    assert len(starts) == 1, "the Makefile has no single `book:` target"
    recipe = []
    for line in lines[starts[0] + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line)
    return recipe


def make_book_command(makefile_text):
    """The tokens of the jupyter-book command in the Makefile's ``book:``
    recipe, with ``$(BIN)/`` dropped (CI runs the tools from PATH)."""
    commands = []
    for line in book_recipe(makefile_text):
        line = line[1:].lstrip("@-+").replace("$(BIN)/", "")
        commands += jupyter_book_commands(line)
    assert len(commands) == 1, (
        f"the Makefile's book recipe should run jupyter-book once; "
        f"found {commands}")
    return commands[0]


def jupyter_book_commands(script):
    """Each jupyter-book command of a shell script, as a list of tokens."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|\|\||;", line):
            tokens = shlex.split(part, comments=True)
            if tokens and Path(tokens[0]).name in ("jupyter-book", "jb"):
                found.append(tokens)
    return found


def assert_runs_the_make_book_command(scripts, makefile_text, where):
    expected = make_book_command(makefile_text)
    found = [c for s in scripts for c in jupyter_book_commands(s)]
    assert found == [expected], (
        f"{where} should build the book once, with the Makefile's command "
        f"{shlex.join(expected)!r}; it runs "
        f"{[shlex.join(c) for c in found]}")


def installs_the_book_extra(script):
    """Whether a shell script runs ``pip install -c constraints.txt -e
    '.[book]'`` (the versions make installs)."""
    for tokens in map(shlex.split, script.replace("\\\n", " ").splitlines()):
        if "pip" in tokens and "install" in tokens:
            i = tokens.index("install")
            rest = tokens[i:]
            if "-e" in rest and ".[book]" in rest and "-c" in rest \
                    and rest[rest.index("-c") + 1] == "constraints.txt":
                return True
    return False


def norm(path):
    return str(path).strip().rstrip("/").removeprefix("./")


@pytest.fixture(scope="module")
def makefile():
    return (ROOT / "Makefile").read_text()


@pytest.fixture(scope="module")
def workflow():
    data = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as the boolean True
    if True in data:
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def rtd():
    return yaml.safe_load(RTD.read_text())


def steps(workflow):
    """(job name, step) for every step of every job."""
    return [(name, step) for name, job in workflow["jobs"].items()
            for step in job.get("steps", [])]


def uses(step, action):
    return step.get("uses", "").split("@")[0] == action


def run_scripts(workflow):
    return [step["run"] for _, step in steps(workflow) if "run" in step]


def python_allowed(version):
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return SpecifierSet(spec["project"]["requires-python"]).contains(
        Version(version))


# ---------------------------------------------------------------- the build command

def test_the_makefile_book_command_is_read(makefile):
    cmd = make_book_command(makefile)
    assert cmd[:2] == ["jupyter-book", "build"]
    assert "$(BIN)" not in shlex.join(cmd)


def test_the_workflow_runs_the_makefile_book_command(workflow, makefile):
    assert_runs_the_make_book_command(run_scripts(workflow), makefile,
                                      str(WORKFLOW.relative_to(ROOT)))


def test_read_the_docs_runs_the_makefile_book_command(rtd, makefile):
    assert_runs_the_make_book_command(rtd["build"]["commands"], makefile,
                                      str(RTD.relative_to(ROOT)))


@pytest.mark.parametrize("change", [
    lambda line: line + " -n",                 # a flag added
    lambda line: line.rsplit(" ", 1)[0],       # the last flag dropped
    lambda line: line.replace(" build", " build --all"),
])
def test_a_changed_makefile_flag_is_caught(workflow, rtd, makefile, change):
    line = next(x for x in book_recipe(makefile) if "jupyter-book" in x)
    changed = makefile.replace(line, change(line))
    assert make_book_command(changed) != make_book_command(makefile)
    with pytest.raises(AssertionError, match="Makefile's command"):
        assert_runs_the_make_book_command(run_scripts(workflow), changed,
                                          "the workflow")
    with pytest.raises(AssertionError, match="Makefile's command"):
        assert_runs_the_make_book_command(rtd["build"]["commands"], changed,
                                          "the RTD config")


# ---------------------------------------------------------------- GitHub Pages

def test_the_workflow_runs_on_push_to_main_and_by_hand(workflow):
    on = workflow["on"]
    assert "main" in on["push"]["branches"]
    assert "workflow_dispatch" in on


def test_the_workflow_may_deploy_to_pages(workflow):
    perms = workflow["permissions"]
    assert perms["pages"] == "write" and perms["id-token"] == "write"
    assert workflow["concurrency"]["group"]


def test_the_workflow_installs_the_book_extra(workflow):
    assert any(installs_the_book_extra(s) for s in run_scripts(workflow))


def test_the_workflow_uses_an_allowed_python(workflow):
    versions = [step["with"]["python-version"] for _, step in steps(workflow)
                if uses(step, "actions/setup-python")]
    assert versions, "no actions/setup-python step"
    for v in versions:
        # unquoted, YAML would read 3.10 as the number 3.1
        assert isinstance(v, str), f"quote the python-version {v!r}"
        assert python_allowed(v), f"Python {v} is not in requires-python"


def test_the_workflow_caches_the_execution_cache(workflow):
    all_steps = [step for _, step in steps(workflow)]
    caches = [s for s in all_steps if uses(s, "actions/cache")]
    assert caches, "no actions/cache step"
    paths = [norm(p) for s in caches
             for p in str(s["with"]["path"]).splitlines() if p.strip()]
    assert "_build/.jupyter_cache" in paths
    key = " ".join(str(s["with"]["key"]) for s in caches)
    assert "chapters/" in key and "dlcore/" in key
    # restored before the build that reads it
    build = next(s for s in all_steps
                 if "run" in s and jupyter_book_commands(s["run"]))
    assert all(all_steps.index(c) < all_steps.index(build) for c in caches)


def test_the_execution_cache_is_where_the_workflow_looks():
    """jupyter-book keeps it in _build/.jupyter_cache unless execute.cache
    names another folder."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"
    assert not config["execute"].get("cache")


def test_the_workflow_deploys_the_built_html(workflow):
    uploads = [(job, s) for job, s in steps(workflow)
               if uses(s, "actions/upload-pages-artifact")]
    assert [norm(s["with"]["path"]) for _, s in uploads] == ["_build/html"]
    deploys = [job for job, s in steps(workflow)
               if uses(s, "actions/deploy-pages")]
    assert len(deploys) == 1
    needs = workflow["jobs"][deploys[0]].get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    assert deploys[0] == uploads[0][0] or uploads[0][0] in needs


def test_the_workflow_pins_each_action_to_a_major_version(workflow):
    for _, step in steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), (
                step["uses"])


# ---------------------------------------------------------------- Read the Docs

def test_read_the_docs_config(rtd):
    assert rtd["version"] == 2
    assert rtd["build"]["os"] == "ubuntu-24.04"
    python = rtd["build"]["tools"]["python"]
    assert isinstance(python, str) and python_allowed(python)


def test_read_the_docs_installs_the_book_extra(rtd):
    assert any(installs_the_book_extra(c) for c in rtd["build"]["commands"])


def test_read_the_docs_publishes_the_built_html(rtd):
    commands = rtd["build"]["commands"]
    copies = [c for c in commands
              if c.split()[0] == "cp" and "_build/html" in c
              and "$READTHEDOCS_OUTPUT/html" in c]
    assert copies, "no command copies _build/html to $READTHEDOCS_OUTPUT/html"
    build = next(i for i, c in enumerate(commands) if jupyter_book_commands(c))
    assert build < commands.index(copies[0])
