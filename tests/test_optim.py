"""dlcore.optim: SGD, Momentum, AdaGrad, RMSprop, Adam and the
learning-rate schedules (chapter 6)."""

import math

import numpy as np
import pytest

from dlcore.optim import (SGD, AdaGrad, Adam, ConstantLR, CosineDecay,
                          Momentum, RMSprop, StepDecay, WarmUp)


def bowl_grad(p):
    """Gradient of the seeds' bowl f(x, y) = x^2 / 20 + y^2."""
    return np.array([p[0] / 10.0, 2.0 * p[1]], dtype=p.dtype)


OPTIMIZERS = {
    "SGD": (lambda: SGD(lr=0.95), 2000),
    "Momentum": (lambda: Momentum(lr=0.1), 500),
    "AdaGrad": (lambda: AdaGrad(lr=1.5), 500),
    "RMSprop": (lambda: RMSprop(lr=0.01), 2000),
    "Adam": (lambda: Adam(lr=0.3), 1000),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_converges_on_the_bowl_and_keeps_dtype(name, dtype):
    make, steps = OPTIMIZERS[name]
    opt = make()
    p = np.array([-7.0, 2.0], dtype=dtype)
    params = {"p": p}
    for _ in range(steps):
        opt.update(params, {"p": bowl_grad(params["p"])})
    assert params["p"] is p, "update must change the array in place"
    assert p.dtype == dtype
    np.testing.assert_allclose(p, [0.0, 0.0], atol=0.02)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_keeps_float32_and_grads_untouched(name):
    opt = OPTIMIZERS[name][0]()
    params = {"W": np.ones((2, 3), np.float32), "b": np.zeros(3, np.float32)}
    grads = {"W": np.full((2, 3), 0.5, np.float32),
             "b": np.full(3, -0.25, np.float32)}
    grads0 = {k: v.copy() for k, v in grads.items()}
    for _ in range(3):
        opt.update(params, grads)
    for key in params:
        assert params[key].dtype == np.float32, key
        np.testing.assert_array_equal(grads[key], grads0[key])
    for state in vars(opt).values():
        if isinstance(state, dict):
            for key, arr in state.items():
                assert arr.dtype == np.float32, f"{name} state {key}"


def test_sgd_one_step():
    p = np.array([1.0, 2.0])
    SGD(lr=0.1).update({"p": p}, {"p": np.array([10.0, -10.0])})
    np.testing.assert_allclose(p, [0.0, 3.0])


def test_momentum_two_steps():
    p = np.array([0.0])
    opt = Momentum(lr=0.1, momentum=0.9)
    g = {"p": np.array([1.0])}
    opt.update({"p": p}, g)   # v = -0.1
    opt.update({"p": p}, g)   # v = -0.09 - 0.1 = -0.19
    np.testing.assert_allclose(p, [-0.29])


def test_adagrad_and_rmsprop_first_steps():
    g = {"p": np.array([2.0])}
    p = np.array([0.0])
    opt = AdaGrad(lr=0.1)
    opt.update({"p": p}, g)   # h = 4: step 0.1 * 2 / 2
    opt.update({"p": p}, g)   # h = 8: step 0.1 * 2 / sqrt(8)
    np.testing.assert_allclose(p, [-0.1 - 0.2 / np.sqrt(8)], rtol=1e-6)
    p = np.array([0.0])
    opt = RMSprop(lr=0.1, decay_rate=0.9)
    opt.update({"p": p}, g)   # h = 0.4
    np.testing.assert_allclose(p, [-0.2 / np.sqrt(0.4)], rtol=1e-6)


def test_adam_first_step_is_lr_sized():
    # with bias correction the first step is lr * g / |g| = lr * sign(g)
    p = np.array([1.0, 1.0])
    opt = Adam(lr=0.01)
    opt.update({"p": p}, {"p": np.array([0.5, -3.0])})
    np.testing.assert_allclose(p, [0.99, 1.01], rtol=1e-6)


def test_adam_matches_textbook_formula(rng):
    lr, b1, b2 = 0.01, 0.9, 0.999
    p = rng.standard_normal(4)
    ref = p.copy()
    m = np.zeros(4)
    v = np.zeros(4)
    opt = Adam(lr, b1, b2)
    for t in range(1, 6):
        g = rng.standard_normal(4)
        opt.update({"p": p}, {"p": g})
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        ref -= lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + 1e-8)
    np.testing.assert_allclose(p, ref, rtol=1e-6)


