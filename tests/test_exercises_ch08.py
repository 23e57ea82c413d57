"""Fairness and sharpness of chapter 8's LossScaler tests.

The chapter-8 source notebook's test cells run in this process
(coursekit.runner, scored as nbgrader scores them) against answers a
learner could write: correct ones in other styles pass every test cell;
plausible mistakes fail the cells meant to catch them, with their message.
"""

from pathlib import Path
import re
import textwrap

import pytest

from coursekit.notebooks import read

ROOT = Path(__file__).resolve().parents[1]
CH08 = ROOT / "solutions" / "ch08_gpu" / "exercises.ipynb"

VISIBLE = "test_LossScaler_steps"
VIS_OVER = "test_LossScaler_overflow"
VIS_GROW = "test_LossScaler_growth"
OVER = "test_LossScaler_hidden_overflow"
UNSCALE = "test_LossScaler_hidden_unscale"
GROW = "test_LossScaler_hidden_growth"
DEFAULTS = "test_LossScaler_hidden_defaults"
ALL = {VISIBLE, VIS_OVER, VIS_GROW, OVER, UNSCALE, GROW, DEFAULTS}


@pytest.fixture(scope="module")
def nb():
    return read(CH08)


def _src(text):
    return textwrap.dedent(text).strip("\n")


# A correct answer in a given style; mistakes are made by replacing lines.
LOOPS = _src("""
    import numpy as np

    class LossScaler:
        def __init__(self, init_scale=65536.0, growth_factor=2.0,
                     backoff_factor=0.5, growth_interval=2000):
            self.scale = init_scale
            self.growth_factor = growth_factor
            self.backoff_factor = backoff_factor
            self.growth_interval = growth_interval
            self.count = 0

        def step(self, optimizer, params, grads):
            unscaled = {}
            overflow = False
            for key in grads:
                g = grads[key].astype(np.float32) / np.float32(self.scale)
                if np.isinf(g).any() or np.isnan(g).any():
                    overflow = True
                unscaled[key] = g
            if overflow:
                self.scale *= self.backoff_factor
                self.count = 0
                return False
            optimizer.update(params, unscaled)
            self.count += 1
            if self.count >= self.growth_interval:
                self.scale *= self.growth_factor
                self.count = 0
            return True
""")

CORRECT = {
    "loops over keys, isinf | isnan": LOOPS,
    "reciprocal multiply, check scaled grads first, sum trick": _src("""
        import numpy as np

        class LossScaler:
            def __init__(self, init_scale=65536.0, growth_factor=2.0,
                         backoff_factor=0.5, growth_interval=2000):
                self.scale = float(init_scale)
                self.growth_factor = growth_factor
                self.backoff_factor = backoff_factor
                self.growth_interval = growth_interval
                self.good = 0

            def step(self, optimizer, params, grads):
                total = 0.0
                for g in grads.values():
                    total = total + np.sum(g.astype(np.float64))
                if not np.isfinite(total):
                    self.scale = self.scale * self.backoff_factor
                    self.good = 0
                    return False
                inv = np.float32(1.0 / self.scale)
                optimizer.update(params, {k: np.float32(inv) *
                                          g.astype(np.float32)
                                          for k, g in grads.items()})
                self.good += 1
                if self.good % self.growth_interval == 0:
                    self.good = 0
                    self.scale *= self.growth_factor
                return True
    """),
    "dlcore's earlier items and helpers allowed (backend xp)": _src("""
        import numpy as np
        from dlcore.backend import get_array_module

        class LossScaler:
            def __init__(self, init_scale=65536.0, growth_factor=2.0,
                         backoff_factor=0.5, growth_interval=2000):
                self.scale, self.steps_ok = init_scale, 0
                self.up, self.down = growth_factor, backoff_factor
                self.every = growth_interval

            def step(self, optimizer, params, grads):
                out = {}
                for k, g in grads.items():
                    xp = get_array_module(g)
                    out[k] = xp.divide(g, self.scale, dtype=xp.float32)
                finite = all(map(lambda a: bool(
                    np.isfinite(a).all()), out.values()))
                if finite:
                    optimizer.update(params, out)
                    self.steps_ok += 1
                    if self.steps_ok == self.every:
                        self.scale, self.steps_ok = self.scale * self.up, 0
                else:
                    self.scale, self.steps_ok = self.scale * self.down, 0
                return finite
    """),
}


