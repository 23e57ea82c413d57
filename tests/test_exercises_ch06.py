"""Chapter 6's exercise tests are fair and sharp.

The source notebook's test cells run in this process (coursekit.runner,
scored as nbgrader scores them) against answers a learner could write:
every correct one, whatever its style, passes every cell; every plausible
mistake fails the cells it should, with a message that teaches, and no
other item's cells.
"""

import copy
import inspect
import re
import textwrap
from pathlib import Path

import pytest
from exercise_checks import code as _src, failures as _failed

from coursekit.notebooks import read

ROOT = Path(__file__).resolve().parents[1]
CH06 = ROOT / "solutions" / "ch06_training" / "exercises.ipynb"


def _copy_of_dlcore(obj):
    """dlcore's reference as a learner's own code (no decorator, no link)."""
    body = inspect.getsource(obj)
    body = "\n".join(ln for ln in body.splitlines()
                     if not ln.startswith("@reference"))
    head = ("import math\nimport numpy as np\n"
            "from dlcore.backend import get_array_module\n")
    return head + body


# ----------------------------------------------------- answers: optimizers

def _opt(name, init, body, args="lr=0.01"):
    """An optimizer class with the given __init__ and update bodies."""
    return "\n".join([
        "import numpy as np", f"class {name}:",
        f"    def __init__(self, {args}):",
        textwrap.indent(_src(init), " " * 8),
        "    def update(self, params, grads):",
        textwrap.indent(_src(body), " " * 8),
    ])


SGD_LOOP = _opt("SGD", "self.lr = lr", """
    for key in params:
        params[key][...] = params[key] - self.lr * grads[key]
""")
MOMENTUM_BOOK = _opt("Momentum", """
    self.lr, self.momentum, self.v = lr, momentum, None
""", """
    if self.v is None:
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
    for key in params.keys():
        self.v[key] = self.momentum*self.v[key] - self.lr*grads[key]
        params[key] += self.v[key]
""", "lr=0.01, momentum=0.9")
ADAGRAD_FLOAT64_STATE = _opt("AdaGrad", "self.lr = lr; self.h = {}", """
    for key, g in grads.items():
        h = self.h.setdefault(key, np.zeros(g.shape))
        h += np.square(g)
        np.subtract(params[key], self.lr * g / (np.sqrt(h) + 1e-7),
                    out=params[key], casting="unsafe")
""")
RMSPROP_BOOK = _opt("RMSprop", """
    self.lr, self.decay_rate, self.h = lr, decay_rate, None
""", """
    if self.h is None:
        self.h = {k: np.zeros_like(v) for k, v in params.items()}
    for key in params.keys():
        self.h[key] *= self.decay_rate
        self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
        params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)
""", "lr=0.01, decay_rate=0.99")
ADAM_BOOK = _opt("Adam", """
    self.lr, self.beta1, self.beta2 = lr, beta1, beta2
    self.iter, self.m, self.v = 0, None, None
""", """
    if self.m is None:
        self.m, self.v = {}, {}
        for key, val in params.items():
            self.m[key] = np.zeros_like(val)
            self.v[key] = np.zeros_like(val)
    self.iter += 1
    lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (
        1.0 - self.beta1**self.iter)
    for key in params.keys():
        self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
        self.v[key] += (1 - self.beta2) * (grads[key]**2 - self.v[key])
        params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)
""", "lr=0.001, beta1=0.9, beta2=0.999")
ADAM_EPS_INSIDE = _opt("Adam", """
    self.lr, self.b1, self.b2, self.t, self.s = lr, beta1, beta2, 0, {}
""", """
    self.t += 1
    for key, p in params.items():
        m, v = self.s.get(key, (0.0, 0.0))
        g = grads[key].astype(np.float64)
        m = self.b1 * m + (1 - self.b1) * g
        v = self.b2 * v + (1 - self.b2) * g ** 2
        self.s[key] = (m, v)
        mh, vh = m / (1 - self.b1 ** self.t), v / (1 - self.b2 ** self.t)
        p -= (self.lr * mh / np.sqrt(vh + 1e-8)).astype(p.dtype)
""", "lr=0.001, beta1=0.9, beta2=0.999")