def test_state_is_per_key():
    opt = Momentum(lr=0.1)
    a, b = np.zeros(2), np.zeros(3)
    opt.update({"a": a, "b": b}, {"a": np.ones(2), "b": -np.ones(3)})
    assert set(opt.v) == {"a", "b"}
    np.testing.assert_allclose(a, -0.1)
    np.testing.assert_allclose(b, 0.1)


# ------------------------------------------------- learning-rate schedules


def test_constant_schedule():
    schedule = ConstantLR(0.05)
    assert [schedule(s) for s in (0, 1, 10**6)] == [0.05] * 3


def test_step_decay_is_a_staircase():
    schedule = StepDecay(0.1, step_size=3, gamma=0.5)
    np.testing.assert_allclose([schedule(s) for s in range(8)],
                               [0.1] * 3 + [0.05] * 3 + [0.025] * 2)


def test_cosine_decay_from_lr_to_min_lr_then_flat():
    schedule = CosineDecay(0.1, total_steps=100, min_lr=0.01)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(50) == pytest.approx(0.055)   # half-way: the mean
    assert schedule(25) == pytest.approx(0.01 + 0.09 * (1 + math.cos(
        math.pi / 4)) / 2)
    assert schedule(100) == pytest.approx(0.01)
    assert schedule(500) == pytest.approx(0.01)
    rates = [schedule(s) for s in range(120)]
    assert all(a >= b for a, b in zip(rates, rates[1:])), "never rises"


def test_warm_up_is_linear_then_hands_over():
    after = CosineDecay(0.2, total_steps=10)
    schedule = WarmUp(after, warmup_steps=4)
    np.testing.assert_allclose([schedule(s) for s in range(4)],
                               [0.05, 0.1, 0.15, 0.2])
    for s in range(4, 20):
        assert schedule(s) == after(s - 4), s


def test_warm_up_before_a_staircase_and_a_number():
    schedule = WarmUp(StepDecay(0.1, step_size=5, gamma=0.1), 5)
    assert schedule(4) == pytest.approx(0.1)
    assert schedule(9) == pytest.approx(0.1)
    assert schedule(10) == pytest.approx(0.01)
    constant = WarmUp(0.3, 3)
    np.testing.assert_allclose([constant(s) for s in range(5)],
                               [0.1, 0.2, 0.3, 0.3, 0.3])


@pytest.mark.parametrize("schedule", [
    ConstantLR(0.1), StepDecay(0.1, 2), CosineDecay(0.1, 5),
    WarmUp(CosineDecay(0.1, 5), 2),
], ids=repr)
def test_schedules_return_python_floats(schedule):
    for step in (0, 1, 3, 7, np.int64(4)):
        assert type(schedule(step)) is float
    with pytest.raises(ValueError, match="from 0"):
        schedule(-1)


@pytest.mark.parametrize("make, match", [
    (lambda: StepDecay(0.1, 0), "step_size"),
    (lambda: StepDecay(0.1, 2.5), "step_size"),
    (lambda: StepDecay(0.1, 2, gamma=0), "gamma"),
    (lambda: StepDecay(0.1, 2, gamma=1.5), "gamma"),
    (lambda: CosineDecay(0.1, 0), "total_steps"),
    (lambda: CosineDecay(0.1, 10, min_lr=0.2), "min_lr"),
    (lambda: WarmUp(0.1, 0), "warmup_steps"),
])
def test_schedules_refuse_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
