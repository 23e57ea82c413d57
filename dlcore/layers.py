"""Layers with forward and backward (chapters 5-7).

One contract for every layer:

- ``forward(x)`` returns the output and keeps what backward needs;
- ``backward(dout)`` returns dx (x's shape) and stores the gradients of the
  parameters as ``dW``, ``db``, ... beside ``W``, ``b``;
- a layer with parameters exposes ``params`` (a dict of the very arrays it
  uses, so an optimizer updating them in place updates the layer) and
  ``grads`` (the same keys, the latest gradients).

Backward never writes into dout or into the cached input.
"""

import math

import numpy as np

from dlcore.backend import get_array_module
from dlcore.conv import col2im, conv_output_size, im2col
from dlcore.functions import cross_entropy_error, sigmoid, softmax
from dlcore.guard import reference

__all__ = [
    "Relu", "LeakyRelu", "Sigmoid", "Affine", "SoftmaxWithLoss",
    "BatchNormalization", "Dropout", "Convolution", "Pooling",
]


# ---------------------------------------------------------------- activations

@reference("Relu")
class Relu:
    """y = max(0, x); dx = dout where x > 0, else 0 (0 at the kink x = 0)."""

    def __init__(self):
        self.mask = None  # where the gradient passes: x > 0

    def forward(self, x):
        """x: any shape -> same shape and dtype."""
        xp = get_array_module(x)
        out = xp.maximum(x, 0)  # several times faster than xp.where
        out += 0  # max(-0.0, 0) may be -0.0; make it 0.0
        self.mask = out > 0
        return out

    def backward(self, dout):
        """dout: the output's shape -> dx, same shape."""
        dx = dout * self.mask
        dx += 0  # -0.0 (a negative dout times False) becomes 0.0
        return dx


class LeakyRelu:
    """y = x if x > 0 else alpha * x; dx = dout or alpha * dout."""

    def __init__(self, alpha=0.01):
        self.alpha = alpha
        self.mask = None

    def forward(self, x):
        """x: any shape -> same shape and dtype."""
        xp = get_array_module(x)
        self.mask = x > 0
        return xp.where(self.mask, x, self.alpha * x)

    def backward(self, dout):
        """dout: the output's shape -> dx, same shape."""
        xp = get_array_module(dout)
        return xp.where(self.mask, dout, self.alpha * dout)


@reference("Sigmoid")
class Sigmoid:
    """y = 1 / (1 + exp(-x)); dx = dout * y * (1 - y)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        """x: any shape -> same shape and dtype."""
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        """dout: the output's shape -> dx, same shape."""
        return dout * (1 - self.out) * self.out


# ---------------------------------------------------------------- affine

@reference("Affine")
class Affine:
    """y = x W + b, x flattened to (N, D).

    W: (D, M), b: (M,). dx = dout W^T, dW = x^T dout, db = sum_n dout.
    """

    def __init__(self, W, b):
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(
                f"Affine wants W of shape (D, M) and b of shape (M,); got "
                f"W {tuple(W.shape)} and b {tuple(b.shape)}"
            )
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    @property
    def params(self):
        return {"W": self.W, "b": self.b}

    @property
    def grads(self):
        return {"W": self.dW, "b": self.db}

    def forward(self, x):
        """x: (N, D) or (N, d1, d2, ...) with d1*d2*... = D -> (N, M)."""
        D = self.W.shape[0]
        if x.ndim < 2 or math.prod(x.shape[1:]) != D:
            raise ValueError(
                f"Affine: W has shape {tuple(self.W.shape)}, so x must be "
                f"(N, {D}) or (N, d1, d2, ...) with {D} features per sample; "
                f"got x of shape {tuple(x.shape)}"
            )
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        """dout: (N, M) -> dx shaped like the original x; sets dW, db."""
        dx = dout @ self.W.T
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dx.reshape(self.original_x_shape)


# ---------------------------------------------------------------- output

