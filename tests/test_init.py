"""dlcore.init: He and Xavier initial weights (chapter 6)."""

import numpy as np
import pytest

from dlcore.init import init_weight


@pytest.mark.parametrize("kind, gain", [("he", 2.0), ("xavier", 1.0)])
def test_std_and_shape(kind, gain):
    W = init_weight(200, 300, kind=kind, rng=np.random.default_rng(0))
    assert W.shape == (200, 300)
    expected = np.sqrt(gain / 200)
    # 60000 samples: the sample std is within 1% of the true one
    assert W.std() == pytest.approx(expected, rel=0.01)
    assert abs(W.mean()) < 0.02 * expected


def test_he_is_the_default_and_std_depends_on_fan_in_only():
    rng = np.random.default_rng(1)
    a = init_weight(50, 1000, rng=rng)
    b = init_weight(50, 1000, kind="he", rng=rng)
    assert a.std() == pytest.approx(np.sqrt(2 / 50), rel=0.02)
    assert b.std() == pytest.approx(a.std(), rel=0.02)


def test_seeded_rng_is_reproducible_and_none_works():
    a = init_weight(3, 4, rng=np.random.default_rng(5))
    b = init_weight(3, 4, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert init_weight(3, 4).shape == (3, 4)


def test_unknown_kind_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"'he'.*'xavier'"):
        init_weight(3, 4, kind="glorot")
