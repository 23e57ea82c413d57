"""Fairness and sharpness of chapter 7's exercise tests (CNN layers).

The chapter-7 source notebook's test cells are run in this process
(coursekit.runner, scored as nbgrader scores them) against answers a
learner could write: correct ones in other styles (loops, stride tricks,
einsum, dlcore's im2col) must pass every test; each plausible mistake
must fail the cells it should, with a message that teaches, and no cell
of another item (later items are graded with dlcore's earlier ones).
"""

import copy
from pathlib import Path

import pytest
from exercise_checks import assert_all_pass, assert_fails_as_planned
from exercise_checks import code as _src

from coursekit.notebooks import read

ROOT = Path(__file__).resolve().parents[1]
CH07 = ROOT / "solutions" / "ch07_cnn" / "exercises.ipynb"


# ------------------------------------------------------------ answers

SIZE_FLOOR = _src("""
    import math
    def conv_output_size(input_size, filter_size, stride=1, pad=0):
        out = math.floor((input_size + 2 * pad - filter_size) / stride) + 1
        if out < 1:
            raise ValueError("the filter does not fit")
        return out
""")


def _size(expr, check="out < 1"):
    return _src(f"""
        import numpy as np
        def conv_output_size(input_size, filter_size, stride=1, pad=0):
            out = {expr}
            if {check}:
                raise ValueError("the filter does not fit")
            return out
    """)


IM2COL_SLIDING = """
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view
    def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
        x = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)],
                   mode="{mode}")
        v = sliding_window_view(x, (filter_h, filter_w), axis=(2, 3))
        v = v[:, :, ::stride, ::stride]          # (N, C, oh, ow, fh, fw)
        N, C, oh, ow = v.shape[:4]
        return v.transpose({axes}).reshape(N * oh * ow, -1)
"""


def _im2col(mode="constant", axes="0, 2, 3, 1, 4, 5"):
    return _src(IM2COL_SLIDING.format(mode=mode, axes=axes))


IM2COL_LOOPS = """
    import numpy as np
    def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
        N, C, H, W = input_data.shape
        oh = (H + 2 * pad - filter_h) // stride + 1
        ow = (W + 2 * pad - filter_w) // stride + 1
        x = np.pad(input_data, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        col = np.zeros((N * oh * ow, C * filter_h * filter_w){dtype})
        for n in range(N):
            for i in range(oh):
                for j in range(ow):
                    r = (n * oh + i) * ow + j
                    k = 0
                    for c in range(C):
                        for u in range(filter_h):
                            for v in range(filter_w):
                                col[r, k] = x[n, c, i * stride + u,
                                              j * stride + v]
                                k += 1
        return col
"""

# the book's im2col as printed: right values, but np.zeros without dtype=
IM2COL_BOOK = _src("""
    import numpy as np
    def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
        N, C, H, W = input_data.shape
        out_h = (H + 2*pad - filter_h)//stride + 1
        out_w = (W + 2*pad - filter_w)//stride + 1
        img = np.pad(input_data, [(0,0), (0,0), (pad, pad), (pad, pad)],
                     'constant')
        col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))
        for y in range(filter_h):
            y_max = y + stride*out_h
            for x in range(filter_w):
                x_max = x + stride*out_w
                col[:, :, y, x, :, :] = img[:, :, y:y_max:stride,
                                            x:x_max:stride]
        col = col.transpose(0, 4, 5, 1, 2, 3).reshape(N*out_h*out_w, -1)
        return col
""")

COL2IM_STRIDED = """
    import numpy as np
    def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
        N, C, H, W = input_shape
        oh = (H + 2 * pad - filter_h) // stride + 1
        ow = (W + 2 * pad - filter_w) // stride + 1
        img = np.zeros((N, C, H + 2 * pad, W + 2 * pad){dtype})
        c6 = col.reshape(N, oh, ow, C, filter_h, filter_w)
        for u in range(filter_h):
            for v in range(filter_w):
                img[:, :, u:u + stride * oh:stride,
                    v:v + stride * ow:stride] += c6[..., u, v].transpose(
                        0, 3, 1, 2)
        return {ret}
"""


def _col2im(dtype=", dtype=col.dtype",
            ret="img[:, :, pad:pad + H, pad:pad + W]"):
    return _src(COL2IM_STRIDED.format(dtype=dtype, ret=ret))


