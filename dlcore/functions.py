"""Activation functions and losses (chapters 2-3).

Every function works on NumPy or CuPy arrays (``xp = get_array_module(x)``)
and keeps a float input's dtype: float32 in, float32 out.
"""

from dlcore.backend import get_array_module
from dlcore.guard import reference

__all__ = [
    "step_function", "sigmoid", "sigmoid_grad", "relu", "relu_grad",
    "leaky_relu", "tanh", "identity_function", "softmax",
    "mean_squared_error", "cross_entropy_error",
]


# ---------------------------------------------------------------- activations

@reference("step_function")
def step_function(x):
    """h(x) = 1 if x > 0 else 0.

    x: any shape -> same shape, int64 (0 or 1), never booleans.
    """
    xp = get_array_module(x)
    return (xp.asarray(x) > 0).astype(xp.int64)


@reference("sigmoid")
def sigmoid(x):
    """h(x) = 1 / (1 + exp(-x)), computed from exp(-|x|) so it never overflows.

    x: any shape, float -> same shape and dtype (0-d for a Python number).
    """
    xp = get_array_module(x)
    x = xp.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(xp.float64)
    z = xp.exp(-xp.abs(x))  # in (0, 1]: no overflow for any x
    # x >= 0: 1 / (1 + e^-x);  x < 0: e^x / (1 + e^x), the same value.
    return xp.where(x >= 0, 1 / (1 + z), z / (1 + z))


def sigmoid_grad(x):
    """h'(x) = h(x) (1 - h(x)) for the sigmoid h; shape and dtype of x."""
    y = sigmoid(x)
    return y * (1 - y)


@reference("relu")
def relu(x):
    """h(x) = max(0, x); x: any shape -> same shape and dtype."""
    xp = get_array_module(x)
    return xp.maximum(0, x)  # a Python 0 keeps x's dtype


def relu_grad(x):
    """h'(x) = 1 if x > 0 else 0 (0 at the kink x = 0); dtype of x."""
    xp = get_array_module(x)
    x = xp.asarray(x)
    return (x > 0).astype(x.dtype if x.dtype.kind == "f" else xp.float64)


def leaky_relu(x, alpha=0.01):
    """h(x) = x if x > 0 else alpha * x; shape and dtype of x.

    With a learned ``alpha`` this is the parametric ReLU (PReLU).
    """
    xp = get_array_module(x)
    x = xp.asarray(x)
    return xp.where(x > 0, x, alpha * x)


def tanh(x):
    """h(x) = (e^x - e^-x) / (e^x + e^-x); shape and dtype of x."""
    xp = get_array_module(x)
    return xp.tanh(x)


def identity_function(x):
    """h(x) = x: the output activation of a regression net."""
    return x


@reference("softmax")
def softmax(x):
    """y_k = exp(x_k - max x) / sum_j exp(x_j - max x), over the last axis.

    x: (K,) or (N, K), float -> same shape and dtype; each row sums to 1.
    Subtracting the row's max changes nothing mathematically and keeps
    exp from overflowing (x = [1000, 1001, 1002] works).
    """
    xp = get_array_module(x)
    x = xp.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(xp.float64)
    e = xp.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------- losses

@reference("mean_squared_error")
def mean_squared_error(y, t):
    """E = 0.5 * sum_k (y_k - t_k)^2, averaged over the batch.

    y, t: (K,) for one sample or (N, K) for a batch, same shape.
    Returns a scalar.
    """
    xp = get_array_module(y, t)
    y, t = xp.asarray(y), xp.asarray(t)
    if y.shape != t.shape:
        raise ValueError(
            f"mean_squared_error: y and t must have the same shape; "
            f"got y {y.shape} and t {t.shape}"
        )
    n = y.shape[0] if y.ndim == 2 else 1
    return 0.5 * ((y - t) ** 2).sum() / n


def _as_batch(y, t):
    """(y, t) with a batch axis: y (N, K), t (N,) indices or (N, K) one-hot."""
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1) if t.ndim == 1 else t.reshape(1)
    if t.shape != y.shape and t.shape != y.shape[:1]:
        raise ValueError(
            f"labels t must be one-hot with y's shape {y.shape} or class "
            f"indices of shape {y.shape[:1]}; got t of shape {t.shape}"
        )
    return y, t


@reference("cross_entropy_error")
def cross_entropy_error(y, t):
    """E = -sum_k t_k log(y_k + 1e-7), averaged over the batch.

    y: probabilities (K,) or (N, K). t: one-hot with y's shape, or integer
    class indices (a scalar for y (K,), (N,) for y (N, K)). The 1e-7 guard
    keeps log finite: y = 0 on the true class costs -log(1e-7) = 16.118...
    Returns a scalar.
    """
    xp = get_array_module(y, t)
    y, t = xp.asarray(y), xp.asarray(t)
    y, t = _as_batch(y, t)
    n = y.shape[0]
    if t.shape == y.shape:  # one-hot; cast so int labels keep y's dtype
        return -(t.astype(y.dtype) * xp.log(y + 1e-7)).sum() / n
    picked = y[xp.arange(n), t.astype(xp.int64)]
    return -xp.log(picked + 1e-7).sum() / n
