"""dlcore.layers: activation, affine, softmax-loss, batch-norm and dropout
layers (chapters 5-6). Convolution and Pooling are in test_conv.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.functions import cross_entropy_error, softmax
from dlcore.layers import (
    Affine,
    BatchNormalization,
    Dropout,
    LeakyRelu,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)
from gradcheck import check_layer

GRAD = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**31 - 1)
dims = st.integers(1, 5)


def away_from_kink(rng, shape):
    """Values with |x| >= 0.1, so a step of 1e-6 never crosses ReLU's kink."""
    x = rng.standard_normal(shape)
    return x + np.sign(x) * 0.1 + (x == 0) * 0.1


# ---------------------------------------------------------------- gradients

@GRAD
@given(st.lists(dims, min_size=1, max_size=3), seeds)
def test_relu_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    check_layer(Relu(), away_from_kink(rng, shape), rng=rng)


@GRAD
@given(st.lists(dims, min_size=1, max_size=3), seeds)
def test_leaky_relu_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    check_layer(LeakyRelu(0.1), away_from_kink(rng, shape), rng=rng)


@GRAD
@given(st.lists(dims, min_size=1, max_size=3), seeds)
def test_sigmoid_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    check_layer(Sigmoid(), 3 * rng.standard_normal(shape), rng=rng)


@GRAD
@given(dims, st.lists(dims, min_size=1, max_size=3), dims, seeds)
def test_affine_gradient(n, feature_shape, m, seed):
    rng = np.random.default_rng(seed)
    D = int(np.prod(feature_shape))
    layer = Affine(rng.standard_normal((D, m)), rng.standard_normal(m))
    x = rng.standard_normal((n, *feature_shape))
    dx, grads = check_layer(layer, x, rng=rng)
    assert dx.shape == x.shape  # back in the original (N, d1, d2, ...)
    assert grads["W"].shape == (D, m) and grads["b"].shape == (m,)


@GRAD
@given(dims, st.integers(2, 6), st.booleans(), seeds)
def test_softmax_with_loss_gradient(n, k, one_hot, seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, k, n)
    if one_hot:
        t = np.eye(k)[t]
    # the loss's 1e-7 guard shifts the true gradient by about 1e-7 / y:
    # moderate scores keep y away from 0 and that shift below rtol
    check_layer(SoftmaxWithLoss(), rng.standard_normal((n, k)), t,
                rng=rng, rtol=1e-4, atol=1e-6)


@GRAD
@given(st.integers(2, 6), st.integers(1, 5), seeds)
def test_batchnorm_gradient_train(n, d, seed):
    rng = np.random.default_rng(seed)
    layer = BatchNormalization(1 + rng.random(d), rng.standard_normal(d))
    check_layer(layer, rng.standard_normal((n, d)), rng=rng,
                rtol=1e-4, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 3), st.integers(1, 2), st.integers(1, 3), seeds)
def test_batchnorm_gradient_4d(n, c, hw, seed):
    rng = np.random.default_rng(seed)
    D = c * hw * hw
    layer = BatchNormalization(1 + rng.random(D), rng.standard_normal(D))
    x = rng.standard_normal((n, c, hw, hw))
    dx, _ = check_layer(layer, x, rng=rng, rtol=1e-4, atol=1e-6)
    assert dx.shape == x.shape


def test_batchnorm_gradient_inference(rng):
    layer = BatchNormalization(1 + rng.random(3), rng.standard_normal(3))
    layer.running_mean = rng.standard_normal(3)
    layer.running_var = 1 + rng.random(3)
    check_layer(layer, rng.standard_normal((4, 3)), rng=rng,
                forward_kwargs={"train_flg": False})


# ---------------------------------------------------------------- values

