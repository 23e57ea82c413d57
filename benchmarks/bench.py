"""``make bench``: dlcore's speed on this CPU, against PyTorch if installed.

Prints (never asserts) GEMM rates, Convolution and Pooling forward+backward
times, a SimpleConvNet epoch on digits, im2col's peak memory, the
milestones' accuracy and time with the reference answers, the time
nbgrader takes to autograde one learner's whole course and the
self-check's time per chapter; ``--book`` adds
the book's cold and warm build, ``--tests`` the test suite's time. NumPy
and PyTorch run in alternating blocks with a pause between (their thread
pools would steal each other's cores otherwise); every ratio is taken
within this one run.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlcore import conv, layers, nets  # noqa: E402
from dlcore.datasets import load_digits  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

SHAPES = [(100, 1, 16, 28), (64, 16, 32, 14), (32, 3, 64, 32)]  # N,C,FN,H
PAUSE = 0.3


def block(fn, repeat):
    """Seconds per call: the best of a block of ``repeat`` calls."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def header():
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.platform()}")
    print(f"numpy {np.__version__}", end="")
    try:
        from threadpoolctl import threadpool_info
        pools = [f"{p['internal_api']} {p['num_threads']} threads"
                 for p in threadpool_info()]
        print(f" ({', '.join(pools)})", end="")
    except ImportError:
        pass
    print()
    if torch is None:
        print("PyTorch: not installed (pip install -e '.[bench]'); "
              "dlcore's figures alone")
    else:
        print(f"torch {torch.__version__}: {torch.get_num_threads()} threads")


def gemm():
    print("\n== GEMM 1024x1024 (the limit of an im2col convolution)")
    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        a = rng.standard_normal((1024, 1024)).astype(dtype)
        t = block(lambda: a @ a, 5)
        print(f"{dtype}: {2 * 1024**3 / t / 1e9:7.1f} GFLOP/s")


