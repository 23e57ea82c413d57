"""dlcore.plot: every figure builds under the Agg backend."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlcore import plot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def n_images(fig):
    return sum(len(ax.images) for ax in fig.axes)


def test_plot_history():
    history = {"loss": list(np.linspace(2.3, 0.1, 50)),
               "train_acc": [0.5, 0.8, 0.9], "test_acc": [0.4, 0.7, 0.85]}
    fig = plot.plot_history(history)
    assert isinstance(fig, matplotlib.figure.Figure)
    ax_loss, ax_acc = fig.axes
    assert len(ax_loss.lines) == 1
    assert len(ax_loss.lines[0].get_xdata()) == 50
    assert len(ax_acc.lines) == 2
    np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), [0.4, 0.7, 0.85])
    fig.canvas.draw()


def test_plot_history_loss_only():
    fig = plot.plot_history({"loss": [1.0, 0.5]})
    assert len(fig.axes[1].lines) == 0


def test_plot_decision_boundary_on_given_axes():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (60, 2))
    t = (X[:, 0] > 0).astype(int)
    fig, ax = plt.subplots()
    calls = []

    def predict(points):
        calls.append(points.shape)
        return (points[:, 0] > 0).astype(int)

    out = plot.plot_decision_boundary(predict, X, t, ax=ax, resolution=50)
    assert out is fig
    assert calls == [(2500, 2)]
    assert len(ax.collections) >= 2  # filled contours and the scatter
    fig.canvas.draw()


def test_plot_decision_boundary_scores_and_one_hot():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    t = np.eye(3)
    fig = plot.plot_decision_boundary(lambda p: p @ np.ones((2, 3)), X, t)
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="N, 2"):
        plot.plot_decision_boundary(lambda p: p, np.zeros((3, 3)), t)


@pytest.mark.parametrize("shape", [(10, 64), (10, 1, 8, 8), (10, 8, 8)])
def test_show_images(shape):
    images = np.random.default_rng(1).random(shape)
    fig = plot.show_images(images, labels=list(range(10)), ncols=4)
    assert len(fig.axes) == 12  # 3 rows of 4
    assert n_images(fig) == 10
    assert fig.axes[3].get_title() == "3"
    assert fig.axes[0].images[0].get_array().shape == (8, 8)


def test_show_images_rejects_non_square_rows():
    with pytest.raises(ValueError, match="square"):
        plot.show_images(np.zeros((2, 10)))


def test_show_filters():
    W = np.random.default_rng(2).standard_normal((30, 1, 5, 5))
    fig = plot.show_filters(W, ncols=10)
    assert len(fig.axes) == 30 and n_images(fig) == 30
    with pytest.raises(ValueError, match="FN, C, FH, FW"):
        plot.show_filters(W[0])


def test_plot_functions():
    fig = plot.plot_functions({
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "sigmoid'": lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
    })
    (ax,) = fig.axes
    lines = [ln for ln in ax.lines if ln.get_label() in ("sigmoid", "sigmoid'")]
    assert [ln.get_linestyle() for ln in lines] == ["-", "--"]
    assert len(lines[0].get_xdata()) == 201


def test_show_misclassified():
    rng = np.random.default_rng(3)
    images = rng.random((12, 1, 8, 8))
    t = np.arange(12) % 10
    y = t.copy()
    y[[1, 4, 7]] = [9, 0, 2]
    scores = np.eye(10)[y]  # scores (N, K): the argmax is taken
    fig = plot.show_misclassified(images, np.eye(10)[t], scores, ncols=2)
    assert n_images(fig) == 3
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["1 \u2192 9", "4 \u2192 0", "7 \u2192 2"]
    assert "3 of 12" in fig._suptitle.get_text()
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(),
                                  images[4, 0])
    fig.canvas.draw()
    few = plot.show_misclassified(images.reshape(12, 64), t, y, max_images=2)
    assert n_images(few) == 2


def test_show_misclassified_without_mistakes_and_errors():
    t = np.array([3, 1, 4])
    fig = plot.show_misclassified(np.zeros((3, 8, 8)), t, t)
    assert n_images(fig) == 0
    assert "no mistakes in 3 images" in fig.axes[0].texts[0].get_text()
    with pytest.raises(ValueError, match="one entry per image"):
        plot.show_misclassified(np.zeros((3, 8, 8)), t, t[:2])
