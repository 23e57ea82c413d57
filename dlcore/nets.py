"""Networks built from dlcore's layers (chapters 2 and 5-7).

- ``forward``, ``sample_network``: a three-layer sigmoid network with
  given weights, run forward only (chapter 2).
- ``TwoLayerNet``: Affine-Relu-Affine-SoftmaxWithLoss (chapter 5).
- ``MultiLayerNet``: any number of hidden layers, with weight decay,
  batch normalization and dropout (chapter 6).
- ``SimpleConvNet``: Conv-Relu-Pool-Affine-Relu-Affine (chapter 7).
- ``LeNet5``, ``DeepConvNet`` (the deeper convnet of *Deep Learning from
  Scratch*, chapter 8) and ``ResidualMLP`` (a deep net of residual
  blocks, or the same depth without shortcuts): chapter 7's deeper nets.

Every net has a ``params`` dict (the very arrays its layers use, so an
optimizer's in-place update reaches them) and ``predict``, ``loss``,
``accuracy``, ``gradient`` (backprop) and ``numerical_gradient`` (central
differences, for checking ``gradient``). Weights are created with the
active backend (NumPy unless ``dlcore.backend.use("cupy")``) in ``dtype``;
float32 params and data stay float32 throughout.
"""

from importlib import resources

import numpy as np

from dlcore import backend
from dlcore.backend import get_array_module
from dlcore.conv import conv_output_size
from dlcore.functions import sigmoid
from dlcore.gradients import numerical_gradient as _numerical_gradient
from dlcore.guard import reference
from dlcore.layers import (
    Affine,
    BatchNormalization,
    Convolution,
    Dropout,
    Pooling,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)
from dlcore.residual import Residual

__all__ = [
    "forward",
    "sample_network",
    "TwoLayerNet",
    "MultiLayerNet",
    "SimpleConvNet",
    "LeNet5",
    "DeepConvNet",
    "ResidualMLP",
]


# ---------------------------------------------------------------- chapter 2

@reference("forward")
def forward(network, x):
    """Scores of a three-layer sigmoid network: identity output.

    ``network``: dict with W1 (D, H1), b1 (H1,), W2 (H1, H2), b2 (H2,),
    W3 (H2, K), b3 (K,). x (D,) or (N, D) -> y (K,) or (N, K).
    """
    W1, W2, W3 = network["W1"], network["W2"], network["W3"]
    b1, b2, b3 = network["b1"], network["b2"], network["b3"]
    z1 = sigmoid(x @ W1 + b1)
    z2 = sigmoid(z1 @ W2 + b2)
    return z2 @ W3 + b3


_SAMPLE_WEIGHTS = "sample_weights.npz"


def sample_network():
    """The "given weights" of chapter 2: a 64-50-100-10 sigmoid network.

    Trained on the digits training split (``datasets.load_digits()``) by
    scripts/make_sample_weights.py; ``forward(sample_network(), x_test)``
    classifies the digits test split (see that script for the accuracy).
    Returns a fresh dict of float32 NumPy arrays W1, b1, W2, b2, W3, b3.
    """
    path = resources.files("dlcore") / "data" / _SAMPLE_WEIGHTS
    with path.open("rb") as f, np.load(f) as npz:
        return {key: npz[key].copy() for key in ("W1", "b1", "W2", "b2", "W3", "b3")}


# ---------------------------------------------------------------- helpers

_INIT_KINDS = {"he": "he", "relu": "he", "xavier": "xavier", "sigmoid": "xavier"}


def _init_std(kind, fan_in):
    """Standard deviation of initial weights: sqrt(2/fan_in) for "he"
    ("relu"), sqrt(1/fan_in) for "xavier" ("sigmoid"), or a number."""
    if isinstance(kind, str):
        if kind.lower() not in _INIT_KINDS:
            raise ValueError(
                f"unknown weight_init_std {kind!r}: use a positive number or "
                f"one of {sorted(_INIT_KINDS)}"
            )
        gain = 2.0 if _INIT_KINDS[kind.lower()] == "he" else 1.0
        return float(np.sqrt(gain / fan_in))
    std = float(kind)
    if not std > 0:
        raise ValueError(f"weight_init_std must be positive; got {kind!r}")
    return std