# ------------------------------------------------- answers: init_weight

INIT_STANDARD_NORMAL = _src("""
    import numpy as np
    def init_weight(fan_in, fan_out, kind="he", rng=None):
        if kind == "he":
            std = np.sqrt(2.0 / fan_in)
        elif kind == "xavier":
            std = 1.0 / np.sqrt(fan_in)
        else:
            raise ValueError("unknown kind " + str(kind))
        rng = rng or np.random.default_rng()
        return rng.standard_normal((fan_in, fan_out)) * std
""")

# --------------------------------------------------------- answers: BN

BN_BOOK_GRAPH = _src("""
    import numpy as np
    class BatchNormalization:
        def __init__(self, gamma, beta, momentum=0.9, eps=1e-5):
            self.gamma, self.beta = gamma, beta
            self.momentum, self.eps = momentum, eps
            self.running_mean = None      # created lazily, as zeros
            self.running_var = None
            self.input_shape = None

        def forward(self, x, train_flg=True):
            self.input_shape = x.shape
            if x.ndim != 2:
                x = x.reshape(x.shape[0], -1)
            if self.running_mean is None:
                self.running_mean = np.zeros(x.shape[1], x.dtype)
                self.running_var = np.zeros(x.shape[1], x.dtype)
            if train_flg:
                mu = x.mean(axis=0)
                xc = x - mu
                var = np.mean(xc**2, axis=0)
                std = np.sqrt(var + self.eps)
                xn = xc / std
                self.batch_size = x.shape[0]
                self.xc, self.xn, self.std = xc, xn, std
                self.running_mean = (self.momentum * self.running_mean
                                     + (1 - self.momentum) * mu)
                self.running_var = (self.momentum * self.running_var
                                    + (1 - self.momentum) * var)
            else:
                xc = x - self.running_mean
                xn = xc / np.sqrt(self.running_var + self.eps)
            return (self.gamma * xn + self.beta).reshape(*self.input_shape)

        def backward(self, dout):
            if dout.ndim != 2:
                dout = dout.reshape(dout.shape[0], -1)
            dbeta = dout.sum(axis=0)
            dgamma = np.sum(self.xn * dout, axis=0)
            dxn = self.gamma * dout
            dxc = dxn / self.std
            dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
            dvar = 0.5 * dstd / self.std
            dxc += (2.0 / self.batch_size) * self.xc * dvar
            dmu = np.sum(dxc, axis=0)
            dx = dxc - dmu / self.batch_size
            self.dgamma, self.dbeta = dgamma, dbeta
            return dx.reshape(*self.input_shape)
""")
BN_EINSUM_PYTORCH = _src("""
    import numpy as np
    class BatchNormalization:
        def __init__(self, gamma, beta, momentum=0.9, eps=1e-5):
            self.gamma, self.beta, self.m, self.eps = gamma, beta, momentum, eps
            self.running_mean = np.zeros(gamma.shape, gamma.dtype)
            self.running_var = np.ones(gamma.shape, gamma.dtype)

        def forward(self, x, train_flg=True):
            self.shape = x.shape
            x = x.reshape(len(x), -1)
            if train_flg:
                mean = np.einsum("nd->d", x) / len(x)
                var = np.einsum("nd,nd->d", x - mean, x - mean) / len(x)
                self.running_mean *= self.m
                self.running_mean += (1 - self.m) * mean
                self.running_var *= self.m
                self.running_var += (1 - self.m) * var
            else:
                mean, var = self.running_mean, self.running_var
            self.rstd = (var + self.eps) ** -0.5
            self.xhat = (x - mean) * self.rstd
            return (self.xhat * self.gamma + self.beta).reshape(self.shape)

        def backward(self, dout):
            d = dout.reshape(len(dout), -1)
            n = len(d)
            self.dbeta = np.einsum("nd->d", d)
            self.dgamma = np.einsum("nd,nd->d", d, self.xhat)
            dx = (self.gamma * self.rstd / n) * (
                n * d - self.dbeta - self.xhat * self.dgamma)
            return dx.reshape(self.shape)
""")

