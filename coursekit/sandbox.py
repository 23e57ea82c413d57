"""The sandboxed grading kernel: each learner's kernel runs under bubblewrap.

:class:`SandboxedKernelManager` is the kernel manager that
:class:`coursekit.preprocessors.GradingExecute` gives nbclient. It starts
the ordinary ipykernel command inside ``bwrap`` with:

- no network, no other processes, no IPC with the host (``--unshare-all``);
- a read-only system (``/usr``, the Python installation, the virtual
  environment, the ``dlcore`` package), nothing else of the host: no
  source notebooks, no gradebook, no other learner's files;
- never root, whoever starts the grader: ``nobody`` in a user namespace
  of its own, without capabilities (no bind can be remounted writable);
- a private, empty ``/tmp`` (also ``HOME``) of at most
  :data:`SCRATCH_MB` MiB, and a working folder holding
  only the course's own data files of the chapter (never files a learner
  handed in: a ``numpy.py`` beside the notebook is not there);
- the ZeroMQ channels over ``ipc`` sockets in a folder of its own, the
  only host folder it may write;
- one memory limit for the kernel's whole process tree and its scratch,
  and one cap on its processes and threads, in a cgroup of its own where
  one can be had (:mod:`coursekit.cgroups`; as root, or in a delegated
  cgroup v2 subtree); always, a per-process memory (address space) and a
  CPU-time limit, and a cap on the processes and threads the grading
  user may add (``prlimit``;
  see :func:`process_cap`).

Where no sandbox can be built (not Linux, no ``bwrap``, no user
namespaces) :func:`sandbox_problem` says why and grading refuses to run
unless told otherwise (``GradingExecute.sandbox = False``, or
``python -m coursekit grade --no-sandbox-i-know``).
"""

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, List, Unicode

import dlcore
from coursekit.cgroups import KernelCgroup, cgroup_problem

SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib64", "/sbin")
# what a Python kernel reads under /etc (no passwords, no host names)
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf",
             "/etc/passwd", "/etc/group", "/etc/mime.types")


@functools.lru_cache(maxsize=None)
def sandbox_problem():
    """``None`` where the sandbox works here, else why it does not."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (this is {sys.platform})"
    if not shutil.which("bwrap"):
        return ("bubblewrap is not installed (Debian/Ubuntu: "
                "apt-get install bubblewrap)")
    if not shutil.which("prlimit"):
        return "prlimit (util-linux) is not installed"
    cmd = ["bwrap", "--unshare-all", "--die-with-parent",
           "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
           "--disable-userns"]
    cmd += _system_binds() + ["--proc", "/proc", "--dev", "/dev", "true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap could not run: {e}"
    if proc.returncode != 0:
        return ("bwrap cannot create namespaces here (user namespaces "
                f"disabled?): {proc.stderr.strip()[:300]}")
    return None


def _system_binds():
    args = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in ETC_FILES:
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    return args


def _python_dirs():
    """Folders the kernel's Python needs, read-only."""
    dirs = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
            sys.prefix, str(Path(dlcore.__file__).resolve().parent)}
    # the interpreter may be a link out of the venv (pyenv, /usr/local)
    dirs.add(str(Path(os.path.realpath(sys.executable)).parents[1]))
    # packages found outside the prefix: the user's site-packages (pip
    # install --user), folders a .pth file adds; only site-packages
    # folders, never the course's own folder (its solutions)
    for d in sys.path:
        if Path(d).name in ("site-packages", "dist-packages") \
                and os.path.isdir(d):
            dirs.add(os.path.realpath(d))
    return sorted(d for d in dirs if not d.startswith("/usr/"))


# Per-kernel limits (GradingExecute's defaults too).
MEMORY_MB = 3072    # address space
CPU_SECONDS = 600   # CPU time, whole notebook
TASKS = 256         # processes and threads a kernel may add
SCRATCH_MB = 256    # the private /tmp, the only place a kernel may write
NOBODY = 65534      # the kernel's uid and gid inside the sandbox


def user_tasks(uid=None):
    """Processes and threads the user ``uid`` (default: this one) runs."""
    uid = os.getuid() if uid is None else uid
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:  # gone meanwhile
            continue
        if int(fields["Uid"].split()[0]) == uid:
            count += int(fields["Threads"])
    return count


def process_cap(allowance):
    """The RLIMIT_NPROC that lets a sandbox add ``allowance`` tasks.

    Linux counts the limit against every process and thread of the user,
    sandboxed or not, so the cap is what the user runs now plus the
    allowance: a fork bomb stops there instead of filling the host's
    process table. Root is exempt from the limit (grade as an ordinary
    user to have it).
    """
    return user_tasks() + allowance


