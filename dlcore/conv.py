"""im2col, col2im and the output-size formula of a convolution (chapter 7).

im2col unrolls every window a filter visits into one row of a matrix, so a
convolution becomes one matrix product; col2im is its adjoint (transpose),
which backward needs. Both loop only over the filter's (ky, kx) offsets:
each offset copies a strided slice of the whole batch at once.

im2col_t and col2im_t are the same two maps laid out the other way round,
(C*FH*FW, out_h*out_w*N): channels outermost, the batch index innermost.
That layout needs no final transpose copy (the costly step of im2col: its
rows are only C*FH*FW long), and each window offset's copy moves long
contiguous runs; chapter 7's "under the hood" lesson times both. The
layers' fast path (dlcore.layers.Convolution) goes one step further on the
same idea.
"""

from dlcore.backend import get_array_module
from dlcore.guard import reference

__all__ = ["conv_output_size", "im2col", "col2im"]
# im2col_t and col2im_t are public but no items (chapter 7 times them).


@reference("conv_output_size")
def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """out = floor((input + 2 pad - filter) / stride) + 1.

    Raises ValueError when out would be below 1 (the filter does not fit).
    """
    if stride < 1:
        raise ValueError(f"stride must be at least 1; got stride={stride}")
    out = (input_size + 2 * pad - filter_size) // stride + 1
    if out < 1:
        raise ValueError(
            f"a filter of size {filter_size} does not fit an input of size "
            f"{input_size} with pad={pad}, stride={stride}: "
            f"({input_size} + 2*{pad} - {filter_size}) // {stride} + 1 "
            f"= {out} < 1"
        )
    return out


def _check_4d(x, name):
    if x.ndim != 4:
        raise ValueError(
            f"{name} wants input of shape (N, C, H, W); got a {x.ndim}-D "
            f"array of shape {tuple(x.shape)}"
        )


@reference("im2col")
def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Unroll the windows of a (zero-padded) batch of images into rows.

    input_data: (N, C, H, W) -> col: (N*out_h*out_w, C*filter_h*filter_w),
    rows ordered by (n, out_y, out_x), columns by (c, ky, kx); dtype kept.
    """
    _check_4d(input_data, "im2col")
    xp = get_array_module(input_data)
    N, C, H, W = input_data.shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)

    img = xp.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    col = xp.empty((N, C, filter_h, filter_w, out_h, out_w),
                   dtype=input_data.dtype)
    for ky in range(filter_h):
        y_max = ky + stride * out_h
        for kx in range(filter_w):
            x_max = kx + stride * out_w
            # every window's (ky, kx) element, for all windows at once
            col[:, :, ky, kx] = img[:, :, ky:y_max:stride, kx:x_max:stride]

    # (N, C, FH, FW, out_h, out_w) -> (N, out_h, out_w, C, FH, FW)
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


@reference("col2im")
def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of im2col: scatter rows back to images, summing overlaps.

    col: (N*out_h*out_w, C*filter_h*filter_w); input_shape: (N, C, H, W).
    Returns (N, C, H, W) in col's dtype; the padding border is dropped.
    """
    xp = get_array_module(col)
    N, C, H, W = input_shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    expected = (N * out_h * out_w, C * filter_h * filter_w)
    if tuple(col.shape) != expected:
        raise ValueError(
            f"col2im: for input_shape {tuple(input_shape)}, filter "
            f"{filter_h}x{filter_w}, stride={stride}, pad={pad}, col must "
            f"have shape {expected}; got {tuple(col.shape)}"
        )

    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w)
    col = col.transpose(0, 3, 4, 5, 1, 2)  # (N, C, FH, FW, out_h, out_w)
    img = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    for ky in range(filter_h):
        y_max = ky + stride * out_h
        for kx in range(filter_w):
            x_max = kx + stride * out_w
            img[:, :, ky:y_max:stride, kx:x_max:stride] += col[:, :, ky, kx]
    return img[:, :, pad:H + pad, pad:W + pad]


def im2col_t(input_data, filter_h, filter_w, stride=1, pad=0):
    """im2col(...).T with its columns reordered: batch index innermost.

    input_data: (N, C, H, W) -> (C*filter_h*filter_w, out_h*out_w*N),
    rows ordered by (c, ky, kx), columns by (out_y, out_x, n); dtype kept.
    With n innermost, each (ky, kx) copy moves runs of out_w*N numbers.
    """
    _check_4d(input_data, "im2col_t")
    xp = get_array_module(input_data)
    N, C, H, W = input_data.shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)

    img = xp.zeros((C, H + 2 * pad, W + 2 * pad, N), dtype=input_data.dtype)
    img[:, pad:H + pad, pad:W + pad] = input_data.transpose(1, 2, 3, 0)
    col = xp.empty((C, filter_h, filter_w, out_h, out_w, N),
                   dtype=input_data.dtype)
    for ky in range(filter_h):
        y_max = ky + stride * out_h
        for kx in range(filter_w):
            x_max = kx + stride * out_w
            col[:, ky, kx] = img[:, ky:y_max:stride, kx:x_max:stride]
    return col.reshape(C * filter_h * filter_w, out_h * out_w * N)


def col2im_t(col_t, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of im2col_t: scatter columns back, summing overlaps.

    col_t: (C*filter_h*filter_w, out_h*out_w*N) -> (N, C, H, W) in
    col_t's dtype (a transposed view of a (C, H, W, N) array).
    """
    xp = get_array_module(col_t)
    N, C, H, W = input_shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    col_t = col_t.reshape(C, filter_h, filter_w, out_h, out_w, N)
    img = xp.zeros((C, H + 2 * pad, W + 2 * pad, N), dtype=col_t.dtype)
    for ky in range(filter_h):
        y_max = ky + stride * out_h
        for kx in range(filter_w):
            x_max = kx + stride * out_w
            img[:, ky:y_max:stride, kx:x_max:stride] += col_t[:, ky, kx]
    return img[:, pad:H + pad, pad:W + pad].transpose(3, 0, 1, 2)
