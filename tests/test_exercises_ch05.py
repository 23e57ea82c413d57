"""Fairness and sharpness of chapter 5's exercise tests (backpropagation).

The chapter-5 source notebook's test cells are run in this process
(coursekit.runner, scored as nbgrader scores them) against answers a
learner could write: every correct one, whatever its style, must pass
every test cell; every plausible mistake must fail the cells designed
against it, with a message that teaches, and no cell of another item.
"""

import copy
from pathlib import Path
import re
import textwrap

import pytest
from exercise_checks import assert_all_pass, assert_fails_as_planned
from exercise_checks import code as _src

from coursekit.notebooks import read
from coursekit.policy import check_source

ROOT = Path(__file__).resolve().parents[1]
CH05 = ROOT / "solutions" / "ch05_backprop" / "exercises.ipynb"


# ------------------------------------------------- correct, other styles

CORRECT = {
    "relu: copy and boolean mask, as the book": {
        "Relu": _src("""
            import numpy as np
            class Relu:
                def __init__(self):
                    self.mask = None
                def forward(self, x):
                    self.mask = (x <= 0)
                    out = x.copy()
                    out[self.mask] = 0
                    return out
                def backward(self, dout):
                    dx = dout.copy()
                    dx[self.mask] = 0
                    return dx
        """),
    },
    "relu: dlcore.functions.relu and heaviside": {
        "Relu": _src("""
            import numpy as np
            from dlcore.functions import relu
            class Relu:
                def forward(self, x):
                    self.x = x
                    return relu(x)
                def backward(self, dout):
                    return dout * np.heaviside(self.x, 0).astype(dout.dtype)
        """),
    },
    "relu: maximum, multiply by the comparison": {
        "Relu": _src("""
            import numpy as np
            class Relu:
                def forward(self, x):
                    self.on = x > 0
                    return np.maximum(x, 0)
                def backward(self, dout):
                    return dout * self.on
        """),
    },
    "sigmoid: dlcore.functions.sigmoid, book order": {
        "Sigmoid": _src("""
            from dlcore.functions import sigmoid
            class Sigmoid:
                def __init__(self):
                    self.out = None
                def forward(self, x):
                    out = sigmoid(x)
                    self.out = out
                    return out
                def backward(self, dout):
                    return dout * (1.0 - self.out) * self.out
        """),
    },
    "sigmoid: tanh form, recomputed from the stored x": {
        "Sigmoid": _src("""
            import numpy as np
            class Sigmoid:
                def forward(self, x):
                    self.x = x
                    return 0.5 * (1 + np.tanh(0.5 * x))
                def backward(self, dout):
                    s = 0.5 * (1 + np.tanh(0.5 * self.x))
                    return dout * s * (1 - s)
        """),
    },
    "sigmoid: logaddexp, stable for any x": {
        "Sigmoid": _src("""
            import numpy as np
            class Sigmoid:
                def forward(self, x):
                    self.y = np.exp(-np.logaddexp(0, -x)).astype(x.dtype)
                    return self.y
                def backward(self, dout):
                    return dout * (self.y - self.y ** 2)
        """),
    },
    "affine: einsum": {
        "Affine": _src("""
            import numpy as np
            class Affine:
                def __init__(self, W, b):
                    self.W, self.b = W, b
                def forward(self, x):
                    self.shape = x.shape
                    self.x = x.reshape(x.shape[0], -1)
                    return np.einsum("nd,dm->nm", self.x, self.W) + self.b
                def backward(self, dout):
                    self.dW = np.einsum("nd,nm->dm", self.x, dout)
                    self.db = np.einsum("nm->m", dout)
                    dx = np.einsum("nm,dm->nd", dout, self.W)
                    return dx.reshape(self.shape)
        """),
    },
    "affine: a loop over the samples": {
        "Affine": _src("""
            import numpy as np
            class Affine:
                def __init__(self, W, b):
                    self.W = W
                    self.b = b
                def forward(self, x):
                    self.x = x
                    rows = [np.ravel(x[n]) @ self.W + self.b
                            for n in range(len(x))]
                    return np.stack(rows)
                def backward(self, dout):
                    self.dW = np.zeros_like(self.W)
                    self.db = np.zeros_like(self.b)
                    dx = np.zeros_like(self.x)
                    for n in range(len(dout)):
                        self.dW += np.outer(np.ravel(self.x[n]), dout[n])
                        self.db += dout[n]
                        dx[n] = (self.W @ dout[n]).reshape(self.x.shape[1:])
                    return dx
        """),
    },
    "affine: tensordot without flattening x": {
        "Affine": _src("""
            import numpy as np
            class Affine:
                def __init__(self, W, b):
                    self.W, self.b = W, b
                def forward(self, x):
                    self.x = x
                    Wr = self.W.reshape(*x.shape[1:], -1)
                    return np.tensordot(x, Wr, axes=x.ndim - 1) + self.b
                def backward(self, dout):
                    k = self.x.ndim - 1
                    Wr = self.W.reshape(*self.x.shape[1:], -1)
                    dx = np.tensordot(dout, Wr, axes=([1], [k]))
                    dW = np.tensordot(self.x, dout, axes=([0], [0]))
                    self.dW = dW.reshape(self.W.shape)
                    self.db = dout.sum(0)
                    return dx
        """),
    },
    "softmax-loss: log-sum-exp, the guard as logaddexp, one-hot built": {
        "SoftmaxWithLoss": _src("""
            import numpy as np
            class SoftmaxWithLoss:
                def forward(self, x, t):
                    n = x.shape[0]
                    if t.ndim == 1:
                        T = np.zeros_like(x)
                        T[np.arange(n), t] = 1
                    else:
                        T = t.astype(x.dtype)
                    z = x - x.max(axis=1, keepdims=True)
                    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
                    self.y, self.T = np.exp(logp), T
                    # log(y + 1e-7) without leaving the log domain
                    guarded = np.logaddexp(logp, np.log(1e-7))
                    return -(T * guarded).sum() / n
                def backward(self, dout=1):
                    n = self.y.shape[0]
                    return (self.y - self.T) * (dout / n)
        """),
    },
    "softmax-loss: dlcore functions, one-hot turned into indices": {
        "SoftmaxWithLoss": _src("""
            import numpy as np
            from dlcore.functions import softmax, cross_entropy_error
            class SoftmaxWithLoss:
                def __init__(self):
                    self.loss = self.y = self.t = None
                def forward(self, x, t):
                    self.y = softmax(x)
                    self.t = t.argmax(axis=1) if t.size == x.size else t
                    self.loss = cross_entropy_error(self.y, self.t)
                    return self.loss
                def backward(self, dout=1):
                    batch_size = self.y.shape[0]
                    dx = self.y.copy()
                    dx[np.arange(batch_size), self.t] -= 1
                    dx = dx * dout / batch_size
                    return dx
        """),
    },
    "net: book style, OrderedDict of dlcore's layers": {
        "TwoLayerNet": _src("""
            from collections import OrderedDict
            import numpy as np
            from dlcore.layers import Affine, Relu, SoftmaxWithLoss
            class TwoLayerNet:
                def __init__(self, input_size, hidden_size, output_size,
                             weight_init_std=0.01, rng=None):
                    rng = np.random.default_rng(rng)
                    self.params = {}
                    self.params['W1'] = rng.normal(
                        0, weight_init_std, (input_size, hidden_size))
                    self.params['b1'] = np.zeros(hidden_size)
                    self.params['W2'] = rng.normal(
                        0, weight_init_std, (hidden_size, output_size))
                    self.params['b2'] = np.zeros(output_size)
                    self.layers = OrderedDict()
                    self.layers['Affine1'] = Affine(self.params['W1'],
                                                    self.params['b1'])
                    self.layers['Relu1'] = Relu()
                    self.layers['Affine2'] = Affine(self.params['W2'],
                                                    self.params['b2'])
                    self.lastLayer = SoftmaxWithLoss()
                def predict(self, x):
                    for layer in self.layers.values():
                        x = layer.forward(x)
                    return x
                def loss(self, x, t):
                    y = self.predict(x)
                    return self.lastLayer.forward(y, t)
                def accuracy(self, x, t):
                    y = np.argmax(self.predict(x), axis=1)
                    if t.ndim != 1:
                        t = np.argmax(t, axis=1)
                    return np.sum(y == t) / float(x.shape[0])
                def gradient(self, x, t):
                    self.loss(x, t)
                    dout = self.lastLayer.backward(1)
                    layers = list(self.layers.values())
                    layers.reverse()
                    for layer in layers:
                        dout = layer.backward(dout)
                    grads = {}
                    grads['W1'] = self.layers['Affine1'].dW
                    grads['b1'] = self.layers['Affine1'].db
                    grads['W2'] = self.layers['Affine2'].dW
                    grads['b2'] = self.layers['Affine2'].db
                    return grads
        """),
    },
    "net: no layer objects, backprop written out": {
        "TwoLayerNet": _src("""
            import numpy as np
            class TwoLayerNet:
                def __init__(self, input_size, hidden_size, output_size,
                             weight_init_std=0.01, rng=None):
                    if rng is None:
                        rng = np.random.default_rng()
                    s = weight_init_std
                    self.params = dict(
                        W1=s * rng.standard_normal((input_size, hidden_size)),
                        b1=np.zeros(hidden_size),
                        W2=s * rng.standard_normal((hidden_size, output_size)),
                        b2=np.zeros(output_size))
                def _onehot(self, t, k):
                    return np.eye(k)[t] if np.ndim(t) == 1 else t
                def predict(self, x):
                    p = self.params
                    h = np.maximum(0, x @ p["W1"] + p["b1"])
                    return h @ p["W2"] + p["b2"]
                def loss(self, x, t):
                    s = self.predict(x)
                    T = self._onehot(t, s.shape[1])
                    s = s - s.max(axis=1, keepdims=True)
                    lse = np.log(np.exp(s).sum(axis=1, keepdims=True))
                    return float(-(T * (s - lse)).sum() / len(x))
                def accuracy(self, x, t):
                    k = self.params["b2"].shape[0]
                    T = self._onehot(t, k)
                    hits = self.predict(x).argmax(1) == T.argmax(1)
                    return hits.mean()
                def gradient(self, x, t):
                    p = self.params
                    a = x @ p["W1"] + p["b1"]
                    h = np.maximum(0, a)
                    s = h @ p["W2"] + p["b2"]
                    e = np.exp(s - s.max(axis=1, keepdims=True))
                    y = e / e.sum(axis=1, keepdims=True)
                    ds = (y - self._onehot(t, s.shape[1])) / len(x)
                    dh = ds @ p["W2"].T
                    da = dh * (a > 0)
                    return {"W1": x.T @ da, "b1": da.sum(0),
                            "W2": h.T @ ds, "b2": ds.sum(0)}
        """),
    },
}


