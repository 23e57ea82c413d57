"""dlcore.nets: forward pass, sample weights, and the three trainable nets.

Backprop is checked against central differences in float64 on tiny nets;
float32 must survive end to end; two nets are trained on the digits.
"""

import time

import numpy as np
import pytest

from dlcore.datasets import load_digits
from dlcore.gradients import numerical_gradient
from dlcore.guard import DelegationError, forbid
from dlcore.nets import (
    MultiLayerNet,
    SimpleConvNet,
    TwoLayerNet,
    forward,
    sample_network,
)
from dlcore.optim import SGD
from dlcore.trainer import Trainer


def assert_grads_close(net, grads, numerical, rtol=1e-4, atol=1e-6):
    """Backprop vs numerical gradients, key by key; names the failing one."""
    assert set(grads) == set(net.params) == set(numerical)
    for key in net.params:
        assert grads[key].shape == net.params[key].shape, key
        np.testing.assert_allclose(
            grads[key], numerical[key], rtol=rtol, atol=atol,
            err_msg=f"gradient of {key} {net.params[key].shape}")


def batch(N, D, K, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, D)), rng.integers(0, K, N)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


# ---------------------------------------------------------------- chapter 2

def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_forward_matches_the_formula():
    rng = np.random.default_rng(0)
    net = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(3),
           "W2": rng.standard_normal((3, 2)), "b2": rng.standard_normal(2),
           "W3": rng.standard_normal((2, 5)), "b3": rng.standard_normal(5)}
    x = rng.standard_normal((6, 4))
    z1 = sigmoid(x @ net["W1"] + net["b1"])
    z2 = sigmoid(z1 @ net["W2"] + net["b2"])
    expected = z2 @ net["W3"] + net["b3"]
    y = forward(net, x)
    assert y.shape == (6, 5)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    y1 = forward(net, x[2])  # one sample, shape (D,)
    assert y1.shape == (5,)
    np.testing.assert_allclose(y1, expected[2], rtol=1e-12)


def test_sample_network_shapes_and_copies():
    net = sample_network()
    shapes = {k: v.shape for k, v in net.items()}
    assert shapes == {"W1": (64, 50), "b1": (50,), "W2": (50, 100),
                      "b2": (100,), "W3": (100, 10), "b3": (10,)}
    assert all(v.dtype == np.float32 for v in net.values())
    net["W1"][...] = 0
    assert np.abs(sample_network()["W1"]).sum() > 0  # a fresh copy each call


def test_sample_network_classifies_the_digits():
    _, (x_test, t_test) = load_digits(dtype=np.float32)
    y = forward(sample_network(), x_test)
    assert y.dtype == np.float32
    accuracy = (y.argmax(axis=1) == t_test).mean()
    assert accuracy >= 0.95, accuracy


def test_forward_is_guarded():
    with forbid("forward"), pytest.raises(DelegationError):
        forward(sample_network(), np.zeros(64))


# ---------------------------------------------------------------- gradients

def test_two_layer_net_gradient():
    net = TwoLayerNet(5, 6, 3, weight_init_std=0.5,
                      rng=np.random.default_rng(1))
    x, t = batch(4, 5, 3)
    assert_grads_close(net, net.gradient(x, t), net.numerical_gradient(x, t))


def test_two_layer_net_one_hot_labels():
    net = TwoLayerNet(5, 6, 3, weight_init_std=0.5,
                      rng=np.random.default_rng(1))
    x, t = batch(4, 5, 3)
    onehot = np.eye(3)[t]
    assert net.loss(x, t) == pytest.approx(net.loss(x, onehot))
    assert net.accuracy(x, t) == net.accuracy(x, onehot)
    for key, g in net.gradient(x, onehot).items():
        np.testing.assert_allclose(g, net.gradient(x, t)[key], err_msg=key)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("use_batchnorm", [False, True])
@pytest.mark.parametrize("weight_decay_lambda", [0, 0.1])
def test_multi_layer_net_gradient(activation, use_batchnorm,
                                  weight_decay_lambda):
    net = MultiLayerNet(5, [6, 4], 3, activation=activation,
                        weight_init_std=0.8, use_batchnorm=use_batchnorm,
                        weight_decay_lambda=weight_decay_lambda,
                        rng=np.random.default_rng(2))
    expected = {"W1", "b1", "W2", "b2", "W3", "b3"}
    if use_batchnorm:
        expected |= {"gamma1", "beta1", "gamma2", "beta2"}
    assert set(net.params) == expected
    x, t = batch(5, 5, 3, seed=3)
    assert_grads_close(net, net.gradient(x, t), net.numerical_gradient(x, t))


