"""nbgrader preprocessors of the course's autograde (nbgrader_config.py).

``EnforcePolicy`` runs among the sanitize preprocessors, after
``OverwriteCells`` has restored the test cells and before any cell runs:
it reports each learner cell that breaks the answer-cell policy
(:mod:`coursekit.policy`) to the instructor; no verdict depends on it,
since the tests are judged outside the kernel (``GradingExecute``). A
cell that cannot be parsed (so not checked) is replaced by a cell that
says which line and why, keeps the learner's code as comments, and
defines the item as a stub that fails its tests with the same reason
(``replace_violations`` does that for every violation). The instructor's
report is a log warning per violation and a JSON file per notebook under
``<course>/<report_dir>/<assignment>/<student>__<notebook>.json``
(``python -m coursekit grade`` prints them).
"""

import os

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Integer, Unicode

from coursekit.policy import enforce, write_report


class EnforcePolicy(NbGraderPreprocessor):
    """Report learner cells that break the policy; refuse those that
    cannot be parsed (they cannot be checked)."""

    report_dir = Unicode(
        "policy_reports",
        help="Folder (relative to the course root) of the policy reports",
    ).tag(config=True)
    replace_violations = Bool(
        False, help="Also replace (not run) every cell that breaks the "
                    "policy. Off: the judge's verdicts do not depend on the "
                    "policy, so it only reports; an unparsable cell is "
                    "always replaced."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        student = info.get("student", "?")
        assignment = info.get("assignment", "?")
        notebook = info.get("notebook", "?")
        report = enforce(nb, self.replace_violations)
        for label, found in report.items():
            for v in found:
                self.log.warning("policy: %s %s/%s %s %s", student,
                                 assignment, notebook, label, v)
        root = os.getcwd()  # nbgrader runs in the course root
        path = os.path.join(root, self.report_dir, assignment,
                            f"{student}__{notebook}.json")
        write_report(path, student, assignment, notebook, report)
        return nb, resources


class CapOutput(NbGraderPreprocessor):
    """Cut every text output of the graded notebook to ``max_chars``
    (nbgrader's LimitOutput counts lines, and one line can be 8 MB)."""

    max_chars = Integer(
        100_000, help="Characters kept of one output's text"
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            for key in ("text", "evalue"):
                text = out.get(key)
                if isinstance(text, str) and len(text) > self.max_chars:
                    out[key] = (text[:self.max_chars]
                                + "\n[... output cut by the grader]\n")
        return cell, resources


class StripForeignCells(NbGraderPreprocessor):
    """Make plain cells of cells that claim nbgrader metadata they do not
    own: a grade_id the gradebook does not know for this notebook (a fake
    extra test cell) and every repeat of a grade_id after its first cell
    (a duplicated test cell). They then run as the learner's own cells
    (under the policy) and score nothing; the real cells are restored by
    ``OverwriteCells``. Without this, nbgrader 0.9 stops grading the
    whole notebook (``KeyError: 'grade_id'`` with add_missing_cells)."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            try:
                source = gb.find_notebook(info["notebook"],
                                          info["assignment"])
            except MissingEntry:
                return nb, resources
            known = {c.name for c in source.source_cells}
            known |= {c.name for c in source.grade_cells}
        seen = set()
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                continue
            gid = meta.get("grade_id")
            if gid in known and gid not in seen:
                seen.add(gid)
                continue
            self.log.warning("foreign nbgrader cell %r in %s/%s (%s): "
                             "made a plain cell", gid, info.get("student"),
                             info["notebook"], "repeat" if gid in seen
                             else "unknown to the gradebook")
            del cell.metadata["nbgrader"]
        return nb, resources


from nbclient.util import run_sync  # noqa: E402
from nbgrader.coursedir import CourseDirectory  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402
from traitlets import Enum  # noqa: E402

from coursekit import sandbox  # noqa: E402
from coursekit.sandbox import CPU_SECONDS, MEMORY_MB, TASKS  # noqa: E402

# Run by the grading kernel before the notebook's first cell.
KERNEL_SETUP = "import dlcore.grading as _g; _g.grading_kernel_setup(); del _g"


class SandboxUnavailable(RuntimeError):
    """Grading was asked for where no sandbox can be built."""


def is_test_cell(cell):
    """An autograder test cell: code, graded, not an answer."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return (cell.get("cell_type") == "code" and bool(meta.get("grade"))
            and not meta.get("solution"))


class JudgeProcess:
    """The grader's handle on one ``python -m coursekit.judge`` process,
    which runs a notebook's test cells against the learner's kernel."""

    def __init__(self, connection_file, log, forward=(), proc=None):
        import subprocess
        import sys

        self.log = log
        self.waiting = connection_file is None  # forked, not yet attached
        self.proc = proc or subprocess.Popen(
            [sys.executable, "-m", "coursekit.judge", connection_file,
             ",".join(forward)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        import threading

        self._stderr = []
        threading.Thread(target=self._read_stderr, daemon=True).start()

    @classmethod
    def forked(cls, log):
        """A judge forked from this process, whose modules are already
        imported (the grading server's child, single-threaded until its
        kernel starts); :meth:`attach` names its kernel. Its own process,
        with only its three pipes open: never a learner's kernel."""
        return cls(None, log, proc=_ForkedJudge())

    def attach(self, connection_file, forward=()):
        """Give a :meth:`forked` judge its kernel."""
        import json

        self.waiting = False
        try:
            self.proc.stdin.write(json.dumps(
                {"connect": connection_file, "forward": list(forward)})
                + "\n")
            self.proc.stdin.flush()
        except OSError as err:
            self.log.error("judge: could not be attached (%s)", err)

    def _read_stderr(self):
        for line in self.proc.stderr:
            if len(self._stderr) < 200:
                self._stderr.append(line)

    def run(self, source, name, timeout):
        """The outputs of one test cell (an error output if the judge
        itself failed: the cell then scores zero and the log says why)."""
        import json
        import queue
        import threading

        job = {"source": source, "name": name, "timeout": timeout}
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except OSError as err:
            return self._failed(name, f"the judge is gone ({err})")
        answer = queue.Queue()
        threading.Thread(target=lambda: answer.put(
            self.proc.stdout.readline()), daemon=True).start()
        try:
            line = answer.get(timeout=timeout + 60)
        except queue.Empty:
            self.close()
            return self._failed(name, "the judge did not answer in time")
        if not line:
            return self._failed(name, "the judge stopped: "
                                + "".join(self._stderr[-20:]))
        return json.loads(line)["outputs"]

    def _failed(self, name, why):
        self.log.error("judge: %s: %s", name, why)
        return [{"output_type": "error", "ename": "GradingError",
                 "evalue": "this test could not be run; your instructor "
                           "has the details",
                 "traceback": ["GradingError: this test could not be run"]}]

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        for line in self._stderr:
            self.log.info("judge: %s", line.rstrip())


class _ForkedJudge:
    """The part of ``subprocess.Popen`` that :class:`JudgeProcess` uses,
    for a judge made by ``os.fork`` (no interpreter start, no imports)."""

    def __init__(self):
        import os

        to_judge, from_judge, errors = os.pipe(), os.pipe(), os.pipe()
        pid = os.fork()
        if pid == 0:  # the judge
            code = 1
            try:
                os.dup2(to_judge[0], 0)
                os.dup2(from_judge[1], 1)
                os.dup2(errors[1], 2)
                os.closerange(3, 65536)
                import sys

                sys.stdin = open(0, closefd=False)
                sys.stdout = open(1, "w", closefd=False)
                sys.stderr = open(2, "w", buffering=1, closefd=False)
                from coursekit.judge import main

                code = main([])
            finally:
                os._exit(code)
        for fd in (to_judge[0], from_judge[1], errors[1]):
            os.close(fd)
        self.pid = pid
        self.returncode = None
        self.stdin = open(to_judge[1], "w")
        self.stdout = open(from_judge[0])
        self.stderr = open(errors[0])

    def poll(self):
        import os

        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                done, status = self.pid, 0
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        import subprocess
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired("judge", timeout)
            time.sleep(0.005)
        return self.returncode

    def kill(self):
        import os
        import signal

        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self.wait()


# Set by the grading server's child (coursekit.gradeserver), a fresh
# single-threaded fork whose judge modules are imported: its judge is
# forked too. Elsewhere (the self-check) the judge is a new process.
FORK_JUDGE = False


class GradingExecute(Execute):
    """nbgrader's Execute, whose kernel first runs :data:`KERNEL_SETUP`
    (warnings on stdout, modules locked), and whose test cells run in the
    judge (:mod:`coursekit.judge`), never in the learner's kernel: only
    the learner's cells execute there, and every verdict is reached in
    the judge from data.

    The kernel runs in the sandbox of :mod:`coursekit.sandbox`; where
    none can be built, grading refuses unless ``sandbox`` is False."""

    judge = Bool(
        True, help="Run test cells in the judge process, outside the "
                   "learner's kernel (False: in the kernel, as nbgrader "
                   "does; for comparisons only)."
    ).tag(config=True)

    sandbox = Bool(
        True, help="Run learner kernels under bubblewrap; refuse to grade "
                   "where that is impossible. False: grade unsandboxed."
    ).tag(config=True)
    memory_limit_mb = Integer(
        MEMORY_MB,
        help="Address-space limit of a sandboxed kernel (MiB)"
    ).tag(config=True)
    cpu_time_limit = Integer(
        CPU_SECONDS,
        help="CPU-time limit of a sandboxed kernel, whole notebook (s)"
    ).tag(config=True)
    task_limit = Integer(
        TASKS,
        help="Processes and threads a sandboxed kernel may add"
    ).tag(config=True)

    # nothing is asked of the kernel after the last cell: no graceful
    # shutdown (it waited for the kernel to exit, up to seconds)
    shutdown_kernel = Enum(
        ["graceful", "immediate"], default_value="immediate",
        help="How the kernel is stopped after the notebook ran"
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_arguments = list(self.extra_arguments) + [
            f"--IPKernelApp.exec_lines={KERNEL_SETUP}"]
        if self.sandbox:
            self.kernel_manager_class = sandbox.SandboxedKernelManager
        self._judge = None

    async def async_start_new_kernel(self, **kwargs):
        """Start the kernel, and the judge beside it: the judge gets
        ready while the kernel boots, not at the first test cell."""
        await super().async_start_new_kernel(**kwargs)
        if not self.judge:
            return
        if self._judge is not None and self._judge.waiting:
            self._judge.attach(self.km.connection_file, self._items[0])
        elif self._judge is None or not self._judge.alive():
            self._judge = JudgeProcess(self.km.connection_file, self.log,
                                       self._items[0])

    start_new_kernel = run_sync(async_start_new_kernel)

    def preprocess_cell(self, cell, resources, index):
        if not (self.judge and is_test_cell(cell)):
            from nbclient.exceptions import DeadKernelError

            try:
                out = super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                if not self.judge:
                    raise
                self._recover(cell, index)
                return cell, self.resources
            if cell.cell_type == "code":
                self._ran.append(index)
            return out
        import nbformat

        self._check_assign_resources(resources)
        if self._judge is None or self._judge.waiting \
                or not self._judge.alive():
            self._judge = JudgeProcess(self.km.connection_file, self.log,
                                       self._items[0])
        outputs = self._judge.run(cell.source,
                                  cell.metadata.nbgrader["grade_id"],
                                  self.timeout or 60)
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        cell.execution_count = None
        return cell, self.resources

    def _recover(self, cell, index):
        """The learner's cell ``index`` ended the kernel: say so in its
        output, start a new kernel and run the learner's earlier cells
        again, so that the rest of the notebook is still graded."""
        import copy

        import nbformat
        from nbclient.exceptions import DeadKernelError

        self.log.warning("the kernel died in cell %d; starting a new one",
                         index)
        cell.outputs.append(nbformat.v4.new_output(
            "error", ename="KernelDied",
            evalue="this cell ended the kernel (os._exit, a crash, or more "
                   "memory than a notebook may use); the cells after it ran "
                   "in a new kernel, after your earlier cells ran again",
            traceback=["KernelDied: this cell ended the kernel"]))
        if self._judge is not None:
            self._judge.close()
            self._judge = None
        self._restart()
        for i in list(self._ran):
            replay = copy.deepcopy(self.nb.cells[i])
            try:
                super().preprocess_cell(replay, self.resources, i)
            except DeadKernelError:
                self._ran.remove(i)  # leave it out; the next one may do
                self._restart()

    def _restart(self):
        """A new kernel in place of the dead one, and a client for it (the
        dead kernel's client closed first: its sockets would otherwise
        keep answering for the old ports)."""
        from nbclient.util import run_sync

        if self.kc is not None:
            self.kc.stop_channels()
        run_sync(self.km.restart_kernel)(now=True)
        run_sync(self.async_start_new_kernel_client)()

    def preprocess(self, nb, resources, km=None):
        import tempfile

        from coursekit.notebooks import answer_cells

        self._judge = None
        self._ran = []
        self._items = (list(answer_cells(nb)), self._later_items(resources))
        with tempfile.TemporaryDirectory(prefix="coursekit-dlcore-") as tmp:
            self._withheld = None
            if self.sandbox and self.judge:
                from coursekit import withheld

                self._withheld = str(withheld.build(
                    tmp + "/dlcore", *self._items))
            try:
                return self._preprocess(nb, resources, km)
            finally:
                if self._judge is not None:
                    self._judge.close()
                    self._judge = None

    def _later_items(self, resources):
        """Items of the chapters after this one (the source folders that
        sort after it, beside it)."""
        from pathlib import Path

        from coursekit.notebooks import answer_cells, read

        assignment = resources.get("nbgrader", {}).get("assignment")
        if not assignment:
            return []
        coursedir = CourseDirectory(config=self.config)
        src = Path(coursedir.format_path(coursedir.source_directory, ".",
                                         assignment)).resolve()
        items = []
        if not src.parent.is_dir():
            return items
        for folder in sorted(src.parent.iterdir()):
            if folder.is_dir() and folder.name > src.name:
                for path in sorted(folder.glob("*.ipynb")):
                    items += list(answer_cells(read(path)))
        return items

    def _preprocess(self, nb, resources, km=None):
        if self.sandbox:
            problem = sandbox.sandbox_problem()
            if problem:
                raise SandboxUnavailable(
                    f"refusing to grade without a sandbox: {problem}. "
                    "Install bubblewrap, or pass --no-sandbox-i-know "
                    "(python -m coursekit grade) / "
                    "--GradingExecute.sandbox=False (nbgrader) to grade "
                    "with learner code able to read solutions and the "
                    "gradebook.")
            self._data_files = self._course_files(resources)
        if self.judge and FORK_JUDGE and self._judge is None:
            self._judge = JudgeProcess.forked(self.log)
        return super().preprocess(nb, resources, km=km)

    def _course_files(self, resources):
        assignment = resources.get("nbgrader", {}).get("assignment")
        if not assignment:
            return []
        coursedir = CourseDirectory(config=self.config)
        src = coursedir.format_path(coursedir.source_directory, ".",
                                    assignment)
        return sandbox.course_data_files(src, coursedir.ignore)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if isinstance(km, sandbox.SandboxedKernelManager):
            km.data_files = list(getattr(self, "_data_files", []))
            km.memory_limit_mb = self.memory_limit_mb
            km.cpu_time_limit = self.cpu_time_limit
            km.task_limit = self.task_limit
            km.dlcore_dir = getattr(self, "_withheld", None) or ""
        return km