# ---------------------------------------------------- answers: Dropout

DROPOUT_BOOL_MASK = _src("""
    import numpy as np
    class Dropout:
        def __init__(self, dropout_ratio=0.5, rng=None):
            self.dropout_ratio = dropout_ratio
            self.rng = np.random.default_rng() if rng is None else rng
            self.mask = None

        def forward(self, x, train_flg=True):
            if train_flg:
                self.mask = self.rng.random(x.shape) > self.dropout_ratio
                return x * self.mask / (1.0 - self.dropout_ratio)
            return x

        def backward(self, dout):
            return dout * self.mask / (1.0 - self.dropout_ratio)
""")
DROPOUT_BINOMIAL = _src("""
    import numpy as np
    class Dropout:
        def __init__(self, dropout_ratio=0.5, rng=None):
            self.p = dropout_ratio
            self.rng = rng if rng is not None else np.random.default_rng()

        def forward(self, x, train_flg=True):
            if not train_flg:
                return x * 1
            keep = self.rng.binomial(1, 1 - self.p, size=x.shape)
            self.w = (keep / (1 - self.p)).astype(x.dtype)
            return x * self.w

        def backward(self, dout):
            return dout * self.w
""")


def _dlcore_answers():
    from dlcore import init, layers, optim

    answers = {n: _copy_of_dlcore(getattr(optim, n))
               for n in ("SGD", "Momentum", "AdaGrad", "RMSprop", "Adam")}
    answers["init_weight"] = (
        _copy_of_dlcore(init.init_weight).replace(
            "import math", "import math\n_STD_GAIN = {'he': 2.0, "
            "'xavier': 1.0}"))
    answers["BatchNormalization"] = _copy_of_dlcore(
        layers.BatchNormalization)
    answers["Dropout"] = _copy_of_dlcore(layers.Dropout)
    return answers


COMPARE_OTHER = _src("""
    import numpy as np
    def compare_optimizers(networks, optimizers, x_train, t_train, x_test,
                           t_test, epochs=5, batch_size=100, seed=0):
        names = list(networks)
        accs, curves = [], {}
        for name in names:
            net, opt = networks[name], optimizers[name]
            gen = np.random.default_rng(seed)
            idx = np.arange(x_train.shape[0])
            curve = []
            for epoch in range(epochs):
                gen.shuffle(idx)
                for i in range(0, len(idx), batch_size):
                    b = idx[i:i + batch_size]
                    opt.update(net.params, net.gradient(x_train[b],
                                                        t_train[b]))
                curve.append(net.loss(x_train, t_train))
            curves[name] = curve
            accs.append(net.accuracy(x_test, t_test))
        best = names[int(np.argmax(accs))]
        return dict(test_acc=dict(zip(names, accs)), loss=curves,
                    winner=best)
""")


CORRECT = {
    "book styles": {
        "SGD": SGD_LOOP, "Momentum": MOMENTUM_BOOK,
        "AdaGrad": ADAGRAD_FLOAT64_STATE, "RMSprop": RMSPROP_BOOK,
        "Adam": ADAM_BOOK, "init_weight": INIT_STANDARD_NORMAL,
        "BatchNormalization": BN_BOOK_GRAPH, "Dropout": DROPOUT_BOOL_MASK,
    },
    "other styles": {
        "Adam": ADAM_EPS_INSIDE, "BatchNormalization": BN_EINSUM_PYTORCH,
        "Dropout": DROPOUT_BINOMIAL, "compare_optimizers": COMPARE_OTHER,
    },
    "dlcore's code, copied": "dlcore",
}

