"""dlcore.augment: shifts and rotations of images, checked against plain
references (slicing, np.rot90 and, where SciPy is present, its bilinear
rotation)."""

import numpy as np
import pytest

from dlcore.augment import random_augment, rotate, shift


def images(shape=(3, 2, 9, 7), seed=0, dtype=np.float64):
    return np.random.default_rng(seed).random(shape).astype(dtype)


# ---------------------------------------------------------------- shift

def reference_shift(img, dy, dx):
    """One (C, H, W) image moved by looping over its pixels."""
    C, H, W = img.shape
    out = np.zeros_like(img)
    for i in range(H):
        for j in range(W):
            if 0 <= i - dy < H and 0 <= j - dx < W:
                out[:, i, j] = img[:, i - dy, j - dx]
    return out


@pytest.mark.parametrize("dy, dx", [(0, 0), (1, 0), (0, -2), (-3, 2),
                                    (2, 2), (9, 0), (0, -7)])
def test_shift_matches_a_pixel_loop(dy, dx):
    x = images()
    before = x.copy()
    y = shift(x, dy, dx)
    assert y.shape == x.shape and y.dtype == x.dtype
    for n in range(len(x)):
        np.testing.assert_array_equal(y[n], reference_shift(x[n], dy, dx),
                                      err_msg=f"shift by ({dy}, {dx})")
    np.testing.assert_array_equal(x, before)  # the input is untouched


def test_shift_per_image_and_flat_rows():
    x = images((4, 1, 5, 5))
    dy, dx = np.array([0, 1, -1, 1]), np.array([2, 0, -1, 0])
    y = shift(x, dy, dx)
    for n in range(4):
        np.testing.assert_array_equal(y[n],
                                      reference_shift(x[n], dy[n], dx[n]))
    flat = shift(x.reshape(4, 25), dy, dx)
    assert flat.shape == (4, 25)
    np.testing.assert_array_equal(flat, y.reshape(4, 25))


def test_shift_errors():
    x = images()
    with pytest.raises(ValueError, match="whole pixels"):
        shift(x, 0.5, 0)
    with pytest.raises(ValueError, match="one value per image"):
        shift(x, [1, 2], 0)
    with pytest.raises(ValueError, match="square"):
        shift(np.zeros((2, 10)), 1, 1)


# ---------------------------------------------------------------- rotate

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotate_by_zero_and_by_right_angles(dtype):
    x = images((3, 2, 7, 7), dtype=dtype)
    y = rotate(x, 0)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, x)
    # counter-clockwise as displayed: np.rot90's direction
    for k, degrees in ((1, 90), (2, 180), (3, -90)):
        np.testing.assert_allclose(rotate(x, degrees),
                                   np.rot90(x, k, axes=(2, 3)), atol=1e-6,
                                   err_msg=f"rotate by {degrees}")


def test_rotate_matches_scipy_bilinear():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = images()
    angles = np.array([17.3, -40.0, 5.0])
    y = rotate(x, angles)
    for n, a in enumerate(angles):
        # scipy's axes=(2, 1) turns from x towards y: counter-clockwise
        ref = ndimage.rotate(x[n], a, axes=(2, 1), reshape=False, order=1,
                             mode="grid-constant", cval=0.0)
        np.testing.assert_allclose(y[n], ref, atol=1e-12,
                                   err_msg=f"rotate by {a} degrees")


def test_rotate_keeps_a_centred_digit():
    # a blob in the middle of a 28x28 image barely changes its mass
    yy, xx = np.mgrid[:28, :28]
    blob = np.exp(-((yy - 13.5) ** 2 + (xx - 13.5) ** 2) / 20.0)
    x = blob.reshape(1, 784)
    y = rotate(x, 15.0)
    assert y.shape == (1, 784)
    assert y.sum() == pytest.approx(x.sum(), rel=1e-3)


# ---------------------------------------------------------------- random

def test_random_augment_is_seeded_and_bounded():
    x = images((20, 1, 28, 28), dtype=np.float32)
    before = x.copy()
    a = random_augment(x, np.random.default_rng(3))
    b = random_augment(x, np.random.default_rng(3))
    c = random_augment(x, np.random.default_rng(4))
    assert a.shape == x.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(x, before)
    # with no rotation it is a shift of at most max_shift pixels
    d = random_augment(x, np.random.default_rng(5), max_shift=1,
                       max_degrees=0)
    for n in range(len(x)):
        assert any(np.array_equal(d[n], reference_shift(x[n], dy, dx))
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1)), n


def test_random_augment_on_the_stand_in_device():
    """No host NumPy call touches the images (so CuPy arrays flow
    through), and the numbers are NumPy's."""
    import standin

    x = images((5, 1, 8, 8))
    expected = random_augment(x, 0)
    try:
        y = random_augment(standin.to_device(x), 0)
    except AttributeError as err:  # the stand-in lacks an xp function
        pytest.skip(f"the stand-in's xp has no {err}")
    assert isinstance(y, standin.DeviceArray)
    np.testing.assert_allclose(standin.to_host(y), expected, atol=1e-12)