def test_relu_forward_and_gradient_at_zero():
    layer = Relu()
    out = layer.forward(np.array([[-1.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(out, [[0.0, 0.0, 2.0]])
    dx = layer.backward(np.array([[5.0, 5.0, 5.0]]))
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 5.0]])


def test_affine_values_and_bad_shape(rng):
    W, b = rng.standard_normal((6, 2)), rng.standard_normal(2)
    x = rng.standard_normal((3, 2, 3))
    np.testing.assert_allclose(Affine(W, b).forward(x),
                               x.reshape(3, 6) @ W + b)
    with pytest.raises(ValueError, match=r"\(6, 2\).*got x of shape \(3, 5\)"):
        Affine(W, b).forward(rng.standard_normal((3, 5)))
    with pytest.raises(ValueError, match="b of shape"):
        Affine(W, np.zeros(3))


def test_softmax_with_loss_values(rng):
    x = rng.standard_normal((4, 3))
    t = np.array([0, 2, 1, 1])
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    assert loss == pytest.approx(cross_entropy_error(softmax(x), t))
    dx = layer.backward()
    np.testing.assert_allclose(dx, (softmax(x) - np.eye(3)[t]) / 4)
    np.testing.assert_allclose(layer.backward(2.0), 2 * dx)
    # one-hot labels give the same loss and gradient
    loss_oh = SoftmaxWithLoss().forward(x, np.eye(3)[t])
    assert loss_oh == pytest.approx(loss)


def test_softmax_with_loss_large_scores():
    layer = SoftmaxWithLoss()
    loss = layer.forward(np.array([[1000.0, 1001.0, 1002.0]]), np.array([2]))
    assert np.isfinite(loss) and loss == pytest.approx(0.40760596, rel=1e-6)


def test_params_are_the_layers_arrays(rng):
    W, b = rng.standard_normal((3, 2)), np.zeros(2)
    layer = Affine(W, b)
    assert layer.params["W"] is layer.W and layer.params["b"] is layer.b
    layer.params["W"] -= 1.0  # an optimizer's in-place step reaches the layer
    np.testing.assert_array_equal(layer.W, W)
    layer.forward(rng.standard_normal((4, 3)))
    layer.backward(rng.standard_normal((4, 2)))
    assert layer.grads["W"] is layer.dW and layer.grads["b"] is layer.db
    bn = BatchNormalization(np.ones(2), np.zeros(2))
    assert set(bn.params) == {"gamma", "beta"} == set(bn.grads)
    assert bn.params["gamma"] is bn.gamma


# ---------------------------------------------------------------- contract:
# inputs untouched, dtype kept, for every layer

def make_layers(rng, dtype):
    """(name, layer, x, forward extra args, upstream gradient)."""
    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)
    t = np.array([0, 2, 1, 1])
    return [
        ("Relu", Relu(), r(4, 3), (), r(4, 3)),
        ("LeakyRelu", LeakyRelu(), r(4, 3), (), r(4, 3)),
        ("Sigmoid", Sigmoid(), r(4, 3), (), r(4, 3)),
        ("Affine", Affine(r(6, 3), r(3)), r(4, 2, 3), (), r(4, 3)),
        ("SoftmaxWithLoss", SoftmaxWithLoss(), r(4, 3), (t,), 1),
        ("SoftmaxWithLoss-onehot", SoftmaxWithLoss(), r(4, 3),
         (np.eye(3, dtype=dtype)[t],), 1),
        ("BatchNormalization", BatchNormalization(r(3) + 1, r(3)), r(4, 3),
         (), r(4, 3)),
        ("Dropout", Dropout(0.3, rng=np.random.default_rng(1)), r(4, 3), (),
         r(4, 3)),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layer_keeps_dtype_and_inputs(dtype, rng):
    for name, layer, x, extra, dout in make_layers(rng, dtype):
        x0 = x.copy()
        extra0 = [np.copy(e) for e in extra]
        dout0 = np.copy(dout)
        out = layer.forward(x, *extra)
        assert np.asarray(out).dtype == dtype, f"{name} forward: {out.dtype}"
        dx = layer.backward(dout)
        assert dx.dtype == dtype, f"{name} backward: {dx.dtype}"
        assert dx.shape == x.shape, name
        for key, g in getattr(layer, "grads", {}).items():
            assert g.dtype == dtype, f"{name} grads[{key}]: {g.dtype}"
        np.testing.assert_array_equal(x, x0, err_msg=f"{name} changed x")
        np.testing.assert_array_equal(dout, dout0,
                                      err_msg=f"{name} changed dout")
        for e, e0 in zip(extra, extra0):
            np.testing.assert_array_equal(e, e0, err_msg=f"{name} changed t")


def test_backward_result_is_not_dout(rng):
    # a caller that changes dx in place must not change dout
    for name, layer, x, extra, dout in make_layers(rng, np.float64):
        if np.ndim(dout) == 0:
            continue
        dout0 = dout.copy()
        layer.forward(x, *extra)
        dx = layer.backward(dout)
        dx += 1.0
        np.testing.assert_array_equal(dout, dout0, err_msg=name)


def test_softmax_with_loss_float32_with_numpy_scalar_dout(rng):
    layer = SoftmaxWithLoss()
    layer.forward(rng.standard_normal((2, 3)).astype(np.float32),
                  np.array([0, 1]))
    assert layer.backward(np.float64(1.0)).dtype == np.float32


# ---------------------------------------------------------------- dropout

def test_dropout_keep_rate_and_inverted_scaling():
    layer = Dropout(0.3, rng=np.random.default_rng(0))
    x = np.ones((200, 500))
    out = layer.forward(x, train_flg=True)
    kept = out != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.005)
    np.testing.assert_allclose(out[kept], 1 / 0.7)
    assert out.mean() == pytest.approx(1.0, abs=0.01)  # expectation kept


