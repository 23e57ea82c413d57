"""dlcore on device arrays, proven without a GPU.

Each case below runs one piece of dlcore (an activation, a loss, a layer's
forward and backward, im2col, an optimizer's updates, a net's gradient, the
trainer) twice: on NumPy, and on a device. Here the device is the stand-in
of tests/standin.py, which computes with NumPy underneath but raises on
any host NumPy call on its arrays, so a case passes only if the code asked
``get_array_module`` for its module everywhere, and then the numbers must be
identical. tests/test_gpu.py runs the same cases on CuPy.
"""

import contextlib

import numpy as np
import pytest

import standin
from dlcore import (backend, conv, functions, gradients, graph, layers,
                    nets, optim)
from dlcore.datasets import load_digits
from dlcore.precision import LossScaler
from dlcore.trainer import Trainer

# ---------------------------------------------------------------- devices


class Device:
    """Where a case runs: ``put`` moves a host array there, ``get`` brings a
    result back (refusing host arrays: they mean the code left the device),
    and ``active()`` makes the nets create their weights there."""

    def __init__(self, name, put, xp):
        self.name = name
        self.put = put
        self.xp = xp

    def get(self, x):
        if isinstance(x, dict):
            return {k: self.get(v) for k, v in x.items()}
        if self.xp is np:
            return np.asarray(x)
        if type(x) is np.ndarray:  # (tests/fake_cupy's arrays subclass it)
            raise AssertionError(
                f"a host numpy array (shape {x.shape}) came out of code "
                f"that was given {self.name} arrays")
        return backend.to_cpu(x)

    @contextlib.contextmanager
    def active(self):
        saved_active, saved_xp = backend._active, backend.xp
        try:
            if self.xp is np or self.name == "cupy":
                backend.use(self.name)
            else:  # the stand-in is no real backend: redirect backend.xp
                backend.xp = lambda: self.xp
            yield
        finally:
            backend._active, backend.xp = saved_active, saved_xp


NUMPY = Device("numpy", np.array, np)
STANDIN = Device("standin", standin.to_device, standin.xp)

# ---------------------------------------------------------------- cases
# A case is f(dev, dtype) -> {name: result}; it draws its inputs on the
# host with a fixed seed, moves them with dev.put and returns what the code
# under test produced (still on the device).

CASES = {}
ALL = ("float64", "float32", "float16")
NO_HALF = ("float64", "float32")


def case(name, dtypes=ALL):
    def register(fn):
        CASES[name] = (fn, dtypes)
        return fn
    return register


def data(dtype, *shape, seed=0, shift=0.0):
    """Seeded N(shift, 1) samples on the host, in dtype."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + shift).astype(dtype)


def labels(n, k, seed=1):
    return np.random.default_rng(seed).integers(0, k, n)


def one_hot(t, k):
    return np.eye(k)[t]


def layer_pass(layer, dev, dtype, x, **forward_kwargs):
    """forward, then backward of a random dout: y, dx and the layer's grads."""
    y = layer.forward(dev.put(x), **forward_kwargs)
    dout = data(dtype, *y.shape, seed=7)
    out = {"y": y, "dx": layer.backward(dev.put(dout))}
    for key, g in getattr(layer, "grads", {}).items():
        out[f"d{key}"] = g
    return out


# -- activations and losses (chapters 2-3)

@case("step_function")
def _(dev, dtype):
    return {"y": functions.step_function(dev.put(data(dtype, 3, 4)))}


@case("sigmoid, sigmoid_grad")
def _(dev, dtype):
    x = dev.put(data(dtype, 3, 4) * 8)
    return {"y": functions.sigmoid(x), "dy": functions.sigmoid_grad(x)}


@case("relu, relu_grad, leaky_relu, tanh")
def _(dev, dtype):
    x = dev.put(data(dtype, 3, 4))
    return {"relu": functions.relu(x), "relu_grad": functions.relu_grad(x),
            "leaky": functions.leaky_relu(x), "tanh": functions.tanh(x)}


@case("softmax")
def _(dev, dtype):
    big = np.array([1000.0, 1001.0, 1002.0]) if dtype != "float16" else \
        np.array([10.0, 11.0, 12.0])
    return {"batch": functions.softmax(dev.put(data(dtype, 4, 5))),
            "one": functions.softmax(dev.put(big.astype(dtype)))}


