"""dlcore.gradients: numerical differentiation and gradient descent."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.gradients import (
    gradient_descent,
    numerical_diff,
    numerical_gradient,
)


def function_2(x):
    """The seeds' example: f(x0, x1) = x0^2 + x1^2."""
    return np.sum(x ** 2)


def test_numerical_diff_of_book_function():
    f = lambda x: 0.01 * x ** 2 + 0.1 * x  # noqa: E731
    assert numerical_diff(f, 5.0) == pytest.approx(0.2, abs=1e-9)
    assert numerical_diff(f, 10.0) == pytest.approx(0.3, abs=1e-9)


@pytest.mark.parametrize("point, expected", [
    ([3.0, 4.0], [6.0, 8.0]),
    ([0.0, 2.0], [0.0, 4.0]),
    ([3.0, 0.0], [6.0, 0.0]),
])
def test_numerical_gradient_book_points(point, expected):
    grad = numerical_gradient(function_2, np.array(point))
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.integers(0, 2**31 - 1))
def test_numerical_gradient_any_shape(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    A = rng.standard_normal(shape)
    x0 = x.copy()
    # f = sum(A * x^3 / 3): gradient A * x^2, not symmetric in its elements
    grad = numerical_gradient(lambda z: np.sum(A * z ** 3) / 3, x)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, A * x0 ** 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(x, x0)  # restored exactly


def test_numerical_gradient_through_a_closure(rng):
    # f ignores its argument and reads W from outside, like net.loss(x, t)
    W = rng.standard_normal((2, 3))
    x = rng.standard_normal(2)
    W0 = W.copy()
    grad = numerical_gradient(lambda _: float(x @ W @ np.ones(3)), W)
    np.testing.assert_allclose(grad, np.outer(x, np.ones(3)), atol=1e-7)
    np.testing.assert_array_equal(W, W0)


def test_numerical_gradient_keeps_dtype():
    x = np.array([1.0, -2.0], dtype=np.float32)
    grad = numerical_gradient(function_2, x)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, [2.0, -4.0], rtol=1e-2)


def test_gradient_descent_finds_minimum_and_leaves_init_x():
    init_x = np.array([-3.0, 4.0])
    x = gradient_descent(function_2, init_x, lr=0.1, step_num=100)
    np.testing.assert_array_equal(init_x, [-3.0, 4.0])
    np.testing.assert_allclose(x, [0.0, 0.0], atol=1e-8)


def test_gradient_descent_learning_rate_matters():
    # too small a step barely moves; the seeds' lesson
    init_x = np.array([-3.0, 4.0])
    x = gradient_descent(function_2, init_x, lr=1e-10, step_num=100)
    np.testing.assert_allclose(x, init_x, atol=1e-6)
    assert not np.allclose(x, 0.0, atol=1.0)


def test_gradient_descent_on_shifted_quadratic():
    target = np.array([1.5, -0.5, 2.0])
    f = lambda x: np.sum((x - target) ** 2)  # noqa: E731
    x = gradient_descent(f, np.zeros(3), lr=0.1, step_num=200)
    np.testing.assert_allclose(x, target, atol=1e-6)
