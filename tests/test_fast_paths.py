"""The layers' fast paths against the book's (``fast = False``) versions.

Convolution's fast path has two ways of unrolling the windows (shifted
slices of the flattened images for stride 1, strided slices otherwise);
both are compared with the book's im2col version on odd sizes, every
padding up to one wider than the filter, non-square filters, float32 and
float64, and checked against numerical gradients. Pooling's fast path is
compared with the book's on ties and on the transposed views the fast
Convolution returns.
"""

import numpy as np
import pytest

from dlcore import conv, layers, nets
from gradcheck import check_layer


def pair(cls, *args):
    fast, book = cls(*args), cls(*args)
    book.fast = False
    return fast, book


def assert_same(a, r, tol, what):
    assert a.shape == r.shape, f"{what}: shape {a.shape}, book {r.shape}"
    assert a.dtype == r.dtype, f"{what}: dtype {a.dtype}, book {r.dtype}"
    np.testing.assert_allclose(a, r, rtol=tol, atol=tol, err_msg=what)


# ---------------------------------------------------------------- Convolution

# (N, C, H, W, FN, FH, FW): odd sizes, non-square images and filters, a
# 1x1 filter, a filter as wide as the padded image, one image; the last
# has enough channels and filters for dW to be one product, not one per
# image (C*FH*FW + 1 times FN above 1024)
CONV_SHAPES = [
    (3, 2, 7, 8, 4, 3, 3),
    (2, 3, 5, 9, 5, 3, 2),
    (1, 1, 6, 5, 2, 1, 1),
    (2, 2, 4, 3, 3, 2, 4),
    (4, 1, 9, 9, 3, 5, 3),
    (2, 8, 5, 6, 16, 3, 3),
]


CONV_CASES = [(shape, stride, pad) for shape in CONV_SHAPES
              for stride in (1, 2, 3) for pad in (0, 1, 2)
              if shape[2] + 2 * pad >= shape[5]     # the filter fits
              and shape[3] + 2 * pad >= shape[6]]


@pytest.mark.parametrize("shape, stride, pad", CONV_CASES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_convolution_fast_path_matches_the_book(shape, stride, pad, dtype):
    N, C, H, W, FN, FH, FW = shape
    rng = np.random.default_rng([stride, pad, *shape])
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    Wt = rng.standard_normal((FN, C, FH, FW)).astype(dtype)
    b = rng.standard_normal(FN).astype(dtype)
    fast, book = pair(layers.Convolution, Wt, b, stride, pad)
    y, y_book = fast.forward(x), book.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dx, dx_book = fast.backward(dout), book.backward(dout)
    tol = 1e-5 if dtype == "float32" else 1e-12
    where = f"stride={stride} pad={pad} shape={shape} {dtype}"
    assert_same(y, y_book, tol, f"y, {where}")
    assert_same(dx, dx_book, tol, f"dx, {where}")
    assert_same(fast.dW, book.dW, tol, f"dW, {where}")
    assert_same(fast.db, book.db, tol, f"db, {where}")


@pytest.mark.parametrize("stride, pad, filter_hw, C, FN", [
    (1, 0, (3, 3), 2, 3), (1, 1, (3, 2), 2, 3), (1, 2, (2, 3), 2, 3),
    (1, 2, (1, 1), 2, 3), (2, 0, (2, 2), 2, 3), (2, 1, (3, 2), 2, 3),
    (3, 2, (2, 3), 2, 3), (1, 1, (3, 3), 8, 16), (2, 1, (3, 3), 8, 16),
])
def test_convolution_fast_path_gradient(stride, pad, filter_hw, C, FN):
    rng = np.random.default_rng(stride * 100 + pad)
    FH, FW = filter_hw
    layer = layers.Convolution(rng.standard_normal((FN, C, FH, FW)),
                               rng.standard_normal(FN), stride, pad)
    assert layer.fast
    check_layer(layer, rng.standard_normal((2, C, 5, 4)), rng=rng,
                op=f"Convolution fast stride={stride} pad={pad} "
                   f"filter={FH}x{FW} C={C} FN={FN}")


def test_convolution_fast_path_takes_any_dout_layout():
    """dout may be contiguous, in the layout of the forward's output (as a
    Relu after it returns), or a strided view; dx, dW, db are the same."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 6, 7)).astype(np.float32)
    fast, book = pair(layers.Convolution,
                      rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
                      rng.standard_normal(4).astype(np.float32), 1, 1)
    y = fast.forward(x)
    book.forward(x)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx_book = book.backward(g)
    like_y = np.empty_like(y)  # y's own memory layout, channels last
    like_y[...] = g
    wide = np.zeros(g.shape[:3] + (2 * g.shape[3],), np.float32)
    wide[..., ::2] = g
    for dout in (g, like_y, wide[..., ::2]):
        fast.forward(x)
        dx = fast.backward(dout)
        assert_same(dx, dx_book, 1e-5, "dx")
        assert_same(fast.dW, book.dW, 1e-5, "dW")
        assert_same(fast.db, book.db, 1e-5, "db")


def test_convolution_fast_path_forgets_the_previous_batch():
    """backward uses the latest forward, whatever the earlier batch's size."""
    rng = np.random.default_rng(6)
    W = rng.standard_normal((4, 2, 3, 3))
    b = rng.standard_normal(4)
    fast, book = pair(layers.Convolution, W, b, 1, 1)
    fast.forward(rng.standard_normal((5, 2, 9, 8)))
    x = rng.standard_normal((2, 2, 4, 6))
    y, y_book = fast.forward(x), book.forward(x)
    assert_same(y, y_book, 1e-12, "y")
    dout = rng.standard_normal(y.shape)
    assert_same(fast.backward(dout), book.backward(dout), 1e-12, "dx")
    assert_same(fast.dW, book.dW, 1e-12, "dW")


def test_convolution_fast_path_refuses_a_dout_of_another_shape():
    rng = np.random.default_rng(10)
    layer = layers.Convolution(rng.standard_normal((4, 2, 3, 3)),
                               np.zeros(4), 1, 1)
    y = layer.forward(rng.standard_normal((3, 2, 5, 6)))
    with pytest.raises(ValueError, match=r"\(3, 4, 5, 6\).*\(1, 4, 5, 6\)"):
        layer.backward(np.ones((1,) + y.shape[1:]))


def test_im2col_t_is_the_transpose_of_im2col_batch_innermost():
    x = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)
    col_t = conv.im2col_t(x, 3, 2, 2, 1)
    col = conv.im2col(x, 3, 2, 2, 1)                  # rows (n, oy, ox)
    windows = col.shape[0] // 2                        # per image
    reorder = col.reshape(2, windows, -1).transpose(1, 0, 2).reshape(col.shape)
    np.testing.assert_array_equal(col_t, reorder.T)   # columns (oy, ox, n)
    img = conv.col2im_t(col_t, x.shape, 3, 2, 2, 1)
    np.testing.assert_array_equal(img, conv.col2im(col, x.shape, 3, 2, 2, 1))


