"""Time dlcore on the CPU (NumPy) and on a GPU (CuPy): chapter 8's figures.

    python benchmarks/gpu_bench.py            # or: make bench-gpu
    python benchmarks/gpu_bench.py --quick    # small sizes, a smoke test
    python benchmarks/gpu_bench.py --json results.json

Prints the machine (CPU, GPU name, CUDA), then for the CPU and the GPU:
matrix products n x n (float32; on the GPU also TF32 tensor cores and
float16), dlcore's Convolution forward + backward across sizes, a
SimpleConvNet epoch on the digits with its accuracy, and the memory in use.

Every timing warms up first (CuPy compiles its kernels on first use) and
synchronises the GPU before reading the clock (its calls return before the
work is done); the figure is the median of repeated runs. Without CuPy or a
GPU the CPU figures are printed and the GPU part is skipped with the reason
(exit status 0; 1 with DLCORE_REQUIRE_GPU=1, as make bench-gpu sets it).
The float32 rows always run in full float32, TF32 has rows of its own, and
TF32 is off again after them whatever happens (backend.tf32).
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

from dlcore import backend, layers, nets
from dlcore.datasets import load_digits
from dlcore.trainer import Trainer

MATMUL_SIZES = {"cpu": (256, 512, 1024, 2048),
                "gpu": (256, 512, 1024, 2048, 4096, 8192)}
# (name, N, C, H, W, FN, filter size, pad)
CONV_SIZES = (
    ("digits batch", 100, 1, 8, 8, 30, 3, 1),
    ("MNIST batch", 100, 1, 28, 28, 30, 5, 0),
    ("CIFAR-like", 64, 16, 32, 32, 32, 3, 1),
    ("wider", 32, 64, 32, 32, 64, 3, 1),
)
QUICK_MATMUL = {"cpu": (128, 256), "gpu": (256, 1024)}
QUICK_CONV = CONV_SIZES[:2]


# ---------------------------------------------------------------- timing

def median_time(fn, sync, warmup=2, min_reps=3, min_seconds=0.3,
                max_reps=50):
    """Median wall time of fn() in seconds, after warm-up runs; ``sync``
    waits for the device to finish (a no-op on the CPU)."""
    for _ in range(warmup):
        fn()
        sync()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (
            time.perf_counter() - start < min_seconds
            and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_sync():
    pass


# ---------------------------------------------------------------- machine

def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def find_gpu():
    """(cupy, None) when a CUDA GPU computes here, else (None, the reason)."""
    problem = backend.gpu_problem()
    if problem:
        return None, problem
    import cupy

    return cupy, None


def gpu_info(cupy):
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else name
    free, total = cupy.cuda.runtime.memGetInfo()

    def version(v):
        return f"{v // 1000}.{v % 1000 // 10}"

    return {
        "name": name,
        "compute_capability": f"{props['major']}.{props['minor']}",
        "memory_total_gib": round(total / 2**30, 1),
        "cuda_runtime": version(cupy.cuda.runtime.runtimeGetVersion()),
        "cuda_driver": version(cupy.cuda.runtime.driverGetVersion()),
        "cupy": cupy.__version__,
    }


# ---------------------------------------------------------------- benchmarks

def bench_matmul(xp, sync, sizes, dtypes):
    """GFLOP/s of an n x n matrix product per (dtype, n), with its error
    against float64 (max |error| / max |product|)."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        a64, b64 = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        exact = a64 @ b64 if n <= 2048 else None
        for label, dtype in dtypes:
            if label == "float16" and xp is np and n > 256:
                continue  # NumPy's float16 product runs at ~0.4 GFLOP/s
            a, b = xp.asarray(a64, dtype=dtype), xp.asarray(b64, dtype=dtype)
            seconds = median_time(lambda: a @ b, sync)
            row = {"dtype": label, "n": n, "ms": seconds * 1e3,
                   "gflops": 2 * n**3 / seconds / 1e9}
            if exact is not None:
                c = backend.to_cpu(a @ b).astype(np.float64)
                row["rel_error"] = float(np.abs(c - exact).max()
                                         / np.abs(exact).max())
            rows.append(row)
    return rows