# ------------------------------------------------------------- mistakes


def _sub(source, old, new):
    assert old in source, old
    return source.replace(old, new)


SOL = None  # the source notebook's answers, filled in by the fixture


def _wrong(item, old, new):
    return lambda: {item: _sub(SOL[item], old, new)}


WRONG = {
    # optimizers
    "SGD rebinds params[key]": (
        _wrong("SGD", "params[key] -= self.lr * grads[key]",
               "params[key] = params[key] - self.lr * grads[key]"),
        {"test_SGD_two_updates": "new array",
         "test_SGD_hidden_updates": "new array"}),
    "SGD ignores lr": (
        _wrong("SGD", "params[key] -= self.lr * grads[key]",
               "params[key] -= 0.01 * grads[key]"),
        {"test_SGD_two_updates": "values are off",
         "test_SGD_hidden_updates": "values are off"}),
    "SGD goes uphill": (
        _wrong("SGD", "params[key] -= self.lr", "params[key] += self.lr"),
        {"test_SGD_hidden_updates": "uphill"}),
    "SGD modifies grads": (
        _wrong("SGD", "params[key] -= self.lr * grads[key]",
               "grads[key] *= self.lr\n            params[key] -= grads[key]"),
        {"test_SGD_hidden_updates": "changed its input grads"}),
    "Momentum v += -lr*g (no friction)": (
        _wrong("Momentum", "self.v[key] = self.momentum * self.v[key] - "
               "self.lr * grads[key]",
               "self.v[key] += -self.lr * grads[key]"),
        {"test_Momentum_two_updates": "after update 2",
         "test_Momentum_hidden_updates": "after update 2"}),
    "Momentum sign flipped": (
        _wrong("Momentum", "params[key] += self.v[key]",
               "params[key] -= self.v[key]"),
        {"test_Momentum_two_updates": "after update 1",
         "test_Momentum_hidden_updates": "uphill"}),
    "Momentum state in a mutable default": (
        lambda: {"Momentum": _sub(_sub(
            SOL["Momentum"], "momentum=0.9):", "momentum=0.9, v={}):"),
            "self.v = {}", "self.v = v")},
        {"test_Momentum_hidden_updates": "second Momentum object"}),
    "Momentum hard-codes 0.9": (
        _wrong("Momentum", "self.momentum * self.v[key]",
               "0.9 * self.v[key]"),
        {"test_Momentum_hidden_updates": "momentum=0.7"}),
    "AdaGrad without eps": (
        _wrong("AdaGrad", "(np.sqrt(self.h[key]) + 1e-7)",
               "np.sqrt(self.h[key])"),
        {"test_AdaGrad_hidden_updates": "NaN"}),
    "AdaGrad resets h every update": (
        _wrong("AdaGrad", "if key not in self.h:", "if True:"),
        {"test_AdaGrad_two_updates": "after update 2",
         "test_AdaGrad_hidden_updates": "after update 2"}),
    "AdaGrad sums g, not g squared": (
        _wrong("AdaGrad", "self.h[key] += grads[key] * grads[key]",
               "self.h[key] += np.abs(grads[key])"),
        {"test_AdaGrad_two_updates": "after update 1",
         "test_AdaGrad_hidden_updates": "after update 1"}),
    "RMSprop decay swapped": (
        _wrong("RMSprop", "rho * self.h[key] + (1 - rho) * g * g",
               "(1 - rho) * self.h[key] + rho * g * g"),
        {"test_RMSprop_two_updates": "after update 1",
         "test_RMSprop_hidden_updates": "after update 1"}),
    "RMSprop one h for all keys": (
        lambda: {"RMSprop": _sub(_sub(_sub(SOL["RMSprop"],
            "self.h = {}", "self.h = 0.0"),
            "            if key not in self.h:\n"
            "                self.h[key] = np.zeros_like(params[key])\n", ""),
            "self.h[key] = rho * self.h[key] + (1 - rho) * g * g\n"
            "            params[key] -= self.lr * g / (np.sqrt(self.h[key])",
            "self.h = rho * self.h + (1 - rho) * g * g\n"
            "            params[key] -= self.lr * g / (np.sqrt(self.h)")},
        {"test_RMSprop_hidden_updates": "own state"}),
    "Adam without bias correction": (
        lambda: {"Adam": _sub(_sub(SOL["Adam"],
            "m_hat = self.m[key] / (1 - b1 ** self.t)",
            "m_hat = self.m[key]"),
            "v_hat = self.v[key] / (1 - b2 ** self.t)",
            "v_hat = self.v[key]")},
        {"test_Adam_two_updates": "after update 1",
         "test_Adam_hidden_first_step": "bias correction",
         "test_Adam_hidden_updates": "after update 1"}),
    "Adam counts steps from 0": (
        lambda: {"Adam": _sub(_sub(SOL["Adam"],
            "        self.t += 1\n", ""),
            "params[key] -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)",
            "params[key] -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)\n"
            "        self.t += 1")},
        {"test_Adam_two_updates": "values are off",
         "test_Adam_hidden_first_step": "NaN",
         "test_Adam_hidden_updates": "NaN"}),
    "Adam counts a step per key": (
        lambda: {"Adam": _sub(_sub(SOL["Adam"],
            "        self.t += 1\n", ""),
            "            g = grads[key]\n",
            "            g = grads[key]\n            self.t += 1\n")},
        {"test_Adam_hidden_first_step": "not keys",
         "test_Adam_hidden_updates": "after update 1"}),
    # init_weight
    "init_weight std 2/fan_in": (
        _wrong("init_weight", "np.sqrt(gains[kind] / fan_in)",
               "gains[kind] / fan_in"),
        {"test_init_weight_shape_and_scale": "standard deviation",
         "test_init_weight_hidden_statistics": "standard deviation"}),
    "init_weight uses fan_out": (
        _wrong("init_weight", "np.sqrt(gains[kind] / fan_in)",
               "np.sqrt(gains[kind] / fan_out)"),
        {"test_init_weight_shape_and_scale": "standard deviation",
         "test_init_weight_hidden_statistics": "which fan"}),
    "init_weight Glorot's 2/(fan_in+fan_out) for xavier": (
        _wrong("init_weight", "np.sqrt(gains[kind] / fan_in)",
               "np.sqrt(2.0 / (fan_in + fan_out)) if kind == 'xavier' "
               "else np.sqrt(2.0 / fan_in)"),
        {"test_init_weight_hidden_statistics": "xavier"}),
    "init_weight uniform samples": (
        _wrong("init_weight", "rng.normal(0.0, scale, size=(fan_in, fan_out))",
               "rng.uniform(-scale * 3 ** 0.5, scale * 3 ** 0.5, "
               "size=(fan_in, fan_out))"),
        {"test_init_weight_hidden_statistics": "normal distribution"}),
    "init_weight ignores rng": (
        _wrong("init_weight", "return rng.normal(0.0, scale",
               "return np.random.normal(0.0, scale"),
        {"test_init_weight_hidden_kind_and_rng": "same seed"}),
    "init_weight falls back to he": (
        _wrong("init_weight", "if kind not in gains:", "if False:"),
        {"test_init_weight_hidden_kind_and_rng": "KeyError"}),
    "init_weight shape transposed": (
        _wrong("init_weight", "size=(fan_in, fan_out)",
               "size=(fan_out, fan_in)"),
        {"test_init_weight_shape_and_scale": "shape",
         "test_init_weight_hidden_statistics": "shape"}),
    # BatchNormalization
    "BN unbiased variance": (
        _wrong("BatchNormalization",
               "var = ((x2 - mu) ** 2).mean(axis=0)",
               "var = x2.var(axis=0, ddof=1)"),
        {"test_BatchNormalization_forward_train": "values are off",
         "test_BatchNormalization_hidden_forward": "unbiased"}),
    "BN momentum swapped": (
        lambda: {"BatchNormalization": _sub(_sub(SOL["BatchNormalization"],
            "m * self.running_mean + (1 - m) * mu",
            "(1 - m) * self.running_mean + m * mu"),
            "m * self.running_var + (1 - m) * var",
            "(1 - m) * self.running_var + m * var")},
        {"test_BatchNormalization_hidden_running_stats": "wrong term"}),
    "BN running_var from the unbiased variance": (
        _wrong("BatchNormalization",
               "(1 - m) * var\n",
               "(1 - m) * var * len(x2) / (len(x2) - 1)\n"),
        {"test_BatchNormalization_hidden_running_stats": "unbiased"}),
    "BN ignores eps": (
        _wrong("BatchNormalization", "np.sqrt(var + self.eps)",
               "np.sqrt(var + 1e-5)"),
        {"test_BatchNormalization_hidden_forward": "eps=0.5",
         "test_BatchNormalization_hidden_inference": "values are off"}),
    "BN batch statistics at inference": (
        _wrong("BatchNormalization", "if train_flg:", "if True:"),
        {"test_BatchNormalization_hidden_inference": "train_flg=False"}),
    "BN backward only through x_hat": (
        _wrong("BatchNormalization",
               "dx = (dxhat - dxhat.mean(axis=0)\n"
               "              - self.x_hat * (dxhat * self.x_hat).mean(axis=0))",
               "dx = dxhat"),
        {"test_BatchNormalization_hidden_backward_dx": "central differences",
         "test_BatchNormalization_hidden_nchw": "central differences"}),
    "BN backward misses the variance path": (
        _wrong("BatchNormalization",
               "\n              - self.x_hat * (dxhat * self.x_hat).mean(axis=0))",
               ")"),
        {"test_BatchNormalization_hidden_backward_dx": "central differences"}),
    "BN backward misses the mean path": (
        _wrong("BatchNormalization", "dx = (dxhat - dxhat.mean(axis=0)",
               "dx = (dxhat"),
        {"test_BatchNormalization_hidden_backward_dx": "central differences"}),
    "BN dgamma from x, not x_hat": (
        lambda: {"BatchNormalization": _sub(_sub(SOL["BatchNormalization"],
            "self.x_hat = (x2 - mu) * self.inv_std",
            "self.x_hat = (x2 - mu) * self.inv_std\n        self.x2 = x2"),
            "(d2 * self.x_hat).sum(axis=0)", "(d2 * self.x2).sum(axis=0)")},
        {"test_BatchNormalization_hidden_backward_params": "dgamma"}),
    "BN rejects 4-D input": (
        _wrong("BatchNormalization", "x2 = x.reshape(x.shape[0], -1)",
               "x2 = x"),
        {"test_BatchNormalization_hidden_nchw": "forward"}),
    # Dropout
    "Dropout not inverted": (
        _wrong("Dropout", "factor = 1.0 / (1.0 - self.dropout_ratio)",
               "factor = 1.0"),
        {"test_Dropout_train_and_inference": "2 \\* x",
         "test_Dropout_hidden_training": "unscaled"}),
    "Dropout scales at test time": (
        _wrong("Dropout", "return x.copy()",
               "return x * (1.0 - self.dropout_ratio)"),
        {"test_Dropout_train_and_inference": "train_flg=False",
         "test_Dropout_hidden_training": "train_flg=False"}),
    "Dropout keeps with probability ratio": (
        _wrong("Dropout", "keep = self.rng.random(x.shape) >= "
               "self.dropout_ratio", "keep = self.rng.random(x.shape) < "
               "self.dropout_ratio"),
        {"test_Dropout_hidden_training": "share dropped"}),
    "Dropout resamples the mask in backward": (
        _wrong("Dropout", "return dout * self.scale",
               "keep = self.rng.random(dout.shape) >= self.dropout_ratio\n"
               "        return dout * keep / (1.0 - self.dropout_ratio)"),
        {"test_Dropout_hidden_backward": "backward"}),
    "Dropout backward without the scaling": (
        _wrong("Dropout", "return dout * self.scale",
               "return dout * (self.scale > 0)"),
        {"test_Dropout_hidden_backward": "backward"}),
    "Dropout inference pass overwrites the mask": (
        _wrong("Dropout", "return x.copy()",
               "self.scale = np.ones_like(x)\n            return x.copy()"),
        {"test_Dropout_hidden_backward": "backward"}),
    "Dropout mask drawn once": (
        _wrong("Dropout", "keep = self.rng.random(x.shape)",
               "self.fixed = getattr(self, 'fixed', None)\n"
               "        if self.fixed is None:\n"
               "            self.fixed = self.rng.random(x.shape)\n"
               "        keep = self.fixed"),
        {"test_Dropout_hidden_rng": "new mask"}),
    "Dropout ignores rng": (
        _wrong("Dropout", "keep = self.rng.random(x.shape)",
               "keep = np.random.random(x.shape)"),
        {"test_Dropout_hidden_rng": "same seed"}),
    "Dropout float64 mask": (
        _wrong("Dropout", "keep.astype(x.dtype) * x.dtype.type(factor)",
               "keep * factor"),
        {"test_Dropout_hidden_training": "dtype float64"}),
    "Dropout modifies x": (
        _wrong("Dropout", "return x * self.scale",
               "x *= self.scale\n        return x"),
        {"test_Dropout_hidden_training": "changed its input x"}),
}