# ---------------------------------------------------------------- Relu

@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_relu_is_max_and_its_gradient_is_zero_where_x_is_not_positive(dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3, 5)).astype(dtype)
    x[0, 0, :3] = 0.0
    x[0, 1, 0] = -0.0
    dout = rng.standard_normal(x.shape).astype(dtype)
    layer = layers.Relu()
    y = layer.forward(x)
    np.testing.assert_array_equal(y, np.where(x > 0, x, 0))
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx, np.where(x > 0, dout, 0))
    assert y.dtype == dx.dtype == np.dtype(dtype)
    # zeros are +0.0, as np.where gives: a -0.0 would print as "-0."
    assert not np.signbit(y[y == 0]).any()
    assert not np.signbit(dx[dx == 0]).any()


# ---------------------------------------------------------------- Pooling

@pytest.mark.parametrize("args", [(2, 2, 2, 0), (3, 3, 1, 1), (2, 3, 1, 0),
                                  (3, 2, 2, 1)])
def test_pooling_fast_path_matches_the_book_with_ties(args):
    rng = np.random.default_rng(sum(args))
    # small integers: many windows hold their maximum twice or more
    x = rng.integers(-2, 3, size=(2, 3, 7, 6)).astype(np.float32)
    fast, book = pair(layers.Pooling, *args)
    y, y_book = fast.forward(x), book.forward(x)
    np.testing.assert_array_equal(y, y_book)
    dout = rng.standard_normal(y.shape).astype(np.float32)
    dx, dx_book = fast.backward(dout), book.backward(dout)
    assert dx.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_array_equal(dx, dx_book)
    # each gradient went to exactly one position (the first maximum)
    assert np.count_nonzero(dx) <= dout.size


@pytest.mark.parametrize("args", [(2, 2, 2, 0), (3, 3, 1, 1), (2, 2, 2, 1)])
def test_pooling_fast_path_on_the_fast_convolutions_output(args):
    """Pooling after the fast Convolution sees a channels-last view."""
    rng = np.random.default_rng(8)
    conv_layer = layers.Convolution(
        rng.integers(-1, 2, size=(4, 2, 3, 3)).astype(np.float64),
        np.zeros(4), 1, 1)
    x = conv_layer.forward(rng.integers(-1, 2, size=(3, 2, 6, 7)) * 1.0)
    assert not x.flags.c_contiguous  # ties aplenty, too: small integers
    fast, book = pair(layers.Pooling, *args)
    y, y_book = fast.forward(x), book.forward(x)
    np.testing.assert_array_equal(y, y_book)
    dout = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(fast.backward(dout), book.backward(dout))


# ---------------------------------------------------------------- a net

def test_simple_conv_net_gradient_same_on_both_paths():
    class BookConvolution(layers.Convolution):
        fast = False

    class BookPooling(layers.Pooling):
        fast = False

    rng = np.random.default_rng(9)
    x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    t = rng.integers(0, 10, 5)
    kwargs = dict(input_dim=(1, 8, 8), hidden_size=12, weight_init_std="he",
                  rng=0, dtype=np.float32,
                  conv_param={"filter_num": 6, "filter_size": 3, "pad": 1})
    fast = nets.SimpleConvNet(**kwargs)
    book = nets.SimpleConvNet(**kwargs, layers={
        "Convolution": BookConvolution, "Pooling": BookPooling})
    g_fast, g_book = fast.gradient(x, t), book.gradient(x, t)
    assert set(g_fast) == set(g_book)
    for key in g_book:
        assert_same(g_fast[key], g_book[key], 1e-5, key)