COL2IM_WINDOWS = """
    import numpy as np
    def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
        N, C, H, W = input_shape
        oh = conv_output_size(H, filter_h, stride, pad)
        ow = conv_output_size(W, filter_w, stride, pad)
        img = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
        rows = iter(col)
        for n in range(N):
            for i in range(oh):
                for j in range(ow):
                    win = next(rows).reshape(C, filter_h, filter_w)
                    t, l = {top}, j * stride
                    img[n, :, t:t + filter_h, l:l + filter_w] {op} win
        return img[:, :, pad:pad + H, pad:pad + W]
"""


def _col2im_windows(op="+=", top="i * stride"):
    return _src(COL2IM_WINDOWS.format(op=op, top=top))


CONV_EINSUM = """
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view
    class Convolution:
        def __init__(self, W, b, stride=1, pad=0):
            self.W, self.b, self.stride, self.pad = W, b, stride, pad
        def forward(self, x):
            p, s = self.pad, self.stride
            FN, C, FH, FW = self.W.shape
            xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
            v = sliding_window_view(xp, (FH, FW), axis=(2, 3))[:, :, ::s, ::s]
            self.x, self.v = x, v
            return np.einsum("ncijuv,fcuv->nfij", v, {filt}) {bias}
        def backward(self, dout):
            p, s = self.pad, self.stride
            FN, C, FH, FW = self.W.shape
            self.db = {db}
            self.dW = np.einsum("nfij,ncijuv->fcuv", dout, self.v)
            N, _, H, W = self.x.shape
            dxp = np.zeros((N, C, H + 2 * p, W + 2 * p){dtype})
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    dxp[:, :, i * s:i * s + FH, j * s:j * s + FW] += np.einsum(
                        "nf,fcuv->ncuv", dout[:, :, i, j], self.W)
            return dxp[:, :, p:p + H, p:p + W]
"""


def _conv(filt="self.W", bias="+ self.b[:, None, None]",
          db="dout.sum(axis=(0, 2, 3))", dtype=", dtype=dout.dtype"):
    return _src(CONV_EINSUM.format(filt=filt, bias=bias, db=db, dtype=dtype))


CONV_BOOK = """
    import numpy as np
    from dlcore.conv import im2col, col2im
    class Convolution:
        def __init__(self, W, b, stride=1, pad=0):
            self.W, self.b = W, b
            self.stride, self.pad = stride, pad
        def forward(self, x):
            FN, C, FH, FW = self.W.shape
            N, C, H, W = x.shape
            out_h = 1 + (H + 2 * self.pad - FH) // self.stride
            out_w = 1 + (W + 2 * self.pad - FW) // self.stride
            col = im2col(x, FH, FW, self.stride, self.pad)
            col_W = self.W.reshape(FN, -1).T
            out = np.dot(col, col_W) + self.b
            self.x, self.col, self.col_W = x, col, col_W
            return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)
        def backward(self, dout):
            FN, C, FH, FW = self.W.shape
            dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
            self.db = np.sum(dout, axis=0)
            self.dW = {dW}
            dcol = np.dot(dout, self.col_W.T)
            return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)
"""


def _conv_book(dW="np.dot(self.col.T, dout).transpose(1, 0)"
                  ".reshape(FN, C, FH, FW)"):
    return _src(CONV_BOOK.format(dW=dW))


POOL_LOOPS = """
    import numpy as np
    class Pooling:
        def __init__(self, pool_h, pool_w, stride={default}, pad=0):
            self.ph, self.pw = pool_h, pool_w
            self.s = pool_h if stride is None else stride
            self.p = pad
        def forward(self, x):
            p, s = self.p, self.s
            xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)){padmode})
            N, C, Hp, Wp = xp.shape
            oh, ow = (Hp - self.ph) // s + 1, (Wp - self.pw) // s + 1
            out = np.empty((N, C, oh, ow), dtype=x.dtype)
            self.arg = np.empty((N, C, oh, ow), dtype=int)
            for i in range(oh):
                for j in range(ow):
                    win = xp[:, :, i * s:i * s + self.ph,
                             j * s:j * s + self.pw].reshape(N, C, -1)
                    self.arg[:, :, i, j] = {arg}
                    out[:, :, i, j] = {reduce}
            self.shape = x.shape
            return out
        def backward(self, dout):
            p, s = self.p, self.s
            N, C, H, W = self.shape
            dxp = np.zeros((N, C, H + 2 * p, W + 2 * p){dtype})
            n_i, c_i = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    a = self.arg[:, :, i, j]
                    rows, cols = i * s + a // self.pw, j * s + a % self.pw
                    {route}
            return dxp[:, :, p:p + H, p:p + W]
"""

