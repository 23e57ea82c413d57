"""The sandboxed grading kernel (issue 8, item 1): coursekit.sandbox.

A kernel started by :class:`SandboxedKernelManager` the way
``GradingExecute`` starts it, with its working folder inside a fake
course, runs probes a learner's code could run. The same probes run by
this (unsandboxed) test process succeed, so each assertion has teeth.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

import coursekit.sandbox as sb
from coursekit.cgroups import KernelCgroup, cgroup_problem
from coursekit.preprocessors import GradingExecute, SandboxUnavailable
from coursekit.sandbox import (SandboxedKernelManager, bwrap_command,
                               course_data_files, sandbox_problem)

PROBLEM = sandbox_problem()
needs_sandbox = pytest.mark.skipif(
    PROBLEM is not None, reason=f"no grading sandbox here: {PROBLEM}")

PROBE = '''
import json, os, socket
r = {}
def t(name, f):
    try:
        f()
        r[name] = "ok"
    except Exception as e:
        r[name] = type(e).__name__
t("read_db", lambda: open(%(db)r, "rb").read())
t("read_source", lambda: open(%(src)r).read())
t("read_other", lambda: open(%(other)r).read())
r["course_ls"] = sorted(os.listdir(%(course)r))
t("write_dlcore", lambda: open(%(dlcore)r, "w").write("x"))
t("write_cwd", lambda: open("left.txt", "w").write("x"))
t("write_tmp", lambda: open("/tmp/x.txt", "w").write("x"))
t("net_host", lambda: socket.create_connection(("127.0.0.1", %(port)d), 2))
t("net_out", lambda: socket.create_connection(("1.1.1.1", 53), 2))
import numpy
r["numpy"] = numpy.__file__
r["cwd_files"] = sorted(os.listdir("."))
print(json.dumps(r))
'''


def _nb(*sources):
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata.kernelspec = {"name": "python3", "language": "python",
                              "display_name": "Python 3"}
    return nb


def _run(nb, cwd, timeout=30, **km_traits):
    km = SandboxedKernelManager(kernel_name="python3", **km_traits)
    client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=True,
                            interrupt_on_timeout=True,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


@pytest.fixture
def course(tmp_path):
    c = tmp_path / "course"
    (c / "solutions" / "ch").mkdir(parents=True)
    (c / "solutions" / "ch" / "exercises.ipynb").write_text("SOLUTION")
    (c / "solutions" / "ch" / "weights.csv").write_text("1,2\n")
    (c / "gradebook.db").write_bytes(b"GRADES")
    mine = c / "autograded" / "alice" / "ch"
    mine.mkdir(parents=True)
    (mine / "numpy.py").write_text("raise ImportError('shadowed')\n")
    other = c / "submitted" / "bob" / "ch"
    other.mkdir(parents=True)
    (other / "exercises.ipynb").write_text("BOB")
    return c


@needs_sandbox
def test_learner_code_sees_nothing_of_the_host(course):
    import dlcore

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    paths = {"db": str(course / "gradebook.db"),
             "src": str(course / "solutions" / "ch" / "exercises.ipynb"),
             "other": str(course / "submitted" / "bob" / "ch" /
                          "exercises.ipynb"),
             "course": str(course),
             "dlcore": dlcore.__file__.replace("__init__.py", "pwn.py"),
             "port": port}
    # teeth: the same probes succeed for the grader's own process
    with open(paths["db"], "rb") as f:
        assert f.read() == b"GRADES"
    socket.create_connection(("127.0.0.1", port), 2).close()

    cwd = course / "autograded" / "alice" / "ch"
    data = course_data_files(course / "solutions" / "ch")
    nb = _run(_nb(PROBE % paths), cwd, data_files=data)
    srv.close()
    out = nb.cells[0].outputs
    assert out and out[0].name == "stdout", out
    r = json.loads(out[0].text)
    assert r["read_db"] == "FileNotFoundError"
    assert r["read_source"] == "FileNotFoundError"
    assert r["read_other"] == "FileNotFoundError"
    # only the empty folders leading to the working folder exist
    assert r["course_ls"] == ["autograded"]
    assert r["write_dlcore"] in ("OSError", "PermissionError")
    assert r["net_host"] in ("ConnectionRefusedError", "OSError")
    assert r["net_out"] in ("OSError", "TimeoutError")
    # private tmp and working folder: writes never reach the host
    assert r["write_tmp"] == "ok" and r["write_cwd"] == "ok"
    assert not (cwd / "left.txt").exists()
    assert not (course / "pwn.py").exists()
    # the numpy.py beside the notebook is not there; the course's data is
    assert r["numpy"].endswith("site-packages/numpy/__init__.py")
    assert "numpy.py" not in r["cwd_files"]
    assert "weights.csv" in r["cwd_files"]
    assert "exercises.ipynb" not in r["cwd_files"]


@needs_sandbox
def test_loops_are_interrupted_and_memory_is_capped(tmp_path):
    nb = _run(_nb("while True:\n    pass", "print('after loop')",
                  "x = bytearray(2 * 2**30)", "print('still alive')"),
              tmp_path, timeout=3, memory_limit_mb=1024)
    outs = [c.outputs for c in nb.cells]
    assert outs[0][-1].ename == "KeyboardInterrupt"
    assert outs[1][0].text == "after loop\n"
    assert outs[2][-1].ename == "MemoryError"
    assert outs[3][0].text == "still alive\n"


@needs_sandbox
def test_cpu_time_limit_stops_the_kernel(tmp_path):
    nb = _nb("import time\nt = time.time()\n"
             "while time.time() - t < 20:\n    pass")
    with pytest.raises(DeadKernelError):
        _run(nb, tmp_path, timeout=30, cpu_time_limit=2)


def test_the_sandbox_command_cuts_network_and_binds_read_only(tmp_path):
    cmd = bwrap_command(["python", "-V"], str(tmp_path / "w"),
                        str(tmp_path / "ipc"), memory_mb=100,
                        cpu_seconds=7)
    assert cmd[:3] == ["prlimit", f"--as={100 * 2**20}", "--cpu=7"]
    assert cmd[3].startswith("--nproc=") and cmd[4] == "--core=0"
    assert "--unshare-all" in cmd and "--clearenv" in cmd
    binds = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--bind"]
    assert binds == [str(tmp_path / "ipc")]  # the only writable host path
    assert cmd[-3:] == ["--", "python", "-V"]


def test_grading_refuses_without_a_sandbox(monkeypatch):
    import coursekit.sandbox as sb

    monkeypatch.setattr(sb, "sandbox_problem",
                        lambda: "bubblewrap is not installed (test)")
    ex = GradingExecute()
    assert ex.kernel_manager_class is SandboxedKernelManager
    with pytest.raises(SandboxUnavailable, match="not installed .test.*"
                       "no-sandbox-i-know"):
        ex.preprocess(_nb("1"), {"metadata": {"path": "."}})
    off = GradingExecute(sandbox=False)
    assert off.kernel_manager_class is not SandboxedKernelManager


FORKS = """
import os, time
n = 0
try:
    for _ in range(500):
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        n += 1
except OSError:
    pass