def bench_conv(xp, sync, sizes, dtype):
    """Milliseconds of dlcore's Convolution forward + backward per size."""
    rng = np.random.default_rng(0)
    rows = []
    for name, N, C, H, W, FN, k, pad in sizes:
        x = xp.asarray(rng.standard_normal((N, C, H, W)), dtype=dtype)
        layer = layers.Convolution(
            xp.asarray(0.1 * rng.standard_normal((FN, C, k, k)), dtype=dtype),
            xp.zeros(FN, dtype=dtype), stride=1, pad=pad)
        dout = xp.ones_like(layer.forward(x))

        def step():
            layer.forward(x)
            layer.backward(dout)

        seconds = median_time(step, sync, min_seconds=0.5)
        oh = H + 2 * pad - k + 1
        macs = 3 * N * FN * oh * oh * C * k * k  # forward, dW and dx GEMMs
        rows.append({"size": name, "shape": f"{N}x{C}x{H}x{W}, {FN} {k}x{k}",
                     "ms": seconds * 1e3, "gflops": 2 * macs / seconds / 1e9})
    return rows


def bench_convnet(device, epochs):
    """SimpleConvNet on the digits (float32): seconds per epoch, accuracy."""
    (x_train, t_train), (x_test, t_test) = load_digits(flatten=False,
                                                       dtype=np.float32)
    saved = backend._active
    try:
        backend.use(device)
        xp = backend.xp()
        net = nets.SimpleConvNet((1, 8, 8), {"filter_num": 30,
                                             "filter_size": 3, "pad": 1},
                                 hidden_size=100, weight_init_std="he",
                                 rng=0, dtype=np.float32)
    finally:
        backend._active = saved
    sync = (lambda: xp.cuda.Device().synchronize()) if xp is not np \
        else cpu_sync
    trainer = Trainer(net, xp.asarray(x_train), xp.asarray(t_train),
                      xp.asarray(x_test), xp.asarray(t_test), epochs=1,
                      mini_batch_size=100, optimizer="adam",
                      optimizer_param={"lr": 0.01}, progress=False, rng=0)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        trainer.train()  # one epoch (the trainer keeps its history)
        sync()
        times.append(time.perf_counter() - t0)
    history = trainer.history
    return {"epochs": epochs, "first_epoch_s": times[0],
            "epoch_s": statistics.median(times[1:] or times),
            "train_acc": history["train_acc"][-1],
            "test_acc": history["test_acc"][-1],
            "final_loss": history["loss"][-1]}


# ---------------------------------------------------------------- printing