@case("mean_squared_error")
def _(dev, dtype):
    y, t = data(dtype, 4, 3), data(dtype, 4, 3, seed=1)
    return {"batch": functions.mean_squared_error(dev.put(y), dev.put(t)),
            "one": functions.mean_squared_error(dev.put(y[0]), dev.put(t[0]))}


@case("cross_entropy_error")
def _(dev, dtype):
    y = functions.softmax(data("float64", 5, 4)).astype(dtype)
    t = labels(5, 4)
    return {
        "indices": functions.cross_entropy_error(dev.put(y), dev.put(t)),
        "one_hot": functions.cross_entropy_error(dev.put(y),
                                                 dev.put(one_hot(t, 4))),
        "one": functions.cross_entropy_error(dev.put(y[0]), dev.put(t[0])),
    }


# -- numerical gradients and graph nodes (chapters 3-4)

@case("numerical_gradient, gradient_descent", NO_HALF)
def _(dev, dtype):
    x = dev.put(data(dtype, 2, 3))
    grad = gradients.numerical_gradient(lambda w: (w * w).sum(), x)
    final = gradients.gradient_descent(lambda w: (w * w).sum(), x,
                                       lr=0.1, step_num=3)
    return {"grad": grad, "final": final, "x": x}


@case("MulLayer, AddLayer")
def _(dev, dtype):
    x, y = dev.put(data(dtype, 3)), dev.put(data(dtype, 3, seed=1))
    dout = dev.put(data(dtype, 3, seed=2))
    mul, add = graph.MulLayer(), graph.AddLayer()
    z = add.forward(mul.forward(x, y), x)
    dmul, dx_add = add.backward(dout)
    dx, dy = mul.backward(dmul)
    return {"z": z, "dx": dx + dx_add, "dy": dy}


# -- layers (chapters 5-7)

@case("Relu")
def _(dev, dtype):
    x = data(dtype, 4, 5)
    x[0, :2] = 0  # the kink: gradient 0
    return layer_pass(layers.Relu(), dev, dtype, x)


@case("LeakyRelu")
def _(dev, dtype):
    return layer_pass(layers.LeakyRelu(0.1), dev, dtype, data(dtype, 4, 5))


@case("Sigmoid")
def _(dev, dtype):
    return layer_pass(layers.Sigmoid(), dev, dtype, data(dtype, 4, 5))


@case("Affine")
def _(dev, dtype):
    W, b = data(dtype, 12, 5, seed=1), data(dtype, 5, seed=2)
    layer = layers.Affine(dev.put(W), dev.put(b))
    return layer_pass(layer, dev, dtype, data(dtype, 4, 3, 2, 2))


@case("SoftmaxWithLoss")
def _(dev, dtype):
    x, t = data(dtype, 6, 4), labels(6, 4)
    out = {}
    for name, tt in (("indices", t), ("one_hot", one_hot(t, 4))):
        layer = layers.SoftmaxWithLoss()
        out[f"loss_{name}"] = layer.forward(dev.put(x), dev.put(tt))
        out[f"dx_{name}"] = layer.backward()
    return out


@case("BatchNormalization")
def _(dev, dtype):
    out = {}
    for shape in ((8, 6), (8, 2, 3, 1)):
        D = int(np.prod(shape[1:]))
        gamma = dev.put(1 + 0.1 * data(dtype, D, seed=1))
        beta = dev.put(data(dtype, D, seed=2))
        layer = layers.BatchNormalization(gamma, beta)
        key = len(shape)
        res = layer_pass(layer, dev, dtype, data(dtype, *shape, shift=1.0))
        out.update({f"{k}_{key}d": v for k, v in res.items()})
        out[f"running_var_{key}d"] = layer.running_var
        test = layer_pass(layer, dev, dtype, data(dtype, *shape, seed=3),
                          train_flg=False)
        out[f"y_test_{key}d"] = test["y"]
        out[f"dx_test_{key}d"] = test["dx"]
    return out


@case("im2col, col2im")
def _(dev, dtype):
    x = data(dtype, 2, 3, 5, 4)
    out = {}
    for stride, pad in ((1, 0), (2, 1)):
        col = conv.im2col(dev.put(x), 3, 2, stride, pad)
        out[f"col_{stride}{pad}"] = col
        out[f"img_{stride}{pad}"] = conv.col2im(col, x.shape, 3, 2,
                                                stride, pad)
    return out


