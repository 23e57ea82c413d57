"""Nodes of a computational graph: multiply and add (chapter 4).

Each node computes its output in ``forward`` and, in ``backward``, turns
the gradient arriving from above (dout) into gradients for its inputs by
the chain rule: local derivative times dout.
"""

from dlcore.guard import reference

__all__ = ["MulLayer", "AddLayer"]


@reference("MulLayer")
class MulLayer:
    """z = x * y; dz/dx = y and dz/dy = x, so the inputs swap in backward.

    x, y: numbers or arrays of one shape.
    """

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        """z = x * y (keeps x and y for backward)."""
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout):
        """(dx, dy) = (dout * y, dout * x)."""
        dx = dout * self.y
        dy = dout * self.x
        return dx, dy


@reference("AddLayer")
class AddLayer:
    """z = x + y; both local derivatives are 1, so dout passes through."""

    def __init__(self):
        pass

    def forward(self, x, y):
        """z = x + y."""
        return x + y

    def backward(self, dout):
        """(dx, dy) = (dout, dout)."""
        dx = dout * 1
        dy = dout * 1
        return dx, dy