print(n)
"""


@needs_sandbox
def test_a_fork_bomb_stops_at_the_task_cap(monkeypatch):
    python = "/usr/bin/python3"  # under /usr: bound in every sandbox
    if not os.path.exists(python):
        pytest.skip(f"no {python} to run inside the sandbox")
    monkeypatch.setattr(sb, "_python_dirs", lambda: [])
    prefix = []
    if os.getuid() == 0:
        # root is exempt from RLIMIT_NPROC: run the sandbox as nobody
        if not shutil.which("setpriv"):
            pytest.skip("running as root, and no setpriv to drop to nobody")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534",
                  "--clear-groups"]
        counts = sb.user_tasks
        monkeypatch.setattr(sb, "user_tasks", lambda: counts(65534))
    work = Path(tempfile.mkdtemp())
    try:
        (work / "ipc").mkdir()
        for d in (work, work / "ipc"):
            d.chmod(0o777)
        cmd = sb.bwrap_command([python, "-c", FORKS], str(work / "w"),
                               str(work / "ipc"), tasks=64)
        proc = subprocess.run(prefix + cmd, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        # the 64 include bwrap and the forking Python itself
        assert 64 - 8 <= int(proc.stdout) < 64, proc.stdout
        uncapped = subprocess.run([sys.executable, "-c", FORKS],
                                  capture_output=True, text=True)
        assert int(uncapped.stdout) == 500  # outside: no such cap
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------ the kernel's cgroup

needs_cgroup = pytest.mark.skipif(
    cgroup_problem() is not None,
    reason=f"no cgroup for a kernel here: {cgroup_problem()}")

# three processes of about 200 MiB each, touched page by page
HOGS = """
import os, time
kids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        block = bytearray(200 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(3)
        os._exit(0)
    kids.append(pid)
print(sum(os.waitpid(p, 0)[1] != 0 for p in kids))
"""


def _in_cgroup(script, memory_mb, tasks, tmp_path):
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        pytest.skip(f"no {python} to run inside the sandbox")
    (tmp_path / "ipc").mkdir()
    cg = KernelCgroup(memory_mb, tasks)
    try:
        cmd = sb.bwrap_command([python, "-c", script],
                               str(tmp_path / "w"), str(tmp_path / "ipc"),
                               memory_mb=4096, tasks=10_000, cgroup=cg)
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=120)
    finally:
        cg.remove()
        assert not any(f.exists() for f in cg.folders)


@needs_sandbox
@needs_cgroup
def test_the_memory_limit_covers_the_whole_process_tree(monkeypatch,
                                                       tmp_path):
    monkeypatch.setattr(sb, "_python_dirs", lambda: [])
    # 600 MiB in three processes, each far below the per-process limit
    proc = _in_cgroup(HOGS, 400, 64, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 1, "no process was stopped at 400 MiB"
    (tmp_path / "b").mkdir()
    roomy = _in_cgroup(HOGS, 2048, 64, tmp_path / "b")
    assert int(roomy.stdout) == 0, roomy.stderr  # the same, with room


@needs_sandbox
@needs_cgroup
def test_the_task_limit_holds_for_root_too(monkeypatch, tmp_path):
    monkeypatch.setattr(sb, "_python_dirs", lambda: [])
    proc = _in_cgroup(FORKS, 2048, 64, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) < 64, proc.stdout


@needs_sandbox
@needs_cgroup
def test_the_scratch_counts_against_the_memory_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(sb, "_python_dirs", lambda: [])
    script = ("data = b'x' * 2**20\nn = 0\n"
              "try:\n    with open('/tmp/f', 'wb') as f:\n"
              "        for n in range(250):\n            f.write(data)\n"
              "            f.flush()\nexcept OSError:\n    pass\n"
              "block = bytearray(150 * 2**20)\n"
              "for i in range(0, len(block), 4096):\n    block[i] = 1\n"
              "print('alive')\n")
    proc = _in_cgroup(script, 300, 64, tmp_path)
    # 250 MiB of scratch plus 150 MiB of memory do not fit in 300 MiB
    assert "alive" not in proc.stdout, (proc.returncode, proc.stderr)
