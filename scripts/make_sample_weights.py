"""Make the "given weights" of chapter 2: dlcore/data/sample_weights.npz.

Chapter 2 runs a trained network forward before the course has shown how
to train one, the way the book ships sample_weight.pkl for MNIST. Ours is a
64-50-100-10 network with sigmoid hidden layers and an identity output
(what ``dlcore.nets.forward`` computes) for scikit-learn's 8x8 digits.

Recipe (deterministic: fixed seeds, NumPy only):
- data: ``load_digits()`` training split (1,347 images, seed 0);
- net: ``MultiLayerNet(64, [50, 100], 10, activation="sigmoid",
  weight_init_std="xavier", rng=default_rng(SEED))``, trained with softmax
  cross-entropy (the softmax is dropped at inference: the largest score
  wins either way);
- training: Adam (lr 0.01), mini-batches of 50, EPOCHS epochs, mini-batch
  order from ``default_rng(SEED)``;
- saved as float32 with ``np.savez_compressed``.

Usage::

    python scripts/make_sample_weights.py           # write the file
    python scripts/make_sample_weights.py --check   # compare with it

On another CPU or BLAS the last bits of the weights may differ; --check
reports the largest difference and the accuracy of both.
"""

import argparse
from pathlib import Path

import numpy as np

from dlcore.datasets import load_digits
from dlcore.nets import MultiLayerNet, forward
from dlcore.trainer import Trainer

SEED = 0
EPOCHS = 40
KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")
TARGET = Path(__file__).resolve().parents[1] / "dlcore" / "data" / "sample_weights.npz"


def train():
    """The trained weights as a dict of float32 arrays."""
    (x_train, t_train), (x_test, t_test) = load_digits()
    net = MultiLayerNet(64, [50, 100], 10, activation="sigmoid",
                        weight_init_std="xavier",
                        rng=np.random.default_rng(SEED))
    Trainer(net, x_train, t_train, x_test, t_test, epochs=EPOCHS,
            mini_batch_size=50, optimizer="adam",
            optimizer_param={"lr": 0.01}, progress=False,
            rng=np.random.default_rng(SEED)).train()
    return {key: net.params[key].astype(np.float32) for key in KEYS}


def digits_test_accuracy(network):
    """Accuracy of ``forward(network, x)`` on the digits test split (float32)."""
    _, (x_test, t_test) = load_digits(dtype=np.float32)
    return float((forward(network, x_test).argmax(axis=1) == t_test).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare a fresh training run with the shipped file")
    args = parser.parse_args()
    weights = train()
    print(f"test accuracy of the new weights: {digits_test_accuracy(weights):.4f}")
    if args.check:
        with np.load(TARGET) as npz:
            shipped = {key: npz[key] for key in KEYS}
        diff = max(float(np.abs(weights[k] - shipped[k]).max()) for k in KEYS)
        print(f"test accuracy of {TARGET.name}: {digits_test_accuracy(shipped):.4f}")
        print(f"largest difference between them: {diff:.3g}")
        return
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(TARGET, **weights)
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
