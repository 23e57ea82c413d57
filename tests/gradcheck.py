"""Check a backward pass against central differences, in float64.

``check_layer`` perturbs each input and parameter of a layer one element at
a time, measures how ``sum(forward(...) * dout)`` changes, and compares that
with what ``backward(dout)`` returned. On failure the message names the op,
the tensor, the shapes and the first wrong values.
"""

import numpy as np


def numeric_grad(f, x, h=1e-6):
    """d f / d x by central differences; x (float64) is perturbed in place
    and restored."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        f_plus = f()
        x[i] = original - h
        f_minus = f()
        x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def assert_grad_close(op, name, analytic, numeric, rtol=1e-5, atol=1e-7):
    """Compare two gradients; on failure say which and where."""
    analytic = np.asarray(analytic)
    if analytic.shape != numeric.shape:
        raise AssertionError(
            f"{op}: gradient of {name} has shape {analytic.shape}, "
            f"expected {numeric.shape}"
        )
    bad = ~np.isclose(analytic, numeric, rtol=rtol, atol=atol)
    if bad.any():
        where = [tuple(int(k) for k in i) for i in np.argwhere(bad)[:3]]
        first = ", ".join(
            f"{i}: backward {analytic[i]:.8g} vs numerical {numeric[i]:.8g}"
            for i in where
        )
        raise AssertionError(
            f"{op}: gradient of {name} (shape {numeric.shape}) is wrong at "
            f"{int(bad.sum())} of {bad.size} entries; first: {first}"
        )


def check_layer(layer, x, *extra, op=None, rng=None, dout=None,
                forward_kwargs=None, rtol=1e-5, atol=1e-7):
    """Check layer.backward against numerical gradients of x and of every
    array in layer.params (all float64).

    extra: further forward arguments that are not differentiated (labels).
    dout: upstream gradient; random by default (a scalar loss gets 1).
    """
    op = op or type(layer).__name__
    kwargs = forward_kwargs or {}
    rng = rng if rng is not None else np.random.default_rng(0)
    assert x.dtype == np.float64, "gradcheck runs in float64"

    out = layer.forward(x, *extra, **kwargs)
    scalar = np.ndim(out) == 0
    if dout is None:
        dout = 1.0 if scalar else rng.standard_normal(np.shape(out))

    def objective():
        return float(np.sum(layer.forward(x, *extra, **kwargs) * dout))

    layer.forward(x, *extra, **kwargs)
    dx = layer.backward(dout)
    grads = dict(getattr(layer, "grads", {}))
    grads = {k: np.array(v) for k, v in grads.items()}  # snapshot

    assert_grad_close(op, "x", dx, numeric_grad(objective, x), rtol, atol)
    for key, param in getattr(layer, "params", {}).items():
        assert_grad_close(op, key, grads[key], numeric_grad(objective, param),
                          rtol, atol)
    return dx, grads