ADD_AT = "np.add.at(dxp, (n_i, c_i, rows, cols), dout[:, :, i, j])"


def _pool(default="None", padmode="", arg="win.argmax(axis=2)",
          reduce="win.max(axis=2)", dtype=", dtype=dout.dtype", route=ADD_AT):
    return _src(POOL_LOOPS.format(default=default, padmode=padmode, arg=arg,
                                  reduce=reduce, dtype=dtype, route=route))


POOL_MASK = _src("""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view
    class Pooling:
        def __init__(self, pool_h, pool_w, stride=None, pad=0):
            self.pool_h, self.pool_w, self.pad = pool_h, pool_w, pad
            self.stride = stride or pool_h
        def forward(self, x):
            p, s = self.pad, self.stride
            xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
            v = sliding_window_view(xp, (self.pool_h, self.pool_w),
                                    axis=(2, 3))[:, :, ::s, ::s]
            out = v.max(axis=(4, 5))
            self.mask = v == out[..., None, None]   # no ties in the tests
            self.padded_shape, self.x_shape = xp.shape, x.shape
            return out
        def backward(self, dout):
            p, s = self.pad, self.stride
            oh, ow = dout.shape[2:]
            share = self.mask * dout[..., None, None]
            dxp = np.zeros(self.padded_shape, dtype=dout.dtype)
            for u in range(self.pool_h):
                for v in range(self.pool_w):
                    dxp[:, :, u:u + s * oh:s, v:v + s * ow:s] += share[..., u, v]
            H, W = self.x_shape[2:]
            return dxp[:, :, p:p + H, p:p + W]
""")

POOL_BOOK = _src("""
    import numpy as np
    import dlcore.conv as conv
    class Pooling:
        def __init__(self, pool_h, pool_w, stride=None, pad=0):
            self.pool_h, self.pool_w = pool_h, pool_w
            self.stride = stride if stride is not None else pool_h
            self.pad = pad
        def forward(self, x):
            N, C, H, W = x.shape
            out_h = conv.conv_output_size(H, self.pool_h, self.stride, self.pad)
            out_w = conv.conv_output_size(W, self.pool_w, self.stride, self.pad)
            col = conv.im2col(x, self.pool_h, self.pool_w, self.stride,
                              self.pad).reshape(-1, self.pool_h * self.pool_w)
            self.x, self.arg_max = x, np.argmax(col, axis=1)
            out = np.max(col, axis=1)
            return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)
        def backward(self, dout):
            dout = dout.transpose(0, 2, 3, 1)
            pool_size = self.pool_h * self.pool_w
            dmax = np.zeros((dout.size, pool_size), dtype=dout.dtype)
            dmax[np.arange(self.arg_max.size), self.arg_max] = dout.flatten()
            dcol = dmax.reshape(dout.shape[0] * dout.shape[1] * dout.shape[2],
                                -1)
            return conv.col2im(dcol, self.x.shape, self.pool_h, self.pool_w,
                               self.stride, self.pad)
""")

CORRECT = {
    "size: math.floor and a check on the result": {
        "conv_output_size": SIZE_FLOOR},
    "size: check before dividing, numpy floor cast to int": {
        "conv_output_size": _src("""
            import numpy as np
            def conv_output_size(input_size, filter_size, stride=1, pad=0):
                if input_size + 2 * pad < filter_size:
                    raise ValueError("filter larger than the padded input")
                return int(np.floor((input_size + 2 * pad - filter_size)
                                    / stride)) + 1
        """)},
    "im2col: stride tricks": {"im2col": _im2col()},
    "im2col: one element at a time": {
        "im2col": _src(IM2COL_LOOPS.format(dtype=", dtype=input_data.dtype"))},
    "col2im: strided slices per filter offset": {"col2im": _col2im()},
    "col2im: one window at a time, using conv_output_size": {
        "col2im": _col2im_windows()},
    "Convolution: einsum over sliding windows": {"Convolution": _conv()},
    "Convolution: the book's im2col layer, dlcore's im2col imported": {
        "Convolution": _conv_book()},
    "Pooling: loops with argmax": {"Pooling": _pool()},
    "Pooling: stride tricks and a mask of the maxima": {"Pooling": POOL_MASK},
    "Pooling: the book's im2col layer through the dlcore.conv module": {
        "Pooling": POOL_BOOK},
}

