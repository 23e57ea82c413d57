"""dlcore.functions: activations and losses (chapters 2-3)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dlcore.functions import (
    cross_entropy_error,
    identity_function,
    leaky_relu,
    mean_squared_error,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    step_function,
    tanh,
)
from dlcore.gradients import numerical_diff

ELEMENTWISE = [step_function, sigmoid, relu, leaky_relu, tanh, softmax,
               sigmoid_grad, relu_grad, identity_function]

finite = st.floats(-50, 50, allow_nan=False, width=64)


# ---------------------------------------------------------------- activations

def test_step_function_values_and_type():
    y = step_function(np.array([-1.0, 0.0, 0.5, 3.0]))
    assert y.dtype.kind in "iuf"  # numbers, not booleans
    np.testing.assert_array_equal(y, [0, 0, 1, 1])


def test_sigmoid_values():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12)


def test_sigmoid_extremes_without_warnings():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = sigmoid(x)
    assert np.isfinite(y).all()
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.integers(1, 20), elements=finite))
def test_sigmoid_symmetry(x):
    # sigma(-x) = 1 - sigma(x) holds for the exp(-|x|) formulation too
    np.testing.assert_allclose(sigmoid(-x), 1 - sigmoid(x), atol=1e-12)


def test_relu_values_and_grad_at_zero():
    x = np.array([-2.0, 0.0, 1.5])
    np.testing.assert_array_equal(relu(x), [0.0, 0.0, 1.5])
    np.testing.assert_array_equal(relu_grad(x), [0.0, 0.0, 1.0])


def test_leaky_relu():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(leaky_relu(x), [-0.02, 0.0, 3.0])
    np.testing.assert_allclose(leaky_relu(x, alpha=0.2), [-0.4, 0.0, 3.0])


def test_sigmoid_grad_matches_numerical_diff():
    for x0 in (-3.0, 0.0, 0.7, 4.0):
        expected = numerical_diff(lambda v: float(sigmoid(np.array(v))), x0)
        assert sigmoid_grad(np.array(x0)) == pytest.approx(expected, rel=1e-6)


def test_softmax_is_stable_for_large_inputs():
    y = softmax(np.array([1000.0, 1001.0, 1002.0]))
    assert np.isfinite(y).all()
    assert y.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(y, softmax(np.array([0.0, 1.0, 2.0])))


def test_softmax_batch_is_row_by_row(rng):
    x = rng.standard_normal((4, 5))
    y = softmax(x)
    for row, x_row in zip(y, x):
        np.testing.assert_allclose(row, np.exp(x_row) / np.exp(x_row).sum())
    np.testing.assert_allclose(y.sum(axis=1), 1.0)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)),
              elements=finite), st.floats(-500, 500))
def test_softmax_shift_invariant(x, c):
    np.testing.assert_allclose(softmax(x + c), softmax(x), atol=1e-10)


@pytest.mark.parametrize("fn", ELEMENTWISE, ids=lambda f: f.__name__)
def test_float32_in_float32_out(fn, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y = fn(x)
    assert y.shape == x.shape
    if fn is not step_function:
        assert y.dtype == np.float32, f"{fn.__name__} returned {y.dtype}"


@pytest.mark.parametrize("fn", ELEMENTWISE, ids=lambda f: f.__name__)
def test_inputs_not_modified(fn, rng):
    x = rng.standard_normal((3, 4))
    x_copy = x.copy()
    fn(x)
    np.testing.assert_array_equal(x, x_copy)


# ---------------------------------------------------------------- losses

def test_mean_squared_error_one_sample_and_batch():
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    t = np.zeros(10)
    t[2] = 1
    one = mean_squared_error(y, t)
    assert one == pytest.approx(0.0975)  # the book's example
    y2 = np.stack([y, np.roll(y, 3)])
    t2 = np.stack([t, t])
    both = 0.5 * ((y2 - t2) ** 2).sum(axis=1)
    assert mean_squared_error(y2, t2) == pytest.approx(both.mean())


def test_mean_squared_error_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        mean_squared_error(np.zeros((2, 3)), np.zeros(3))


def test_cross_entropy_zero_on_true_class():
    y = np.array([0.0, 0.5, 0.5])
    assert cross_entropy_error(y, np.array([1.0, 0, 0])) == pytest.approx(
        16.11809565, rel=1e-8)
    assert cross_entropy_error(y, 0) == pytest.approx(16.11809565, rel=1e-8)


def test_cross_entropy_book_example():
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    assert cross_entropy_error(y, 2) == pytest.approx(-np.log(0.6 + 1e-7))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6), st.integers(2, 7), st.integers(0, 2**31 - 1))
def test_cross_entropy_indices_equal_one_hot(n, k, seed):
    rng = np.random.default_rng(seed)
    y = softmax(rng.standard_normal((n, k)))
    t = rng.integers(0, k, n)
    one_hot = np.eye(k)[t]
    a = cross_entropy_error(y, t)
    b = cross_entropy_error(y, one_hot)
    assert a == pytest.approx(b, rel=1e-12)
    # averaged over the batch, not summed
    assert a == pytest.approx(-np.log(y[np.arange(n), t] + 1e-7).mean())


def test_cross_entropy_float32_and_int_labels(rng):
    y = softmax(rng.standard_normal((4, 3)).astype(np.float32))
    t = rng.integers(0, 3, 4)
    assert np.asarray(cross_entropy_error(y, t)).dtype == np.float32
    one_hot = np.eye(3, dtype=np.int64)[t]
    assert np.asarray(cross_entropy_error(y, one_hot)).dtype == np.float32


def test_cross_entropy_bad_labels_say_what_was_expected():
    with pytest.raises(ValueError, match="one-hot"):
        cross_entropy_error(np.full((2, 3), 1 / 3), np.zeros((2, 4)))


def test_losses_leave_inputs_alone(rng):
    y = softmax(rng.standard_normal((3, 4)))
    t = np.eye(4)[[0, 2, 3]]
    y0, t0 = y.copy(), t.copy()
    mean_squared_error(y, t)
    cross_entropy_error(y, t)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(t, t0)


# ---------------------------------------------------------------- imports

def test_numerical_modules_import_no_heavy_packages():
    import subprocess
    import sys

    modules = ["dlcore.functions", "dlcore.gradients", "dlcore.graph",
               "dlcore.layers", "dlcore.optim", "dlcore.init", "dlcore.conv",
               "dlcore.precision", "dlcore.perceptron"]
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            "print(' '.join(m for m in ('matplotlib', 'sklearn', 'cupy') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


ITEMS = {
    "dlcore.perceptron": ["and_gate", "nand_gate", "or_gate", "xor_gate",
                          "train_perceptron"],
    "dlcore.functions": ["step_function", "sigmoid", "relu", "softmax",
                         "mean_squared_error", "cross_entropy_error"],
    "dlcore.gradients": ["numerical_gradient", "gradient_descent"],
    "dlcore.graph": ["MulLayer", "AddLayer"],
    "dlcore.layers": ["Relu", "Sigmoid", "Affine", "SoftmaxWithLoss",
                      "BatchNormalization", "Dropout", "Convolution",
                      "Pooling"],
    "dlcore.optim": ["SGD", "Momentum", "AdaGrad", "RMSprop", "Adam"],
    "dlcore.init": ["init_weight"],
    "dlcore.conv": ["conv_output_size", "im2col", "col2im"],
    "dlcore.precision": ["LossScaler"],
}


@pytest.mark.parametrize("module", ITEMS)
def test_items_are_marked_as_references(module):
    import importlib

    mod = importlib.import_module(module)
    for name in ITEMS[module]:
        obj = getattr(mod, name)
        assert getattr(obj, "__dlcore_item__", None) == name, (
            f"{module}.{name} lacks @reference({name!r})")