@case("Convolution")
def _(dev, dtype, fast=True):
    out = {}
    for stride, pad in ((1, 1), (2, 0)):
        W, b = data(dtype, 4, 3, 3, 3, seed=1), data(dtype, 4, seed=2)
        layer = layers.Convolution(dev.put(W), dev.put(b), stride, pad)
        layer.fast = fast
        res = layer_pass(layer, dev, dtype, data(dtype, 2, 3, 7, 6))
        out.update({f"{k}_{stride}{pad}": v for k, v in res.items()})
    return out


@case("Pooling")
def _(dev, dtype, fast=True):
    out = {}
    for args in ((2, 2, 2, 0), (3, 3, 1, 1)):
        layer = layers.Pooling(*args)
        layer.fast = fast
        res = layer_pass(layer, dev, dtype, data(dtype, 2, 3, 6, 6))
        out.update({f"{k}_{args}": v for k, v in res.items()})
    return out


# the book's versions (fast = False: im2col, argmax, fancy indexing)
for _name in ("Convolution", "Pooling"):
    case(f"{_name} (book path)")(
        lambda dev, dtype, _fn=CASES[_name][0]: _fn(dev, dtype, fast=False))


# -- optimizers and loss scaling (chapters 6, 8)

for _name in optim.__all__:
    @case(_name, NO_HALF)
    def _(dev, dtype, _name=_name):
        opt = getattr(optim, _name)(lr=0.1)
        params = {"W": dev.put(data(dtype, 3, 2)),
                  "b": dev.put(data(dtype, 2))}
        for step in range(3):
            grads = {k: dev.put(data(dtype, *p.shape, seed=10 + step))
                     for k, p in params.items()}
            opt.update(params, grads)
        return params


@case("LossScaler", ("float16",))
def _(dev, dtype):
    params = {"W": dev.put(data("float32", 3, 2))}
    scaler = LossScaler(init_scale=1024.0, growth_interval=2)
    out = {}
    for step, grad in enumerate((data(dtype, 3, 2), data(dtype, 3, 2) * 1e4,
                                 data(dtype, 3, 2, seed=3))):
        ok = scaler.step(optim.SGD(lr=0.5), params, {"W": dev.put(grad)})
        out[f"W_{step}"] = params["W"].copy()
        out[f"ok_{step}"] = ok
        out[f"scale_{step}"] = scaler.scale
    return out


# -- nets and the trainer (chapters 5-7)

@case("TwoLayerNet", NO_HALF)
def _(dev, dtype):
    with dev.active():
        net = nets.TwoLayerNet(6, 5, 3, rng=0, dtype=dtype)
    x, t = dev.put(data(dtype, 4, 6)), dev.put(labels(4, 3))
    out = {f"grad_{k}": g for k, g in net.gradient(x, t).items()}
    out.update(scores=net.predict(x), loss=net.loss(x, t),
               accuracy=net.accuracy(x, t))
    return out


@case("MultiLayerNet", NO_HALF)
def _(dev, dtype):
    with dev.active():
        net = nets.MultiLayerNet(6, [5, 4], 3, use_batchnorm=True,
                                 weight_decay_lambda=0.1, rng=0, dtype=dtype)
    x, t = dev.put(data(dtype, 8, 6)), dev.put(one_hot(labels(8, 3), 3))
    out = {f"grad_{k}": g for k, g in net.gradient(x, t).items()}
    out.update(loss=net.loss(x, t), accuracy=net.accuracy(x, t))
    return out


@case("SimpleConvNet", NO_HALF)
def _(dev, dtype):
    with dev.active():
        net = nets.SimpleConvNet((1, 6, 6), {"filter_num": 3, "filter_size": 3,
                                             "pad": 1}, hidden_size=5,
                                 output_size=3, weight_init_std="he",
                                 rng=0, dtype=dtype)
    x, t = dev.put(data(dtype, 4, 1, 6, 6)), dev.put(labels(4, 3))
    out = {f"grad_{k}": g for k, g in net.gradient(x, t).items()}
    out.update(loss=net.loss(x, t), accuracy=net.accuracy(x, t))
    net.load_params({"b1": dev.put(np.ones(3, dtype))})
    out["b1_loaded"] = net.params["b1"]
    return out


