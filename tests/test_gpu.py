"""dlcore on a real GPU (CuPy): run by ``make test-gpu`` (pytest -m gpu).

The cases of test_standin_backend.py (every activation, loss, layer forward
and backward, im2col/col2im, optimizer, net gradient, the trainer) run on
CuPy arrays in float64, float32 and float16 where they apply, against the
NumPy results; then SimpleConvNet is trained on the digits on the GPU and
on the CPU, and must reach the same accuracy.

Where CuPy or a working CUDA GPU is missing every test here is skipped,
and the skip says why and what to install; with ``DLCORE_REQUIRE_GPU=1``
(set by ``make test-gpu`` and scripts/gpu_run.sh) each such skip is a
failure instead (tests/conftest.py), so a GPU run cannot be green without a
GPU. The float32 cases compare with NumPy at float32 tolerances, so they
run with TF32 off (``backend.tf32(False)``) even where ``CUPY_TF32=1``.
"""

import contextlib
import os

import numpy as np
import pytest

from dlcore import backend, layers, nets
from dlcore.datasets import load_digits
from dlcore.trainer import Trainer
from test_standin_backend import (
    NUMPY,
    Device,
    assert_results_match,
    case_params,
    run,
)

pytestmark = pytest.mark.gpu

# (rtol, atol relative to the result's largest magnitude) per dtype: cuBLAS
# and CuPy's reductions add in another order than NumPy.
TOLERANCE = {"float64": (1e-9, 1e-12), "float32": (1e-4, 1e-5),
             "float16": (2e-2, 2e-2)}
# Central differences in float32 (h = 1e-4) amplify rounding 1e4-fold.
CASE_TOLERANCE = {("numerical_gradient, gradient_descent", "float32"):
                  (1e-2, 1e-3)}


@pytest.fixture(scope="module")
def gpu():
    """The CuPy device, proven to compute (a kernel and a matrix product),
    with float32 products pinned to full float32; skips with the reason
    where there is none."""
    problem = backend.gpu_problem()
    if problem:
        pytest.skip(problem)
    import cupy

    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(backend.tf32(False))
        except backend.BackendError as err:
            forced = os.environ.get("CUPY_TF32", "0")
            if forced not in ("", "0"):
                pytest.skip(f"CUPY_TF32={forced} forces TF32 and it cannot "
                            f"be switched off here ({err}): float32 results "
                            f"would miss NumPy's by more than the "
                            f"tolerance; unset CUPY_TF32 to run these tests")
        yield Device("cupy", cupy.asarray, cupy)


@pytest.mark.parametrize("name, dtype", case_params())
def test_cupy_gives_numpys_numbers(gpu, name, dtype):
    expected = run(NUMPY, name, dtype)
    actual = run(gpu, name, dtype)
    if name == "Trainer":
        # Adam turns rounding-level differences of near-zero gradients
        # into full steps, so weights drift apart; the path must not.
        np.testing.assert_allclose(actual["loss"], expected["loss"],
                                   rtol=1e-2, err_msg="training loss")
        for key in ("train_acc", "test_acc"):
            np.testing.assert_allclose(actual[key], expected[key], atol=0.05,
                                       err_msg=key)
        return
    rtol, atol = CASE_TOLERANCE.get((name, dtype), TOLERANCE[dtype])
    assert_results_match(name, expected, actual, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_dropout_masks_are_drawn_on_the_gpu(gpu, dtype):
    cupy = gpu.xp
    layer = layers.Dropout(0.25, rng=np.random.default_rng(0))
    x = cupy.ones((200, 100), dtype=dtype)
    y = layer.forward(x)
    assert isinstance(y, cupy.ndarray) and y.dtype == x.dtype
    assert isinstance(layer.mask, cupy.ndarray)
    mask = backend.to_cpu(layer.mask)
    assert set(np.unique(mask)) == {0.0, np.dtype(dtype).type(1 / 0.75)}
    assert abs((mask > 0).mean() - 0.75) < 0.02
    dout = cupy.arange(x.size, dtype=dtype).reshape(x.shape)
    np.testing.assert_array_equal(backend.to_cpu(layer.backward(dout)),
                                  backend.to_cpu(dout) * mask)


def test_one_line_switch_puts_the_nets_on_the_gpu(gpu):
    saved = backend._active
    try:
        backend.use("cupy")
        assert backend.active() == "cupy" and backend.xp() is gpu.xp
        net = nets.SimpleConvNet((1, 8, 8), {"filter_num": 4,
                                             "filter_size": 3, "pad": 1},
                                 rng=0, dtype=np.float32)
    finally:
        backend._active = saved
    for key, p in net.params.items():
        assert isinstance(p, gpu.xp.ndarray), key
        assert p.dtype == np.float32, key
    host = backend.to_cpu(net.params)
    assert all(isinstance(p, np.ndarray) for p in host.values())
    back = backend.to_gpu(host)
    np.testing.assert_array_equal(backend.to_cpu(back["W1"]), host["W1"])


def train_digits(device, epochs=5):
    """SimpleConvNet on the digits in float32 on ``device``; its history."""
    (x_train, t_train), (x_test, t_test) = load_digits(flatten=False,
                                                       dtype=np.float32)
    with device.active():
        net = nets.SimpleConvNet((1, 8, 8), {"filter_num": 16,
                                             "filter_size": 3, "pad": 1},
                                 hidden_size=50, weight_init_std="he",
                                 rng=0, dtype=np.float32)
    trainer = Trainer(net, device.put(x_train), device.put(t_train),
                      device.put(x_test), device.put(t_test), epochs=epochs,
                      mini_batch_size=50, optimizer="adam",
                      optimizer_param={"lr": 0.01}, progress=False, rng=0)
    history = trainer.train()
    assert all(isinstance(p, device.xp.ndarray)
               for p in net.params.values())
    return history


def test_training_on_the_gpu_matches_the_cpu(gpu):
    cpu = train_digits(NUMPY)
    gpu_history = train_digits(gpu)
    # the first loss (before any step) agrees to rounding, the next ones
    # closely; the end agrees in accuracy
    np.testing.assert_allclose(gpu_history["loss"][0], cpu["loss"][0],
                               rtol=1e-5)
    np.testing.assert_allclose(gpu_history["loss"][:10], cpu["loss"][:10],
                               rtol=1e-2)
    assert cpu["test_acc"][-1] > 0.9, cpu["test_acc"]
    assert abs(gpu_history["test_acc"][-1] - cpu["test_acc"][-1]) <= 0.02, (
        f"test accuracy: GPU {gpu_history['test_acc']} vs CPU "
        f"{cpu['test_acc']}")
