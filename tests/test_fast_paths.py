"""The layers' fast paths (im2col_t, slice pooling) against the book's."""

import numpy as np
import pytest

from dlcore import conv, layers


def pair(cls, *args):
    fast, book = cls(*args), cls(*args)
    book.fast = False
    return fast, book


@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 1), (2, 1), (3, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_convolution_fast_path_matches_the_book(stride, pad, dtype):
    rng = np.random.default_rng(stride * 10 + pad)
    x = rng.standard_normal((3, 2, 7, 8)).astype(dtype)
    W = rng.standard_normal((4, 2, 3, 2)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    fast, book = pair(layers.Convolution, W, b, stride, pad)
    y, y_book = fast.forward(x), book.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dx, dx_book = fast.backward(dout), book.backward(dout)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for a, r in ((y, y_book), (dx, dx_book), (fast.dW, book.dW),
                 (fast.db, book.db)):
        assert a.dtype == np.dtype(dtype) and a.shape == r.shape
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol)


def test_im2col_t_is_the_transpose_of_im2col_batch_innermost():
    x = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)
    col_t = conv.im2col_t(x, 3, 2, 2, 1)
    col = conv.im2col(x, 3, 2, 2, 1)                  # rows (n, oy, ox)
    windows = col.shape[0] // 2                        # per image
    reorder = col.reshape(2, windows, -1).transpose(1, 0, 2).reshape(col.shape)
    np.testing.assert_array_equal(col_t, reorder.T)   # columns (oy, ox, n)
    img = conv.col2im_t(col_t, x.shape, 3, 2, 2, 1)
    np.testing.assert_array_equal(img, conv.col2im(col, x.shape, 3, 2, 2, 1))


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