def bwrap_command(cmd, workdir, ipc_dir, data_files=(),
                  memory_mb=MEMORY_MB, cpu_seconds=CPU_SECONDS,
                  extra_env=None, tasks=TASKS, scratch_mb=None,
                  dlcore_dir=None, cgroup=None):
    """The command that runs ``cmd`` in the sandbox.

    ``workdir`` is the kernel's working folder inside (it starts empty);
    ``data_files`` are host files copied there read-only (by name);
    ``ipc_dir`` is bound read-write at the same path; ``tasks`` more
    processes and threads may run (:func:`process_cap`); the private
    ``/tmp`` holds at most ``scratch_mb`` MiB; ``dlcore_dir``, if given,
    is seen in place of dlcore's folder (``coursekit.withheld``);
    ``cgroup`` (a :class:`coursekit.cgroups.KernelCgroup`) holds the whole
    process tree, its memory and tasks.
    """
    scratch_mb = SCRATCH_MB if scratch_mb is None else scratch_mb
    args = list(cgroup.prefix()) if cgroup is not None else []
    args += ["prlimit", f"--as={memory_mb * 2**20}",
            f"--cpu={cpu_seconds}", f"--nproc={process_cap(tasks)}",
            "--core=0", "--",
            "bwrap", "--unshare-all", "--die-with-parent",
            "--clearenv"]
    # never root inside, whoever starts the grader: a user namespace in
    # which the kernel is nobody, with no capabilities, so no bind can be
    # remounted writable and no namespace made
    args += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
             "--disable-userns"]
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(scratch_mb * 2**20), "--tmpfs", "/tmp"]
    for d in _python_dirs():
        args += ["--ro-bind", d, d]
    if dlcore_dir:
        args += ["--ro-bind", str(dlcore_dir),
                 str(Path(dlcore.__file__).resolve().parent)]
    args += ["--dir", workdir]
    for f in data_files:
        args += ["--ro-bind", str(f), os.path.join(workdir,
                                                   os.path.basename(f))]
    args += ["--bind", ipc_dir, ipc_dir, "--chdir", workdir]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib",
           "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "NBGRADER_EXECUTION": "autograde"}
    env.update(extra_env or {})
    for k, v in sorted(env.items()):
        args += ["--setenv", k, v]
    return args + ["--"] + list(cmd)


class SandboxedKernelManager(AsyncKernelManager):
    """An ipykernel started inside bubblewrap, talking over ipc sockets."""

    memory_limit_mb = Integer(
        MEMORY_MB, help="Address-space limit of a learner's kernel (MiB)"
    ).tag(config=True)
    cpu_time_limit = Integer(
        CPU_SECONDS,
        help="CPU-time limit of a learner's kernel (s, whole notebook)"
    ).tag(config=True)
    task_limit = Integer(
        TASKS, help="Processes and threads a learner's kernel may add"
    ).tag(config=True)
    data_files = List(
        Unicode(), help="Course files put in the kernel's working folder"
    ).tag(config=True)
    dlcore_dir = Unicode(
        "", help="A folder seen in place of dlcore's (coursekit.withheld)"
    ).tag(config=True)

    async def _async_pre_start_kernel(self, **kw):
        self._release()  # a restart: the last kernel's folder and cgroup
        self._ipc_dir = tempfile.mkdtemp(prefix="coursekit-kernel-")
        self.transport = "ipc"
        self.ip = os.path.join(self._ipc_dir, "kernel")
        self.connection_file = os.path.join(self._ipc_dir, "kernel.json")
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        # a signal to the process group would kill bwrap, and the kernel
        # with it: interrupts go as messages (ipykernel signals itself)
        self.kernel_spec.interrupt_mode = "message"
        # what the kernel writes to its own stdout and stderr (not the
        # notebook's output, which goes over ZeroMQ) reaches no one: a
        # learner cannot flood or corrupt the grader's pipes
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        kw["stdin"] = subprocess.DEVNULL
        workdir = os.path.abspath(kw.get("cwd") or os.getcwd())
        self._cgroup = None
        if cgroup_problem() is None:
            # one limit for the whole tree and its scratch, for root too
            self._cgroup = KernelCgroup(self.memory_limit_mb,
                                        self.task_limit)
        wrapped = bwrap_command(
            cmd, workdir, self._ipc_dir, self.data_files,
            self.memory_limit_mb, self.cpu_time_limit,
            tasks=self.task_limit, dlcore_dir=self.dlcore_dir or None,
            cgroup=self._cgroup)
        return wrapped, kw

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self._release()

    def _release(self):
        if getattr(self, "_ipc_dir", None):
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None
        if getattr(self, "_cgroup", None) is not None:
            self._cgroup.remove()
            self._cgroup = None


def course_data_files(source_dir, ignore=()):
    """Non-notebook files of a chapter's source folder (its data files),
    top level only, skipping names matching ``ignore`` patterns."""
    import fnmatch

    src = Path(source_dir)
    if not src.is_dir():
        return []
    return [str(p) for p in sorted(src.iterdir())
            if p.is_file() and p.suffix != ".ipynb"
            and not any(fnmatch.fnmatch(p.name, pat) for pat in ignore)]