def _normal(rng, shape, std, dtype):
    """std * N(0, 1) samples drawn by the NumPy ``rng``, on the active backend."""
    return backend.xp().asarray(std * rng.standard_normal(shape), dtype=dtype)


def _zeros(n, dtype):
    return backend.xp().zeros(n, dtype=dtype)


def _ones(n, dtype):
    return backend.xp().ones(n, dtype=dtype)


def _labels(t):
    """Class indices from one-hot rows (N, K) or indices (N,)."""
    return t.argmax(axis=1) if t.ndim != 1 else t


def _count_correct(net, x, t, batch_size):
    """Correct predictions of ``net`` on x, ``batch_size`` samples at a time."""
    correct = 0
    for i in range(0, len(x), batch_size):
        y = net.predict(x[i:i + batch_size])
        tt = _labels(t[i:i + batch_size])
        correct += int((y.argmax(axis=1) == tt).sum())
    return correct


# ---------------------------------------------------------------- chapter 5

@reference("TwoLayerNet")
class TwoLayerNet:
    """Affine - Relu - Affine - SoftmaxWithLoss.

    ``params``: W1 (input_size, hidden_size), b1 (hidden_size,),
    W2 (hidden_size, output_size), b2 (output_size,); weights are
    ``weight_init_std`` * N(0, 1) drawn from ``rng`` (a NumPy Generator
    or None), biases zero.
    """

    def __init__(self, input_size, hidden_size, output_size,
                 weight_init_std=0.01, rng=None, dtype=np.float64):
        rng = np.random.default_rng(rng)
        self.params = {
            "W1": _normal(rng, (input_size, hidden_size),
                          _init_std(weight_init_std, input_size), dtype),
            "b1": _zeros(hidden_size, dtype),
            "W2": _normal(rng, (hidden_size, output_size),
                          _init_std(weight_init_std, hidden_size), dtype),
            "b2": _zeros(output_size, dtype),
        }
        p = self.params
        # The layers hold the same arrays as params: updates reach both.
        self.layers = {
            "Affine1": Affine(p["W1"], p["b1"]),
            "Relu1": Relu(),
            "Affine2": Affine(p["W2"], p["b2"]),
        }
        self.last_layer = SoftmaxWithLoss()
        self.last_loss = None

    def predict(self, x):
        """Scores before softmax: x (N, input_size) -> (N, output_size)."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        """Mean cross-entropy of softmax(predict(x)) against t."""
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x, t, batch_size=1000):
        """Fraction of samples whose largest score is the true class."""
        return _count_correct(self, x, t, batch_size) / len(x)

    def numerical_gradient(self, x, t):
        """Gradients of the loss by central differences (slow; for checks)."""
        return {key: _numerical_gradient(lambda W: self.loss(x, t), param)
                for key, param in self.params.items()}

    def gradient(self, x, t):
        """Gradients of the loss by backprop: a dict with params' keys."""
        self.last_loss = self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for i, name in ((1, "Affine1"), (2, "Affine2")):
            for key, g in self.layers[name].grads.items():  # "W", "b"
                grads[f"{key}{i}"] = g
        return grads


# ---------------------------------------------------------------- chapters 6-7