# what a dtype test says to a float64 answer for float32 inputs: the
# contract's point, and the usual cause (the book's np.zeros(shape))
FLOAT64 = (r"has dtype float64 for a float32 input; the contract keeps the "
           r"input's dtype \(float32 in, float32 out\): an array allocated "
           r"without dtype= is float64")

# (answers, {test grade_id that must fail: regex its message must match})
WRONG = {
    # ------------------------------------------------ conv_output_size
    "size: true division": (
        {"conv_output_size": _size(
            "(input_size + 2 * pad - filter_size) / stride + 1")},
        {"test_conv_output_size_hidden_formula": "must be an integer"}),
    "size: pad counted once": (
        {"conv_output_size": _size(
            "(input_size + pad - filter_size) // stride + 1")},
        {"test_conv_output_size_examples": r"pad=1\) returned 3, expected 4",
         "test_conv_output_size_hidden_formula":
             r"pad=1\) (returned|raised)"}),
    "size: int() truncates towards zero": (
        {"conv_output_size": _size(
            "int((input_size + 2 * pad - filter_size) / stride) + 1")},
        {"test_conv_output_size_hidden_errors": r"stride=2, pad=0\) "
                                                r"returned 1.*ValueError"}),
    "size: raises when the filter fits exactly once": (
        {"conv_output_size": _size(
            "(input_size + 2 * pad - filter_size) // stride + 1",
            check="out <= 1")},
        {"test_conv_output_size_hidden_formula": "raised ValueError"}),
    "size: never raises": (
        {"conv_output_size": _size(
            "(input_size + 2 * pad - filter_size) // stride + 1",
            check="False")},
        {"test_conv_output_size_hidden_errors": "should raise ValueError"}),
    "size: delegated to dlcore": (
        {"conv_output_size": "from dlcore.conv import conv_output_size"},
        {"test_conv_output_size_examples": "delegating to dlcore",
         "test_conv_output_size_hidden_formula": "delegating to dlcore",
         "test_conv_output_size_hidden_errors": "delegating to dlcore"}),
    # ---------------------------------------------------------- im2col
    "im2col: columns ordered (ky, kx, c)": (
        {"im2col": _im2col(axes="0, 2, 3, 4, 5, 1")},
        {"test_im2col_hidden_order": r"columns ordered \(ky, kx, c\)"}),
    "im2col: rows ordered (out_y, out_x, n)": (
        {"im2col": _im2col(axes="2, 3, 0, 1, 4, 5")},
        {"test_im2col_hidden_order": r"rows ordered \(out_y, out_x, n\)",
         "test_im2col_hidden_stride_pad": "values are off"}),
    "im2col: pads with the edge values": (
        {"im2col": _im2col(mode="edge")},
        {"test_im2col_hidden_stride_pad": "padding should be zeros"}),
    "im2col: the book's code, col allocated without dtype= (float64)": (
        {"im2col": IM2COL_BOOK},
        {"test_im2col_batch_stride_pad": FLOAT64,
         "test_im2col_hidden_dtype_inputs": FLOAT64}),
    "im2col: subclass-free wrapper of dlcore": (
        {"im2col": _src("""
            import dlcore.conv
            def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
                return dlcore.conv.im2col(input_data, filter_h, filter_w,
                                          stride, pad)
        """)},
        {"test_im2col_lesson_example": "delegating",
         "test_im2col_hidden_order": "delegating",
         "test_im2col_hidden_stride_pad": "delegating",
         "test_im2col_hidden_dtype_inputs": "delegating"}),
    # ---------------------------------------------------------- col2im
    "col2im: overlapping windows overwrite": (
        {"col2im": _col2im_windows(op="=")},
        {"test_col2im_coverage": "values are off",
         "test_col2im_hidden_adjoint": "instead of adding them up"}),
    "col2im: stride ignored when placing windows": (
        {"col2im": _col2im_windows(top="i")},
        {"test_col2im_hidden_adjoint": "not the adjoint of im2col"}),
    "col2im: padding not dropped": (
        {"col2im": _col2im(ret="img")},
        {"test_col2im_hidden_adjoint": r"shape \(1, 2, 8, 7\).*unpadded",
         "test_col2im_hidden_dtype_inputs": "the padding is dropped"}),
    "col2im: float64 image for a float32 col": (
        {"col2im": _col2im(dtype="")},
        {"test_col2im_stride_pad": FLOAT64,
         "test_col2im_hidden_dtype_inputs": FLOAT64}),
    # ----------------------------------------------------- Convolution
    "Convolution: true convolution (flipped filter)": (
        {"Convolution": _conv(filt="self.W[:, :, ::-1, ::-1]")},
        {"test_Convolution_lesson_example": "values are off",
         "test_Convolution_hidden_forward": "true convolution"}),
    "Convolution: bias forgotten": (
        {"Convolution": _conv(bias="")},
        {"test_Convolution_lesson_example": "values are off",
         "test_Convolution_hidden_forward": "values are off"}),
    "Convolution: dW reshaped without the transpose": (
        {"Convolution": _conv_book(
            dW="np.dot(self.col.T, dout).reshape(FN, C, FH, FW)")},
        {"test_Convolution_hidden_backward": "right numbers in the wrong "
                                             "places"}),
    "Convolution: db averaged": (
        {"Convolution": _conv(db="dout.mean(axis=(0, 2, 3))")},
        {"test_Convolution_hidden_backward": "times too small"}),
    "Convolution: db summed over the batch only": (
        {"Convolution": _conv(db="dout.sum(axis=0)")},
        {"test_Convolution_backward_shapes": "db has the shape of b",
         "test_Convolution_hidden_backward": "one number per filter"}),
    "Convolution: float64 dx for float32 inputs": (
        {"Convolution": _conv(dtype="")},
        {"test_Convolution_backward_shapes": FLOAT64,
         "test_Convolution_hidden_dtype_inputs": FLOAT64}),
    "Convolution: subclass of dlcore's layer": (
        {"Convolution": _src("""
            from dlcore.layers import Convolution as Base
            class Convolution(Base):
                pass
        """)},
        {"test_Convolution_lesson_example": "delegating",
         "test_Convolution_backward_shapes": "delegating",
         "test_Convolution_hidden_forward": "delegating",
         "test_Convolution_hidden_backward": "delegating",
         "test_Convolution_hidden_dtype_inputs": "delegating"}),
    # --------------------------------------------------------- Pooling
    "Pooling: average instead of max": (
        {"Pooling": _pool(reduce="win.mean(axis=2)")},
        {"test_Pooling_lesson_example": "values are off",
         "test_Pooling_hidden_forward": "average"}),
    "Pooling: stride defaults to 1 (as in the book)": (
        {"Pooling": _pool(default="1")},
        {"test_Pooling_contract": r"stride defaults to None, which means "
                                  r"a stride of pool_h",
         "test_Pooling_hidden_forward": "the stride is pool_h"}),
    "Pooling: padding with -inf": (
        {"Pooling": _pool(padmode=", constant_values=-np.inf")},
        {"test_Pooling_hidden_forward": "zeros in the padding"}),
    "Pooling: backward to every input of the window": (
        {"Pooling": _pool(route="dxp[:, :, i * s:i * s + self.ph, "
                                "j * s:j * s + self.pw] += "
                                "dout[:, :, i, j, None, None]")},
        {"test_Pooling_backward_example": "values are off",
         "test_Pooling_hidden_backward": "not the maximum of any window"}),
    "Pooling: backward to the mirrored position": (
        {"Pooling": _pool(arg="win[:, :, ::-1].argmax(axis=2)",
                          reduce="win.max(axis=2)")},
        {"test_Pooling_backward_example": "values are off",
         "test_Pooling_hidden_backward": "not the maximum"}),
    "Pooling: overlapping gradients overwrite": (
        {"Pooling": _pool(route="dxp[n_i, c_i, rows, cols] = "
                                "dout[:, :, i, j]")},
        {"test_Pooling_hidden_backward": "collects all their gradients"}),
    "Pooling: float64 dx for a float32 dout": (
        {"Pooling": _pool(dtype="")},
        {"test_Pooling_contract": FLOAT64,
         "test_Pooling_hidden_dtype_inputs": FLOAT64}),
    "Pooling: wrapper of dlcore's layer": (
        {"Pooling": _src("""
            import dlcore.layers as L
            class Pooling:
                def __init__(self, pool_h, pool_w, stride=None, pad=0):
                    self.inner = L.Pooling(pool_h, pool_w, stride, pad)
                def forward(self, x):
                    return self.inner.forward(x)
                def backward(self, dout):
                    return self.inner.backward(dout)
        """)},
        {"test_Pooling_lesson_example": "delegating",
         "test_Pooling_hidden_forward": "delegating"}),
}