CORRECT.update({
    "loop: shuffled index array, while loop, grads' items": {
        "train_network": _src("""
            import numpy as np
            def train_network(network, x_train, t_train, x_test, t_test,
                              epochs=10, batch_size=100, lr=0.1, rng=None):
                gen = np.random.default_rng(rng)
                hist = dict(loss=[], train_acc=[], test_acc=[])
                idx = np.arange(x_train.shape[0])
                for _ in range(epochs):
                    gen.shuffle(idx)
                    i = 0
                    while i < len(idx):
                        b = idx[i:i + batch_size]
                        g = network.gradient(x_train[b], t_train[b])
                        for k, grad in g.items():
                            network.params[k] -= lr * grad
                        i += batch_size
                    hist["loss"].append(network.loss(x_train, t_train))
                    hist["train_acc"].append(
                        network.accuracy(x_train, t_train))
                    hist["test_acc"].append(network.accuracy(x_test, t_test))
                return hist
        """),
    },
    "loop: shuffled copies of the data, np.subtract(out=)": {
        "train_network": _src("""
            import numpy as np
            def train_network(network, x_train, t_train, x_test, t_test,
                              epochs=10, batch_size=100, lr=0.1, rng=None):
                if not isinstance(rng, np.random.Generator):
                    rng = np.random.default_rng(rng)
                losses, train_accs, test_accs = [], [], []
                n = len(x_train)
                for epoch in range(epochs):
                    perm = rng.choice(n, size=n, replace=False)
                    xs, ts = x_train[perm], t_train[perm]
                    n_batches = -(-n // batch_size)
                    for j in range(n_batches):
                        sl = slice(j * batch_size, (j + 1) * batch_size)
                        grads = network.gradient(xs[sl], ts[sl])
                        for name, p in network.params.items():
                            np.subtract(p, lr * grads[name], out=p)
                    losses.append(float(network.loss(x_train, t_train)))
                    train_accs.append(network.accuracy(x_train, t_train))
                    test_accs.append(network.accuracy(x_test, t_test))
                return {"loss": losses, "train_acc": train_accs,
                        "test_acc": test_accs}
        """),
    },
})