def blas_threads():
    """OpenBLAS's (or MKL's) thread count, None if threadpoolctl cannot
    tell; PyTorch is set to the same, so both run on as many cores."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [p["num_threads"] for p in threadpool_info()
              if p["user_api"] == "blas"]
    n = max(counts, default=None)
    if n is not None and torch is not None:
        torch.set_num_threads(n)
    return n


def conv_case(N, C, FN, H, dtype, rng, rounds=5):
    """Medians and bests over alternating rounds, forward+backward of a
    3x3 pad 1 Convolution and of a 2x2 Pooling, for dlcore's fast path, the
    book's version and PyTorch: ({name: (median, best)} conv, same pool)."""
    x = rng.standard_normal((N, C, H, H)).astype(dtype)
    W = (rng.standard_normal((FN, C, 3, 3)) * 0.1).astype(dtype)
    b = np.zeros(FN, dtype=dtype)
    fast, book = layers.Convolution(W, b, 1, 1), layers.Convolution(W, b, 1, 1)
    book.fast = False
    dy = rng.standard_normal((N, FN, H, H)).astype(dtype)
    px = rng.standard_normal((N, FN, H, H)).astype(dtype)
    pfast, pbook = layers.Pooling(2, 2, 2), layers.Pooling(2, 2, 2)
    pbook.fast = False
    pdy = rng.standard_normal((N, FN, H // 2, H // 2)).astype(dtype)

    def run(layer, x, dy):
        def f():
            layer.forward(x)
            layer.backward(dy)
        return f
    conv_fns = {"dlcore": run(fast, x, dy), "book": run(book, x, dy)}
    pool_fns = {"dlcore": run(pfast, px, pdy), "book": run(pbook, px, pdy)}
    if torch is not None:
        xt = torch.tensor(x, requires_grad=True)
        Wt = torch.tensor(W, requires_grad=True)
        bt = torch.tensor(b, requires_grad=True)
        dyt, pxt = torch.tensor(dy), torch.tensor(px, requires_grad=True)
        pdyt = torch.tensor(pdy)

        def tconv():
            F.conv2d(xt, Wt, bt, padding=1).backward(dyt)

        def tpool():
            F.max_pool2d(pxt, 2, 2).backward(pdyt)
        conv_fns["torch"], pool_fns["torch"] = tconv, tpool
    return alternate(conv_fns, rounds), alternate(pool_fns, rounds)


def alternate(fns, rounds):
    """{name: (median, best)} over ``rounds`` rounds of each function's
    block (its best of 5 calls), the functions' blocks alternating."""
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(block(fn, 5))
            time.sleep(PAUSE)
    return {name: (statistics.median(ts), min(ts))
            for name, ts in times.items()}


def conv_and_pool():
    threads = blas_threads()
    print("\n== Convolution 3x3 pad 1 and Pooling 2x2 (on the conv output), "
          f"forward+backward, {threads or '?'} BLAS threads")
    print("   ms: the median over 5 alternating rounds of each round's best "
          "of 5 calls; ratios: of the medians (of the bests); GFLOP/s: "
          "dlcore's, 3 products (forward, dW, dx) of 2*N*FN*H*W*C*9 each")
    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        for N, C, FN, H in SHAPES:
            flops = 3 * 2 * N * FN * H * H * C * 9
            tc, tp = conv_case(N, C, FN, H, dtype, rng)
            line = f"{dtype} N={N:3d} {C:2d}->{FN:2d} {H}x{H}  conv " + \
                ", ".join(f"{k} {v[0] * 1e3:.2f}" for k, v in tc.items())
            line += f" ms ({flops / tc['dlcore'][0] / 1e9:.0f} GFLOP/s)"
            line += ratio_text("book", tc) + ratio_text("torch", tc)
            line += " | pool " + ", ".join(f"{k} {v[0] * 1e3:.2f}"
                                          for k, v in tp.items())
            print(line + " ms" + ratio_text("torch", tp))
    if torch is not None:
        print(f"   (PyTorch on {torch.get_num_threads()} threads)")


def ratio_text(other, times):
    """', dlcore/other 0.91 (0.88)': medians' ratio (bests' ratio)."""
    if other not in times:
        return ""
    (med, best), (omed, obest) = times["dlcore"], times[other]
    return f", dlcore/{other} {med / omed:.2f} ({best / obest:.2f})"


def torch_convnet(net):
    """The same SimpleConvNet in PyTorch, from net's current weights:
    Conv(pad 1) - ReLU - MaxPool 2x2 - Linear - ReLU - Linear, and
    F.cross_entropy for SoftmaxWithLoss (mean over the batch)."""
    p = net.params
    W1 = torch.nn.Parameter(torch.tensor(p["W1"]))
    b1 = torch.nn.Parameter(torch.tensor(p["b1"]))
    lin2, lin3 = (torch.nn.Linear(*p[f"W{i}"].shape) for i in (2, 3))
    with torch.no_grad():
        for lin, i in ((lin2, 2), (lin3, 3)):
            lin.weight.copy_(torch.tensor(p[f"W{i}"].T))
            lin.bias.copy_(torch.tensor(p[f"b{i}"]))
    pad = net.layers[0].pad

    def forward(x):
        h = F.max_pool2d(F.relu(F.conv2d(x, W1, b1, padding=pad)), 2, 2)
        return lin3(F.relu(lin2(h.flatten(1))))
    return forward, [W1, b1, *lin2.parameters(), *lin3.parameters()]


def convnet(epochs=8, batch=100, lr=0.1):
    threads = blas_threads()
    print(f"\n== SimpleConvNet on digits (16 filters 3x3 pad 1, hidden 100), "
          f"SGD lr={lr}, batch {batch}, float32, seconds per epoch, "
          f"{threads or '?'} BLAS threads")
    (xtr, ttr), (xte, tte) = load_digits(flatten=False, dtype=np.float32)
    net = nets.SimpleConvNet(
        (1, 8, 8), {"filter_num": 16, "filter_size": 3, "pad": 1},
        hidden_size=100, weight_init_std="he", rng=0, dtype=np.float32)
    if torch is not None:
        tforward, tparams = torch_convnet(net)
        topt = torch.optim.SGD(tparams, lr=lr)
        xtr_t, ttr_t = torch.tensor(xtr), torch.tensor(ttr)
    order = np.random.default_rng(1).permutation
    res = {"dlcore": [], "torch": []}
    for epoch in range(epochs):
        idx = order(len(xtr))
        t = time.perf_counter()
        for i in range(0, len(xtr), batch):
            j = idx[i:i + batch]
            grads = net.gradient(xtr[j], ttr[j])
            for k in net.params:
                net.params[k] -= np.float32(lr) * grads[k]
        res["dlcore"].append(time.perf_counter() - t)
        time.sleep(PAUSE)
        if torch is not None:
            t = time.perf_counter()
            for i in range(0, len(xtr), batch):
                j = torch.tensor(idx[i:i + batch])
                loss = F.cross_entropy(tforward(xtr_t[j]), ttr_t[j])
                topt.zero_grad()
                loss.backward()
                topt.step()
            res["torch"].append(time.perf_counter() - t)
            time.sleep(PAUSE)
    acc = net.accuracy(xte, tte)
    dtype = net.params["W1"].dtype
    line = f"dlcore {statistics.median(res['dlcore']):.3f} s/epoch, " \
           f"test accuracy {acc:.3f} (params {dtype})"
    if torch is not None:
        with torch.no_grad():
            pred = tforward(torch.tensor(xte)).argmax(1).numpy()
        tacc = float((pred == tte).mean())
        ratio = statistics.median(res["dlcore"]) / statistics.median(
            res["torch"])
        best = min(res["dlcore"]) / min(res["torch"])
        line += f"; torch {statistics.median(res['torch']):.3f} s/epoch, " \
                f"test accuracy {tacc:.3f}; dlcore/torch {ratio:.2f} " \
                f"(best epochs {best:.2f}; PyTorch on " \
                f"{torch.get_num_threads()} threads)"
    print(line)


def im2col_memory():
    print("\n== im2col peak memory per shape (tracemalloc, float32)")
    rng = np.random.default_rng(0)
    for N, C, FN, H in SHAPES:
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        peaks = []
        for fn in (conv.im2col, conv.im2col_t):
            tracemalloc.start()
            col = fn(x, 3, 3, 1, 1)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        print(f"N={N:3d} C={C:2d} {H}x{H}: input {x.nbytes / 2**20:5.1f} MiB"
              f", col {col.nbytes / 2**20:5.1f} MiB, peak im2col "
              f"{peaks[0] / 2**20:5.1f} MiB, im2col_t {peaks[1] / 2**20:5.1f}"
              f" MiB")


def autograde(learners=4):
    print("\n== class grading (python -m coursekit grade): learners per "
          "hour with 1 and 2 workers and a local Dask cluster, where a "
          "notebook's time goes, projections")
    from coursekit.sandbox import sandbox_problem
    from grading_throughput import report

    problem = sandbox_problem()
    if problem:
        print(f"   skipped: no grading sandbox here ({problem})")
        return
    r = report(learners=learners, log=lambda m: print(f"   {m}",
                                                      flush=True))
    one = r["rates"].get("1 local worker(s)")
    if one:
        print(f"one learner's whole course with 1 worker: {3600 / one:.0f}"
              f" s (budget 120 s)")


def selfcheck():
    print("\n== the self-check (python -m coursekit check) per chapter, "
          "on the released notebook with the reference answers")
    import nbformat

    from coursekit.check import check
    from coursekit.notebooks import answer_cells, read
    from coursekit.release import source_chapters

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        for chapter in source_chapters():
            nb = read(ROOT / "chapters" / chapter / "exercises.ipynb")
            ref = answer_cells(read(ROOT / "solutions" / chapter /
                                    "exercises.ipynb"))
            for item, cell in answer_cells(nb).items():
                cell.source = ref[item].source
            path = Path(tmp, f"{chapter}.ipynb")
            nbformat.write(nb, str(path))
            r = check(path)
            rows.append((chapter, r["seconds"], r["score"], r["max_score"]))
            print(f"   {chapter:<18} {r['seconds']:5.1f} s  "
                  f"{r['score']:g} / {r['max_score']:g}")
    times = [t for _, t, _, _ in rows]
    print(f"{sum(times):.1f} s for {len(rows)} chapters; median "
          f"{statistics.median(times):.1f} s, slowest {max(times):.1f} s "
          f"(kernel and judge start-up included); {r['sandbox']}")


def milestones():
    print("\n== the milestones (chapters 5, 6, 7) with the reference "
          "answers, in this process")
    from coursekit.notebooks import read
    from coursekit.runner import run_inprocess

    for chapter in ("ch05_backprop", "ch06_training", "ch07_cnn"):
        printed = {}
        results = run_inprocess(read(ROOT / "solutions" / chapter /
                                     "exercises.ipynb"), printed=printed)
        for cell, (seconds, out) in printed.items():
            if "milestone" in cell:
                ok = "passed" if results[cell][0] else "FAILED"
                said = " ".join(out.split()) or "(nothing printed)"
                print(f"   {cell:<40} {seconds:5.1f} s  {ok}: {said}")


def tests():
    print("\n== the test suite (python -m pytest -n auto --dist loadfile, "
          "as make test)")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q",
                           "-p", "no:cacheprovider", "-n", "auto",
                           "--dist", "loadfile"], cwd=ROOT,
                          capture_output=True, text=True)
    t = time.perf_counter() - t
    summary = (proc.stdout.strip().splitlines() or ["no output"])[-1]
    print(f"{t:.0f} s (budget 900 s): {summary}")


def book():
    print("\n== jupyter-book build (cold: a fresh copy; warm: again)")
    jb = Path(sys.executable).parent / "jupyter-book"
    with tempfile.TemporaryDirectory(prefix="bench-book-") as tmp:
        copy = Path(tmp, "book")
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
            ".venv", "_build", ".git", "*.egg-info", ".pytest_cache"))
        for kind in ("cold", "warm"):
            t = time.perf_counter()
            subprocess.run([str(jb), "build", ".", "--builder", "html"],
                           cwd=copy, check=True, capture_output=True)
            t = time.perf_counter() - t
            budget = 300 if kind == "cold" else 30
            print(f"{kind}: {t:.1f} s (budget {budget} s)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--book", action="store_true",
                    help="also time a cold and a warm book build (minutes)")
    ap.add_argument("--tests", action="store_true",
                    help="also time the whole test suite (minutes)")
    ap.add_argument("--skip-autograde", action="store_true")
    args = ap.parse_args(argv)
    header()
    gemm()
    conv_and_pool()
    convnet()
    im2col_memory()
    milestones()
    if not args.skip_autograde:
        autograde()
        selfcheck()
    if args.book:
        book()
    if args.tests:
        tests()


if __name__ == "__main__":
    main()