def _mutate(old, new):
    assert old in LOOPS, old
    return LOOPS.replace(old, new)


MISTAKES = {
    "divides in float16": (
        _mutate("g = grads[key].astype(np.float32) / np.float32(self.scale)",
                "g = grads[key] / self.scale"),
        {VISIBLE, UNSCALE}, "unscale in float32"),
    "multiplies by the scale": (
        _mutate("/ np.float32(self.scale)", "* np.float32(self.scale)"),
        {VISIBLE, UNSCALE}, "times the scale|values are off"),
    "updates params on overflow": (
        _mutate("self.count = 0\n            return False",
                "self.count = 0\n            optimizer.update(params, "
                "unscaled)\n            return False"),
        {VISIBLE, VIS_OVER, OVER}, "optimizer.update"),
    "checks only the first gradient": (
        _mutate("for key in grads:",
                "for key in grads:\n"
                "            first = key == list(grads)[0]")
        .replace("if np.isinf(g).any() or np.isnan(g).any():",
                 "if first and (np.isinf(g).any() or np.isnan(g).any()):"),
        {VIS_OVER, OVER}, "every entry of every gradient"),
    "checks inf but not NaN": (
        _mutate("if np.isinf(g).any() or np.isnan(g).any():",
                "if np.isinf(g).any():"),
        {VIS_OVER, OVER, DEFAULTS}, "NaN|overflow"),
    "no restart of the count after an overflow": (
        _mutate("self.count = 0\n            return False",
                "return False"),
        {VIS_GROW, GROW}, "start the run of good steps again"),
    "no restart of the count after a growth": (
        _mutate("self.scale *= self.growth_factor\n            "
                "self.count = 0", "self.scale *= self.growth_factor"),
        {VIS_GROW, GROW}, "start again after each growth"),
    "grows one step late": (
        _mutate("self.count >= self.growth_interval",
                "self.count > self.growth_interval"),
        {VIS_GROW, GROW, DEFAULTS}, r"exactly \d|after 2000"),
    "backoff multiplies by growth_factor": (
        _mutate("self.scale *= self.backoff_factor",
                "self.scale /= self.growth_factor"),
        {VIS_OVER, VIS_GROW, OVER, GROW}, "backoff_factor|overflow"),
    "wrong default growth_interval": (
        _mutate("growth_interval=2000", "growth_interval=1000"),
        {DEFAULTS}, "grow only after 2000"),
    "returns None": (
        _mutate("        return True", "        return"),
        {VISIBLE, UNSCALE}, "return"),
    "delegates to dlcore": (
        _src("""
            from dlcore.precision import LossScaler as _L

            class LossScaler(_L):
                pass
        """), ALL, "delegating to dlcore"),
}


def _failing(results):
    return {gid for gid, (ok, _) in results.items() if not ok}


def test_reference_solution_passes(nb, run):
    results = run(nb)
    assert results.keys() == ALL
    assert not _failing(results), results


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_styles_pass(nb, name, run):
    results = run(nb, {"LossScaler": CORRECT[name]})
    assert not _failing(results), {
        k: m for k, (ok, m) in results.items() if not ok}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_mistakes_fail_the_intended_cells(nb, name, run):
    source, cells, pattern = MISTAKES[name]
    results = run(nb, {"LossScaler": source})
    assert _failing(results) == cells, {
        k: m for k, (ok, m) in results.items() if not ok}
    for gid in cells:
        message = results[gid][1]
        assert re.search(pattern, message), (gid, message)