# ------------------------------------------------------- plausible mistakes

def _fill(template, **parts):
    """``template`` with ``{name}`` replaced by ``parts[name]``.

    A placeholder alone on its line takes a part of several lines, each
    indented like the placeholder; other placeholders are replaced inline.
    """
    out = []
    for line in textwrap.dedent(template).strip("\n").splitlines():
        m = re.fullmatch(r"(\s*)\{(\w+)\}", line)
        if m:
            out += [m.group(1) + part
                    for part in parts[m.group(2)].splitlines()]
        else:
            for key, part in parts.items():
                line = line.replace("{" + key + "}", part)
            out.append(line)
    return "\n".join(out)


_RELU = """
    import numpy as np
    class Relu:
        def forward(self, x):
            {fwd}
        def backward(self, dout):
            {bwd}
"""
_RELU_FWD = "self.mask = x <= 0\nreturn np.where(self.mask, 0, x)"
_RELU_BWD = "return np.where(self.mask, 0, dout)"


def _relu(fwd=_RELU_FWD, bwd=_RELU_BWD):
    return _fill(_RELU, fwd=fwd, bwd=bwd)


_SIGMOID = """
    import numpy as np
    class Sigmoid:
        def forward(self, x):
            self.x = x
            {fwd}
        def backward(self, dout):
            {bwd}
"""


def _sigmoid(fwd="self.out = 1 / (1 + np.exp(-x))\nreturn self.out",
             bwd="return dout * self.out * (1 - self.out)"):
    return _fill(_SIGMOID, fwd=fwd, bwd=bwd)


_AFFINE = """
    import numpy as np
    class Affine:
        def __init__(self, W, b):
            self.W, self.b = W, b
            {init}
        def forward(self, x):
            self.shape = x.shape
            {flat}
            {y}
        def backward(self, dout):
            {dW}
            {db}
            {dx}
"""


def _affine(**lines):
    base = {
        "init": "pass",
        "flat": "self.x = x.reshape(x.shape[0], -1)",
        "y": "return self.x @ self.W + self.b",
        "dW": "self.dW = self.x.T @ dout",
        "db": "self.db = dout.sum(axis=0)",
        "dx": "return (dout @ self.W.T).reshape(self.shape)",
    }
    return _fill(_AFFINE, **{**base, **lines})


_SOFTMAX_LOSS = """
    import numpy as np
    class SoftmaxWithLoss:
        def forward(self, x, t):
            {shift}
            e = np.exp(z)
            self.y = e / e.sum(axis=1, keepdims=True)
            {onehot}
            self.T = T
            {loss}
        {sig}
            {dx}
"""


