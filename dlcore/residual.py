"""A residual block: y = F(x) + shortcut(x) (chapter 7, He et al. 2016).

``Residual(layers)`` runs ``layers`` in sequence (that is F) and adds the
block's input to what comes out. The addition is chapter 4's add node:
backward hands ``dout`` unchanged to the shortcut and, through F's layers
in reverse, to x; the two gradients are summed. So however deep a stack of
blocks is, every block's input has a path for its gradient that goes
through no weights at all.

The block follows the layers' contract (``forward``, ``backward``,
``params``, ``grads``), so it can stand wherever a layer can, including
inside another block.
"""

import inspect

__all__ = ["Residual"]


def _takes_train_flg(layer):
    """Whether ``layer.forward`` has a ``train_flg`` argument (batch norm,
    dropout, a nested block)."""
    try:
        return "train_flg" in inspect.signature(layer.forward).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


class Residual:
    """y = F(x) + x, F = ``layers`` run in order; or F(x) + S(x) with a
    ``shortcut`` layer S (a 1x1 convolution or an Affine where F changes
    the shape).

    x: any shape that F maps to the same shape (or to S(x)'s shape).
    dx = (dF/dx)^T dout + dout (or + S's backward of dout). ``params`` and
    ``grads`` gather the inner layers' arrays under ``"{key}{i}"``: layer
    i's own key (``W``, ``b``, ...) and its position in ``layers``
    (``"W0"``, ``"b0"``, ``"W2"``, ...), and the shortcut's as
    ``"{key}_s"``.
    """

    def __init__(self, layers, shortcut=None):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Residual needs at least one layer in F")
        for layer in self.layers + ([shortcut] if shortcut else []):
            if not (callable(getattr(layer, "forward", None))
                    and callable(getattr(layer, "backward", None))):
                raise TypeError(
                    f"Residual: {type(layer).__name__} is not a layer "
                    f"(it needs forward(x) and backward(dout))")
        self.shortcut = shortcut
        self._flags = [_takes_train_flg(layer) for layer in self.layers]
        self._shortcut_flag = shortcut is not None and _takes_train_flg(shortcut)

    def _named(self):
        """(name, layer) for every inner layer: F's by position, then S."""
        named = [(str(i), layer) for i, layer in enumerate(self.layers)]
        if self.shortcut is not None:
            named.append(("_s", self.shortcut))
        return named

    def _gathered(self, attr):
        """The inner layers' ``attr`` dicts (params or grads) in one, each
        key suffixed by its layer's name."""
        return {f"{key}{name}": array
                for name, layer in self._named()
                for key, array in (getattr(layer, attr, None) or {}).items()}

    @property
    def params(self):
        return self._gathered("params")

    @property
    def grads(self):
        return self._gathered("grads")

    def forward(self, x, train_flg=True):
        """x -> F(x) + x (or + shortcut(x)), F(x)'s shape and dtype.
        ``train_flg`` reaches the inner layers that take it."""
        h = x
        for layer, flag in zip(self.layers, self._flags):
            h = layer.forward(h, train_flg) if flag else layer.forward(h)
        if self.shortcut is None:
            skip = x
        elif self._shortcut_flag:
            skip = self.shortcut.forward(x, train_flg)
        else:
            skip = self.shortcut.forward(x)
        if h.shape != skip.shape:
            raise ValueError(
                f"Residual: F maps x of shape {tuple(x.shape)} to "
                f"{tuple(h.shape)}, but the shortcut gives "
                f"{tuple(skip.shape)}; give a shortcut layer that "
                f"matches F's output shape")
        return h + skip

    def backward(self, dout):
        """dout: the output's shape -> dx, x's shape; the inner layers'
        gradients are left in their ``grads`` (and in ``self.grads``)."""
        dh = dout
        for layer in reversed(self.layers):
            dh = layer.backward(dh)
        dskip = dout if self.shortcut is None else self.shortcut.backward(dout)
        return dh + dskip
