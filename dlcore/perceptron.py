"""Perceptrons: logic gates and Rosenblatt's learning rule (chapter 1).

A perceptron fires (outputs 1) when ``w . x + b > 0``. AND, NAND and OR are
one perceptron each, with weights set by hand; XOR needs two layers.
"""

import numpy as np

from dlcore.guard import reference


def _perceptron(x1, x2, w, b):
    x = np.array([x1, x2], dtype=float)
    return int(np.dot(w, x) + b > 0)


@reference("and_gate")
def and_gate(x1, x2):
    """1 when both inputs are 1; inputs and output are 0/1 ints."""
    return _perceptron(x1, x2, np.array([0.5, 0.5]), -0.7)


@reference("nand_gate")
def nand_gate(x1, x2):
    """NOT AND: 0 only when both inputs are 1."""
    return _perceptron(x1, x2, np.array([-0.5, -0.5]), 0.7)


@reference("or_gate")
def or_gate(x1, x2):
    """1 when at least one input is 1."""
    return _perceptron(x1, x2, np.array([0.5, 0.5]), -0.2)


@reference("xor_gate")
def xor_gate(x1, x2):
    """1 when exactly one input is 1: NAND and OR feed an AND (two layers)."""
    return and_gate(nand_gate(x1, x2), or_gate(x1, x2))


def predict(X, w, b):
    """Perceptron outputs for X (N, D), weights w (D,), bias b: ints (N,)."""
    return (np.asarray(X) @ w + b > 0).astype(int)


@reference("train_perceptron")
def train_perceptron(X, y, lr=0.1, epochs=100, rng=None):
    """Rosenblatt's rule on X (N, D), labels y (N,) in {0, 1}.

    For each sample in turn, ``w += lr * (y - y_hat) * x`` and
    ``b += lr * (y - y_hat)``; an epoch with no mistake ends training.
    ``rng`` (a NumPy Generator), when given, shuffles the order each epoch.
    Returns ``(w, b)`` with w of shape (D,).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, D); got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"y must have shape ({X.shape[0]},), one label per row of X; "
            f"got shape {y.shape}"
        )
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold labels 0 and 1 only")
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(epochs):
        order = rng.permutation(len(X)) if rng is not None else range(len(X))
        mistakes = 0
        for i in order:
            error = y[i] - int(X[i] @ w + b > 0)
            if error:
                w += lr * error * X[i]
                b += lr * error
                mistakes += 1
        if mistakes == 0:
            break
    return w, b