def _softmax_loss(**lines):
    base = {
        "sig": "def backward(self, dout=1):",
        "shift": "z = x - x.max(axis=1, keepdims=True)",
        "onehot": ("T = np.eye(x.shape[1], dtype=x.dtype)[t] "
                   "if t.ndim == 1 else t"),
        "loss": "return -np.sum(T * np.log(self.y + 1e-7)) / len(x)",
        "dx": "return (self.y - self.T) * dout / len(self.y)",
    }
    return _fill(_SOFTMAX_LOSS, **{**base, **lines})


_NET = """
    import numpy as np
    class TwoLayerNet:
        def __init__(self, input_size, hidden_size, output_size,
                     weight_init_std=0.01, rng=None):
            {rng}
            {std}
            self.params = {
                'W1': {W1},
                'b1': np.zeros(hidden_size),
                'W2': {W2},
                'b2': np.zeros(output_size)}
            p = self.params
            {layers}
            self.last = SoftmaxWithLoss()
        def predict(self, x):
            for layer in self.layers:
                x = layer.forward(x)
            {predict}
        def loss(self, x, t):
            {loss}
        def accuracy(self, x, t):
            {acc_t}
            {acc}
        def gradient(self, x, t):
            {fwd}
            dout = self.last.backward(1)
            {order}
                dout = layer.backward(dout)
            a1, a2 = self.layers[0], self.layers[2]
            {grads}
"""


def _net(**lines):
    """A layer-based TwoLayerNet with one part changed."""
    base = {
        "W1": "std * rng.standard_normal((input_size, hidden_size))",
        "W2": "std * rng.standard_normal((hidden_size, output_size))",
        "std": "std = weight_init_std",
        "rng": "rng = np.random.default_rng() if rng is None else rng",
        "layers": ("self.layers = [Affine(p['W1'], p['b1']), Relu(), "
                   "Affine(p['W2'], p['b2'])]"),
        "predict": "return x",
        "loss": "return self.last.forward(self.predict(x), t)",
        "acc_t": "t = t if t.ndim == 1 else t.argmax(axis=1)",
        "acc": "return np.mean(self.predict(x).argmax(axis=1) == t)",
        "fwd": "self.loss(x, t)",
        "order": "for layer in reversed(self.layers):",
        "grads": ("return {'W1': a1.dW, 'b1': a1.db, "
                  "'W2': a2.dW, 'b2': a2.db}"),
    }
    return _fill(_NET, **{**base, **lines})


