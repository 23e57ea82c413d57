"""The figures the chapters draw.

Each function draws on a new figure (or on the Axes it is given) and
returns the Figure; none calls ``plt.show()``, so they work under the Agg
backend, in notebooks (the figure shows as the cell's output) and in the
book. Arrays may be NumPy or CuPy; they are copied to the host first.
"""

import matplotlib.pyplot as plt
import numpy as np

from dlcore.backend import to_cpu

__all__ = [
    "plot_history",
    "plot_decision_boundary",
    "show_images",
    "show_filters",
    "plot_functions",
    "show_misclassified",
]


def plot_history(history, title=None):
    """Loss per iteration (left) and accuracy per epoch (right).

    ``history`` is a dict with "loss" (one value per iteration) and
    "train_acc", "test_acc" (one per epoch), as ``Trainer.train`` returns.
    Missing keys are skipped. Returns the Figure (two Axes).
    """
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss = history.get("loss", [])
    ax_loss.plot(np.arange(len(loss)), [float(v) for v in loss], lw=1)
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss")
    for key, style in (("train_acc", "-o"), ("test_acc", "--s")):
        acc = history.get(key, [])
        if len(acc):
            ax_acc.plot(np.arange(len(acc)), [float(v) for v in acc], style,
                        ms=3, label=key.replace("_acc", ""))
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1.02)
    if ax_acc.lines:
        ax_acc.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_decision_boundary(predict, X, t, ax=None, resolution=200, pad=0.25):
    """Regions that ``predict`` assigns to each class, with the points X.

    ``predict`` maps points (M, 2) to class indices (M,) or to scores
    (M, K) (their argmax is taken). X (N, 2), t (N,) indices or (N, K)
    one-hot. Returns the Figure.
    """
    X, t = to_cpu(X), to_cpu(t)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2); got {X.shape}")
    if t.ndim == 2:
        t = t.argmax(axis=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    (x0, y0), (x1, y1) = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution),
                         np.linspace(y0, y1, resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()]).astype(X.dtype)
    z = to_cpu(predict(grid))
    if z.ndim == 2:
        z = z.argmax(axis=1)
    levels = np.arange(max(z.max(), t.max()) + 2) - 0.5
    ax.contourf(gx, gy, z.reshape(gx.shape), levels=levels,
                cmap="tab10", alpha=0.25, vmin=0, vmax=9)
    ax.scatter(X[:, 0], X[:, 1], c=t, cmap="tab10", vmin=0, vmax=9,
               s=14, edgecolors="k", linewidths=0.3)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    return ax.figure


def _grid(n, ncols, scale):
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(scale * ncols, scale * nrows))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    return fig, axes.ravel()


def show_images(images, labels=None, ncols=8, cmap="gray_r"):
    """A grid of gray images with optional titles.

    ``images``: (N, H, W), (N, 1, H, W), or (N, D) with D a square
    (64 for digits, 784 for MNIST). ``labels``: N titles or None.
    Returns the Figure (one Axes per grid cell, one image per input).
    """
    images = to_cpu(images)
    n = len(images)
    if n == 0:
        raise ValueError("no images to show")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    elif images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(
                f"cannot make square images from rows of {images.shape[1]}"
            )
        images = images.reshape(n, side, side)
    if images.ndim != 3:
        raise ValueError(
            "images must be (N, H, W), (N, 1, H, W) or (N, D) with D square; "
            f"got {images.shape}"
        )
    fig, axes = _grid(n, ncols, scale=1.2)
    for i in range(n):
        axes[i].imshow(images[i], cmap=cmap, interpolation="nearest")
        if labels is not None:
            axes[i].set_title(str(labels[i]), fontsize=9)
    fig.tight_layout()
    return fig


def show_filters(W, ncols=8, channel=0):
    """A conv layer's filters W (FN, C, FH, FW) as images, one per filter.

    Shows input channel ``channel`` of each filter, each on its own
    symmetric colour scale (grey is 0). Returns the Figure.
    """
    W = to_cpu(W)
    if W.ndim != 4:
        raise ValueError(f"W must have shape (FN, C, FH, FW); got {W.shape}")
    fig, axes = _grid(len(W), ncols, scale=1.0)
    for i, w in enumerate(W[:, channel]):
        lim = float(np.abs(w).max()) or 1.0
        axes[i].imshow(w, cmap="gray", vmin=-lim, vmax=lim,
                       interpolation="nearest")
    fig.tight_layout()
    return fig


def plot_functions(functions, x=None, ax=None, title=None):
    """Curves of named functions: ``{"sigmoid": f, "sigmoid'": df, ...}``.

    Each f maps an array to an array of the same shape. ``x`` defaults to
    np.linspace(-5, 5, 201). A name ending in "'" is drawn dashed, so a
    function and its derivative read as a pair. Returns the Figure.
    """
    x = np.linspace(-5.0, 5.0, 201) if x is None else to_cpu(x)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for name, f in functions.items():
        y = to_cpu(f(x)).astype(float)
        ax.plot(x, y, "--" if name.endswith("'") else "-", label=name)
    ax.axhline(0, color="0.7", lw=0.8, zorder=0)
    ax.axvline(0, color="0.7", lw=0.8, zorder=0)
    ax.set_xlabel("x")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax.figure


def show_misclassified(images, t, y, ncols=8, max_images=24, cmap="gray_r"):
    """The images a classifier got wrong, titled "true -> predicted".

    ``images`` as for :func:`show_images`; ``t`` the true labels (N,) or
    one-hot (N, K); ``y`` the predicted labels (N,) or scores (N, K)
    (their argmax is taken). Shows the first ``max_images`` mistakes in
    the order of ``images``; the Figure's suptitle says how many there
    are in all. With no mistakes, one empty Axes says so. Returns the
    Figure.
    """
    images, t, y = to_cpu(images), to_cpu(t), to_cpu(y)
    if t.ndim == 2:
        t = t.argmax(axis=1)
    if y.ndim == 2:
        y = y.argmax(axis=1)
    if not len(images) == len(t) == len(y):
        raise ValueError(f"images, t and y must have one entry per image; "
                         f"got {len(images)}, {len(t)} and {len(y)}")
    wrong = np.flatnonzero(t != y)
    if len(wrong) == 0:
        fig, ax = plt.subplots(figsize=(3, 1))
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"no mistakes in {len(t)} images",
                ha="center", va="center")
        return fig
    shown = wrong[:max_images]
    fig = show_images(images[shown],
                      labels=[f"{t[i]} \u2192 {y[i]}" for i in shown],
                      ncols=ncols, cmap=cmap)
    fig.suptitle(f"{len(wrong)} of {len(t)} misclassified "
                 f"(true \u2192 predicted)", fontsize=10)
    fig.tight_layout()
    return fig
