"""Optimizers: SGD, Momentum, AdaGrad, RMSprop, Adam (chapter 6).

Every optimizer has ``update(params, grads)``: params and grads are dicts
with the same keys, and the arrays in ``params`` are changed in place (so
the layers that hold them see the new values). Per-parameter state (a
velocity, a sum of squares) is created lazily with ``zeros_like``, so an
optimizer works on any dict of arrays and keeps their dtype.
"""

from dlcore.backend import get_array_module
from dlcore.guard import reference

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