@case("Trainer", ("float32",))
def _(dev, dtype):
    (x_train, t_train), (x_test, t_test) = load_digits(flatten=False,
                                                       dtype=dtype)
    with dev.active():
        net = nets.SimpleConvNet((1, 8, 8), {"filter_num": 4, "filter_size": 3,
                                             "pad": 1}, hidden_size=10,
                                 weight_init_std="he", rng=0, dtype=dtype)
    trainer = Trainer(net, dev.put(x_train[:120]), dev.put(t_train[:120]),
                      dev.put(x_test[:40]), dev.put(t_test[:40]), epochs=2,
                      mini_batch_size=30, optimizer="adam",
                      optimizer_param={"lr": 0.01}, progress=False, rng=0)
    history = trainer.train()
    out = dict(history)  # lists of Python floats
    out.update({f"param_{k}": p for k, p in net.params.items()})
    return out


def run(dev, name, dtype):
    """Run case ``name`` on ``dev``; its results, brought back to the host."""
    fn, _ = CASES[name]
    return dev.get(fn(dev, dtype))


def case_params():
    return [pytest.param(name, dtype, id=f"{name}-{dtype}")
            for name, (_, dtypes) in CASES.items() for dtype in dtypes]


def assert_results_match(name, expected, actual, rtol=0.0, atol=0.0):
    """Same keys; then per result: shape, dtype, values (exact by default)."""
    assert set(actual) == set(expected), name
    for key, want in expected.items():
        got = actual[key]
        where = f"{name}: {key}"
        assert got.shape == want.shape, \
            f"{where}: shape {got.shape} != {want.shape}"
        assert got.dtype == want.dtype, \
            f"{where}: dtype {got.dtype} != {want.dtype}"
        if want.dtype.kind in "biu" or (rtol == 0 and atol == 0):
            np.testing.assert_array_equal(got, want, err_msg=where)
        else:
            scale = max(1.0, float(np.abs(want.astype(np.float64)).max()))
            np.testing.assert_allclose(got.astype(np.float64),
                                       want.astype(np.float64), rtol=rtol,
                                       atol=atol * scale, err_msg=where)


# ---------------------------------------------------------------- the tests

@pytest.mark.parametrize("name, dtype", case_params())
def test_standin_gives_numpys_numbers(name, dtype):
    expected = run(NUMPY, name, dtype)
    actual = run(STANDIN, name, dtype)
    assert_results_match(name, expected, actual)


def test_every_layer_optimizer_and_net_has_a_case():
    names = " ".join(CASES)
    public = (layers.__all__ + optim.__all__ + conv.__all__[1:]
              + ["TwoLayerNet", "MultiLayerNet", "SimpleConvNet", "Trainer",
                 "LossScaler", "softmax", "cross_entropy_error",
                 "mean_squared_error", "sigmoid", "relu"])
    missing = [n for n in public if n not in names and n != "Dropout"]
    assert not missing, f"no stand-in case for {missing}"


@pytest.mark.parametrize("dtype", ALL)
def test_dropout_draws_its_mask_on_the_device(dtype):
    layer = layers.Dropout(0.25, rng=np.random.default_rng(0))
    x = standin.to_device(np.ones((100, 50), dtype))
    y = layer.forward(x)
    assert isinstance(y, standin.DeviceArray) and y.dtype == x.dtype
    mask = standin.to_host(layer.mask)
    assert set(np.unique(mask)) == {0.0, np.dtype(dtype).type(1 / 0.75)}
    assert abs((mask > 0).mean() - 0.75) < 0.03
    np.testing.assert_array_equal(standin.to_host(y), mask)
    dout = np.arange(5000, dtype=dtype).reshape(100, 50)
    dx = standin.to_host(layer.backward(standin.to_device(dout)))
    np.testing.assert_array_equal(dx, dout * mask)
    assert layer.forward(x, train_flg=False) is x
    # the same seed draws the same masks
    again = layers.Dropout(0.25, rng=np.random.default_rng(0))
    again.forward(x)
    np.testing.assert_array_equal(standin.to_host(again.mask), mask)


def test_multilayernet_with_dropout_on_the_device():
    with STANDIN.active():
        net = nets.MultiLayerNet(6, [5], 3, use_dropout=True, rng=0)
    x = standin.to_device(data("float64", 8, 6))
    grads = net.gradient(x, standin.to_device(labels(8, 3)))
    for key, g in grads.items():
        assert isinstance(g, standin.DeviceArray), key
        assert g.shape == net.params[key].shape, key