class _LayerNet:
    """What MultiLayerNet and SimpleConvNet share: a list of layers, whose
    parameters are registered under the net's names (W1, gamma1, ...), and
    the passes through them."""

    # the layer classes a net is built from; ``layers={"Convolution":
    # YourConvolution, ...}`` puts others in their place (the milestones of
    # chapters 6 and 7 train a learner's own layers this way)
    _LAYERS = {"Affine": Affine, "Relu": Relu, "Sigmoid": Sigmoid,
               "BatchNormalization": BatchNormalization, "Dropout": Dropout,
               "Convolution": Convolution, "Pooling": Pooling,
               "SoftmaxWithLoss": SoftmaxWithLoss}
    # a layer without a ``params`` dict keeps the contract's attributes
    _CONTRACT_PARAMS = ("W", "b", "gamma", "beta")

    def _setup(self, layers=None):
        unknown = set(layers or {}) - set(self._LAYERS)
        if unknown:
            raise ValueError(f"unknown layers {sorted(unknown)}: choose "
                             f"from {sorted(self._LAYERS)}")
        self._cls = {**self._LAYERS, **(layers or {})}
        self.layers = []
        self.params = {}
        self._slots = []  # (net's name, layer, layer's name) per parameter
        self.last_layer = self._cls["SoftmaxWithLoss"]()
        self.last_loss = None

    def _add(self, layer, index=None):
        """Append ``layer``; its params become the net's, suffixed by index."""
        self.layers.append(layer)
        self._register(layer, index)
        return layer

    def _register(self, layer, index):
        """Make ``layer``'s parameters the net's, suffixed by ``index``,
        without listing the layer (a block's inner layers run inside it)."""
        own = getattr(layer, "params", None)
        if not isinstance(own, dict):
            own = {k: getattr(layer, k) for k in self._CONTRACT_PARAMS
                   if getattr(layer, k, None) is not None}
        for key, array in own.items():
            name = f"{key}{index}"
            self.params[name] = array
            self._slots.append((name, layer, key))

    def _trains_differently(self, layer):
        """Batch norm and dropout take ``train_flg``."""
        return isinstance(layer, (self._cls["BatchNormalization"],
                                  self._cls["Dropout"]))

    def predict(self, x, train_flg=False):
        """Scores before softmax."""
        for layer in self.layers:
            if self._trains_differently(layer):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def _penalty(self):
        return 0.0

    def loss(self, x, t, train_flg=False):
        """Mean cross-entropy of softmax(predict(x)) against t (+ penalty)."""
        y = self.predict(x, train_flg)
        return self.last_layer.forward(y, t) + self._penalty()

    def accuracy(self, x, t, batch_size=100):
        """Fraction classified correctly, ``batch_size`` samples at a time
        (to bound memory); batch norm and dropout in inference mode."""
        return _count_correct(self, x, t, batch_size) / len(x)

    def numerical_gradient(self, x, t):
        """Gradients of the training-mode loss by central differences."""
        return {name: _numerical_gradient(
                    lambda W: self.loss(x, t, train_flg=True), param)
                for name, param in self.params.items()}

    def _extra_grad(self, name):
        return None

    def gradient(self, x, t):
        """Gradients of the training-mode loss by backprop, gathered from
        each layer's ``grads``: a dict with the params' keys."""
        self.last_loss = self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        for name, layer, key in self._slots:
            own = getattr(layer, "grads", None)
            g = own[key] if isinstance(own, dict) else getattr(layer, "d" + key)
            extra = self._extra_grad(name)
            grads[name] = g if extra is None else g + extra
        return grads

    def load_params(self, params):
        """Copy arrays into the net's params in place (the layers see them)."""
        for name, value in params.items():
            if name not in self.params:
                raise KeyError(f"{name!r} is not a parameter of this net: "
                               f"{sorted(self.params)}")
            target = self.params[name]
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"{name}: shape {tuple(value.shape)} does not "
                                 f"match {tuple(target.shape)}")
            target[...] = get_array_module(target).asarray(value)