# (answers, {test grade_id that must fail: regex its message must match}
#  [, {test grade_id that must pass}])
WRONG = {
    # ---- Relu
    "relu: blocks only x < 0 (passes the gradient at 0)": (
        {"Relu": _relu("self.mask = x < 0\n"
                       "return np.where(self.mask, 0, x)", _RELU_BWD)},
        {"test_Relu_hidden_kink": "exactly 0"}),
    "relu: passes where x >= 0": (
        {"Relu": _relu("self.on = x >= 0\nreturn np.maximum(x, 0)",
                       "return dout * self.on")},
        {"test_Relu_hidden_kink": "exactly 0"}),
    "relu: forward zeroes x in place": (
        {"Relu": _relu("self.mask = x <= 0\nx[self.mask] = 0\n"
                       "return x", _RELU_BWD)},
        {"test_Relu_hidden_inputs_unchanged": "changed its input x"}),
    "relu: backward zeroes dout in place (the book's code)": (
        {"Relu": _relu(_RELU_FWD, "dout[self.mask] = 0\ndx = dout\n"
                                  "return dx")},
        {"test_Relu_hidden_inputs_unchanged": "changed its input dout",
         "test_Relu_gradient_kink_dtype": "changed its input dout"},
        # the kink test must not tell a correct x <= 0 switch to change
        {"test_Relu_hidden_kink"}),
    "relu: backward returns the mask, ignoring dout": (
        {"Relu": _relu(_RELU_FWD, "return (~self.mask).astype(dout.dtype)")},
        {"test_Relu_forward_backward": "Relu.backward",
         "test_Relu_hidden_kink": "Relu.backward",
         "test_Relu_hidden_shapes_dtype": "central differences"}),
    "relu: float32 upcast to float64": (
        {"Relu": _relu("self.mask = x <= 0\n"
                       "return np.where(self.mask, 0, x).astype(float)",
                       _RELU_BWD)},
        {"test_Relu_hidden_shapes_dtype": "dtype float64, expected float32",
         "test_Relu_gradient_kink_dtype": "float32 in, float32 out"}),
    "relu: subclass of dlcore's": (
        {"Relu": "from dlcore.layers import Relu as R\nclass Relu(R):\n"
                 "    pass"},
        {"test_Relu_forward_backward": "delegating",
         "test_Relu_hidden_kink": "delegating",
         "test_Relu_hidden_shapes_dtype": "delegating",
         "test_Relu_hidden_inputs_unchanged": "delegating"}),
    # ---- Sigmoid
    "sigmoid: backward uses x instead of y": (
        {"Sigmoid": _sigmoid(bwd="return dout * self.x * (1 - self.x)")},
        {"test_Sigmoid_forward_backward": "Sigmoid.backward",
         "test_Sigmoid_hidden_gradients": "uses the input x"}),
    "sigmoid: backward ignores dout": (
        {"Sigmoid": _sigmoid(bwd="return self.out * (1 - self.out)")},
        {"test_Sigmoid_hidden_gradients": "local derivative alone"}),
    "sigmoid: wrong sign in the exponent": (
        {"Sigmoid": _sigmoid(fwd="self.out = 1 / (1 + np.exp(x))\n"
                                 "return self.out")},
        {"test_Sigmoid_forward_backward": "Sigmoid.forward",
         "test_Sigmoid_hidden_gradients": "Sigmoid.forward"}),
    "sigmoid: backward multiplies into dout": (
        {"Sigmoid": _sigmoid(bwd="dout *= self.out * (1 - self.out)\n"
                                 "return dout")},
        {"test_Sigmoid_hidden_dtype_inputs": "changed its input dout"}),
    "sigmoid: float32 upcast": (
        {"Sigmoid": _sigmoid(fwd="self.out = 1 / (1 + np.exp(-np.asarray("
                                 "x, dtype=float)))\nreturn self.out")},
        {"test_Sigmoid_hidden_dtype_inputs": "dtype float64",
         "test_Sigmoid_gradient_dtype": "contract: float32 in, float32 out"}),
    "sigmoid: wraps dlcore's layer": (
        {"Sigmoid": _src("""
            import dlcore.layers as DL
            class Sigmoid:
                def __init__(self):
                    self.inner = DL.Sigmoid()
                def forward(self, x):
                    return self.inner.forward(x)
                def backward(self, dout):
                    return self.inner.backward(dout)
        """)},
        {"test_Sigmoid_forward_backward": "delegating",
         "test_Sigmoid_hidden_gradients": "delegating",
         "test_Sigmoid_hidden_dtype_inputs": "delegating"}),
    # ---- Affine
    "affine: db is a mean over the batch": (
        {"Affine": _affine(db="self.db = dout.mean(axis=0)")},
        {"test_Affine_hidden_gradients": "5 times too small"}),
    "affine: db not summed": (
        {"Affine": _affine(db="self.db = dout")},
        {"test_Affine_forward_shapes": r"db has shape \(4, 3\)",
         "test_Affine_hidden_gradients": r"db has shape \(5, 3\)"}),
    "affine: dx not reshaped to x's shape": (
        {"Affine": _affine(dx="return dout @ self.W.T")},
        {"test_Affine_hidden_image_batch": "original shape of x"}),
    "affine: dW transposed": (
        {"Affine": _affine(dW="self.dW = dout.T @ self.x")},
        {"test_Affine_forward_shapes": r"dW has shape \(3, 2\)",
         "test_Affine_hidden_gradients": r"dW has shape \(3, 4\)"}),
    "affine: forward forgets the bias": (
        {"Affine": _affine(y="return self.x @ self.W")},
        {"test_Affine_forward_shapes": "Affine.forward",
         "test_Affine_hidden_gradients": "Affine.forward"}),
    "affine: x not flattened": (
        {"Affine": _affine(flat="self.x = x")},
        {"test_Affine_hidden_image_batch": "raised"}),
    "affine: gradients accumulate over calls": (
        {"Affine": _affine(
            init="self.dW = np.zeros_like(W); self.db = np.zeros_like(b)",
            dW="self.dW = self.dW + self.x.T @ dout",
            db="self.db = self.db + dout.sum(axis=0)")},
        {"test_Affine_hidden_gradients": "N = 2"}),
    "affine: reshapes the caller's x in place": (
        {"Affine": _affine(flat="x.shape = (x.shape[0], -1)\n"
                                "self.x = x")},
        {"test_Affine_hidden_dtype_inputs": "changed its input x"}),
    "affine: db upcast to float64": (
        {"Affine": _affine(db="self.db = dout.sum(axis=0, dtype=float)")},
        {"test_Affine_hidden_dtype_inputs": "db .*dtype float64",
         "test_Affine_gradients_image_dtype":
             "db .*dtype float64.*contract: float32 in, float32 out"}),
    # ---- SoftmaxWithLoss
    "softmax-loss: backward not divided by N": (
        {"SoftmaxWithLoss": _softmax_loss(
            dx="return (self.y - self.T) * dout")},
        {"test_SoftmaxWithLoss_forward_backward": "backward",
         "test_SoftmaxWithLoss_hidden_backward": "5 times too large"}),
    "softmax-loss: backward ignores dout": (
        {"SoftmaxWithLoss": _softmax_loss(
            dx="return (self.y - self.T) / len(self.y)")},
        {"test_SoftmaxWithLoss_hidden_backward":
             r"contract's backward\(dout\) scales the gradient by dout",
         "test_SoftmaxWithLoss_gradient_labels_dtype":
             r"contract's backward\(dout\) scales the gradient by dout"}),
    "softmax-loss: backward needs dout (no default)": (
        {"SoftmaxWithLoss": _softmax_loss(
            sig="def backward(self, dout):")},
        {"test_SoftmaxWithLoss_hidden_backward":
             "contract's default dout=1.*TypeError",
         "test_SoftmaxWithLoss_gradient_labels_dtype":
             "contract's default dout=1.*TypeError"}),
    "softmax-loss: no 1e-7 guard": (
        {"SoftmaxWithLoss": _softmax_loss(
            loss="return -np.sum(T * np.log(self.y)) / len(x)")},
        {"test_SoftmaxWithLoss_hidden_large_scores":
             "must stay finite; the contract asks for the same guard"}),
    "softmax-loss: index labels unsupported": (
        {"SoftmaxWithLoss": _softmax_loss(onehot="T = t")},
        {"test_SoftmaxWithLoss_hidden_labels": "class indices"}),
    "softmax-loss: loss summed, not averaged": (
        {"SoftmaxWithLoss": _softmax_loss(
            loss="return -np.sum(T * np.log(self.y + 1e-7))")},
        {"test_SoftmaxWithLoss_forward_backward": "the loss",
         "test_SoftmaxWithLoss_hidden_labels": "the loss"}),
    "softmax-loss: loss per sample (an array)": (
        {"SoftmaxWithLoss": _softmax_loss(
            loss="return -np.sum(T * np.log(self.y + 1e-7), axis=1)")},
        {"test_SoftmaxWithLoss_forward_backward": "one number",
         "test_SoftmaxWithLoss_hidden_labels": "one number"}),
    "softmax-loss: softmax not shifted (overflows)": (
        {"SoftmaxWithLoss": _softmax_loss(shift="z = x")},
        {"test_SoftmaxWithLoss_hidden_large_scores": "not finite"}),
    "softmax-loss: forward shifts x in place": (
        {"SoftmaxWithLoss": _softmax_loss(
            shift="x -= x.max(axis=1, keepdims=True)\nz = x")},
        {"test_SoftmaxWithLoss_hidden_dtype_inputs": "changed its input x"}),
    "softmax-loss: float32 upcast by a float64 one-hot": (
        {"SoftmaxWithLoss": _softmax_loss(
            onehot="T = np.eye(x.shape[1])[t.argmax(axis=1) if t.ndim == 2 "
                   "else t]")},
        {"test_SoftmaxWithLoss_hidden_dtype_inputs": "dtype float64",
         "test_SoftmaxWithLoss_gradient_labels_dtype":
             "dtype float64.*contract: float32 in, float32 out"}),
    "softmax-loss: subclass of dlcore's": (
        {"SoftmaxWithLoss": "from dlcore.layers import SoftmaxWithLoss as S"
                            "\nclass SoftmaxWithLoss(S):\n    pass"},
        {"test_SoftmaxWithLoss_forward_backward": "delegating",
         "test_SoftmaxWithLoss_hidden_labels": "delegating",
         "test_SoftmaxWithLoss_hidden_backward": "delegating",
         "test_SoftmaxWithLoss_hidden_large_scores": "delegating",
         "test_SoftmaxWithLoss_hidden_dtype_inputs": "delegating"}),
    # ---- TwoLayerNet
    "net: gradient keys dW1, db1, ...": (
        {"TwoLayerNet": _net(grads="return {'dW1': a1.dW, 'db1': a1.db, "
                                   "'dW2': a2.dW, 'db2': a2.db}")},
        {"test_TwoLayerNet_shapes": "keys of params",
         "test_TwoLayerNet_hidden_gradient": "keys"}),
    "net: gradients wired to the wrong layer": (
        {"TwoLayerNet": _net(grads="return {'W1': a2.dW, 'b1': a2.db, "
                                   "'W2': a1.dW, 'b2': a1.db}")},
        {"test_TwoLayerNet_shapes": r"\['W1'\] has shape",
         "test_TwoLayerNet_hidden_gradient": r"\['W1'\] has shape"}),
    "net: loss returns an array": (
        {"TwoLayerNet": _net(
            loss="s = self.predict(x)\ne = np.exp(s - s.max(1, "
                 "keepdims=True))\ny = e / e.sum(1, keepdims=True)\n"
                 "T = np.eye(s.shape[1])[t] if t.ndim == 1 else t\n"
                 "return -np.sum(T * np.log(y + 1e-7), axis=1)")},
        {"test_TwoLayerNet_shapes": "one finite number",
         "test_TwoLayerNet_hidden_forward": "one number"}),
    "net: predict returns probabilities": (
        {"TwoLayerNet": _net(
            predict="e = np.exp(x - x.max(1, keepdims=True))\n"
                    "return e / e.sum(1, keepdims=True)")},
        {"test_TwoLayerNet_hidden_forward": "sums to 1"}),
    "net: a Relu after the last Affine too": (
        {"TwoLayerNet": _net(
            layers="self.layers = [Affine(p['W1'], p['b1']), Relu(), "
                   "Affine(p['W2'], p['b2']), Relu()]")},
        {"test_TwoLayerNet_hidden_forward": r"predict\(x\)"}),
    "net: layers hold copies of the params": (
        {"TwoLayerNet": _net(
            layers="self.layers = [Affine(p['W1'].copy(), p['b1'].copy()), "
                   "Relu(), Affine(p['W2'].copy(), p['b2'].copy())]")},
        {"test_TwoLayerNet_hidden_forward": "very arrays",
         "test_TwoLayerNet_hidden_gradient": "central differences"}),
    "net: rng ignored (global NumPy random state)": (
        {"TwoLayerNet": _net(
            W1="std * np.random.randn(input_size, hidden_size)",
            W2="std * np.random.randn(hidden_size, output_size)")},
        {"test_TwoLayerNet_hidden_init": "equal generators.*contract",
         "test_TwoLayerNet_init_gradient_accuracy":
             "equal generators.*contract"}),
    "net: the book's TwoLayerNet without rng": (
        {"TwoLayerNet": _net(
            rng="pass",
            W1="std * np.random.randn(input_size, hidden_size)",
            W2="std * np.random.randn(hidden_size, output_size)")
         .replace(", rng=None", "")},
        {"test_TwoLayerNet_shapes": "contract.*'rng'",
         "test_TwoLayerNet_init_gradient_accuracy": "contract.*'rng'",
         "test_TwoLayerNet_hidden_init": "contract.*'rng'"}),
    "net: weight_init_std ignored": (
        {"TwoLayerNet": _net(std="std = 0.01")},
        {"test_TwoLayerNet_hidden_init": "standard deviation"}),
    "net: accuracy returns a count": (
        {"TwoLayerNet": _net(
            acc="return np.sum(self.predict(x).argmax(axis=1) == t)")},
        {"test_TwoLayerNet_hidden_accuracy": "fraction"}),
    "net: accuracy ignores one-hot labels": (
        {"TwoLayerNet": _net(acc_t="pass")},
        {"test_TwoLayerNet_hidden_accuracy": "one-hot"}),
    "net: gradient without a fresh forward pass": (
        {"TwoLayerNet": _net(fwd="pass")},
        {"test_TwoLayerNet_hidden_gradient": "raised"}),
    "net: backward through the layers in forward order": (
        {"TwoLayerNet": _net(order="for layer in self.layers:")},
        {"test_TwoLayerNet_shapes": "raised",
         "test_TwoLayerNet_hidden_gradient": "raised"}),
    "net: subclass of dlcore's": (
        {"TwoLayerNet": "from dlcore.nets import TwoLayerNet as T\n"
                        "class TwoLayerNet(T):\n    pass"},
        {"test_TwoLayerNet_shapes": "delegating",
         "test_TwoLayerNet_hidden_init": "delegating",
         "test_TwoLayerNet_hidden_forward": "delegating",
         "test_TwoLayerNet_hidden_accuracy": "delegating",
         "test_TwoLayerNet_hidden_gradient": "delegating"}),
}


