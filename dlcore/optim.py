"""Optimizers: SGD, Momentum, AdaGrad, RMSprop, Adam, and learning-rate
schedules (chapter 6).

Every optimizer has ``update(params, grads)``: params and grads are dicts
with the same keys, and the arrays in ``params`` are changed in place (so
the layers that hold them see the new values). Per-parameter state (a
velocity, a sum of squares) is created lazily with ``zeros_like``, so an
optimizer works on any dict of arrays and keeps their dtype.

A schedule is a callable ``schedule(step) -> float``: the learning rate of
update number ``step``, counted from 0. ``Trainer(..., lr_schedule=...)``
sets ``optimizer.lr`` from it before every update.
"""

import math

from dlcore.backend import get_array_module
from dlcore.guard import reference

# __all__ names the optimizers, which share update(params, grads); the
# schedules at the end (ConstantLR, StepDecay, CosineDecay, WarmUp) are
# public too, imported by name.
__all__ = ["SGD", "Momentum", "AdaGrad", "RMSprop", "Adam"]


@reference("SGD")
class SGD:
    """Stochastic gradient descent: p <- p - lr * g."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        """Change every params[key] in place."""
        for key in params:
            params[key] -= self.lr * grads[key]


@reference("Momentum")
class Momentum:
    """v <- momentum * v - lr * g (v starts at 0); p <- p + v."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = {}

    def update(self, params, grads):
        """Change every params[key] in place."""
        for key in params:
            if key not in self.v:
                self.v[key] = get_array_module(params[key]).zeros_like(
                    params[key])
            self.v[key] *= self.momentum
            self.v[key] -= self.lr * grads[key]
            params[key] += self.v[key]


@reference("AdaGrad")
class AdaGrad:
    """h <- h + g^2; p <- p - lr * g / (sqrt(h) + 1e-7).

    Each parameter's step shrinks as its squared gradients add up.
    """

    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = {}

    def update(self, params, grads):
        """Change every params[key] in place."""
        for key in params:
            xp = get_array_module(params[key])
            if key not in self.h:
                self.h[key] = xp.zeros_like(params[key])
            g = grads[key]
            self.h[key] += g * g
            params[key] -= self.lr * g / (xp.sqrt(self.h[key]) + 1e-7)


@reference("RMSprop")
class RMSprop:
    """h <- decay * h + (1 - decay) * g^2; p <- p - lr * g / (sqrt(h) + 1e-7).

    Like AdaGrad, but old gradients fade, so steps do not shrink to zero.
    """

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = {}

    def update(self, params, grads):
        """Change every params[key] in place."""
        for key in params:
            xp = get_array_module(params[key])
            if key not in self.h:
                self.h[key] = xp.zeros_like(params[key])
            g = grads[key]
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * g * g
            params[key] -= self.lr * g / (xp.sqrt(self.h[key]) + 1e-7)


@reference("Adam")
class Adam:
    """Momentum and RMSprop together, with bias correction (Kingma & Ba):

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + 1e-8),
    with the step count t starting at 1.
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = {}
        self.v = {}

    def update(self, params, grads):
        """Change every params[key] in place."""
        self.iter += 1
        t = self.iter
        b1, b2 = self.beta1, self.beta2
        for key in params:
            xp = get_array_module(params[key])
            if key not in self.m:
                self.m[key] = xp.zeros_like(params[key])
                self.v[key] = xp.zeros_like(params[key])
            g = grads[key]
            self.m[key] += (1 - b1) * (g - self.m[key])
            self.v[key] += (1 - b2) * (g * g - self.v[key])
            m_hat = self.m[key] / (1 - b1 ** t)
            v_hat = self.v[key] / (1 - b2 ** t)
            params[key] -= self.lr * m_hat / (xp.sqrt(v_hat) + 1e-8)


# ------------------------------------------------- learning-rate schedules

def _check_step(step):
    if step < 0:
        raise ValueError(f"step counts updates from 0; got {step}")


class ConstantLR:
    """lr(step) = lr for every step: no schedule at all."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def __call__(self, step):
        """The learning rate of update ``step`` (from 0): always ``lr``."""
        _check_step(step)
        return float(self.lr)

    def __repr__(self):
        return f"ConstantLR(lr={self.lr})"


class StepDecay:
    """lr(step) = lr * gamma ** (step // step_size).

    The rate is constant for ``step_size`` updates, then multiplied by
    ``gamma`` (0 < gamma <= 1), and so on: a staircase.
    """

    def __init__(self, lr, step_size, gamma=0.1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(
                f"step_size must be a positive integer; got {step_size}")
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1]; got {gamma}")
        self.lr = lr
        self.step_size = int(step_size)
        self.gamma = gamma

    def __call__(self, step):
        """The learning rate of update ``step`` (from 0), a float."""
        _check_step(step)
        return float(self.lr * self.gamma ** (step // self.step_size))

    def __repr__(self):
        return (f"StepDecay(lr={self.lr}, step_size={self.step_size}, "
                f"gamma={self.gamma})")


class CosineDecay:
    """lr(step) = min_lr + (lr - min_lr) * (1 + cos(pi * step / total_steps)) / 2.

    Half a cosine from ``lr`` at step 0 down to ``min_lr`` at
    ``total_steps``; after that it stays at ``min_lr``
    (Loshchilov & Hutter's SGDR without restarts).
    """

    def __init__(self, lr, total_steps, min_lr=0.0):
        if int(total_steps) != total_steps or total_steps < 1:
            raise ValueError(
                f"total_steps must be a positive integer; got {total_steps}")
        if not 0 <= min_lr <= lr:
            raise ValueError(
                f"min_lr must be in [0, lr]; got min_lr={min_lr}, lr={lr}")
        self.lr = lr
        self.total_steps = int(total_steps)
        self.min_lr = min_lr

    def __call__(self, step):
        """The learning rate of update ``step`` (from 0), a float."""
        _check_step(step)
        frac = min(step, self.total_steps) / self.total_steps
        return float(self.min_lr + (self.lr - self.min_lr)
                     * 0.5 * (1.0 + math.cos(math.pi * frac)))

    def __repr__(self):
        return (f"CosineDecay(lr={self.lr}, total_steps={self.total_steps}, "
                f"min_lr={self.min_lr})")


class WarmUp:
    """Linear warm-up in front of another schedule.

    lr(step) = after(0) * (step + 1) / warmup_steps  for step < warmup_steps,
    lr(step) = after(step - warmup_steps)            afterwards.

    The rate climbs in ``warmup_steps`` equal steps to the rate ``after``
    starts with (the first update already gets a small, non-zero rate);
    then ``after`` runs as if training had started there. ``after``: a
    schedule, or a number for a constant rate. For a cosine that ends at
    update T, give ``CosineDecay(lr, T - warmup_steps)``.
    """

    def __init__(self, after, warmup_steps):
        if int(warmup_steps) != warmup_steps or warmup_steps < 1:
            raise ValueError(
                f"warmup_steps must be a positive integer; got {warmup_steps}")
        self.after = after if callable(after) else ConstantLR(after)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        """The learning rate of update ``step`` (from 0), a float."""
        _check_step(step)
        if step < self.warmup_steps:
            return float(self.after(0) * (step + 1) / self.warmup_steps)
        return float(self.after(step - self.warmup_steps))

    def __repr__(self):
        return f"WarmUp({self.after!r}, warmup_steps={self.warmup_steps})"