# delegation: every route fails each item's cells
WRONG.update({
    "compare: one generator for all networks": (
        lambda: {"compare_optimizers": _sub(_sub(
            SOL["compare_optimizers"],
            "        draw = np.random.default_rng(seed)  # the same batches "
            "for each\n", ""),
            "    n = len(x_train)\n",
            "    n = len(x_train)\n    draw = np.random.default_rng(seed)\n")},
        {"test_compare_optimizers_race": "saw different batches"}),
    "compare: no shuffling": (
        _wrong("compare_optimizers", "order = draw.permutation(n)",
               "order = np.arange(n)"),
        {"test_compare_optimizers_race": "new shuffled order"}),
    "compare: one update per epoch": (
        _wrong("compare_optimizers",
               "                optimizer.update(network.params, grads)",
               "            optimizer.update(network.params, grads)"),
        {"test_compare_optimizers_race": "one update per batch"}),
    "compare: the winner has the lowest loss": (
        _wrong("compare_optimizers",
               "winner = max(test_acc, key=test_acc.get)",
               "winner = min(loss, key=lambda k: loss[k][-1])"),
        {"test_compare_optimizers_race": "the winner is the name"}),
    "compare: the last of a tie wins": (
        _wrong("compare_optimizers",
               "winner = max(test_acc, key=test_acc.get)",
               "winner = max(reversed(list(test_acc)), key=test_acc.get)"),
        {"test_compare_optimizers_hidden_race": "on a tie"}),
    "compare: the loss of the last batch": (
        _wrong("compare_optimizers",
               "network.loss(x_train, t_train)",
               "network.loss(x_train[batch], t_train[batch])"),
        {"test_compare_optimizers_race": "the whole training set"}),
    "compare: seed ignored": (
        _wrong("compare_optimizers", "np.random.default_rng(seed)",
               "np.random.default_rng(0)"),
        {"test_compare_optimizers_hidden_race": "seeds 5 and 6"}),
    "compare: test accuracy on the training set": (
        _wrong("compare_optimizers", "network.accuracy(x_test, t_test)",
               "network.accuracy(x_train, t_train)"),
        {"test_compare_optimizers_milestone": "measure each network",
         "test_compare_optimizers_hidden_milestone": "measure each network"}),
})
# planted mistakes only the milestone (it trains) can catch
NEEDS_MILESTONE = {"compare: test accuracy on the training set"}