_LOOP = """
    import numpy as np
    def train_network(network, x_train, t_train, x_test, t_test, epochs=10,
                      batch_size=100, lr=0.1, rng=None):
        rng = np.random.default_rng(rng)
        history = {"loss": [], "train_acc": [], "test_acc": []}
        n = len(x_train)
        for epoch in range(epochs):
            order = rng.permutation(n)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                grads = network.gradient(x_train[idx], t_train[idx])
                for key in network.params:
                    network.params[key] -= lr * grads[key]
            history["loss"].append(network.loss(x_train, t_train))
            history["train_acc"].append(network.accuracy(x_train, t_train))
            history["test_acc"].append(network.accuracy(x_test, t_test))
        return history
"""


def _loop(*edits):
    """The reference-like loop with ``(old, new)`` edits."""
    source = _src(_LOOP)
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    return {"train_network": source}


WRONG.update({
    "loop: no shuffling": (
        _loop(("order = rng.permutation(n)", "order = np.arange(n)")),
        {"test_train_network_loop": "same order"}),
    "loop: shuffled once, before the epochs": (
        _loop(("        order = rng.permutation(n)\n", ""),
              ("n = len(x_train)\n",
               "n = len(x_train)\n    order = rng.permutation(n)\n")),
        {"test_train_network_loop": "same order"}),
    "loop: drops the last, smaller batch": (
        _loop(("range(0, n, batch_size)",
               "range(0, n - batch_size + 1, batch_size)")),
        {"test_train_network_loop": "batches of 4, 4 and 2"}),
    "loop: random batches with replacement (the book's iterations)": (
        _loop(("for start in range(0, n, batch_size):",
               "for start in range(max(n // batch_size, 1)):"),
              ("idx = order[start:start + batch_size]",
               "idx = rng.choice(n, batch_size)")),
        {"test_train_network_loop": "batches of 4, 4 and 2"}),
    "loop: x and t shuffled apart": (
        _loop(("grads = network.gradient(x_train[idx], t_train[idx])",
               "grads = network.gradient(x_train[idx], "
               "t_train[idx[::-1]])")),
        {"test_train_network_loop": "belong together"}),
    "loop: new arrays put in params": (
        _loop(("network.params[key] -= lr * grads[key]",
               "network.params[key] = network.params[key] - "
               "lr * grads[key]")),
        {"test_train_network_loop": "step every parameter in place",
         "test_train_network_milestone": "classifies"}),
    "loop: steps up the gradient": (
        _loop(("network.params[key] -= lr", "network.params[key] += lr")),
        {"test_train_network_loop": "should be -0.6"}),
    "loop: lr ignored": (
        _loop(("-= lr * grads[key]", "-= grads[key]")),
        {"test_train_network_loop": "should be -0.6"}),
    "loop: the last batch's loss recorded": (
        _loop(("network.loss(x_train, t_train)",
               "network.loss(x_train[idx], t_train[idx])")),
        {"test_train_network_loop": "the whole training set after each"}),
    "loop: test accuracy on the training set": (
        _loop(("network.accuracy(x_test, t_test)",
               "network.accuracy(x_train, t_train)")),
        {"test_train_network_loop": "on the whole test set"}),
    "loop: history per batch": (
        _loop(*[(f'        history["{k}"]', f'            history["{k}"]')
                for k in ("loss", "train_acc", "test_acc")]),
        {"test_train_network_loop": "one value per epoch"}),
    "loop: NumPy's global generator, rng ignored": (
        _loop(("order = rng.permutation(n)",
               "order = np.random.permutation(n)")),
        {"test_train_network_loop": "equal generators"}),
    "loop: a fixed seed inside": (
        _loop(("rng = np.random.default_rng(rng)",
               "rng = np.random.default_rng(0)")),
        {"test_train_network_hidden_details": "seeds 11 and 12"}),
    "loop: rng must be a Generator": (
        _loop(("    rng = np.random.default_rng(rng)\n", "")),
        {"test_train_network_hidden_details": "raised AttributeError"}),
    "loop: subclass-free wrapper of dlcore's": (
        {"train_network": "from dlcore.trainer import train_network as t"
                          "\ndef train_network(*a, **k):\n"
                          "    return t(*a, **k)"},
        {"test_train_network_loop": "delegating",
         "test_train_network_hidden_details": "delegating"}),
})


