"""A control group per learner's kernel: one memory and one task limit
for its whole process tree, its scratch ``/tmp`` included.

The sandbox's ``prlimit`` limits are per process (``RLIMIT_AS``) and, for
tasks, per user and not for root (``RLIMIT_NPROC``). Where this process
may create cgroups below its own (as root with cgroup v1, or in a
delegated cgroup v2 subtree with the memory and pids controllers on), a
kernel starts inside one whose ``memory`` limit covers every process it
starts and the tmpfs pages it writes, and whose ``pids`` limit bounds its
processes and threads, whoever runs the grader. Where none can be had
(:func:`cgroup_problem` says why), the per-process limits are what holds.
"""

import functools
import os
import shlex
import signal
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids")


def _own_cgroups():
    """``{controller: (folder, version)}`` of this process's cgroups."""
    found = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        hid, ctrls, path = line.split(":", 2)
        rel = path.lstrip("/")
        if hid == "0" and ctrls == "":
            base = ROOT if (ROOT / "cgroup.controllers").exists() \
                else ROOT / "unified"
            folder = base / rel
            try:
                enabled = (folder / "cgroup.subtree_control").read_text()
            except OSError:
                continue
            for c in CONTROLLERS:
                if c in enabled.split() and c not in found:
                    found[c] = (folder, 2)
            continue
        for c in ctrls.split(","):
            if c in CONTROLLERS:
                found[c] = (ROOT / c / rel, 1)
    return found


@functools.lru_cache(maxsize=None)
def cgroup_problem():
    """``None`` where a kernel can get its own cgroup here, else why not."""
    own = _own_cgroups()
    missing = [c for c in CONTROLLERS if c not in own]
    if missing:
        return (f"no {' or '.join(missing)} cgroup controller usable here "
                f"(cgroup v1 as root, or a delegated cgroup v2 subtree)")
    for c, (folder, _) in own.items():
        if not os.access(folder, os.W_OK):
            return (f"the {c} cgroup {folder} is not writable (grade as "
                    f"root, or delegate a cgroup v2 subtree to the grader)")
    try:
        probe = KernelCgroup(64, 16)
        probe.remove()
    except OSError as err:
        return f"a cgroup could not be created: {err}"
    return None


class KernelCgroup:
    """One kernel's cgroup(s): ``memory_mb`` for the tree, ``tasks``
    processes and threads at most."""

    def __init__(self, memory_mb, tasks):
        # the creating process's id in the name: remove_owned_by() finds
        # what a grading process killed on timeout left behind
        name = f"coursekit-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.folders = []
        try:
            for c, (base, version) in sorted(_own_cgroups().items()):
                folder = base / name
                if folder in self.folders:
                    continue
                folder.mkdir()
                self.folders.append(folder)
                if c == "memory":
                    limit = str(memory_mb * 2**20)
                    _write(folder, "memory.limit_in_bytes" if version == 1
                           else "memory.max", limit)
                    if version == 2:
                        _write(folder, "memory.swap.max", "0", missing=True)
                else:
                    _write(folder, "pids.max", str(tasks))
        except OSError:
            self.remove()
            raise

    def prefix(self):
        """A command prefix that moves the process into the cgroup(s)
        before it runs the rest of the command line."""
        moves = " && ".join(f"echo $$ > {shlex.quote(str(f / 'cgroup.procs'))}"
                            for f in self.folders)
        return ["sh", "-c", f'{moves} && exec "$@"', "sh"]

    def pids(self):
        out = set()
        for folder in self.folders:
            try:
                out |= {int(p) for p in
                        (folder / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return out

    def remove(self):
        """Kill what is left in the cgroup(s) and remove them."""
        for _ in range(50):
            left = self.pids()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
        for folder in reversed(self.folders):
            try:
                folder.rmdir()
            except OSError:
                pass
        self.folders = []


def remove_owned_by(pid):
    """Kill and remove the kernel cgroups that process ``pid`` created
    (a grading process killed before it could remove them)."""
    found = KernelCgroup.__new__(KernelCgroup)
    found.folders = []
    for base, _ in set(_own_cgroups().values()):
        try:
            found.folders += sorted(Path(base).glob(f"coursekit-{pid}-*"))
        except OSError:
            pass
    found.remove()


def _write(folder, name, value, missing=False):
    path = folder / name
    if missing and not path.exists():
        return
    path.write_text(value)