# -- vectorised: the work of im2col, col2im and pooling is per filter offset

def count_device_ops(fn):
    """How many device operations (calls, indexing, arithmetic) fn makes."""
    calls = []
    wrap = standin._wrap

    def counting_wrap(obj):
        calls.append(1)
        return wrap(obj)

    standin._wrap = counting_wrap
    try:
        fn()
    finally:
        standin._wrap = wrap
    return len(calls)


@pytest.mark.parametrize("what", ["im2col", "col2im", "Convolution",
                                  "Pooling"])
def test_no_python_loop_over_pixels_or_batch_items(what):
    def work(N, H):
        x = standin.to_device(data("float32", N, 2, H, H))
        if what == "im2col":
            return lambda: conv.im2col(x, 3, 3, 1, 1)
        if what == "col2im":
            col = conv.im2col(x, 3, 3, 1, 1)
            return lambda: conv.col2im(col, x.shape, 3, 3, 1, 1)
        if what == "Convolution":
            W = standin.to_device(data("float32", 4, 2, 3, 3))
            b = standin.to_device(np.zeros(4, "float32"))
            layer = layers.Convolution(W, b, 1, 1)
        else:
            layer = layers.Pooling(2, 2)
        return lambda: layer.backward(layer.forward(x) * 1)

    small, large = count_device_ops(work(1, 4)), count_device_ops(work(8, 16))
    assert small == large, (
        f"{what} makes {small} device operations on 1 image of 4x4 but "
        f"{large} on 8 images of 16x16: it loops over pixels or images")


# -- the stand-in itself catches host NumPy

HOST_CALLS = {
    "np.exp(x)": lambda x: np.exp(x),
    "np.maximum(x, 0)": lambda x: np.maximum(x, 0),
    "np.zeros_like(x)": lambda x: np.zeros_like(x),
    "np.asarray(x)": lambda x: np.asarray(x),
    "np.dot(x, x.T)": lambda x: np.dot(x, x.T),
    "np.pad(x, 1)": lambda x: np.pad(x, 1),
    "host array + x": lambda x: np.ones(x.shape) + x,
    "x * host array": lambda x: x * np.ones(x.shape),
    "x[host index array]": lambda x: x[np.array([0, 1])],
}


@pytest.mark.parametrize("call", HOST_CALLS)
def test_standin_refuses_host_numpy(call):
    x = standin.to_device(np.ones((2, 3)))
    with pytest.raises(TypeError):
        HOST_CALLS[call](x)
    HOST_CALLS[call](np.ones((2, 3)))  # while NumPy arrays are fine


def test_standin_module_refuses_host_arrays_but_asarray_copies_them():
    x = standin.to_device(np.ones(3))
    with pytest.raises(TypeError, match="xp.asarray"):
        standin.xp.maximum(x, np.zeros(3))
    y = standin.xp.maximum(x, standin.xp.asarray(np.zeros(3)))
    np.testing.assert_array_equal(standin.to_host(y), np.ones(3))


def test_standin_catches_a_layer_that_falls_back_to_host_numpy(monkeypatch):
    """Break dlcore the way a careless edit would: Relu asks for NumPy."""
    x = data("float32", 3, 4)
    y = layers.Relu().forward(standin.to_device(x))
    np.testing.assert_array_equal(standin.to_host(y), np.maximum(x, 0))
    monkeypatch.setattr(layers, "get_array_module", lambda *arrays: np)
    with pytest.raises(TypeError):
        layers.Relu().forward(standin.to_device(x))
    with pytest.raises(TypeError, match="host"):
        run(STANDIN, "Pooling", "float32")


def test_standin_arrays_behave_like_arrays():
    host = np.arange(12.0).reshape(3, 4)
    x = standin.to_device(host)
    assert standin.xp is backend.get_array_module(x)
    assert (x.shape, x.ndim, x.size, x.dtype) == ((3, 4), 2, 12, np.float64)
    total = (x.T @ x).sum()
    assert isinstance(total, standin.DeviceArray) and total.ndim == 0
    assert float(total) == float((host.T @ host).sum())
    view = x[1]
    view -= 1  # a view: the update reaches x
    np.testing.assert_array_equal(standin.to_host(x)[1], host[1] - 1)
    assert standin.to_host(np.float32(2) * x).dtype == np.float64
    with pytest.raises(AssertionError, match="host numpy array"):
        STANDIN.get(host)