DELEGATE = {
    "SGD": "from dlcore.optim import SGD",
    "Adam": _src("""
        import dlcore.optim
        class Adam(dlcore.optim.Adam):
            pass
    """),
    "init_weight": _src("""
        from dlcore import init
        def init_weight(fan_in, fan_out, kind="he", rng=None):
            return init.init_weight(fan_in, fan_out, kind, rng)
    """),
    "BatchNormalization": "from dlcore.layers import BatchNormalization",
    "Dropout": "from dlcore.layers import Dropout",
}


@pytest.fixture(scope="module")
def ch06():
    global SOL
    from coursekit.notebooks import answer_cells

    nb = read(CH06)
    SOL = {k: c.source for k, c in answer_cells(nb).items()}
    return nb


# the milestone's cells train two networks on the digits (seconds each):
# the per-item cases run without them; the milestone has its own cases
MILESTONE = ("test_compare_optimizers_milestone",
             "test_compare_optimizers_hidden_milestone")


@pytest.fixture(scope="module")
def ch06_items(ch06):
    nb = copy.deepcopy(ch06)
    nb.cells = [c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id")
                not in MILESTONE]
    return nb


def test_source_answers_pass_everything(ch06, run):
    results = run(ch06)
    assert len(results) == 29 and not _failed(results), _failed(results)


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_answers_of_any_style_pass(ch06, ch06_items, name, run):
    answers = CORRECT[name]
    if answers == "dlcore":
        answers = _dlcore_answers()
    # every correct style also wins the milestone's race, in-process
    nb = ch06 if name == "other styles" and run.__name__ == \
        "run_inprocess" else ch06_items
    failed = _failed(run(nb, answers))
    assert not failed, failed


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_mistakes_fail_with_a_teaching_message(ch06, ch06_items,
                                                         name, run):
    make, must_fail = WRONG[name]
    answers = make()
    failed = _failed(run(ch06 if name in NEEDS_MILESTONE else ch06_items,
                         answers))
    for grade_id, pattern in must_fail.items():
        assert grade_id in failed, f"{grade_id} passed {name!r}"
        assert re.search(pattern, failed[grade_id]), (grade_id,
                                                      failed[grade_id])
    (item,) = answers
    others = {k: m for k, m in failed.items()
              if not k.startswith(f"test_{item}_")}
    assert not others, others


