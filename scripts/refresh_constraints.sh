#!/usr/bin/env bash
# Refresh constraints.txt: the versions CI installs (PIP_CONSTRAINT in
# .ci/run). Installs the test set into a throwaway venv without any
# constraint and writes what pip resolved. Run it on purpose (`make
# constraints`), run `make test` with the result, and commit both.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
PIP_CONSTRAINT= "$tmp/venv/bin/python" -m pip install --quiet --upgrade pip
PIP_CONSTRAINT= "$tmp/venv/bin/python" -m pip install --quiet '.[test,learn]'
{
    echo "# What CI installs (.ci/run sets PIP_CONSTRAINT to this file)."
    echo "# Made by scripts/refresh_constraints.sh (make constraints) with"
    echo "# $("$tmp/venv/bin/python" -V) on $(uname -sm), $(date -u +%Y-%m-%d)."
    "$tmp/venv/bin/python" -m pip freeze --exclude-editable \
        | grep -v -i '^deep-learning-by-hand'
} > constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) packages pinned"
