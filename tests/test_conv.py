"""dlcore.conv and the Convolution and Pooling layers (chapter 7)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlcore.conv import col2im, conv_output_size, im2col
from dlcore.layers import Convolution, Pooling
from gradcheck import check_layer

seeds = st.integers(0, 2**31 - 1)


@st.composite
def conv_setups(draw):
    """(N, C, H, W, FH, FW, stride, pad) where the filter fits."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    assume(h + 2 * pad >= fh and w + 2 * pad >= fw)
    return n, c, h, w, fh, fw, stride, pad


def direct_conv(x, W, b, stride, pad):
    """Cross-correlation by loops over output pixels: the plain reference."""
    N, C, H, Wd = x.shape
    FN, _, FH, FW = W.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    oh = (H + 2 * pad - FH) // stride + 1
    ow = (Wd + 2 * pad - FW) // stride + 1
    out = np.zeros((N, FN, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + FH,
                       j * stride:j * stride + FW]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, W) + b
    return out


def direct_maxpool(x, ph, pw, stride, pad):
    N, C, H, W = x.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    oh = (H + 2 * pad - ph) // stride + 1
    ow = (W + 2 * pad - pw) // stride + 1
    out = np.zeros((N, C, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i * stride:i * stride + ph,
                        j * stride:j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


# ---------------------------------------------------------------- output size

@pytest.mark.parametrize("args, expected", [
    ((28, 5), 24), ((4, 3, 1, 1), 4), ((7, 3, 2), 3), ((7, 2, 2), 3),
    ((8, 3, 1, 1), 8), ((5, 5), 1),
])
def test_conv_output_size(args, expected):
    assert conv_output_size(*args) == expected


def test_conv_output_size_too_small_shows_numbers():
    with pytest.raises(ValueError, match=r"size 5.*size 3.*-1 < 1"):
        conv_output_size(3, 5, stride=1, pad=0)


# ---------------------------------------------------------------- im2col

def test_im2col_tiny_hand_checked():
    x = np.arange(2 * 2 * 3 * 3, dtype=np.float64).reshape(2, 2, 3, 3)
    col = im2col(x, 2, 2)
    assert col.shape == (2 * 2 * 2, 2 * 2 * 2)
    # row 0: sample 0, window at (0, 0); columns (c, ky, kx)
    np.testing.assert_array_equal(col[0], [0, 1, 3, 4, 9, 10, 12, 13])
    # row 1: sample 0, window at (0, 1)
    np.testing.assert_array_equal(col[1], [1, 2, 4, 5, 10, 11, 13, 14])
    # row 2: sample 0, window at (1, 0)
    np.testing.assert_array_equal(col[2], [3, 4, 6, 7, 12, 13, 15, 16])
    # row 4: sample 1, window at (0, 0)
    np.testing.assert_array_equal(col[4], col[0] + 18)


def test_im2col_padding_and_stride_hand_checked():
    x = np.arange(1, 5, dtype=np.float64).reshape(1, 1, 2, 2)
    col = im2col(x, 2, 2, stride=2, pad=1)
    # padded image [[0,0,0,0],[0,1,2,0],[0,3,4,0],[0,0,0,0]], 2x2 windows
    np.testing.assert_array_equal(
        col, [[0, 0, 0, 1], [0, 0, 2, 0], [0, 3, 0, 0], [4, 0, 0, 0]])


@settings(max_examples=25, deadline=None)
@given(conv_setups(), seeds)
def test_col2im_is_the_adjoint_of_im2col(setup, seed):
    n, c, h, w, fh, fw, stride, pad = setup
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    col = im2col(x, fh, fw, stride, pad)
    y = rng.standard_normal(col.shape)
    back = col2im(y, x.shape, fh, fw, stride, pad)
    assert back.shape == x.shape
    # <im2col(x), y> == <x, col2im(y)>
    assert np.sum(col * y) == pytest.approx(np.sum(x * back), rel=1e-10,
                                            abs=1e-10)


def test_col2im_sums_overlaps():
    x_shape = (1, 1, 3, 3)
    ones = np.ones((4, 4))  # 2x2 windows, stride 1: 4 windows
    counts = col2im(ones, x_shape, 2, 2)
    np.testing.assert_array_equal(
        counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_col2im_bad_shape():
    with pytest.raises(ValueError, match=r"col must have shape \(4, 4\)"):
        col2im(np.ones((4, 5)), (1, 1, 3, 3), 2, 2)


# ---------------------------------------------------------------- Convolution

@settings(max_examples=20, deadline=None)
@given(conv_setups(), st.integers(1, 3), seeds)
def test_convolution_matches_direct_loop(setup, fn, seed):
    n, c, h, w, fh, fw, stride, pad = setup
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    W = rng.standard_normal((fn, c, fh, fw))
    b = rng.standard_normal(fn)
    out = Convolution(W, b, stride, pad).forward(x)
    np.testing.assert_allclose(out, direct_conv(x, W, b, stride, pad),
                               rtol=1e-10, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(conv_setups(), st.integers(1, 2), seeds)
def test_convolution_gradient(setup, fn, seed):
    n, c, h, w, fh, fw, stride, pad = setup
    rng = np.random.default_rng(seed)
    layer = Convolution(rng.standard_normal((fn, c, fh, fw)),
                        rng.standard_normal(fn), stride, pad)
    dx, grads = check_layer(layer, rng.standard_normal((n, c, h, w)),
                            rng=rng)
    assert dx.shape == (n, c, h, w)
    assert grads["W"].shape == (fn, c, fh, fw) and grads["b"].shape == (fn,)


def test_convolution_errors_say_what_was_expected(rng):
    layer = Convolution(rng.standard_normal((4, 3, 2, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*3-D"):
        layer.forward(rng.standard_normal((3, 5, 5)))
    with pytest.raises(ValueError, match=r"expects 3 input channels.*2 "
                                         r"channels"):
        layer.forward(rng.standard_normal((1, 2, 5, 5)))
    with pytest.raises(ValueError, match="does not fit"):
        layer.forward(rng.standard_normal((1, 3, 1, 1)))


# ---------------------------------------------------------------- Pooling

def distinct_values(rng, shape):
    """A random permutation of distinct values: no ties in any window."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 + 0.5


@settings(max_examples=20, deadline=None)
@given(conv_setups(), st.booleans(), seeds)
def test_pooling_matches_direct_loop(setup, default_stride, seed):
    n, c, h, w, ph, pw, stride, pad = setup
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    if default_stride:
        stride = ph
        layer = Pooling(ph, pw, pad=pad)
    else:
        layer = Pooling(ph, pw, stride, pad)
    np.testing.assert_array_equal(layer.forward(x),
                                  direct_maxpool(x, ph, pw, stride, pad))


@settings(max_examples=15, deadline=None)
@given(conv_setups(), seeds)
def test_pooling_gradient(setup, seed):
    n, c, h, w, ph, pw, stride, pad = setup
    rng = np.random.default_rng(seed)
    # distinct positive values: maxima are unique and never a padding zero,
    # and a step of 1e-6 cannot change which element is largest
    x = distinct_values(rng, (n, c, h, w))
    check_layer(Pooling(ph, pw, stride, pad), x, rng=rng)


def test_pooling_routes_to_the_first_maximum_on_a_tie():
    x = np.array([[[[1.0, 3.0], [3.0, 2.0]]]])
    layer = Pooling(2, 2)
    assert layer.forward(x)[0, 0, 0, 0] == 3.0
    dx = layer.backward(np.array([[[[5.0]]]]))
    np.testing.assert_array_equal(dx[0, 0], [[0.0, 5.0], [0.0, 0.0]])


def test_pooling_bad_input(rng):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        Pooling(2, 2).forward(rng.standard_normal((4, 4)))


# ---------------------------------------------------------------- contract

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept_and_inputs_untouched(dtype, rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    layers = [
        Convolution(rng.standard_normal((4, 3, 3, 3)).astype(dtype),
                    rng.standard_normal(4).astype(dtype), stride=2, pad=1),
        Pooling(2, 2, stride=2, pad=1),
    ]
    x0 = x.copy()
    for layer in layers:
        out = layer.forward(x)
        assert out.dtype == dtype, type(layer).__name__
        dout = rng.standard_normal(out.shape).astype(dtype)
        dout0 = dout.copy()
        dx = layer.backward(dout)
        assert dx.dtype == dtype and dx.shape == x.shape
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(dout, dout0)
        for key, g in getattr(layer, "grads", {}).items():
            assert g.dtype == dtype, key
    col = im2col(x, 3, 3, 2, 1)
    assert col.dtype == dtype
    assert col2im(col, x.shape, 3, 3, 2, 1).dtype == dtype
    np.testing.assert_array_equal(x, x0)
