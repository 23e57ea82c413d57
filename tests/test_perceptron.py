"""dlcore.perceptron: logic gates and Rosenblatt's rule (chapter 1)."""

import itertools

import numpy as np
import pytest

from dlcore.perceptron import (
    and_gate,
    nand_gate,
    or_gate,
    predict,
    train_perceptron,
    xor_gate,
)

TRUTH = {
    and_gate: [0, 0, 0, 1],
    nand_gate: [1, 1, 1, 0],
    or_gate: [0, 1, 1, 1],
    xor_gate: [0, 1, 1, 0],
}
INPUTS = list(itertools.product([0, 1], repeat=2))


@pytest.mark.parametrize("gate", TRUTH, ids=lambda g: g.__name__)
def test_truth_tables(gate):
    outputs = [gate(x1, x2) for x1, x2 in INPUTS]
    assert outputs == TRUTH[gate]
    assert all(type(y) is int for y in outputs)


def test_xor_is_not_linearly_separable_for_the_rule():
    X = np.array(INPUTS, dtype=float)
    y = np.array(TRUTH[xor_gate])
    w, b = train_perceptron(X, y, epochs=50)
    assert (predict(X, w, b) != y).any()


@pytest.mark.parametrize("gate", [and_gate, nand_gate, or_gate],
                         ids=lambda g: g.__name__)
def test_learns_the_gates(gate):
    X = np.array(INPUTS, dtype=float)
    y = np.array(TRUTH[gate])
    w, b = train_perceptron(X, y)
    assert w.shape == (2,)
    np.testing.assert_array_equal(predict(X, w, b), y)


def test_zero_error_on_a_separable_set(rng):
    X = rng.standard_normal((200, 3))
    w_true, b_true = np.array([1.0, -2.0, 0.5]), 0.3
    margin = X @ w_true + b_true
    keep = np.abs(margin) > 0.2  # a margin makes convergence quick
    X, y = X[keep], (margin[keep] > 0).astype(int)
    w, b = train_perceptron(X, y, lr=0.1, epochs=100, rng=rng)
    assert w.shape == (3,)
    np.testing.assert_array_equal(predict(X, w, b), y)


def test_inputs_not_modified(rng):
    X = rng.standard_normal((20, 2))
    y = (X[:, 0] > 0).astype(int)
    X0, y0 = X.copy(), y.copy()
    train_perceptron(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_clear_errors_on_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        train_perceptron(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        train_perceptron(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="0 and 1"):
        train_perceptron(np.zeros((2, 2)), np.array([0, 2]))