def test_weight_decay_term():
    kwargs = dict(weight_init_std=0.5, rng=np.random.default_rng(4))
    plain = MultiLayerNet(5, [6], 3, **kwargs)
    decayed = MultiLayerNet(5, [6], 3, weight_decay_lambda=0.3,
                            weight_init_std=0.5, rng=np.random.default_rng(4))
    x, t = batch(4, 5, 3)
    penalty = 0.5 * 0.3 * sum((decayed.params[k] ** 2).sum() for k in ("W1", "W2"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + penalty)
    g0, g1 = plain.gradient(x, t), decayed.gradient(x, t)
    np.testing.assert_allclose(g1["W1"], g0["W1"] + 0.3 * decayed.params["W1"])
    np.testing.assert_allclose(g1["b1"], g0["b1"])


def test_multi_layer_net_dropout_gradient_with_a_fixed_mask():
    rng = np.random.default_rng(5)
    net = MultiLayerNet(5, [8, 8], 3, weight_init_std=0.8, use_dropout=True,
                        dropout_ratio=0.3, rng=rng)
    x, t = batch(4, 5, 3, seed=6)
    # dropout is live in training mode ...
    assert net.loss(x, t, train_flg=True) != net.loss(x, t, train_flg=True)
    # ... and off in inference mode
    assert net.loss(x, t) == net.loss(x, t)
    state = rng.bit_generator.state

    def train_loss(_):
        rng.bit_generator.state = state  # the same masks every call
        return net.loss(x, t, train_flg=True)

    rng.bit_generator.state = state
    grads = net.gradient(x, t)
    numerical = {k: numerical_gradient(train_loss, p)
                 for k, p in net.params.items()}
    assert_grads_close(net, grads, numerical)


def test_simple_conv_net_gradient():
    net = SimpleConvNet(input_dim=(2, 6, 6),
                        conv_param={"filter_num": 3, "filter_size": 3,
                                    "pad": 1, "stride": 1},
                        hidden_size=5, output_size=3, weight_init_std=0.5,
                        rng=np.random.default_rng(7))
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {"W1": (3, 2, 3, 3), "b1": (3,), "W2": (27, 5),
                      "b2": (5,), "W3": (5, 3), "b3": (3,)}
    x = np.random.default_rng(8).standard_normal((2, 2, 6, 6))
    t = np.array([0, 2])
    assert_grads_close(net, net.gradient(x, t), net.numerical_gradient(x, t))


# ---------------------------------------------------------------- shapes, params

@pytest.mark.parametrize("make, x", [
    (lambda: TwoLayerNet(64, 20, 10), np.zeros((7, 64))),
    (lambda: MultiLayerNet(64, [20, 20, 20], 10, use_batchnorm=True,
                           use_dropout=True), np.zeros((7, 64))),
    (lambda: SimpleConvNet((1, 8, 8), {"filter_size": 3, "pad": 1}),
     np.zeros((7, 1, 8, 8))),
    (lambda: SimpleConvNet(), np.zeros((7, 1, 28, 28))),
])
def test_predict_shapes(make, x):
    net = make()
    assert net.predict(x).shape == (7, 10)
    assert 0.0 <= net.accuracy(x, np.zeros(7, dtype=int)) <= 1.0


def test_params_are_the_layers_arrays():
    """An optimizer's in-place update must change what the net computes."""
    for net, x in [(TwoLayerNet(4, 5, 3, rng=np.random.default_rng(0)),
                    np.ones((2, 4))),
                   (MultiLayerNet(4, [5], 3, use_batchnorm=True),
                    np.ones((2, 4))),
                   (SimpleConvNet((1, 6, 6), {"filter_size": 3, "pad": 1},
                                  hidden_size=5, output_size=3),
                    np.ones((2, 1, 6, 6)))]:
        for p in net.params.values():
            p[...] = 0
        assert not net.predict(x).any()
        grads = {k: -np.ones_like(p) for k, p in net.params.items()}
        SGD(lr=0.1).update(net.params, grads)
        assert net.predict(x).any()


def test_two_layer_net_init():
    a = TwoLayerNet(6, 4, 2, rng=np.random.default_rng(3))
    b = TwoLayerNet(6, 4, 2, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert a.params["W1"].std() == pytest.approx(0.01, rel=0.5)
    assert not a.params["b1"].any() and not a.params["b2"].any()
    with forbid("TwoLayerNet"), pytest.raises(DelegationError):
        TwoLayerNet(6, 4, 2)


def test_init_kinds():
    rng = np.random.default_rng(0)
    he = MultiLayerNet(400, [300], 10, weight_init_std="he", rng=rng)
    xavier = MultiLayerNet(400, [300], 10, weight_init_std="sigmoid", rng=rng)
    fixed = MultiLayerNet(400, [300], 10, weight_init_std=0.05, rng=rng)
    assert he.params["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert xavier.params["W2"].std() == pytest.approx(np.sqrt(1 / 300), rel=0.05)
    assert fixed.params["W1"].std() == pytest.approx(0.05, rel=0.02)
    conv = SimpleConvNet((3, 10, 10), {"filter_num": 40, "filter_size": 5},
                         weight_init_std="he", rng=rng)
    assert conv.params["W1"].std() == pytest.approx(np.sqrt(2 / 75), rel=0.05)


def test_unknown_kinds_are_errors():
    with pytest.raises(ValueError, match="'tanh'.*relu.*sigmoid"):
        MultiLayerNet(4, [5], 3, activation="tanh")
    with pytest.raises(ValueError, match="'lecun'.*he.*xavier"):
        MultiLayerNet(4, [5], 3, weight_init_std="lecun")
    with pytest.raises(ValueError, match="'lecun'"):
        SimpleConvNet((1, 8, 8), {"filter_size": 3, "pad": 1},
                      weight_init_std="lecun")
    with pytest.raises(ValueError, match="filter_sz"):
        SimpleConvNet((1, 8, 8), {"filter_sz": 3})
    with pytest.raises(ValueError, match="positive"):
        TwoLayerNet(4, 5, 3, weight_init_std=-1.0)


# ---------------------------------------------------------------- float32

@pytest.mark.parametrize("make, shape", [
    (lambda: TwoLayerNet(6, 5, 3, weight_init_std=0.5,
                         dtype=np.float32), (4, 6)),
    (lambda: MultiLayerNet(6, [5, 5], 3, use_batchnorm=True, use_dropout=True,
                           weight_decay_lambda=0.01, dtype=np.float32,
                           rng=np.random.default_rng(0)), (4, 6)),
    (lambda: SimpleConvNet((1, 6, 6), {"filter_num": 4, "filter_size": 3,
                                       "pad": 1}, hidden_size=5,
                           output_size=3, weight_init_std="he",
                           dtype=np.float32), (4, 1, 6, 6)),
])
def test_float32_end_to_end(make, shape):
    net = make()
    assert all(p.dtype == np.float32 for p in net.params.values())
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    t = np.array([0, 1, 2, 1])
    assert net.predict(x).dtype == np.float32
    grads = net.gradient(x, t)
    for key, g in grads.items():
        assert g.dtype == np.float32, f"{key}: {g.dtype}"
    assert np.isfinite(float(net.loss(x, t)))
    Trainer(net, x, t, x, t, epochs=2, mini_batch_size=2, optimizer="adam",
            progress=False, rng=rng).train()
    for key, p in net.params.items():
        assert p.dtype == np.float32, f"{key} became {p.dtype} after training"
    assert net.predict(x).dtype == np.float32


# ---------------------------------------------------------------- training

@pytest.mark.slow
def test_two_layer_net_learns_the_digits(digits):
    (x_train, t_train), (x_test, t_test) = digits
    start = time.perf_counter()
    net = TwoLayerNet(64, 50, 10, rng=np.random.default_rng(0))
    Trainer(net, x_train, t_train, x_test, t_test, epochs=20,
            mini_batch_size=50, optimizer="sgd", optimizer_param={"lr": 0.5},
            progress=False, rng=np.random.default_rng(0)).train()
    accuracy = net.accuracy(x_test, t_test)
    seconds = time.perf_counter() - start
    print(f"TwoLayerNet: test accuracy {accuracy:.4f} in {seconds:.1f} s")
    assert accuracy >= 0.95


@pytest.mark.slow
def test_simple_conv_net_learns_the_digits():
    (x_train, t_train), (x_test, t_test) = load_digits(flatten=False)
    start = time.perf_counter()
    net = SimpleConvNet((1, 8, 8), {"filter_num": 16, "filter_size": 3,
                                    "pad": 1, "stride": 1},
                        hidden_size=100, output_size=10,
                        weight_init_std="he", rng=np.random.default_rng(0))
    Trainer(net, x_train, t_train, x_test, t_test, epochs=10,
            mini_batch_size=50, optimizer="adam",
            optimizer_param={"lr": 0.003}, progress=False,
            rng=np.random.default_rng(0)).train()
    accuracy = net.accuracy(x_test, t_test)
    seconds = time.perf_counter() - start
    print(f"SimpleConvNet: test accuracy {accuracy:.4f} in {seconds:.1f} s")
    assert accuracy >= 0.97


# ------------------------------------- nets built from a learner's layers


class _ContractOnly:
    """Wraps one of dlcore's layers behind the contract's attributes only
    (W, b / gamma, beta; dW, db / dgamma, dbeta): no params or grads dicts,
    as a learner's layer is."""

    base = None

    def __init__(self, *args, **kwargs):
        self._layer = self.base(*args, **kwargs)
        for key, value in getattr(self._layer, "params", {}).items():
            setattr(self, key, value)

    def forward(self, x, *flag):
        return self._layer.forward(x, *flag)

    def backward(self, dout):
        dx = self._layer.backward(dout)
        for key, value in getattr(self._layer, "grads", {}).items():
            setattr(self, "d" + key, value)
        return dx


def _contract_only(cls):
    return type(f"My{cls.__name__}", (_ContractOnly,), {"base": cls})


def test_nets_train_a_learners_layers():
    import dlcore.layers as L
    from dlcore.nets import MultiLayerNet, SimpleConvNet

    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((4, 1, 8, 8)), np.array([0, 3, 1, 3])
    mine = {n: _contract_only(getattr(L, n))
            for n in ("Convolution", "Pooling", "Affine")}
    for make, kw in (
            (lambda **k: SimpleConvNet((1, 8, 8), {"filter_size": 3,
                                                   "pad": 1, "filter_num": 4},
                                       hidden_size=6, rng=0, **k), mine),
            (lambda **k: MultiLayerNet(64, [7, 5], 4, use_batchnorm=True,
                                       rng=0, **k),
             {n: _contract_only(getattr(L, n))
              for n in ("Affine", "BatchNormalization")})):
        ref, own = make(), make(layers=kw)
        assert sorted(ref.params) == sorted(own.params)
        xs = x if isinstance(ref, SimpleConvNet) else x.reshape(4, -1)
        assert np.allclose(ref.loss(xs, t), own.loss(xs, t))
        g_ref, g_own = ref.gradient(xs, t), own.gradient(xs, t)
        for k in g_ref:
            assert np.allclose(g_ref[k], g_own[k]), k
    with pytest.raises(ValueError, match="unknown layers"):
        MultiLayerNet(4, [3], 2, layers={"Conv": object})


# ------------------------------------------- chapter 7: the deeper nets

def sampled_numerical_gradient(net, x, t, k=4, seed=0, h=1e-5):
    """Central differences of the training-mode loss at k random entries
    of every parameter: {key: (indices, values)}."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, p in net.params.items():
        flat = p.reshape(-1)  # a view: perturbing it perturbs p
        idx = rng.choice(flat.size, size=min(k, flat.size), replace=False)
        vals = []
        for i in idx:
            old = flat[i]
            flat[i] = old + h
            plus = net.loss(x, t, train_flg=True)
            flat[i] = old - h
            minus = net.loss(x, t, train_flg=True)
            flat[i] = old
            vals.append((plus - minus) / (2 * h))
        out[key] = (idx, np.array(vals))
    return out


def test_lenet5_shapes_and_gradient():
    from dlcore.nets import LeNet5

    net = LeNet5(rng=np.random.default_rng(0))
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {"W1": (6, 1, 5, 5), "b1": (6,), "W2": (16, 6, 5, 5),
                      "b2": (16,), "W3": (400, 120), "b3": (120,),
                      "W4": (120, 84), "b4": (84,), "W5": (84, 10),
                      "b5": (10,)}
    # the 61,706 parameters of the paper's count (C5 as a 5x5 convolution)
    assert sum(p.size for p in net.params.values()) == 61706
    assert net.predict(np.zeros((3, 1, 28, 28))).shape == (3, 10)
    assert net.params["W3"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    # a small input keeps the check quick: 12x12 -> 12 -> 6 -> 2 -> 1
    small = LeNet5((1, 12, 12), output_size=3, activation="sigmoid",
                   rng=np.random.default_rng(1))
    assert small.params["W3"].shape == (16, 120)
    x = np.random.default_rng(2).standard_normal((2, 1, 12, 12))
    t = np.array([0, 2])
    grads = small.gradient(x, t)
    for key, (idx, values) in sampled_numerical_gradient(small, x, t).items():
        np.testing.assert_allclose(grads[key].reshape(-1)[idx], values,
                                   rtol=1e-4, atol=1e-7,
                                   err_msg=f"LeNet5 gradient of {key}")
    with pytest.raises(ValueError, match="'tanh'"):
        LeNet5(activation="tanh")


def tiny_deep_conv_net(**kw):
    from dlcore.nets import DeepConvNet

    convs = [{"filter_num": 2, "filter_size": 3, "pad": p, "stride": 1}
             for p in (1, 1, 1, 2, 1, 1)]
    return DeepConvNet((1, 8, 8), convs, hidden_size=4, output_size=3,
                       rng=np.random.default_rng(3), **kw)


def test_deep_conv_net_is_the_books():
    from dlcore.layers import Convolution, Dropout, Pooling
    from dlcore.nets import DeepConvNet

    net = DeepConvNet(rng=np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in net.layers]
    block = ["Convolution", "Relu", "Convolution", "Relu", "Pooling"]
    assert kinds == block * 3 + ["Affine", "Relu", "Dropout", "Affine",
                                 "Dropout"]
    convs = [lay for lay in net.layers if isinstance(lay, Convolution)]
    assert [c.W.shape[0] for c in convs] == [16, 16, 32, 32, 64, 64]
    assert [c.pad for c in convs] == [1, 1, 1, 2, 1, 1]
    assert net.params["W7"].shape == (64 * 4 * 4, 50)
    assert net.params["W8"].shape == (50, 10)
    assert all(isinstance(lay, Pooling) for lay in net.layers[4::5][:3])
    assert all(d.dropout_ratio == 0.5 for d in net.layers
               if isinstance(d, Dropout))
    # He initialisation: std sqrt(2 / fan_in) for every weight
    for key, fan_in in (("W1", 9), ("W4", 32 * 9), ("W7", 1024), ("W8", 50)):
        assert net.params[key].std() == pytest.approx(np.sqrt(2 / fan_in),
                                                      rel=0.15), key
    x = np.zeros((2, 1, 28, 28))
    assert net.predict(x).shape == (2, 10)
    assert net.loss(x, np.array([1, 2])) == net.loss(x, np.array([1, 2]))


def test_deep_conv_net_gradient():
    net = tiny_deep_conv_net(dropout_ratio=0)
    assert len(net.params) == 16
    # zero biases put a window of dead inputs exactly on ReLU's kink
    rng = np.random.default_rng(10)
    for key, p in net.params.items():
        if key.startswith("b"):
            p[...] = 0.2 * rng.standard_normal(p.shape)
    x = np.random.default_rng(4).standard_normal((2, 1, 8, 8))
    t = np.array([0, 2])
    assert_grads_close(net, net.gradient(x, t), net.numerical_gradient(x, t))


def test_deep_conv_net_errors():
    from dlcore.nets import DeepConvNet

    with pytest.raises(ValueError, match="six convolutions"):
        DeepConvNet(conv_params=[{"filter_num": 4, "filter_size": 3,
                                  "pad": 1, "stride": 1}])
    bad = [dict(c) for c in DeepConvNet.BOOK_CONV_PARAMS]
    bad[2] = {"filter_num": 4, "filter_sz": 3, "pad": 1, "stride": 1}
    with pytest.raises(ValueError, match="filter_sz"):
        DeepConvNet(conv_params=bad)


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("use_batchnorm", [False, True])
def test_residual_mlp_gradient(skip, use_batchnorm):
    from dlcore.nets import ResidualMLP

    net = ResidualMLP(5, 4, 2, 3, skip=skip, use_batchnorm=use_batchnorm,
                      rng=np.random.default_rng(5))
    weights = sorted(k for k in net.params if k.startswith("W"))
    assert weights == [f"W{i}" for i in range(1, 7)]  # 2 + 2 * n_blocks
    if use_batchnorm:
        assert {"gamma2", "beta3", "gamma5"} <= set(net.params)
    # zero biases can put a block's output exactly on ReLU's kink
    rng = np.random.default_rng(11)
    for key, p in net.params.items():
        if key.startswith("b"):
            p[...] = 0.2 * rng.standard_normal(p.shape)
    x, t = batch(4, 5, 3, seed=6)
    assert_grads_close(net, net.gradient(x, t), net.numerical_gradient(x, t))


def test_residual_mlp_skip_is_the_only_difference():
    from dlcore.nets import ResidualMLP
    from dlcore.residual import Residual

    res = ResidualMLP(6, 5, 3, 4, skip=True, rng=0)
    plain = ResidualMLP(6, 5, 3, 4, skip=False, rng=0)
    for key in res.params:  # the same initial weights
        np.testing.assert_array_equal(res.params[key], plain.params[key])
    assert sum(isinstance(lay, Residual) for lay in res.layers) == 3
    assert not any(isinstance(lay, Residual) for lay in plain.layers)
    x = np.random.default_rng(1).standard_normal((2, 6))
    assert not np.allclose(res.predict(x), plain.predict(x))
    # an optimizer's in-place update reaches the layers inside the blocks
    before = res.predict(x)
    SGD(lr=0.1).update(res.params, {k: np.ones_like(p)
                                    for k, p in res.params.items()})
    assert not np.allclose(res.predict(x), before)


def test_residual_mlp_batch_norm_inference_mode():
    from dlcore.nets import ResidualMLP

    net = ResidualMLP(5, 4, 2, 3, use_batchnorm=True, rng=0)
    x, t = batch(6, 5, 3, seed=7)
    net.gradient(x, t)  # a training pass
    # inference uses the running statistics: one sample alone gives the
    # same scores as in the batch
    np.testing.assert_allclose(net.predict(x[:1]), net.predict(x)[:1])


@pytest.mark.parametrize("make, shape", [
    (lambda: __import__("dlcore.nets").nets.LeNet5(
        (1, 12, 12), output_size=3, dtype=np.float32, rng=0),
     (4, 1, 12, 12)),
    (lambda: tiny_deep_conv_net(dtype=np.float32), (4, 1, 8, 8)),
    (lambda: __import__("dlcore.nets").nets.ResidualMLP(
        6, 5, 2, 3, use_batchnorm=True, dtype=np.float32, rng=0), (4, 6)),
])
def test_deeper_nets_float32_end_to_end(make, shape):
    test_float32_end_to_end(make, shape)


def test_deeper_nets_train_a_learners_layers():
    import dlcore.layers as L
    from dlcore.nets import DeepConvNet, LeNet5

    rng = np.random.default_rng(9)
    mine = {n: _contract_only(getattr(L, n))
            for n in ("Convolution", "Pooling", "Affine")}
    for make, x in (
            (lambda **k: LeNet5((1, 12, 12), output_size=4, rng=0, **k),
             rng.standard_normal((3, 1, 12, 12))),
            (lambda **k: tiny_deep_conv_net(dropout_ratio=0, **k),
             rng.standard_normal((3, 1, 8, 8)))):
        ref, own = make(), make(layers=mine)
        t = np.array([0, 2, 1])
        assert np.allclose(ref.loss(x, t), own.loss(x, t))
        g_ref, g_own = ref.gradient(x, t), own.gradient(x, t)
        for k in g_ref:
            assert np.allclose(g_ref[k], g_own[k]), k
    assert DeepConvNet  # imported for the layers check above
