"""Numerical differentiation and gradient descent (chapter 3).

Central differences are slow (two calls of f per element) but need no
calculus: the course uses them to check every backward pass.
"""

import numpy as np

from dlcore.backend import get_array_module
from dlcore.guard import reference

__all__ = ["numerical_diff", "numerical_gradient", "gradient_descent"]


def numerical_diff(f, x, h=1e-4):
    """f'(x) ~ (f(x + h) - f(x - h)) / 2h for a scalar function of a number."""
    return (f(x + h) - f(x - h)) / (2 * h)


@reference("numerical_gradient")
def numerical_gradient(f, x):
    """df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h, h = 1e-4, for every i.

    f: a function of x returning a scalar. x: float array, any shape.
    Each element of x is perturbed in place, one at a time, and restored,
    so f may read x through a closure (``lambda W: net.loss(x, t)``).
    Returns an array of x's shape and dtype; x ends with its original values.
    """
    h = 1e-4
    xp = get_array_module(x)
    grad = xp.zeros_like(x)
    it = np.nditer(np.empty(x.shape), flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        original = x[i].copy()
        x[i] = original + h
        f_plus = f(x)
        x[i] = original - h
        f_minus = f(x)
        x[i] = original  # restore exactly, not original + h - h
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


@reference("gradient_descent")
def gradient_descent(f, init_x, lr=0.01, step_num=100):
    """x <- x - lr * df/dx, repeated step_num times from init_x.

    init_x: float array, any shape; it is left unchanged (we work on a copy).
    Returns the final x (init_x's shape and dtype).
    """
    x = init_x.copy()
    for _ in range(step_num):
        x -= lr * numerical_gradient(f, x)
    return x