def test_dropout_inference_is_identity(rng):
    layer = Dropout(0.5, rng=rng)
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), x)


def test_dropout_backward_uses_last_training_mask(rng):
    layer = Dropout(0.5, rng=rng)
    x = rng.standard_normal((20, 30))
    out = layer.forward(x, train_flg=True)
    layer.forward(x, train_flg=False)  # inference leaves the mask alone
    dout = rng.standard_normal((20, 30))
    dx = layer.backward(dout)
    kept = out != 0
    np.testing.assert_allclose(dx[kept], dout[kept] * 2)
    assert (dx[~kept] == 0).all()
    assert 0 < kept.mean() < 1


def test_dropout_is_reproducible_with_a_seeded_rng():
    x = np.ones((5, 6))
    a = Dropout(0.5, rng=np.random.default_rng(7)).forward(x)
    b = Dropout(0.5, rng=np.random.default_rng(7)).forward(x)
    np.testing.assert_array_equal(a, b)


def test_dropout_bad_ratio():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)


# ---------------------------------------------------------------- batch norm

def test_batchnorm_normalises_the_batch(rng):
    layer = BatchNormalization(np.ones(3), np.zeros(3))
    x = 5 + 3 * rng.standard_normal((50, 3))
    out = layer.forward(x, train_flg=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), 1, atol=1e-5)  # biased var
    gamma, beta = np.array([2.0, 1.0, 0.5]), np.array([1.0, -1.0, 0.0])
    out2 = BatchNormalization(gamma, beta).forward(x)
    np.testing.assert_allclose(out2, gamma * out + beta, atol=1e-12)


def test_batchnorm_running_statistics_rule(rng):
    momentum = 0.8
    layer = BatchNormalization(np.ones(2), np.zeros(2), momentum=momentum)
    mean, var = layer.running_mean.copy(), layer.running_var.copy()
    for _ in range(4):
        x = 3 + 2 * rng.standard_normal((10, 2))
        layer.forward(x, train_flg=True)
        mean = momentum * mean + (1 - momentum) * x.mean(axis=0)
        var = momentum * var + (1 - momentum) * x.var(axis=0)
        np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
        np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)
    # inference uses the running statistics, and does not change them
    x = rng.standard_normal((3, 2))
    out = layer.forward(x, train_flg=False)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5))
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)


def test_batchnorm_4d_is_per_feature(rng):
    x = rng.standard_normal((6, 2, 3, 3))
    layer = BatchNormalization(np.ones(18), np.zeros(18))
    out = layer.forward(x)
    assert out.shape == x.shape
    flat = x.reshape(6, 18)
    np.testing.assert_allclose(
        out.reshape(6, 18),
        (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5))


def test_batchnorm_bad_shape(rng):
    layer = BatchNormalization(np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"4 features.*\(5, 3\)"):
        layer.forward(rng.standard_normal((5, 3)))