# the milestone's cells train a convnet on MNIST digits (seconds each): the
# per-item cases run without them; the milestone has its own cases below
MILESTONE = ("test_Pooling_milestone_mnist",
             "test_Pooling_hidden_milestone_mnist")


@pytest.fixture(scope="module")
def ch07():
    return read(CH07)


@pytest.fixture(scope="module")
def ch07_items(ch07):
    nb = copy.deepcopy(ch07)
    nb.cells = [c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id")
                not in MILESTONE]
    return nb


def test_reference_solution_passes_everything(ch07, run):
    results = run(ch07)
    assert len(results) == 28
    assert all(ok for ok, _ in results.values()), results


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_answers_of_any_style_pass(ch07_items, name, run):
    assert_all_pass(run(ch07_items, CORRECT[name]))


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_mistakes_fail_with_a_teaching_message(ch07_items, name,
                                                         run):
    answers, must_fail = WRONG[name]
    assert_fails_as_planned(run(ch07_items, answers), answers,
                            must_fail, name)


def test_a_wrong_im2col_does_not_cost_the_layers_points(ch07_items, run):
    # the source's Convolution and Pooling call the global im2col/col2im
    answers = {"im2col": _im2col(axes="0, 2, 3, 4, 5, 1"),
               "col2im": _col2im_windows(op="=")}
    results = run(ch07_items, answers)
    for grade_id, (ok, message) in results.items():
        if grade_id.startswith(("test_Convolution", "test_Pooling")):
            assert ok, (grade_id, message)


