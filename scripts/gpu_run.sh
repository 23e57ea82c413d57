#!/usr/bin/env bash
# Chapter 8 on a GPU machine with no network: the GPU tests, the GPU
# benchmark and the GPU lesson, into one output folder, with a summary.
# It runs scripts/gpu_run.py with the Python that already has CuPy
# (GPU_PYTHON if set, else the first of python3, python that imports it).
#
#   scripts/gpu_run.sh --out gpu-results [--quick] [--wheels gpu-wheels]
#
# The exit status is 0 only when every step passed; see gpu_run.py --help.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${GPU_PYTHON:-}" ]; then
    py="$GPU_PYTHON"
else
    py=""
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c "import cupy" >/dev/null 2>&1; then
            py="$candidate"
            break
        fi
    done
    if [ -z "$py" ]; then
        echo "gpu_run: no python3 or python here imports CuPy;" \
            "set GPU_PYTHON to the Python that has it" >&2
        py="$(command -v python3 || command -v python)"
    fi
fi
exec "$py" "$root/scripts/gpu_run.py" "$@"
