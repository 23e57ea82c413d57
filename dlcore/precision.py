"""Dynamic loss scaling for mixed-precision training (chapter 8).

float16 gradients underflow to zero when they are small. Multiplying the
loss by a large ``scale`` lifts them into float16's range; the optimizer
then gets them divided back in float32. When a step overflows (inf or NaN),
it is skipped and the scale shrinks; after a long run of good steps the
scale grows again, to use as much of the range as is safe.
"""

import numpy as np

from dlcore.backend import get_array_module
from dlcore.guard import reference

__all__ = ["LossScaler"]


@reference("LossScaler")
class LossScaler:
    """Keeps ``scale`` as large as it can be without overflowing.

    step(optimizer, params, grads) -> bool: grads (of loss * scale, any
    float dtype) are divided by scale in float32; on inf or NaN the step is
    skipped (params untouched), scale *= backoff_factor and False is
    returned; otherwise optimizer.update(params, unscaled) runs and, after
    growth_interval good steps in a row, scale *= growth_factor.
    """

    def __init__(self, init_scale=65536.0, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000):
        self.scale = float(init_scale)
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = growth_interval
        self.good_steps = 0  # good steps in a row since the last change

    def unscale(self, grads):
        """{key: float32(g) / scale}: a new dict; grads are left alone."""
        unscaled = {}
        # a float64 grad too large for float32 becomes inf: that is the
        # overflow step() looks for, not a warning to print
        with np.errstate(over="ignore"):
            for key, g in grads.items():
                xp = get_array_module(g)
                g32 = g.astype(xp.float32)
                unscaled[key] = g32 / xp.float32(self.scale)
        return unscaled

    def step(self, optimizer, params, grads):
        """One optimizer step on unscaled grads, or none if they overflowed."""
        unscaled = self.unscale(grads)
        finite = all(bool(get_array_module(g).isfinite(g).all())
                     for g in unscaled.values())
        if not finite:
            self.scale *= self.backoff_factor
            self.good_steps = 0
            return False
        optimizer.update(params, unscaled)
        self.good_steps += 1
        if self.good_steps >= self.growth_interval:
            self.scale *= self.growth_factor
            self.good_steps = 0
        return True
