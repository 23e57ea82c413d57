"""Initial weights (chapter 6).

Weights start as small random numbers, scaled so that the spread of the
activations neither grows nor shrinks from layer to layer: He for ReLU,
Xavier (Glorot) for sigmoid and tanh.
"""

import numpy as np

from dlcore.guard import reference

__all__ = ["init_weight"]

_STD_GAIN = {"he": 2.0, "xavier": 1.0}  # std = sqrt(gain / fan_in)


@reference("init_weight")
def init_weight(fan_in, fan_out, kind="he", rng=None):
    """W ~ N(0, std^2), std = sqrt(2/fan_in) ("he"), sqrt(1/fan_in) ("xavier").

    Returns a float64 NumPy array (fan_in, fan_out). rng: a NumPy Generator,
    or None for a fresh one. Raises ValueError for another kind.
    """
    if kind not in _STD_GAIN:
        raise ValueError(
            f"unknown kind {kind!r}: choose one of {sorted(_STD_GAIN)}"
        )
    if rng is None:
        rng = np.random.default_rng()
    std = np.sqrt(_STD_GAIN[kind] / fan_in)
    return std * rng.standard_normal((fan_in, fan_out))