def print_table(title, rows, columns):
    print(f"\n{title}")
    cells = [[fmt.format(r[k]) if k in r else "-" for _, k, fmt in columns]
             for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells))
              for i, (h, _, _) in enumerate(columns)]
    heads = [h for h, _, _ in columns]
    print("  " + "  ".join(h.rjust(w) for h, w in zip(heads, widths)))
    for row in cells:
        print("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)))


MATMUL_COLUMNS = [("dtype", "dtype", "{}"), ("n", "n", "{}"),
                  ("ms", "ms", "{:.3f}"), ("GFLOP/s", "gflops", "{:.1f}"),
                  ("error vs fp64", "rel_error", "{:.1e}")]
CONV_COLUMNS = [("size", "size", "{}"), ("x, filters", "shape", "{}"),
                ("ms", "ms", "{:.2f}"), ("GFLOP/s", "gflops", "{:.1f}")]


def speedups(cpu_rows, gpu_rows, key):
    """GPU speed-up per shared row (same key and dtype)."""
    cpu = {(r[key], r.get("dtype")): r["ms"] for r in cpu_rows}
    return {f"{k} {d or ''}".strip(): cpu[(k, d)] / r["ms"]
            for r in gpu_rows
            for k, d in [(r[key], r.get("dtype"))] if (k, d) in cpu}


def precision_ratios(gpu_rows):
    """float32 time over TF32's and float16's at the largest n."""
    n = max(r["n"] for r in gpu_rows)
    ms = {r["dtype"]: r["ms"] for r in gpu_rows if r["n"] == n}
    return {f"{d} at n={n}": ms["float32"] / ms[d]
            for d in ("tf32", "float16") if d in ms and "float32" in ms}


# ---------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and one epoch: a smoke test")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the figures as JSON")
    args = parser.parse_args(argv)
    matmul_sizes = QUICK_MATMUL if args.quick else MATMUL_SIZES
    conv_sizes = QUICK_CONV if args.quick else CONV_SIZES
    epochs = 2 if args.quick else 5

    results = {
        "date": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": {"name": cpu_name(), "cores": len(os.sched_getaffinity(0)),
                "numpy": np.__version__, "python": platform.python_version()},
    }
    print("dlcore GPU benchmark,", results["date"])
    results["cpu"]["load_average"] = os.getloadavg()[0]
    print(f"CPU: {results['cpu']['name']}, {results['cpu']['cores']} cores, "
          f"NumPy {np.__version__}, Python {platform.python_version()}; "
          f"load average {results['cpu']['load_average']:.2f} at the start "
          f"(other work on the machine slows the CPU figures)")
    cupy, why_not = find_gpu()
    if cupy is None:
        results["gpu"] = {"skipped": why_not}
        print(f"GPU: none usable; the GPU part is skipped. {why_not}")
    else:
        results["gpu"] = gpu_info(cupy)
        g = results["gpu"]
        print(f"GPU: {g['name']} (compute capability "
              f"{g['compute_capability']}, {g['memory_total_gib']} GiB), "
              f"CUDA runtime {g['cuda_runtime']}, driver {g['cuda_driver']}, "
              f"CuPy {g['cupy']}")
        if os.environ.get("CUPY_TF32"):
            print(f"note: CUPY_TF32={os.environ['CUPY_TF32']} is set; the "
                  f"float32 rows run in full float32 all the same "
                  f"(backend.tf32(False)), TF32 has rows of its own")

    # -- the CPU
    cpu_mm = bench_matmul(np, cpu_sync, matmul_sizes["cpu"],
                          [("float32", np.float32), ("float64", np.float64),
                           ("float16", np.float16)])
    print_table("CPU matrix products (NumPy)", cpu_mm, MATMUL_COLUMNS)
    cpu_conv = bench_conv(np, cpu_sync, conv_sizes, np.float32)
    print_table("CPU Convolution forward + backward (dlcore, float32)",
                cpu_conv, CONV_COLUMNS)
    cpu_net = bench_convnet("numpy", epochs)
    print(f"\nCPU SimpleConvNet on the digits: {cpu_net['epoch_s']:.2f} s "
          f"per epoch, test accuracy {cpu_net['test_acc']:.3f} after "
          f"{epochs} epochs")
    results.update(cpu_matmul=cpu_mm, cpu_conv=cpu_conv, cpu_convnet=cpu_net)

    # -- the GPU
    failures = []
    if cupy is not None:
        def sync():
            cupy.cuda.Device().synchronize()

        try:
            with backend.tf32(False):
                pass
            tf32_switch = None
        except backend.BackendError as err:
            tf32_switch = str(err)
            print(f"\nTF32 is not switched here: {err}")

        def tf32(on):
            """The block with TF32 on or off, as far as CuPy lets us."""
            return backend.tf32(on) if tf32_switch is None \
                else contextlib.nullcontext()

        try:
            dtypes = [("float32", np.float32), ("float16", np.float16)]
            with tf32(False):
                gpu_mm = bench_matmul(cupy, sync, matmul_sizes["gpu"], dtypes)
            if tf32_switch is None:
                with tf32(True):  # off again after, even on error
                    gpu_mm += bench_matmul(cupy, sync, matmul_sizes["gpu"],
                                           [("tf32", np.float32)])
            order = {"float32": 0, "tf32": 1, "float16": 2}
            gpu_mm.sort(key=lambda r: (order[r["dtype"]], r["n"]))
            print_table("GPU matrix products (CuPy)", gpu_mm, MATMUL_COLUMNS)
            results["gpu_matmul"] = gpu_mm
            results["matmul_speedup_fp32"] = speedups(
                cpu_mm, [r for r in gpu_mm if r["dtype"] == "float32"], "n")
            print("GPU/CPU speed-up, float32 products:",
                  ", ".join(f"n={k.split()[0]}: {v:.0f}x" for k, v in
                            results["matmul_speedup_fp32"].items()))
            results["precision_speedup"] = precision_ratios(gpu_mm)
            print("Largest product, time of float32 over TF32 and over "
                  "float16:", ", ".join(
                      f"{k}: {v:.1f}x" for k, v in
                      results["precision_speedup"].items()))
        except Exception as err:
            failures.append(f"matrix products: {type(err).__name__}: {err}")
        try:
            with tf32(False):
                gpu_conv = bench_conv(cupy, sync, conv_sizes, np.float32)
            half = bench_conv(cupy, sync, conv_sizes, np.float16)
            for r, h in zip(gpu_conv, half):
                r["ms_fp16"] = h["ms"]
            columns = CONV_COLUMNS + [("ms fp16", "ms_fp16", "{:.2f}")]
            print_table("GPU Convolution forward + backward (dlcore)",
                        gpu_conv, columns)
            results["gpu_conv"] = gpu_conv
            results["conv_speedup_fp32"] = speedups(cpu_conv, gpu_conv,
                                                    "size")
            print("GPU/CPU speed-up, float32 convolution:",
                  ", ".join(f"{k}: {v:.1f}x" for k, v in
                            results["conv_speedup_fp32"].items()))
        except Exception as err:
            failures.append(f"convolution: {type(err).__name__}: {err}")
        try:
            with tf32(False):
                gpu_net = bench_convnet("cupy", epochs)
            results["gpu_convnet"] = gpu_net
            print(f"\nGPU SimpleConvNet on the digits: "
                  f"{gpu_net['epoch_s']:.2f} s per epoch (first epoch, with "
                  f"kernel compilation: {gpu_net['first_epoch_s']:.2f} s), "
                  f"test accuracy {gpu_net['test_acc']:.3f} "
                  f"(CPU {cpu_net['test_acc']:.3f}); GPU/CPU speed-up "
                  f"{cpu_net['epoch_s'] / gpu_net['epoch_s']:.1f}x")
        except Exception as err:
            failures.append(f"SimpleConvNet: {type(err).__name__}: {err}")
        pool = cupy.get_default_memory_pool()
        free, total = cupy.cuda.runtime.memGetInfo()
        results["gpu_memory"] = {
            "pool_used_mib": pool.used_bytes() / 2**20,
            "pool_held_mib": pool.total_bytes() / 2**20,
            "device_used_mib": (total - free) / 2**20,
            "device_total_mib": total / 2**20}
        m = results["gpu_memory"]
        print(f"\nGPU memory: {m['pool_used_mib']:.0f} MiB in arrays, "
              f"{m['pool_held_mib']:.0f} MiB held by CuPy's pool, "
              f"{m['device_used_mib']:.0f} of {m['device_total_mib']:.0f} "
              f"MiB in use on the device")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["cpu_peak_rss_mib"] = peak
    print(f"CPU memory: peak resident {peak:.0f} MiB")
    if cupy is None:
        print("\nGPU part skipped:", why_not)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print("figures written to", args.json)
    if cupy is None and os.environ.get("DLCORE_REQUIRE_GPU", "") == "1":
        failures.append(f"DLCORE_REQUIRE_GPU=1 but no GPU: {why_not}")
    for failure in failures:
        print("FAILED", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
