"""dlcore.residual: the residual block's forward against its formula and
its backward against central differences (float64)."""

import numpy as np
import pytest

from dlcore.layers import Affine, BatchNormalization, Convolution, Relu
from dlcore.residual import Residual
from gradcheck import check_layer


def affine(rng, d_in, d_out, scale=0.5):
    return Affine(scale * rng.standard_normal((d_in, d_out)),
                  scale * rng.standard_normal(d_out))


def test_forward_is_f_of_x_plus_x():
    rng = np.random.default_rng(0)
    a1, a2 = affine(rng, 6, 5), affine(rng, 5, 6)
    x = rng.standard_normal((4, 6))
    y = Residual([a1, Relu(), a2]).forward(x)
    f = np.maximum(x @ a1.W + a1.b, 0) @ a2.W + a2.b
    np.testing.assert_allclose(y, f + x)


def test_gradient_identity_shortcut():
    rng = np.random.default_rng(1)
    block = Residual([affine(rng, 6, 5), Relu(), affine(rng, 5, 6)])
    dx, grads = check_layer(block, rng.standard_normal((4, 6)), rng=rng)
    assert sorted(grads) == ["W0", "W2", "b0", "b2"]
    assert grads["W0"].shape == (6, 5) and grads["b2"].shape == (6,)


def test_gradient_projection_shortcut():
    rng = np.random.default_rng(2)
    block = Residual([affine(rng, 6, 3), Relu(), affine(rng, 3, 3)],
                     shortcut=affine(rng, 6, 3))
    check_layer(block, rng.standard_normal((5, 6)), rng=rng)
    assert sorted(block.params) == ["W0", "W2", "W_s", "b0", "b2", "b_s"]


def test_gradient_with_batch_norm_and_nested_blocks():
    rng = np.random.default_rng(3)
    inner = Residual([affine(rng, 4, 4), Relu(), affine(rng, 4, 4)])
    block = Residual([affine(rng, 4, 4),
                      BatchNormalization(1 + 0.1 * rng.standard_normal(4),
                                         0.1 * rng.standard_normal(4)),
                      Relu(), inner])
    check_layer(block, rng.standard_normal((6, 4)), rng=rng,
                rtol=1e-4, atol=1e-6)
    # the nested block's parameters are named through both blocks
    assert {"W03", "b23", "gamma1", "beta1"} <= set(block.params)


def test_gradient_convolutional_block():
    # ResNet's basic block without batch norm: two 3x3 convolutions, pad 1
    rng = np.random.default_rng(4)

    def conv():
        return Convolution(0.3 * rng.standard_normal((2, 2, 3, 3)),
                           0.1 * rng.standard_normal(2), pad=1)

    block = Residual([conv(), Relu(), conv()])
    check_layer(block, rng.standard_normal((2, 2, 5, 5)), rng=rng)


def test_train_flg_reaches_batch_norm():
    rng = np.random.default_rng(5)
    bn = BatchNormalization(np.ones(3), np.zeros(3))
    block = Residual([affine(rng, 3, 3), bn])
    x = rng.standard_normal((8, 3)) + 4.0
    block.forward(x, train_flg=True)
    assert bn.train_flg is True
    block.forward(x, train_flg=False)
    assert bn.train_flg is False


def test_the_skip_carries_the_gradient_when_f_is_dead():
    """With F's weights at zero, F passes no gradient back; the shortcut
    still hands dout to x unchanged: the point of the block."""
    a1 = Affine(np.zeros((3, 3)), np.zeros(3))
    a2 = Affine(np.zeros((3, 3)), np.zeros(3))
    block = Residual([a1, Relu(), a2])
    x = np.random.default_rng(6).standard_normal((2, 3))
    dout = np.arange(6.0).reshape(2, 3)
    kept = dout.copy()
    block.forward(x)
    dx = block.backward(dout)
    np.testing.assert_array_equal(dx, dout)
    np.testing.assert_array_equal(dout, kept)  # dout is not written into
    assert dx is not dout


def test_float32_stays_float32():
    rng = np.random.default_rng(7)
    f32 = np.float32
    block = Residual([Affine(rng.standard_normal((4, 4)).astype(f32),
                             np.zeros(4, f32)), Relu()])
    x = rng.standard_normal((3, 4)).astype(f32)
    assert block.forward(x).dtype == f32
    assert block.backward(np.ones((3, 4), f32)).dtype == f32
    assert all(g.dtype == f32 for g in block.grads.values())


def test_errors():
    rng = np.random.default_rng(8)
    with pytest.raises(ValueError, match="at least one layer"):
        Residual([])
    with pytest.raises(TypeError, match="not a layer"):
        Residual([np.tanh])
    block = Residual([affine(rng, 4, 3)])
    with pytest.raises(ValueError, match="shortcut"):
        block.forward(np.zeros((2, 4)))