@reference("SoftmaxWithLoss")
class SoftmaxWithLoss:
    """L = cross_entropy_error(softmax(x), t); dx = dout * (y - t) / N.

    x: scores (N, K) (or (K,), a batch of one); t: one-hot (N, K) or class
    indices (N,).
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        """Mean cross-entropy over the batch: a scalar."""
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, t)
        return self.loss

    def backward(self, dout=1):
        """dout: a scalar (1 for the loss itself) -> dx, x's shape."""
        xp = get_array_module(self.y)
        n = self.y.shape[0] if self.y.ndim == 2 else 1
        dx = self.y.reshape(n, -1).copy()
        t = xp.asarray(self.t)
        if t.shape == self.y.shape:  # one-hot
            dx -= t.reshape(n, -1).astype(dx.dtype)
        else:  # class indices: subtract 1 at each sample's true class
            dx[xp.arange(n), t.reshape(n).astype(xp.int64)] -= 1
        dx *= xp.asarray(dout, dtype=dx.dtype) / n
        return dx.reshape(self.y.shape)


# ---------------------------------------------------------------- chapter 6

@reference("BatchNormalization")
class BatchNormalization:
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature.

    gamma, beta: (D,). x: (N, D), or (N, C, H, W) treated as (N, C*H*W).
    Training uses the batch's mean and biased variance and updates
    r <- momentum * r + (1 - momentum) * batch_stat; inference uses the
    running statistics (which start at mean 0, variance 1).
    """

    def __init__(self, gamma, beta, momentum=0.9, eps=1e-5):
        if gamma.shape != beta.shape or gamma.ndim != 1:
            raise ValueError(
                f"BatchNormalization wants gamma and beta of one shape (D,); "
                f"got gamma {tuple(gamma.shape)} and beta {tuple(beta.shape)}"
            )
        xp = get_array_module(gamma)
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.eps = eps
        self.running_mean = xp.zeros_like(gamma)
        self.running_var = xp.ones_like(gamma)
        # what backward needs
        self.input_shape = None
        self.train_flg = True
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    @property
    def params(self):
        return {"gamma": self.gamma, "beta": self.beta}

    @property
    def grads(self):
        return {"gamma": self.dgamma, "beta": self.dbeta}

    def forward(self, x, train_flg=True):
        """x: (N, D) or (N, C, H, W) -> same shape and dtype."""
        D = self.gamma.shape[0]
        if x.ndim < 2 or math.prod(x.shape[1:]) != D:
            raise ValueError(
                f"BatchNormalization: gamma has {D} features, so x must be "
                f"(N, {D}) or (N, C, H, W) with C*H*W = {D}; got x of shape "
                f"{tuple(x.shape)}"
            )
        self.input_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = (xc ** 2).mean(axis=0)
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mu
            self.running_var = m * self.running_var + (1 - m) * var
        else:
            xc = x - self.running_mean
            var = self.running_var
        std = (var + self.eps) ** 0.5
        xn = xc / std
        self.xc, self.xn, self.std = xc, xn, std
        self.train_flg = train_flg
        out = self.gamma * xn + self.beta
        return out.reshape(self.input_shape)

    def backward(self, dout):
        """dout: the output's shape -> dx, same shape; sets dgamma, dbeta."""
        dout = dout.reshape(dout.shape[0], -1)
        n = dout.shape[0]
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (self.xn * dout).sum(axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        if self.train_flg:
            # mean and variance depend on x too: chain through both
            dstd = -((dxn * self.xc) / (self.std * self.std)).sum(axis=0)
            dvar = 0.5 * dstd / self.std
            dxc = dxc + (2.0 / n) * self.xc * dvar
            dmu = dxc.sum(axis=0)
            dxc = dxc - dmu / n
        return dxc.reshape(self.input_shape)


@reference("Dropout")
class Dropout:
    """Inverted dropout: y = x * mask / (1 - ratio) in training, else y = x.

    Each unit is kept with probability 1 - dropout_ratio; kept units are
    scaled up so that the expected output equals x, and inference needs no
    rescaling. rng: a NumPy Generator, or None for a fresh one. On a GPU
    the masks are drawn there, by a generator seeded once from rng.
    """

    def __init__(self, dropout_ratio=0.5, rng=None):
        if not 0 <= dropout_ratio < 1:
            raise ValueError(
                f"dropout_ratio must be in [0, 1); got {dropout_ratio}"
            )
        self.dropout_ratio = dropout_ratio
        self.rng = np.random.default_rng() if rng is None else rng
        self._device_rng = None  # drawn from rng on first use on a GPU
        self.mask = None  # the last training mask, scaled: 0 or 1/(1-ratio)

    def forward(self, x, train_flg=True):
        """x: any shape -> same shape and dtype."""
        if not train_flg:
            return x
        keep = self._uniform(x) >= self.dropout_ratio
        scale = 1.0 / (1.0 - self.dropout_ratio)
        self.mask = keep.astype(x.dtype) * scale
        return x * self.mask

    def backward(self, dout):
        """dx = dout * (the last training mask); dout: the output's shape."""
        if self.mask is None:  # no training pass yet: the identity
            return dout * 1
        return dout * self.mask

    def _uniform(self, x):
        """U[0, 1) samples of x's shape, in x's memory (host or GPU)."""
        xp = get_array_module(x)
        if xp is np:
            return self.rng.random(x.shape)
        # Drawing on the device avoids a host-to-device copy every step.
        if self._device_rng is None:
            seed = int(self.rng.integers(2**63))
            self._device_rng = xp.random.default_rng(seed)
        return self._device_rng.random(x.shape)


# ---------------------------------------------------------------- chapter 7

def _check_images(x, name):
    if x.ndim != 4:
        raise ValueError(
            f"{name} wants x of shape (N, C, H, W); got a {x.ndim}-D x of "
            f"shape {tuple(x.shape)}"
        )


@reference("Convolution")
class Convolution:
    """Cross-correlation: y[n, f] = sum_c W[f, c] (*) x[n, c] + b[f].

    W: (FN, C, FH, FW), b: (FN,). x: (N, C, H, W) -> (N, FN, out_h, out_w).
    Computed as one matrix product of W's rows and the unrolled windows.
    ``fast = False`` (per layer or class) runs the book's im2col version;
    the default runs the same products on a layout that needs no transposed
    copies (see ``_forward_fast``); its output and dx are views.
    """

    fast = True

    def __init__(self, W, b, stride=1, pad=0):
        if W.ndim != 4 or b.shape != (W.shape[0],):
            raise ValueError(
                f"Convolution wants W of shape (FN, C, FH, FW) and b of shape "
                f"(FN,); got W {tuple(W.shape)} and b {tuple(b.shape)}"
            )
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x = None
        self.col = None
        self.col_W = None
        self.dW = None
        self.db = None

    @property
    def params(self):
        return {"W": self.W, "b": self.b}

    @property
    def grads(self):
        return {"W": self.dW, "b": self.db}

    def forward(self, x):
        """x: (N, C, H, W) -> (N, FN, out_h, out_w), x's dtype."""
        _check_images(x, "Convolution")
        FN, C, FH, FW = self.W.shape
        N, xc, H, W = x.shape
        if xc != C:
            raise ValueError(
                f"Convolution: W of shape {tuple(self.W.shape)} expects "
                f"{C} input channels; got x of shape {tuple(x.shape)} with "
                f"{xc} channels"
            )
        out_h = conv_output_size(H, FH, self.stride, self.pad)
        out_w = conv_output_size(W, FW, self.stride, self.pad)
        self.x = x
        if self.fast:
            return self._forward_fast(x, out_h, out_w)

        col = im2col(x, FH, FW, self.stride, self.pad)  # (N*oh*ow, C*FH*FW)
        col_W = self.W.reshape(FN, -1).T                 # (C*FH*FW, FN)
        out = col @ col_W + self.b
        self.col, self.col_W = col, col_W
        return out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)

    def backward(self, dout):
        """dout: (N, FN, out_h, out_w) -> dx (N, C, H, W); sets dW, db."""
        if self.fast:
            return self._backward_fast(dout)
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).T.reshape(FN, C, FH, FW)
        dcol = dout @ self.col_W.T
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)

    # The fast path: the same three products on a layout that needs no
    # transposed copies. col is (C*FH*FW + 1, N*out_h*Ws): rows (c, ky, kx)
    # and a row of ones (so the bias rides in the products), one column per
    # window (n, out_y, out_x). The output comes out channels last,
    # (N, out_h, Ws, FN), and the layer returns an (N, FN, out_h, out_w)
    # view of it. For stride 1 each padded image row is stored Ws = W + pad
    # wide (a row's right padding is the next row's left padding), so the
    # (ky, kx) elements of all windows are one shifted slice of the
    # flattened images: one long copy per offset instead of runs of out_w.
    # The Ws - out_w extra columns of each output row are computed and
    # dropped, and backward gives them a zero dout.
    def _forward_fast(self, x, out_h, out_w):
        xp = get_array_module(x)
        FN = self.W.shape[0]
        N = x.shape[0]
        col = self._unroll(x, out_h, out_w)        # (C*FH*FW + 1, N*oh*Ws)
        # b is the last column of the filter matrix, against col's row of
        # ones: the product adds it, and backward's dW product yields db
        W_b = xp.concatenate([self.W.reshape(FN, -1), self.b.reshape(FN, 1)],
                             axis=1)
        out = col.T @ W_b.T                             # (N*oh*Ws, FN)
        self.col, self.col_W = col, None
        out = out.reshape(N, out_h, -1, FN)[:, :, :out_w]
        return out.transpose(0, 3, 1, 2)

    def _backward_fast(self, dout):
        xp = get_array_module(dout)
        FN, C, FH, FW = self.W.shape
        N, H, W = self.x.shape[0], *self.x.shape[2:]
        out_h = conv_output_size(H, FH, self.stride, self.pad)
        out_w = conv_output_size(W, FW, self.stride, self.pad)
        if tuple(dout.shape) != (N, FN, out_h, out_w):
            raise ValueError(
                f"Convolution.backward: the last forward's output has shape "
                f"{(N, FN, out_h, out_w)}; got dout of shape "
                f"{tuple(dout.shape)}"
            )
        Ws = self._row_width(W, out_w)
        d = xp.empty((FN, N, out_h, Ws), dtype=dout.dtype)
        d[:, :, :, out_w:] = 0  # the wasted columns add nothing to dW, dx
        d[:, :, :, :out_w] = dout.transpose(1, 0, 2, 3)
        d = d.reshape(FN, -1)                           # (FN, N*oh*Ws)
        if self.col.shape[0] * FN > 1024:
            dW_b = (self.col @ d.T).T                   # (FN, C*FH*FW + 1)
        else:
            # A small output summed over a long inner dimension runs far
            # below the BLAS's speed (3x, 1 channel and 16 filters); the
            # same sum image by image does not.
            per_image = (self.col.reshape(-1, N, out_h * Ws).transpose(1, 0, 2)
                         @ d.reshape(FN, N, -1).transpose(1, 2, 0))
            dW_b = per_image.sum(axis=0).T
        self.dW = dW_b[:, :-1].reshape(FN, C, FH, FW)
        self.db = dW_b[:, -1].copy()
        dcol = self.W.reshape(FN, -1).T @ d             # (C*FH*FW, N*oh*Ws)
        return self._fold(dcol, dout.shape)

    def _row_width(self, W, out_w):
        """Ws, the stored width of a padded image row (see the fast path)."""
        return max(W + self.pad, out_w) if self.stride == 1 else out_w

    def _unroll(self, x, out_h, out_w):
        """x (N, C, H, W) -> col (C*FH*FW + 1, N*out_h*Ws): rows (c, ky, kx)
        and a last row of ones, columns (n, out_y, out_x) with out_x < Ws;
        x's dtype."""
        xp = get_array_module(x)
        N, C, H, W = x.shape
        FH, FW = self.W.shape[2:]
        s, p = self.stride, self.pad
        Ws = self._row_width(W, out_w)
        if s == 1:
            img = self._flat_images(xp, (C, N, H, W), Ws, x.dtype)
            rows = img.reshape(C, N, -1, Ws)
            rows[:, :, p:p + H, p:p + W] = x.transpose(1, 0, 2, 3)
            L = out_h * Ws
            col = xp.empty((C * FH * FW + 1) * N * L, dtype=x.dtype)
            windows = col[:-N * L].reshape(C, FH * FW, N, L)
            for ky in range(FH):
                for kx in range(FW):
                    o = ky * Ws + kx  # where window offset (ky, kx) starts
                    windows[:, ky * FW + kx] = img[:, :, o:o + L]
        else:
            img = xp.zeros((C, N, H + 2 * p, W + 2 * p), dtype=x.dtype)
            img[:, :, p:p + H, p:p + W] = x.transpose(1, 0, 2, 3)
            L = out_h * out_w
            col = xp.empty((C * FH * FW + 1) * N * L, dtype=x.dtype)
            windows = col[:-N * L].reshape(C, FH, FW, N, out_h, out_w)
            for ky in range(FH):
                y_max = ky + s * out_h
                for kx in range(FW):
                    x_max = kx + s * out_w
                    windows[:, ky, kx] = img[:, :, ky:y_max:s, kx:x_max:s]
        col[-N * L:] = 1
        return col.reshape(-1, N * L)

    def _fold(self, dcol, out_shape):
        """The adjoint of _unroll: dcol (C*FH*FW, N*out_h*Ws) -> dx
        (N, C, H, W), overlaps summed, padding dropped (a view)."""
        xp = get_array_module(dcol)
        N, C, H, W = self.x.shape
        FH, FW = self.W.shape[2:]
        out_h, out_w = out_shape[2:]
        s, p = self.stride, self.pad
        Ws = self._row_width(W, out_w)
        if s == 1:
            L = out_h * Ws
            dcol = dcol.reshape(C, FH, FW, N * L)
            # First the sum over kx, a shift of a few numbers each: with
            # the images end to end that is one long add per kx. What
            # spills from one image into the next lands in the next one's
            # left padding, or is zero (from the wasted columns).
            rows = xp.zeros((C, FH, N * L + FW - 1), dtype=dcol.dtype)
            for kx in range(FW):
                rows[:, :, kx:kx + N * L] += dcol[:, :, kx]
            img = self._flat_images(xp, (C, N, H, W), Ws, dcol.dtype)
            for ky in range(FH):
                o = ky * Ws
                img[:, :, o:o + L] += rows[:, ky, :N * L].reshape(C, N, L)
            img = img.reshape(C, N, -1, Ws)
        else:
            img = xp.zeros((C, N, H + 2 * p, W + 2 * p), dtype=dcol.dtype)
            dcol = dcol.reshape(C, FH, FW, N, out_h, out_w)
            for ky in range(FH):
                y_max = ky + s * out_h
                for kx in range(FW):
                    x_max = kx + s * out_w
                    img[:, :, ky:y_max:s, kx:x_max:s] += dcol[:, ky, kx]
        return img[:, :, p:p + H, p:p + W].transpose(1, 0, 2, 3)

    def _flat_images(self, xp, shape, Ws, dtype):
        """Zeros (C, N, rows*Ws): each image's H + 2*pad rows, Ws wide,
        and enough rows after them for the last windows' wasted columns."""
        C, N, H, W = shape
        FW = self.W.shape[3]
        rows = H + 2 * self.pad + -(-(FW - 1) // Ws)
        return xp.zeros((C, N, rows * Ws), dtype=dtype)


@reference("Pooling")
class Pooling:
    """Max pooling: each output is the max of its pool_h x pool_w window,
    per channel. stride defaults to pool_h; padding adds zeros (as im2col).

    x: (N, C, H, W) -> (N, C, out_h, out_w). backward routes each gradient
    to its window's maximum (the first one, in row-major order, on a tie).
    ``fast = False`` runs the book's im2col + argmax version; the default
    takes the max over the window's strided slices with np.maximum.
    """

    fast = True

    def __init__(self, pool_h, pool_w, stride=None, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = pool_h if stride is None else stride
        self.pad = pad
        self.x = None
        self.arg_max = None
        self.out = None

    def forward(self, x):
        """x: (N, C, H, W) -> (N, C, out_h, out_w), x's dtype."""
        _check_images(x, "Pooling")
        N, C, H, W = x.shape
        out_h = conv_output_size(H, self.pool_h, self.stride, self.pad)
        out_w = conv_output_size(W, self.pool_w, self.stride, self.pad)
        self.x = x
        if self.fast:
            return self._forward_slices(x, out_h, out_w)

        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        # columns are (c, ky, kx): one row per (n, out_y, out_x, c) window
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.arg_max = col.argmax(axis=1)  # argmax picks the first maximum
        out = col.max(axis=1)
        return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        """dout: (N, C, out_h, out_w) -> dx (N, C, H, W)."""
        if self.fast:
            return self._backward_slices(dout)
        xp = get_array_module(dout)
        pool_size = self.pool_h * self.pool_w
        dout = dout.transpose(0, 2, 3, 1).ravel()  # windows in im2col order
        dmax = xp.zeros((dout.size, pool_size), dtype=dout.dtype)
        dmax[xp.arange(dout.size), self.arg_max] = dout
        dcol = dmax.reshape(-1, self.x.shape[1] * pool_size)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w,
                      self.stride, self.pad)

    # The fast path: one strided slice per window offset (ky, kx).
    def _slices(self, out_h, out_w):
        s = self.stride
        for ky in range(self.pool_h):
            for kx in range(self.pool_w):  # row-major: first max wins
                yield (slice(None), slice(None),
                       slice(ky, ky + s * out_h, s),
                       slice(kx, kx + s * out_w, s))

    def _padded(self, x):
        if not self.pad:
            return x
        xp = get_array_module(x)
        p = self.pad
        return xp.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])

    def _forward_slices(self, x, out_h, out_w):
        xp = get_array_module(x)
        img = self._padded(x)
        windows = list(self._slices(out_h, out_w))
        out = xp.copy(img[windows[0]])
        for window in windows[1:]:
            xp.maximum(out, img[window], out=out)
        self.out = out
        return out

    def _backward_slices(self, dout):
        xp = get_array_module(dout)
        img = self._padded(self.x)
        out_h, out_w = self.out.shape[2:]
        # Every pass below runs over one memory layout, x's and out's (the
        # fast Convolution's outputs are transposed views): dout is copied
        # into it once if it has another.
        dx = xp.zeros_like(img, dtype=dout.dtype)
        g = dout
        if dout.strides != self.out.strides:
            g = xp.empty_like(self.out, dtype=dout.dtype)
            g[...] = dout
        # Windows overlap when the stride is smaller than the pool.
        overlap = self.stride < max(self.pool_h, self.pool_w)
        todo = xp.ones_like(self.out, dtype=bool)  # max not routed yet
        for window in self._slices(out_h, out_w):
            hit = img[window] == self.out
            hit &= todo
            todo ^= hit  # hit is within todo: this clears the routed ones
            if overlap:
                dx[window] += g * hit
            else:
                dx[window] = g * hit
        p = self.pad
        return dx[:, :, p:dx.shape[2] - p, p:dx.shape[3] - p]