class MultiLayerNet(_LayerNet):
    """A fully connected net: (Affine [BatchNorm] Activation [Dropout]) x n,
    then Affine - SoftmaxWithLoss.

    ``activation``: "relu" or "sigmoid". ``weight_init_std``: "relu"/"he"
    (std sqrt(2/fan_in)), "sigmoid"/"xavier" (sqrt(1/fan_in)), or a number.
    ``weight_decay_lambda``: adds 0.5*lambda*sum(W**2) over every W to the
    loss. ``params``: W1..Wn, b1..bn, and gamma1.., beta1.. with batch norm.
    ``layers``: ``{name: class}`` to build it from other layer classes (a
    learner's ``BatchNormalization``, ``Dropout``, ...), which follow the
    contract (API.md): parameters as ``W``, ``b`` or ``gamma``, ``beta``,
    gradients as ``dW``, ``db`` or ``dgamma``, ``dbeta``.
    """

    _ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}

    def __init__(self, input_size, hidden_size_list, output_size,
                 activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0, use_batchnorm=False,
                 use_dropout=False, dropout_ratio=0.5, rng=None,
                 dtype=np.float64, layers=None):
        key = str(activation).lower()
        if key not in self._ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: choose one "
                             f"of {sorted(self._ACTIVATIONS)}")
        rng = np.random.default_rng(rng)
        self.weight_decay_lambda = weight_decay_lambda
        self._setup(layers)
        L = self._cls
        sizes = [input_size, *hidden_size_list, output_size]
        n = len(sizes) - 1
        for i in range(1, n + 1):
            fan_in, fan_out = sizes[i - 1], sizes[i]
            std = _init_std(weight_init_std, fan_in)
            self._add(L["Affine"](_normal(rng, (fan_in, fan_out), std, dtype),
                                  _zeros(fan_out, dtype)), i)
            if i == n:
                break
            if use_batchnorm:
                self._add(L["BatchNormalization"](_ones(fan_out, dtype),
                                                  _zeros(fan_out, dtype)), i)
            self._add(L[self._ACTIVATIONS[key].__name__]())
            if use_dropout:
                self._add(L["Dropout"](dropout_ratio, rng=rng))

    def _weights(self):
        return [p for name, p in self.params.items() if name.startswith("W")]

    def _penalty(self):
        lam = self.weight_decay_lambda
        if not lam:
            return 0.0
        return 0.5 * lam * sum(float((W ** 2).sum()) for W in self._weights())

    def _extra_grad(self, name):
        lam = self.weight_decay_lambda
        if lam and name.startswith("W"):
            return lam * self.params[name]
        return None


