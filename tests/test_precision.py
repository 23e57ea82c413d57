"""dlcore.precision: dynamic loss scaling (chapter 8)."""

import numpy as np
import pytest

from dlcore.optim import SGD
from dlcore.precision import LossScaler


class Recorder:
    """An optimizer that remembers what it was given (and applies SGD)."""

    def __init__(self, lr=1.0):
        self.calls = []
        self.sgd = SGD(lr)

    def update(self, params, grads):
        self.calls.append({k: g.copy() for k, g in grads.items()})
        self.sgd.update(params, grads)


def test_defaults():
    s = LossScaler()
    assert s.scale == 65536.0
    assert (s.growth_factor, s.backoff_factor, s.growth_interval) == (
        2.0, 0.5, 2000)


def test_unscales_float16_grads_in_float32():
    scaler = LossScaler(init_scale=1024.0)
    true_grad = np.array([3e-6, -1e-5, 2.5e-7], dtype=np.float32)
    # in float16, 2.5e-7 would be rounded to about 2.4e-7 (a subnormal)
    # and 3e-6 loses digits; scaled by 1024 they are ordinary float16 numbers
    scaled = (true_grad * 1024).astype(np.float16)
    params = {"W": np.zeros(3, dtype=np.float32)}
    opt = Recorder()
    assert scaler.step(opt, params, {"W": scaled}) is True
    got = opt.calls[0]["W"]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, scaled.astype(np.float32) / 1024,
                               rtol=1e-7)
    np.testing.assert_allclose(got, true_grad, rtol=1e-3)
    np.testing.assert_allclose(params["W"], -got)  # the optimizer ran


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_overflow_skips_the_step_and_backs_off(bad):
    scaler = LossScaler(init_scale=256.0, growth_interval=3)
    params = {"W": np.ones(2, dtype=np.float32)}
    opt = Recorder()
    assert scaler.step(opt, params, {"W": np.ones(2, np.float16)})
    grads = {"W": np.array([1.0, bad], dtype=np.float16)}
    assert scaler.step(opt, params, grads) is False
    assert scaler.scale == 128.0
    assert len(opt.calls) == 1  # the bad step never reached the optimizer
    before = params["W"].copy()
    scaler.step(opt, params, grads)
    np.testing.assert_array_equal(params["W"], before)
    assert scaler.scale == 64.0


def test_growth_after_interval_and_restart_after_overflow():
    scaler = LossScaler(init_scale=8.0, growth_interval=3)
    params = {"W": np.zeros(1, dtype=np.float32)}
    opt = Recorder(lr=0.0)
    good = {"W": np.ones(1, dtype=np.float16)}
    bad = {"W": np.array([np.inf], dtype=np.float16)}
    scales = []
    for grads in [good, good, bad, good, good, good, good, good, good]:
        scaler.step(opt, params, grads)
        scales.append(scaler.scale)
    # 2 good, overflow (back off, count restarts), then growth every 3 good
    assert scales == [8, 8, 4, 4, 4, 8, 8, 8, 16]


def test_grads_left_as_they_were():
    scaler = LossScaler(init_scale=4.0)
    g = np.array([4.0, 8.0], dtype=np.float16)
    scaler.step(Recorder(), {"W": np.zeros(2, np.float32)}, {"W": g})
    np.testing.assert_array_equal(g, [4.0, 8.0])
    assert g.dtype == np.float16


def test_float64_overflow_in_float32_counts_as_overflow():
    scaler = LossScaler(init_scale=1.0)
    params = {"W": np.zeros(1, dtype=np.float32)}
    grads = {"W": np.array([1e300])}  # fits float64, not float32
    assert scaler.step(Recorder(), params, grads) is False
    assert scaler.scale == 0.5