@pytest.mark.parametrize("item", sorted(DELEGATE))
def test_delegating_to_dlcore_scores_zero_for_that_item(ch06_items, item,
                                                         run):
    failed = _failed(run(ch06_items, {item: DELEGATE[item]}))
    cells = [k for k in run(ch06_items) if k.startswith(f"test_{item}_")]
    assert cells and set(failed) == set(cells), failed
    assert all("delegating to dlcore" in failed[k] for k in cells), failed


# ------------------------------------------------------------ the milestone
# (in this process: the judged run of the source above covers the grading
# path; each race trains two networks)


@pytest.mark.parametrize("name, item", [
    ("Adam without bias correction", "Adam"),
    ("BN backward misses the mean path", "BatchNormalization"),
    ("Dropout not inverted", "Dropout"),
])
def test_the_milestone_names_the_item_to_fix_first(ch06, name, item):
    from coursekit.runner import run_inprocess

    results = run_inprocess(ch06, WRONG[name][0]())
    ok, message = results["test_compare_optimizers_milestone"]
    assert not ok and f"fix {item} first" in message, message


def test_the_milestone_asks_for_your_own_layers(ch06):
    from coursekit.runner import run_inprocess

    results = run_inprocess(ch06, {"Dropout": DELEGATE["Dropout"]})
    for grade_id in MILESTONE:
        ok, message = results[grade_id]
        assert not ok and "is dlcore's Dropout, not yours" in message, \
            message
