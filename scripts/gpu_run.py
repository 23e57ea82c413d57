"""Chapter 8 on a GPU machine, in one command that needs no network.

Run it through scripts/gpu_run.sh (or ``make gpu-run``), which picks the
Python that already has CuPy. In order (a failure in steps 1-3 stops the
run; steps 4-6 each run whatever the others gave, so that one short lease
brings back all it can):

1. says which Python, NumPy, CuPy and CUDA it found;
2. finds the modules the run imports beyond CuPy and NumPy
   (scripts/gpu_imports.py) and installs those missing from the wheel
   folder (``make gpu-wheels`` fills it where the registry answers;
   ``pip --no-index``: the network is never asked), into a folder of its
   own put on ``PYTHONPATH`` (nothing of the machine's Python changes);
3. proves the GPU computes (``dlcore.backend.gpu_problem``);
4. runs the GPU tests with ``DLCORE_REQUIRE_GPU=1`` (a skip fails);
5. runs the GPU benchmark (text and JSON);
6. executes the GPU lesson in place (its outputs in the notebook) and
   copies it into the output folder;
7. prints a summary (the GPU's name, tests passed and failed, the key
   speed-ups), also written as summary.txt and summary.json.

The repository is used where it stands (on ``PYTHONPATH``), never
installed. Exit status 0 only when every step passed. The output folder
holds at most eight files (what a lent machine's output folder brings
back): summary.txt and .json, gpu-tests.txt, gpu_bench.txt and .json, the
executed lesson, and install.log and lesson.log.

    scripts/gpu_run.sh --out gpu-results          # the whole run
    scripts/gpu_run.sh --quick --out gpu-results  # smaller benchmark sizes
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import gpu_imports  # noqa: E402

LESSON = ROOT / "chapters" / "ch08_gpu" / "gpu_your_network.ipynb"
# seconds each step may take (the whole run must fit a short GPU lease)
LIMITS = {"tests": 240, "benchmark": 240, "lesson": 300, "install": 120}
DISTRIBUTIONS = {"sklearn": "scikit-learn"}  # import name -> wheel name


class StepFailed(Exception):
    """A step failed; the message says why and what to do."""


class Run:
    def __init__(self, out):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.summary = {"date": datetime.datetime.now(datetime.timezone.utc)
                        .strftime("%Y-%m-%d %H:%M UTC"), "steps": {}}
        self.env = dict(os.environ)
        self.pythonpath = [str(ROOT)]
        self.t0 = time.perf_counter()

    def say(self, text):
        print(f"[gpu_run {time.perf_counter() - self.t0:5.0f} s] {text}",
              flush=True)

    def environment(self):
        env = dict(self.env)
        env["PYTHONPATH"] = os.pathsep.join(  # absolute: the lesson's
            self.pythonpath + [str(Path(p).resolve()) for p in  # cwd differs
                               env.get("PYTHONPATH", "").split(os.pathsep)
                               if p])
        env["PIP_NO_INDEX"] = "1"  # whatever runs pip here stays offline
        env["DLCORE_REQUIRE_GPU"] = "1"
        return env

    def command(self, name, cmd, log, cwd=ROOT):
        """Run ``cmd`` into ``log`` (also echoed); (returncode, text)."""
        self.say(f"{name}: {' '.join(str(c) for c in cmd)}")
        t = time.perf_counter()
        try:
            proc = subprocess.run(
                [str(c) for c in cmd], cwd=cwd, env=self.environment(),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, errors="replace",
                timeout=LIMITS[name])
            rc, text = proc.returncode, proc.stdout
        except subprocess.TimeoutExpired as err:
            out = err.stdout or ""
            out = out.decode(errors="replace") if isinstance(out, bytes) \
                else out
            rc, text = -1, out + f"\n[timed out after {LIMITS[name]} s]\n"
        (self.out / log).write_text(text)
        print(text[-3000:], flush=True)
        self.summary["steps"][name] = {"rc": rc, "seconds":
                                       round(time.perf_counter() - t, 1)}
        return rc, text


# ---------------------------------------------------------------- steps

def versions(run):
    """Step 1: which Python, NumPy, CuPy and CUDA."""
    found = {"python": f"{platform.python_version()} ({sys.executable})"}
    try:
        import numpy
        found["numpy"] = numpy.__version__
    except ImportError as err:
        raise StepFailed(f"NumPy cannot be imported by {sys.executable}: "
                         f"{err}")
    try:
        import cupy
        found["cupy"] = f"{cupy.__version__} ({Path(cupy.__file__).parent})"
    except ImportError as err:
        raise StepFailed(
            f"CuPy cannot be imported by {sys.executable} ({err}). Run with "
            f"the Python that has CuPy: GPU_PYTHON=/path/to/python "
            f"scripts/gpu_run.sh")
    try:
        rt = cupy.cuda.runtime
        found["cuda_runtime"] = rt.runtimeGetVersion()
        found["cuda_driver"] = rt.driverGetVersion()
    except Exception as err:  # no driver: said again, with advice, in step 3
        found["cuda"] = f"unknown ({type(err).__name__}: {err})"
    run.summary["found"] = found
    for key, value in found.items():
        run.say(f"{key}: {value}")


def dependencies(run, wheels):
    """Step 2: install what is missing, from the wheel folder only."""
    names = gpu_imports.needed()
    missing = gpu_imports.missing(names)
    run.summary["modules"] = {"needed": names, "missing_at_start": missing}
    if not missing:
        run.say(f"every module needed is here: {', '.join(names)}")
        return
    run.say(f"missing here: {', '.join(missing)}")
    wheel_dir = Path(wheels)
    if not any(wheel_dir.glob("*.whl")):
        raise StepFailed(
            f"{', '.join(missing)} cannot be imported and {wheel_dir} holds "
            f"no wheels. On a machine that reaches the package registry run "
            f"`make gpu-wheels` (it fills gpu-wheels/), bring that folder "
            f"along, and pass --wheels if it is elsewhere.")
    site = Path(tempfile.mkdtemp(prefix="dlcore-gpu-site-"))
    requirements = [DISTRIBUTIONS.get(m, m) for m in missing]
    rc, text = run.command(
        "install", [sys.executable, "-m", "pip", "install", "--no-index",
                    "--find-links", wheel_dir.resolve(), "--target", site,
                    "--no-compile", "--disable-pip-version-check", "--quiet",
                    *requirements], "install.log")
    if rc != 0:
        raise StepFailed(f"installing {', '.join(requirements)} from "
                         f"{wheel_dir} failed (see install.log)")
    run.pythonpath.append(str(site))
    sys.path.append(str(site))
    still = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_imports.py"),
         "--missing"], env=run.environment(), capture_output=True,
        text=True, check=True).stdout.split()
    if still:
        raise StepFailed(f"still missing after installing from {wheel_dir}:"
                         f" {', '.join(still)}; its wheels do not cover "
                         f"them (scripts/gpu-requirements.txt)")
    run.summary["modules"]["installed_into"] = str(site)
    run.say(f"installed {', '.join(requirements)} into {site}")


def gpu(run):
    """Step 3: a GPU that computes, or the reason."""
    code = ("from dlcore import backend; import sys; "
            "p = backend.gpu_problem(); print(p or 'ok'); sys.exit(bool(p))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                          env=run.environment(), capture_output=True,
                          text=True)
    if proc.returncode != 0:
        reason = (proc.stdout + proc.stderr).strip()
        raise StepFailed(f"no usable GPU: {reason}")
    import cupy
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else name
    run.summary["gpu"] = name
    run.say(f"GPU: {name} computes")


def tests(run):
    """Step 4: the GPU tests, a skip counting as a failure."""
    rc, text = run.command(
        "tests", [sys.executable, "-m", "pytest", "-m", "gpu", "-ra",
                  "-p", "no:cacheprovider", "-o", "addopts=--strict-markers",
                  "tests/test_gpu.py"], "gpu-tests.txt")
    counts = {k: int(n) for n, k in re.findall(
        r"(\d+) (passed|failed|errors?|skipped)", text.splitlines()[-1]
        if text.strip() else "")}
    run.summary["tests"] = counts
    if rc != 0 or not counts.get("passed"):
        raise StepFailed(f"GPU tests: {counts or 'no result'} "
                         f"(see gpu-tests.txt)")


def benchmark(run, quick):
    """Step 5: the GPU benchmark, text and JSON."""
    path = run.out / "gpu_bench.json"
    rc, _ = run.command(
        "benchmark", [sys.executable, "benchmarks/gpu_bench.py", "--json",
                      path, *(["--quick"] if quick else [])], "gpu_bench.txt")
    if path.is_file():
        figures = json.loads(path.read_text())
        keys = ("matmul_speedup_fp32", "precision_speedup",
                "conv_speedup_fp32")
        run.summary["speedups"] = {k: figures[k] for k in keys
                                   if k in figures}
        cpu, gpu_net = figures.get("cpu_convnet"), figures.get("gpu_convnet")
        if cpu and gpu_net:
            run.summary["speedups"]["convnet_epoch"] = \
                cpu["epoch_s"] / gpu_net["epoch_s"]
    if rc != 0:
        raise StepFailed("the GPU benchmark failed (see gpu_bench.txt)")


def lesson(run, path):
    """Step 6: execute the lesson in place; a copy into the output."""
    path = Path(path).resolve()
    code = (
        "import sys, nbformat\n"
        "from nbclient import NotebookClient\n"
        "path = sys.argv[1]\n"
        "nb = nbformat.read(path, as_version=4)\n"
        "NotebookClient(nb, timeout=240, kernel_name='python3',\n"
        "               resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
        "nbformat.write(nb, path)\n"
        "print('executed', path)\n")
    rc, _ = run.command("lesson", [sys.executable, "-c", code, path,
                                   path.parent], "lesson.log")
    if rc != 0:
        raise StepFailed(f"executing {path.name} failed (see lesson.log); "
                         f"the notebook was left as it was")
    shutil.copy(path, run.out / path.name)
    run.summary["lesson"] = str(path.relative_to(ROOT)
                                if path.is_relative_to(ROOT) else path)


def summary_lines(s):
    lines = [f"GPU run of {s['date']}: "
             f"{'PASSED' if s['ok'] else 'FAILED'}"]
    if "gpu" in s:
        lines.append(f"GPU: {s['gpu']}")
    found = s.get("found", {})
    if found:
        lines.append(f"CuPy {found.get('cupy', '?')}, CUDA runtime "
                     f"{found.get('cuda_runtime', '?')}, NumPy "
                     f"{found.get('numpy', '?')}, Python "
                     f"{found.get('python', '?')}")
    if "tests" in s:
        lines.append("GPU tests: " + ", ".join(
            f"{n} {k}" for k, n in s["tests"].items()))
    for key, values in s.get("speedups", {}).items():
        if isinstance(values, dict):
            values = ", ".join(f"{k}: {v:.1f}x" for k, v in values.items())
        else:
            values = f"{values:.1f}x"
        lines.append(f"{key}: {values}")
    if "lesson" in s:
        lines.append(f"lesson executed with its outputs: {s['lesson']}")
    if s.get("failure"):
        lines.append(f"FAILED: {s['failure']}")
    lines.append(f"took {s['seconds']:.0f} s; everything is in {s['out']}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--out", default=str(ROOT / "gpu-results"),
                        help="the output folder (default gpu-results/)")
    parser.add_argument("--wheels", default=str(ROOT / "gpu-wheels"),
                        help="wheels of missing modules (make gpu-wheels)")
    parser.add_argument("--quick", action="store_true",
                        help="the benchmark's small sizes")
    parser.add_argument("--lesson", default=str(LESSON),
                        help="the notebook to execute (default: the GPU "
                             "lesson)")
    args = parser.parse_args(argv)
    run = Run(args.out)
    run.summary["out"] = str(run.out)
    failures = []
    try:  # without these nothing else can run
        versions(run)
        dependencies(run, args.wheels)
        gpu(run)
    except StepFailed as err:
        failures.append(str(err))
    if not failures:  # each of these runs whatever the others gave
        for step in (lambda: tests(run), lambda: benchmark(run, args.quick),
                     lambda: lesson(run, args.lesson)):
            try:
                step()
            except StepFailed as err:
                failures.append(str(err))
    failure = "; ".join(failures) or None
    run.summary.update(ok=failure is None, failure=failure,
                       seconds=time.perf_counter() - run.t0)
    lines = summary_lines(run.summary)
    (run.out / "summary.txt").write_text("\n".join(lines) + "\n")
    (run.out / "summary.json").write_text(
        json.dumps(run.summary, indent=1, default=str))
    print("\n" + "\n".join(lines), flush=True)
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
