"""Data augmentation: new training images from old ones (chapter 7).

A digit moved two pixels or turned by ten degrees is still the same digit,
so such copies are extra training data for free. Every function takes
images as (N, C, H, W), or as rows (N, D) with D a square (784 for MNIST,
one channel), returns a new array of the same shape and dtype, and leaves
its input unchanged. Pixels that come in from outside the image are 0.

- ``shift(x, dy, dx)``: move each image by whole pixels;
- ``rotate(x, degrees)``: turn each image about its centre (bilinear);
- ``random_augment(x, rng, max_shift, max_degrees)``: a random rotation,
  then a random shift, drawn independently for every image.
"""

import math

import numpy as np

from dlcore.backend import get_array_module

__all__ = ["shift", "rotate", "random_augment"]


def _as_images(x):
    """x (N, C, H, W) or (N, D) with D square -> (N, C, H, W) and a
    function that restores x's shape."""
    if x.ndim == 4:
        return x, lambda y: y
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side == x.shape[1]:
            return (x.reshape(len(x), 1, side, side),
                    lambda y: y.reshape(x.shape))
    raise ValueError(
        f"images must be (N, C, H, W) or (N, D) with D a square; got "
        f"shape {tuple(x.shape)}")


def _per_image(value, n, name):
    """A scalar or an (N,) sequence -> a NumPy array of N values."""
    values = np.broadcast_to(np.asarray(value), (n,)) if np.ndim(value) == 0 \
        else np.asarray(value)
    if values.shape != (n,):
        raise ValueError(f"{name} must be a number or one value per image "
                         f"({n}); got shape {values.shape}")
    return values


# ---------------------------------------------------------------- shift

def shift(x, dy, dx):
    """y[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]] (0 outside the image).

    dy, dx: whole pixels (positive: down, right), one number for all
    images or one per image (N,). x (N, C, H, W) or (N, D) -> x's shape.
    """
    images, restore = _as_images(x)
    N, _, H, W = images.shape
    dy = _per_image(dy, N, "dy")
    dx = _per_image(dx, N, "dx")
    if not (np.issubdtype(dy.dtype, np.integer)
            and np.issubdtype(dx.dtype, np.integer)):
        raise ValueError("shift moves by whole pixels: dy and dx must be "
                         "integers (rotate() handles fractions of a turn)")
    xp = get_array_module(x)
    out = xp.zeros_like(images)
    # one strided copy per distinct (dy, dx), for all images that use it
    for sy, sx in set(zip(dy.tolist(), dx.tolist())):
        if abs(sy) >= H or abs(sx) >= W:
            continue  # moved out entirely: stays 0
        rows = xp.asarray(np.flatnonzero((dy == sy) & (dx == sx)))
        src = images[rows][:, :, max(0, -sy):H - max(0, sy),
                           max(0, -sx):W - max(0, sx)]
        out[rows, :, max(0, sy):H - max(0, -sy),
            max(0, sx):W - max(0, -sx)] = src
    return restore(out)


# ---------------------------------------------------------------- rotate

def rotate(x, degrees):
    """Turn each image by ``degrees`` counter-clockwise (as displayed)
    about its centre, with bilinear interpolation.

    Output pixel (i, j) reads the input at (i', j') with, for the centre
    (c_i, c_j) = ((H - 1)/2, (W - 1)/2) and theta in radians:
    i' = c_i + (j - c_j) sin(theta) + (i - c_i) cos(theta),
    j' = c_j + (j - c_j) cos(theta) - (i - c_i) sin(theta).
    degrees: one number or one per image (N,). x (N, C, H, W) or (N, D)
    -> x's shape and dtype.
    """
    images, restore = _as_images(x)
    N, C, H, W = images.shape
    xp = get_array_module(x)
    theta = np.deg2rad(_per_image(degrees, N, "degrees").astype(np.float64))
    cos = xp.asarray(np.cos(theta)).reshape(N, 1, 1)
    sin = xp.asarray(np.sin(theta)).reshape(N, 1, 1)
    ci, cj = (H - 1) / 2, (W - 1) / 2
    i = (xp.arange(H) - ci).reshape(H, 1)  # broadcast to (N, H, W)
    j = (xp.arange(W) - cj).reshape(1, W)
    src_i = ci + j * sin + i * cos  # (N, H, W)
    src_j = cj + j * cos - i * sin
    i0, j0 = xp.floor(src_i), xp.floor(src_j)
    fi, fj = src_i - i0, src_j - j0  # the bilinear weights
    i0, j0 = i0.astype(np.int64), j0.astype(np.int64)
    # a border of zeros, one pixel wide
    padded = xp.pad(images, [(0, 0), (0, 0), (1, 1), (1, 1)])
    n = xp.arange(N).reshape(N, 1, 1)
    out = xp.zeros(images.shape, dtype=np.float64)
    for di, wi in ((0, 1 - fi), (1, fi)):
        for dj, wj in ((0, 1 - fj), (1, fj)):
            # a corner outside the image lands on the zero border
            ii = xp.clip(i0 + di, -1, H) + 1
            jj = xp.clip(j0 + dj, -1, W) + 1
            # padded[n, :, ii, jj] is (N, H, W, C): channels back to axis 1
            vals = padded[n, :, ii, jj].transpose(0, 3, 1, 2)
            out += (wi * wj)[:, None] * vals
    return restore(out.astype(images.dtype, copy=False))


# ---------------------------------------------------------------- random

def random_augment(x, rng=None, max_shift=2, max_degrees=10.0):
    """Each image turned by a uniform angle in [-max_degrees, max_degrees]
    and then moved by whole pixels, dy and dx uniform in
    {-max_shift, ..., max_shift}.

    rng: a NumPy Generator, a seed or None (draws happen on the host, so
    the same seed gives the same images on NumPy and CuPy). x (N, C, H, W)
    or (N, D) -> a new array, x's shape and dtype.
    """
    rng = np.random.default_rng(rng)
    n = len(x)
    angles = rng.uniform(-max_degrees, max_degrees, n)
    dy = rng.integers(-max_shift, max_shift + 1, n)
    dx = rng.integers(-max_shift, max_shift + 1, n)
    out = rotate(x, angles) if max_degrees else x
    return shift(out, dy, dx)
