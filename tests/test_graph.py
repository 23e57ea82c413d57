"""dlcore.graph: multiply and add nodes (chapter 4)."""

import numpy as np
import pytest

from dlcore.graph import AddLayer, MulLayer


def test_apple_example():
    # the seeds' shopping example: 2 apples at 100 each, 10% tax
    mul_apple, mul_tax = MulLayer(), MulLayer()
    price = mul_tax.forward(mul_apple.forward(100, 2), 1.1)
    assert price == pytest.approx(220.0)
    dapple_price, dtax = mul_tax.backward(1)
    dapple, dnum = mul_apple.backward(dapple_price)
    assert dapple == pytest.approx(2.2)
    assert dnum == pytest.approx(110.0)
    assert dtax == pytest.approx(200.0)


def test_apple_orange_example():
    mul_apple, mul_orange, mul_tax = MulLayer(), MulLayer(), MulLayer()
    add = AddLayer()
    apple = mul_apple.forward(100, 2)
    orange = mul_orange.forward(150, 3)
    price = mul_tax.forward(add.forward(apple, orange), 1.1)
    assert price == pytest.approx(715.0)
    dall, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add.backward(dall)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    assert (dapple, dapple_num) == pytest.approx((2.2, 110.0))
    assert (dorange, dorange_num) == pytest.approx((3.3, 165.0))
    assert dtax == pytest.approx(650.0)


def test_arrays_and_no_aliasing(rng):
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    dout = rng.standard_normal((2, 3))
    dout0 = dout.copy()
    mul = MulLayer()
    np.testing.assert_allclose(mul.forward(x, y), x * y)
    dx, dy = mul.backward(dout)
    np.testing.assert_allclose(dx, dout * y)
    np.testing.assert_allclose(dy, dout * x)
    add = AddLayer()
    np.testing.assert_allclose(add.forward(x, y), x + y)
    dx, dy = add.backward(dout)
    np.testing.assert_array_equal(dx, dout)
    np.testing.assert_array_equal(dy, dout)
    dx += 1  # a caller changing dx must not change dout or dy
    np.testing.assert_array_equal(dout, dout0)
    np.testing.assert_array_equal(dy, dout0)


def test_float32_kept(rng):
    x = rng.standard_normal(3).astype(np.float32)
    y = rng.standard_normal(3).astype(np.float32)
    d = np.ones(3, dtype=np.float32)
    for layer in (MulLayer(), AddLayer()):
        assert layer.forward(x, y).dtype == np.float32
        assert all(g.dtype == np.float32 for g in layer.backward(d))
