"""Draw the course map of the landing page: images/course_map.svg.

One box per chapter, with the graded items a learner writes there; an
arrow from chapter A to chapter B when B's lessons use what A built
(the ``dlcore`` imports of B's notebooks), labelled with what flows.

Usage::

    python scripts/draw_course_map.py                # write the SVG
    python scripts/draw_course_map.py --check        # compare with it

The SVG is deterministic for a given matplotlib version (fixed hash
salt, no date in the metadata); text is drawn as paths, so the figure
looks the same whatever fonts the reader's browser has.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "images" / "course_map.svg"

# chapter: (title, graded items, (x, y) of the box's centre).
# Two rows read as a snake: 1 to 4 left to right, 5 to 8 right to left.
CHAPTERS = {
    1: ("Perceptrons", "and_gate ... xor_gate,\ntrain_perceptron", (0, 1)),
    2: ("Activations and\nthe forward pass",
        "sigmoid, relu,\nsoftmax, forward", (1, 1)),
    3: ("Losses and\nlearning", "cross_entropy_error,\nnumerical_gradient",
        (2, 1)),
    4: ("Computational\ngraphs", "MulLayer, AddLayer", (3, 1)),
    5: ("Backpropagation", "Relu, Affine,\nSoftmaxWithLoss,\nTwoLayerNet",
        (3, 0)),
    6: ("Optimizers and\ntraining", "SGD ... Adam,\ninit_weight,\n"
        "BatchNormalization", (2, 0)),
    7: ("Convolutional\nnetworks", "im2col, col2im,\nConvolution,\nPooling",
        (1, 0)),
    8: ("GPUs and half\nprecision", "LossScaler", (0, 0)),
}

# (from, to, label, arc): arc bends the arrow (matplotlib's arc3 rad;
# 0 = straight).
EDGES = [
    (1, 2, "threshold\n→ activation", 0),
    (2, 3, "softmax,\nforward", 0),
    (3, 4, "numerical\ngradients\nare slow", 0),
    (4, 5, "add and\nmultiply nodes", 0),
    (3, 5, "gradient\nchecks", 0),
    (5, 6, "layers,\nnets", 0),
    (6, 7, "optimizers,\nTrainer", 0),
    (5, 7, "Affine, Relu, SoftmaxWithLoss", -0.4),
    (7, 8, "your layers\non a GPU", 0),
    (6, 8, "optimizers under loss scaling", 0.4),
]

DX, DY = 4.5, 3.4          # distance between box centres
BOX_W, BOX_H = 2.95, 1.75  # box size, data units
COLOURS = {1: "#dbe9f6", 0: "#fbe5d6"}  # by row: foundations, networks


def centre(ch):
    x, y = CHAPTERS[ch][2]
    return x * DX, y * DY


def label_position(a, b, arc):
    """Where the label of the arrow from chapter a to chapter b goes."""
    (xa, ya), (xb, yb) = centre(a), centre(b)
    mx, my = (xa + xb) / 2, (ya + yb) / 2
    if arc:  # on the curve: half the control point's offset (arc3)
        return mx + arc * (yb - ya) / 2, my - arc * (xb - xa) / 2
    if ya == yb:  # above the top row's arrows, below the bottom row's
        return mx, my + (0.5 if ya > 0 else -0.5)
    if xa == xb:  # on a vertical arrow
        return mx, my
    return mx - 0.95, my  # left of a diagonal


def draw():
    """The course map as a matplotlib Figure."""
    x0, x1 = -BOX_W / 2 - 0.1, 3 * DX + BOX_W / 2 + 0.1
    y0, y1 = -DX * 0.4 - 0.35, DY + BOX_H / 2 + 0.1
    width = 8.0  # inches; the axes fill the figure, one scale for x and y
    fig = plt.figure(figsize=(width, width * (y1 - y0) / (x1 - x0)))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")

    boxes = {}
    for ch, (title, items, (_, row)) in CHAPTERS.items():
        cx, cy = centre(ch)
        box = FancyBboxPatch(
            (cx - BOX_W / 2, cy - BOX_H / 2), BOX_W, BOX_H,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            fc=COLOURS[row], ec="#333333", lw=1.2, zorder=2)
        ax.add_patch(box)
        boxes[ch] = box
        ax.text(cx, cy + BOX_H / 2 - 0.12, f"{ch}. {title}", ha="center",
                va="top", fontsize=9, fontweight="bold", zorder=3,
                linespacing=1.15)
        ax.text(cx, cy - BOX_H / 2 + 0.12, items, ha="center",
                va="bottom", fontsize=7.5, family="monospace",
                color="#333333", zorder=3, linespacing=1.15)

    for a, b, label, arc in EDGES:
        ax.add_patch(FancyArrowPatch(
            posA=centre(a), posB=centre(b), patchA=boxes[a],
            patchB=boxes[b], arrowstyle="-|>", mutation_scale=13,
            lw=1.3, color="#555555", connectionstyle=f"arc3,rad={arc}",
            shrinkA=2, shrinkB=2, zorder=1))
        ax.text(*label_position(a, b, arc), label, ha="center",
                va="center", fontsize=8, color="#222222", zorder=4,
                linespacing=1.1,
                bbox=dict(boxstyle="round,pad=0.15", fc="white",
                          ec="none", alpha=0.9))
    return fig


def save(fig, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context({"svg.hashsalt": "course-map",
                         "svg.fonttype": "path"}):
        fig.savefig(path, format="svg", bbox_inches="tight",
                    metadata={"Date": None, "Creator": None})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare a fresh drawing with the file")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    fig = draw()
    if not args.check:
        save(fig, args.output)
        print(f"wrote {args.output}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "course_map.svg"
        save(fig, fresh)
        same = fresh.read_bytes() == args.output.read_bytes()
    print(f"{args.output} is {'up to date' if same else 'out of date'} "
          f"(matplotlib {matplotlib.__version__})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