# the milestone's cells train a network on the digits (seconds each): the
# per-item cases run without them; the milestone has its own cases below
MILESTONE = ("test_train_network_milestone",
             "test_train_network_hidden_milestone")
# planted mistakes the milestone is needed for (it is what catches them)
NEEDS_MILESTONE = {"loop: new arrays put in params"}


@pytest.fixture(scope="module")
def ch05():
    return read(CH05)


@pytest.fixture(scope="module")
def ch05_items(ch05):
    nb = copy.deepcopy(ch05)
    nb.cells = [c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id")
                not in MILESTONE]
    return nb


def test_reference_solution_passes_everything(ch05, run):
    results = run(ch05)
    assert len(results) == 30
    assert all(ok for ok, _ in results.values()), results


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_answers_of_any_style_pass(ch05_items, name, run):
    assert_all_pass(run(ch05_items, CORRECT[name]))


def test_the_milestone_trains_every_correct_style(ch05, run):
    """Each round trains a network made of one correct style per item."""
    styles = {}
    for answers in CORRECT.values():
        for item, source in answers.items():
            if "from dlcore.layers import" not in source:  # see below
                styles.setdefault(item, []).append(source)
    for r in range(max(map(len, styles.values()))):
        answers = {k: v[r % len(v)] for k, v in styles.items()}
        results = run(ch05, answers)
        for grade_id in MILESTONE:
            assert results[grade_id][0], (r, results[grade_id][1])


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_answers_pass_the_answer_cell_policy(name):
    # autograde replaces a cell that breaks the policy: a correct answer
    # must not lose its points that way
    for item, source in CORRECT[name].items():
        assert not check_source(source), (item, check_source(source))


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_mistakes_fail_with_a_teaching_message(ch05, ch05_items,
                                                         name, run):
    answers, must_fail, *must_pass = WRONG[name]
    results = run(ch05 if name in NEEDS_MILESTONE else ch05_items, answers)
    assert_fails_as_planned(results, answers, must_fail, name)
    for grade_id in (must_pass[0] if must_pass else ()):
        assert results[grade_id][0], (grade_id, results[grade_id][1])