# ------------------------------------------------------------ the milestone
# (in this process only: the judged run of the reference above covers the
# grading path; each training here costs seconds)


def test_the_milestone_trains_other_correct_styles(ch07):
    from coursekit.runner import run_inprocess

    answers = {k: v for name, case in CORRECT.items()
               if "one element at a time" not in name
               and "loops" not in name and "dlcore" not in name
               for k, v in case.items()}
    results = run_inprocess(ch07, answers)
    assert all(results[g][0] for g in MILESTONE), results


@pytest.mark.parametrize("name, item", [
    ("Convolution: bias forgotten", "Convolution"),
    ("Pooling: stride defaults to 1 (as in the book)", "Pooling"),
])
def test_the_milestone_names_the_item_to_fix_first(ch07, name, item):
    from coursekit.runner import run_inprocess

    results = run_inprocess(ch07, WRONG[name][0])
    for grade_id in MILESTONE:
        ok, message = results[grade_id]
        assert not ok and f"fix {item} first" in message, message


def test_the_milestone_says_which_layer_is_too_slow(ch07):
    from coursekit.runner import run_inprocess

    slow = _src("""
        import numpy as np
        class Convolution:
            def __init__(self, W, b, stride=1, pad=0):
                self.W, self.b, self.stride, self.pad = W, b, stride, pad
            def forward(self, x):
                p, s = self.pad, self.stride
                self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
                FN, C, FH, FW = self.W.shape
                N, _, H, W = self.xp.shape
                oh, ow = (H - FH) // s + 1, (W - FW) // s + 1
                out = np.zeros((N, FN, oh, ow), dtype=x.dtype)
                for n in range(N):
                    for f in range(FN):
                        for i in range(oh):
                            for j in range(ow):
                                win = self.xp[n, :, i*s:i*s+FH, j*s:j*s+FW]
                                out[n, f, i, j] = (win * self.W[f]).sum() \
                                    + self.b[f]
                return out
            def backward(self, dout):
                p, s = self.pad, self.stride
                FN, C, FH, FW = self.W.shape
                dxp = np.zeros_like(self.xp)
                self.dW = np.zeros_like(self.W)
                self.db = dout.sum(axis=(0, 2, 3)).astype(dout.dtype)
                N, _, oh, ow = dout.shape
                for n in range(N):
                    for f in range(FN):
                        for i in range(oh):
                            for j in range(ow):
                                g = dout[n, f, i, j]
                                sl = (n, slice(None), slice(i*s, i*s+FH),
                                      slice(j*s, j*s+FW))
                                dxp[sl] += g * self.W[f]
                                self.dW[f] += g * self.xp[sl]
                H, W = dxp.shape[2:]
                return dxp[:, :, p:H - p, p:W - p]
    """)
    results = run_inprocess(ch07, {"Convolution": slow})
    ok, message = results["test_Pooling_milestone_mnist"]
    assert not ok and "too slow" in message and \
        "in Convolution alone" in message, message
