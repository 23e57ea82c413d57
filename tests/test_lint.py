"""ruff over the code and the notebooks' code cells (pyproject.toml's
``[tool.ruff]``: pyflakes and pycodestyle's errors and warnings)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert ruff, "ruff is missing: pip install -e '.[test]'"
    done = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