@pytest.mark.parametrize("name, item", [
    ("relu: blocks only x < 0 (passes the gradient at 0)", None),
    ("affine: db is a mean over the batch", "Affine"),
    ("softmax-loss: backward not divided by N", "SoftmaxWithLoss"),
    ("net: subclass of dlcore's", "TwoLayerNet"),
])
def test_the_milestone_names_the_item_to_fix_first(ch05, name, item, run):
    answers = WRONG[name][0]
    results = run(ch05, answers)
    for grade_id in MILESTONE:
        ok, message = results[grade_id]
        if item is None:  # a mistake training does not mind
            assert ok, message
        else:
            assert not ok and f"fix {item} first" in message, message


def test_the_milestone_asks_for_your_own_layers(ch05, run):
    """A TwoLayerNet built on dlcore's layers earns the item's points (the
    item allows it) but not the milestone's, which says what to change."""
    answers = {k: v for k, v in CORRECT.items()
               if "from dlcore.layers import" in v.get("TwoLayerNet", "")}
    answers = next(iter(answers.values()))
    results = run(ch05, answers)
    ok, message = results["test_train_network_milestone"]
    assert not ok and "is dlcore's Relu, not yours" in message, message
    assert all(ok for k, (ok, _) in results.items()
               if not k.startswith("test_train_network")), results