class SimpleConvNet(_LayerNet):
    """Conv - Relu - Pool(2x2, stride 2) - Affine - Relu - Affine -
    SoftmaxWithLoss.

    ``input_dim``: (C, H, W), e.g. (1, 28, 28) for MNIST, (1, 8, 8) for
    digits (with filter_size 3, pad 1). ``params``: W1 (FN, C, FH, FW),
    b1 (FN,), W2 (FN*pool_h*pool_w, hidden_size), b2, W3, b3.
    ``weight_init_std``: a number or "he" ("relu"). ``layers``: other
    layer classes to build it from (``{"Convolution": ..., "Pooling":
    ...}``), as for MultiLayerNet.
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param=None,
                 hidden_size=100, output_size=10, weight_init_std=0.01,
                 rng=None, dtype=np.float64, layers=None):
        conv = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        unknown = set(conv_param or {}) - set(conv)
        if unknown:
            raise ValueError(f"unknown conv_param keys {sorted(unknown)}: "
                             f"use {sorted(conv)}")
        conv.update(conv_param or {})
        FN, FS = conv["filter_num"], conv["filter_size"]
        C, H, W = input_dim
        out_h = conv_output_size(H, FS, conv["stride"], conv["pad"])
        out_w = conv_output_size(W, FS, conv["stride"], conv["pad"])
        if out_h < 2 or out_w < 2:
            raise ValueError(f"the conv output {out_h}x{out_w} is too small "
                             f"for 2x2 pooling")
        pool_size = FN * (out_h // 2) * (out_w // 2)
        rng = np.random.default_rng(rng)
        self._setup(layers)
        L = self._cls
        fan_ins = (C * FS * FS, pool_size, hidden_size)
        std1, std2, std3 = (_init_std(weight_init_std, f) for f in fan_ins)
        self._add(L["Convolution"](_normal(rng, (FN, C, FS, FS), std1, dtype),
                                   _zeros(FN, dtype), stride=conv["stride"],
                                   pad=conv["pad"]), 1)
        self._add(L["Relu"]())
        self._add(L["Pooling"](2, 2, stride=2))
        self._add(L["Affine"](_normal(rng, (pool_size, hidden_size), std2,
                                      dtype), _zeros(hidden_size, dtype)), 2)
        self._add(L["Relu"]())
        self._add(L["Affine"](_normal(rng, (hidden_size, output_size), std3,
                                      dtype), _zeros(output_size, dtype)), 3)


# ---------------------------------------------------------------- chapter 7: deeper

class LeNet5(_LayerNet):
    """LeNet-5 (LeCun et al. 1998) with today's bricks:
    Conv(6, 5x5) - act - Pool(2x2) - Conv(16, 5x5) - act - Pool(2x2) -
    Affine(120) - act - Affine(84) - act - Affine - SoftmaxWithLoss.

    ``input_dim``: (C, H, W); ``pad``: the first convolution's padding
    (2 turns MNIST's 28x28 into the paper's 32x32 field, so the second
    pooling leaves 16 maps of 5x5). ``activation``: "relu" or "sigmoid".
    Differences from the paper: max pooling instead of trainable
    subsampling, every C3 map sees all six S2 maps (the paper used a
    sparser table), C5 is an Affine layer (the same parameters, since
    its input is 5x5), a softmax instead of RBF units. ``params``: W1, b1
    (6, C, 5, 5), W2, b2 (16, 6, 5, 5), W3..W5, b3..b5 for the Affine
    layers. ``weight_init_std``: None (He for ReLU, Xavier for sigmoid),
    a kind, or a number. ``layers``: other layer classes, as for
    SimpleConvNet.
    """

    _ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid"}

    def __init__(self, input_dim=(1, 28, 28), output_size=10, pad=2,
                 activation="relu", weight_init_std=None, rng=None,
                 dtype=np.float64, layers=None):
        key = str(activation).lower()
        if key not in self._ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: choose one "
                             f"of {sorted(self._ACTIVATIONS)}")
        init = key if weight_init_std is None else weight_init_std
        C, H, W = input_dim
        h, w = H, W
        for k, p in ((5, pad), (2, 0), (5, 0), (2, 0)):
            stride = 2 if k == 2 else 1
            h = conv_output_size(h, k, stride, p)
            w = conv_output_size(w, k, stride, p)
        rng = np.random.default_rng(rng)
        self._setup(layers)
        L = self._cls
        act = L[self._ACTIVATIONS[key]]
        shapes = [(6, C, 5, 5), (16, 6, 5, 5), (16 * h * w, 120), (120, 84),
                  (84, output_size)]
        for i, shape in enumerate(shapes, start=1):
            fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
            Wi = _normal(rng, shape, _init_std(init, fan_in), dtype)
            bi = _zeros(shape[0] if len(shape) == 4 else shape[1], dtype)
            if len(shape) == 4:
                self._add(L["Convolution"](Wi, bi, pad=pad if i == 1 else 0),
                          i)
                self._add(act())
                self._add(L["Pooling"](2, 2, stride=2))
            else:
                self._add(L["Affine"](Wi, bi), i)
                if i < len(shapes):
                    self._add(act())


class DeepConvNet(_LayerNet):
    """The deeper convnet of *Deep Learning from Scratch*, chapter 8:
    (Conv-Relu-Conv-Relu-Pool) x 3 - Affine - Relu - Dropout - Affine -
    Dropout - SoftmaxWithLoss, all filters 3x3, He initialisation.

    ``conv_params``: six dicts {"filter_num", "filter_size", "pad",
    "stride"}; the default is the book's: 16, 16, 32, 32, 64, 64 filters
    of 3x3, pad 1 except the fourth (pad 2), so MNIST's 28x28 becomes
    14, 8 and 4 after the three poolings. ``hidden_size``: the first
    Affine's outputs (50). ``dropout_ratio``: of both Dropout layers (the
    book drops out the scores too); 0 leaves them out. ``params``:
    W1..W6, b1..b6 for the convolutions, W7, b7, W8, b8 for the Affine
    layers. ``layers``: other layer classes, as for SimpleConvNet.
    """

    BOOK_CONV_PARAMS = tuple(
        {"filter_num": n, "filter_size": 3, "pad": p, "stride": 1}
        for n, p in ((16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)))

    def __init__(self, input_dim=(1, 28, 28), conv_params=None,
                 hidden_size=50, output_size=10, dropout_ratio=0.5,
                 rng=None, dtype=np.float64, layers=None):
        convs = [dict(c) for c in (conv_params or self.BOOK_CONV_PARAMS)]
        if len(convs) != 6:
            raise ValueError(f"DeepConvNet has six convolutions; got "
                             f"{len(convs)} conv_params")
        keys = set(self.BOOK_CONV_PARAMS[0])
        for i, c in enumerate(convs, start=1):
            if set(c) != keys:
                raise ValueError(f"conv_params[{i - 1}] has keys "
                                 f"{sorted(c)}; use exactly {sorted(keys)}")
        rng = np.random.default_rng(rng)
        self._setup(layers)
        L = self._cls
        C, H, W = input_dim
        for i, c in enumerate(convs, start=1):
            FN, FS = c["filter_num"], c["filter_size"]
            H = conv_output_size(H, FS, c["stride"], c["pad"])
            W = conv_output_size(W, FS, c["stride"], c["pad"])
            std = _init_std("he", C * FS * FS)
            self._add(L["Convolution"](
                _normal(rng, (FN, C, FS, FS), std, dtype), _zeros(FN, dtype),
                stride=c["stride"], pad=c["pad"]), i)
            self._add(L["Relu"]())
            C = FN
            if i % 2 == 0:
                H = conv_output_size(H, 2, 2)
                W = conv_output_size(W, 2, 2)
                self._add(L["Pooling"](2, 2, stride=2))
        fan_in = C * H * W
        self._add(L["Affine"](
            _normal(rng, (fan_in, hidden_size), _init_std("he", fan_in),
                    dtype), _zeros(hidden_size, dtype)), 7)
        self._add(L["Relu"]())
        if dropout_ratio:
            self._add(L["Dropout"](dropout_ratio, rng=rng))
        self._add(L["Affine"](
            _normal(rng, (hidden_size, output_size),
                    _init_std("he", hidden_size), dtype),
            _zeros(output_size, dtype)), 8)
        if dropout_ratio:
            self._add(L["Dropout"](dropout_ratio, rng=rng))


class ResidualMLP(_LayerNet):
    """A deep fully connected net of residual blocks, or the same net
    without the shortcuts:

    Affine - Relu - [block - Relu] x n_blocks - Affine - SoftmaxWithLoss,
    block = Residual([Affine, Relu, Affine]) (y = F(x) + x) when ``skip``,
    else the plain Affine - Relu - Affine. ``use_batchnorm`` puts a
    BatchNormalization after each Affine inside a block (as ResNet does
    after its convolutions). Weight layers: 2 + 2 * n_blocks.
    ``params``: W1..Wn, b1..bn in order of depth (gamma, beta with the
    index of the Affine they follow). ``weight_init_std``: as for
    MultiLayerNet ("he" by default). ``layers``: other layer classes, as
    for MultiLayerNet.
    """

    def __init__(self, input_size, hidden_size, n_blocks, output_size,
                 skip=True, use_batchnorm=False, weight_init_std="he",
                 rng=None, dtype=np.float64, layers=None):
        self.skip = skip
        rng = np.random.default_rng(rng)
        self._setup(layers)
        L = self._cls
        index = 0

        def affine(fan_in, fan_out):
            nonlocal index
            index += 1
            std = _init_std(weight_init_std, fan_in)
            layer = L["Affine"](_normal(rng, (fan_in, fan_out), std, dtype),
                                _zeros(fan_out, dtype))
            return layer, index

        layer, i = affine(input_size, hidden_size)
        self._add(layer, i)
        self._add(L["Relu"]())
        for _ in range(n_blocks):
            inner = []  # (layer, index or None)
            for k in range(2):
                layer, i = affine(hidden_size, hidden_size)
                inner.append((layer, i))
                if use_batchnorm:
                    inner.append((L["BatchNormalization"](
                        _ones(hidden_size, dtype), _zeros(hidden_size, dtype)),
                        i))
                if k == 0:
                    inner.append((L["Relu"](), None))
            if skip:
                # the block is one layer of the net; its inner layers'
                # parameters are registered under the net's names
                self.layers.append(Residual([lay for lay, _ in inner]))
                for lay, i in inner:
                    if i is not None:
                        self._register(lay, i)
            else:
                for lay, i in inner:
                    self._add(lay, i)
            self._add(L["Relu"]())
        layer, i = affine(hidden_size, output_size)
        self._add(layer, i)

    def _trains_differently(self, layer):
        """A block passes ``train_flg`` to its batch norm layers."""
        return (isinstance(layer, Residual)
                or super()._trains_differently(layer))
