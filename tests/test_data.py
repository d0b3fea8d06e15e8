"""Tests for kmgan.data: local formats, tf.data pipelines, mixtures, errors."""

import gzip
import io
import pickle
import struct
import sys
import tarfile
import types

import numpy as np
import pytest
import tensorflow as tf

from kmgan import data

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _batches(ds):
    """All batches of a dataset as lists of numpy arrays."""
    out = []
    for batch in ds:
        if isinstance(batch, tuple):
            out.append(tuple(np.asarray(t) for t in batch))
        else:
            out.append(np.asarray(batch))
    return out


def _assert_same_batches(ds_a, ds_b):
    a, b = _batches(ds_a), _batches(ds_b)
    assert len(a) == len(b)
    for batch_a, batch_b in zip(a, b):
        for t_a, t_b in zip(batch_a, batch_b):
            np.testing.assert_array_equal(t_a, t_b)


def _images(rng, n, shape):
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def _write_idx(path, array, gz=True):
    codes = {np.dtype("u1"): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    if gz:
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def _cifar_rows(x):
    """NHWC uint8 images -> CIFAR rows (N, 3*H*W), channel-major."""
    return x.transpose(0, 3, 1, 2).reshape(len(x), -1)


def _pickle_to(path, obj):
    path.write_bytes(pickle.dumps(obj, protocol=2))


def _fake_tfds(monkeypatch, load):
    """Installs a fake `tensorflow_datasets` module (no network, no import)."""
    fake = types.SimpleNamespace(load=load)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
    return fake


# ---------------------------------------------------------------------------
# The real MNIST subset (Keras-style .npz)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("split,num_examples", [("train", 4000), ("test", 1000)])
def test_load_npz_batches(mnist_npz, split, num_examples):
    batch_size = 128
    ds = data.load(str(mnist_npz), split=split, batch_size=batch_size, seed=0)
    assert int(ds.cardinality()) == num_examples // batch_size
    batches = _batches(ds)
    assert len(batches) == num_examples // batch_size
    seen_labels = set()
    for images, labels in batches:
        assert images.shape == (batch_size, 28, 28, 1)
        assert images.dtype == np.float32
        assert labels.shape == (batch_size,)
        assert labels.dtype == np.int32
        assert images.min() >= -1.0 and images.max() <= 1.0
        assert labels.min() >= 0 and labels.max() <= 9
        seen_labels.update(labels.tolist())
    assert seen_labels == set(range(10))
    # Real digits: mostly background (-1) with bright strokes (+1).
    assert images.min() == -1.0 and images.max() == 1.0


def test_load_npz_options(mnist_npz):
    ds = data.load(mnist_npz, batch_size=50, image_size=(32, 32), labels=False, max_examples=200)
    batches = _batches(ds)
    assert len(batches) == 4
    assert all(b.shape == (50, 32, 32, 1) for b in batches)
    assert all(b.min() >= -1.0 and b.max() <= 1.0 for b in batches)


def test_load_npz_matches_arrays_and_seed(mnist_npz):
    x, y = data.load_arrays(mnist_npz, split="test")
    assert x.shape == (1000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (1000,)
    with np.load(mnist_npz) as f:
        np.testing.assert_array_equal(x, f["x_test"])
    _assert_same_batches(
        data.load(mnist_npz, split="test", batch_size=100, shuffle=False),
        data.from_arrays(x, y, batch_size=100, shuffle=False),
    )
    first = _batches(data.load(mnist_npz, batch_size=64, seed=7).take(1))[0]
    again = _batches(data.load(mnist_npz, batch_size=64, seed=7).take(1))[0]
    other = _batches(data.load(mnist_npz, batch_size=64, seed=8).take(1))[0]
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


# ---------------------------------------------------------------------------
# from_arrays
# ---------------------------------------------------------------------------


def test_from_arrays_scaling_and_shapes(rng):
    x = _images(rng, 10, (4, 4))
    x[0, 0, 0] = 0
    x[0, 0, 1] = 255
    ((images, labels),) = _batches(data.from_arrays(x, np.arange(10), batch_size=10, shuffle=False))
    assert images.shape == (10, 4, 4, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images[..., 0], x / 127.5 - 1.0, atol=1e-6)
    assert images[0, 0, 0, 0] == -1.0 and images[0, 0, 1, 0] == 1.0
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, np.arange(10))

    floats = rng.uniform(-1, 1, size=(8, 4, 4, 3)).astype("float32")
    (out,) = _batches(data.from_arrays(floats, batch_size=8, shuffle=False))
    np.testing.assert_array_equal(out, floats)

    points = rng.normal(size=(8, 2)) * 10  # Toy data: not rescaled.
    (out,) = _batches(data.from_arrays(points, batch_size=8, shuffle=False))
    np.testing.assert_allclose(out, points.astype("float32"))


def test_from_arrays_resize_and_drop_remainder(rng):
    x = _images(rng, 70, (28, 28, 1))
    ds = data.from_arrays(x, batch_size=32, image_size=32)
    batches = _batches(ds)
    assert len(batches) == 2
    assert ds.element_spec.shape == (32, 32, 32, 1)
    assert all(b.min() >= -1.0 and b.max() <= 1.0 for b in batches)


def test_from_arrays_shuffle_is_a_permutation(rng):
    x = np.arange(64, dtype=np.float32).reshape(64, 1) / 64
    seen = np.concatenate(_batches(data.from_arrays(x, batch_size=16, seed=1)))
    assert not np.array_equal(seen, x)
    np.testing.assert_array_equal(np.sort(seen, axis=0), x)


# ---------------------------------------------------------------------------
# Local formats: idx, CIFAR pickles
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_matches_from_arrays(tmp_path, rng, gz):
    suffix = ".gz" if gz else ""
    arrays = {
        "train": (_images(rng, 40, (28, 28)), rng.integers(0, 10, 40).astype("u1")),
        "t10k": (_images(rng, 20, (28, 28)), rng.integers(0, 10, 20).astype("u1")),
    }
    for prefix, (x, y) in arrays.items():
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", x, gz)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", y, gz)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = arrays[prefix]
        x_loaded, y_loaded = data.load_arrays(tmp_path, split=split)
        np.testing.assert_array_equal(x_loaded, x)
        np.testing.assert_array_equal(y_loaded, y)
        _assert_same_batches(
            data.load(str(tmp_path), split=split, batch_size=10, shuffle=False),
            data.from_arrays(x, y, batch_size=10, shuffle=False),
        )


def _write_cifar10(folder, rng):
    folder.mkdir(parents=True)
    xs, ys = [], []
    for i in range(1, 6):
        x, y = _images(rng, 6, (32, 32, 3)), rng.integers(0, 10, 6)
        _pickle_to(
            folder / f"data_batch_{i}",
            {b"batch_label": b"x", b"labels": y.tolist(), b"data": _cifar_rows(x)},
        )
        xs.append(x)
        ys.append(y)
    x_test, y_test = _images(rng, 12, (32, 32, 3)), rng.integers(0, 10, 12)
    _pickle_to(
        folder / "test_batch",
        {b"labels": y_test.tolist(), b"data": _cifar_rows(x_test)},
    )
    _pickle_to(folder / "batches.meta", {b"label_names": [b"a"] * 10})
    return {"train": (np.concatenate(xs), np.concatenate(ys)), "test": (x_test, y_test)}


def _write_cifar100(folder, rng):
    folder.mkdir(parents=True)
    arrays = {}
    for split, n in (("train", 24), ("test", 12)):
        x, y = _images(rng, n, (32, 32, 3)), rng.integers(0, 100, n)
        _pickle_to(
            folder / split,
            {
                b"fine_labels": y.tolist(),
                b"coarse_labels": (y // 5).tolist(),
                b"data": _cifar_rows(x),
            },
        )
        arrays[split] = (x, y)
    _pickle_to(folder / "meta", {b"fine_label_names": [b"a"] * 100})
    return arrays


@pytest.mark.parametrize(
    "sub,writer",
    [("cifar-10-batches-py", _write_cifar10), ("cifar-100-python", _write_cifar100)],
)
def test_cifar_folder_matches_from_arrays(tmp_path, rng, sub, writer):
    arrays = writer(tmp_path / sub, rng)
    for split, (x, y) in arrays.items():
        for where in (tmp_path / sub, tmp_path):  # The folder or its parent.
            x_loaded, y_loaded = data.load_arrays(where, split=split)
            assert x_loaded.shape == x.shape and x_loaded.dtype == np.uint8
            np.testing.assert_array_equal(x_loaded, x)
            np.testing.assert_array_equal(y_loaded, y)
        _assert_same_batches(
            data.load(tmp_path / sub, split=split, batch_size=4, shuffle=False),
            data.from_arrays(x, y, batch_size=4, shuffle=False),
        )


def test_cifar_archive(tmp_path, rng):
    arrays = _write_cifar10(tmp_path / "cifar-10-batches-py", rng)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    x, y = data.load_arrays(archive, split="test")
    np.testing.assert_array_equal(x, arrays["test"][0])
    np.testing.assert_array_equal(y, arrays["test"][1])


def test_cifar_pickle_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    _pickle_to(folder / "test_batch", {b"labels": [0], b"data": Evil()})
    with pytest.raises(ValueError, match=r"refusing to load \S*print"):
        data.load_arrays(folder, split="test")


# ---------------------------------------------------------------------------
# Synthetic mixtures
# ---------------------------------------------------------------------------


def test_ring_centers_and_samples():
    np.testing.assert_allclose(
        data.ring_centers(num_modes=4, radius=2.0),
        [[2, 0], [0, 2], [-2, 0], [0, -2]],
        atol=1e-6,
    )
    points, modes = data.ring_of_gaussians(2000, seed=0)
    assert points.shape == (2000, 2) and points.dtype == np.float32
    assert modes.shape == (2000,) and modes.dtype == np.int32
    assert set(modes.tolist()) == set(range(8))
    centers = data.ring_centers()
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 1.0, atol=1e-6)
    distance = np.abs(points - centers[modes])
    assert distance.max() < 5 * 0.01


def test_grid_centers_and_samples():
    centers = data.grid_centers()
    assert centers.shape == (25, 2)
    assert set(map(tuple, centers.tolist())) == {
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    }
    points, modes = data.grid_of_gaussians(5000, seed=1)
    assert points.shape == (5000, 2) and modes.shape == (5000,)
    assert set(modes.tolist()) == set(range(25))
    assert np.abs(points - centers[modes]).max() < 5 * 0.05


def test_mixture_spec_and_reproducibility():
    ring = data.get_mixture("ring")
    assert (ring.num_modes, ring.std) == (8, 0.01)
    mgan = data.get_mixture("ring", radius=2.0, std=np.sqrt(0.02))
    np.testing.assert_allclose(np.linalg.norm(mgan.centers, axis=1), 2.0, atol=1e-6)
    grid = data.get_mixture("grid")
    assert (grid.num_modes, grid.std) == (25, 0.05)
    np.testing.assert_array_equal(data.mixture_centers("grid"), data.grid_centers())
    np.testing.assert_array_equal(data.mixture_centers("ring"), data.ring_centers())

    a = data.ring_of_gaussians(100, seed=3)
    b = data.ring_of_gaussians(100, seed=3)
    c = data.ring_of_gaussians(100, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(data.grid_of_gaussians(50, seed=3)[0], grid.sample(50, seed=3)[0])


def test_mixture_datasets():
    ds = data.mixture_dataset("grid", num_samples=1000, batch_size=100, seed=0)
    batches = _batches(ds)
    assert len(batches) == 10
    points, modes = batches[0]
    assert points.shape == (100, 2) and points.dtype == np.float32
    assert modes.shape == (100,) and modes.dtype == np.int32
    centers = data.grid_centers()
    assert np.abs(points - centers[modes]).max() < 5 * 0.05

    ds = data.load("ring", batch_size=50, max_examples=200, labels=False, seed=0)
    batches = _batches(ds)
    assert len(batches) == 4 and batches[0].shape == (50, 2)
    again = _batches(data.load("ring", batch_size=50, max_examples=200, labels=False, seed=0))
    np.testing.assert_array_equal(batches[0], again[0])


# ---------------------------------------------------------------------------
# TFDS path (mocked: no network in tests)
# ---------------------------------------------------------------------------


def test_tfds_unreachable_is_a_clear_runtime_error(monkeypatch):
    def load(*args, **kwargs):
        raise ConnectionError("Failed to establish a new connection")

    _fake_tfds(monkeypatch, load)
    with pytest.raises(RuntimeError, match="no network") as info:
        data.load("mnist", batch_size=32)
    message = str(info.value)
    assert ".npz" in message and "idx" in message and "cifar-10-batches-py" in message
    assert "ConnectionError" in message


def test_tfds_pipeline_with_fake_loader(monkeypatch, rng):
    x = _images(rng, 100, (28, 28, 1))
    y = rng.integers(0, 10, 100)
    calls = []

    def load(name, split, data_dir, as_supervised, **kwargs):
        calls.append((name, split, data_dir, as_supervised))
        return tf.data.Dataset.from_tensor_slices((x, y))

    _fake_tfds(monkeypatch, load)
    ds = data.load(
        "Fashion-MNIST", split="test", batch_size=16, data_dir="/d", image_size=(32, 32), seed=0
    )
    assert calls == [("fashion_mnist", "test", "/d", True)]
    batches = _batches(ds)
    assert len(batches) == 100 // 16
    images, labels = batches[0]
    assert images.shape == (16, 32, 32, 1) and images.dtype == np.float32
    assert labels.dtype == np.int32
    assert images.min() >= -1.0 and images.max() <= 1.0

    ds = data.load("mnist", batch_size=10, max_examples=30, shuffle=False, labels=False)
    (first, *_rest) = _batches(ds)
    assert len(_rest) == 2
    np.testing.assert_allclose(first, x[:10] / 127.5 - 1.0, atol=1e-6)

    with pytest.raises(ValueError, match="fewer than one batch"):
        data.load("mnist", batch_size=64, max_examples=10)


def test_tfds_unknown_split_fails_before_download(monkeypatch):
    def load(*args, **kwargs):
        raise AssertionError("tfds.load must not be reached")

    _fake_tfds(monkeypatch, load)
    match = r"Unknown split 'validation'.*'train', 'test'"
    with pytest.raises(ValueError, match=match):
        data.load("cifar10", split="validation")
    with pytest.raises(ValueError, match="Unknown split"):
        data.load("mnist", split="train[:10%]+valid")


# ---------------------------------------------------------------------------
# Bad inputs: ValueError with a helpful message, before any training
# ---------------------------------------------------------------------------


def test_unknown_name():
    match = r"Unknown dataset 'imagenet_64'.*mnist.*local path"
    with pytest.raises(ValueError, match=match):
        data.load("imagenet_64")


def test_missing_local_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist.*npz"):
        data.load(str(tmp_path / "nope.npz"))
    with pytest.raises(ValueError, match="does not exist"):
        data.load_arrays(tmp_path / "missing_folder")


def test_unrecognised_folder_and_bad_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="Could not recognise the dataset layout"):
        data.load_arrays(tmp_path)
    np.savez(tmp_path / "weird.npz", images=np.zeros((3, 2, 2), "u1"))
    with pytest.raises(ValueError, match="no 'x_train' array.*x_train, y_train"):
        data.load(tmp_path / "weird.npz")
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "train-images-idx3-ubyte").write_bytes(b"\x12\x34\x08\x03")
    (idx / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01")
    with pytest.raises(ValueError, match="bad magic number"):
        data.load_arrays(idx)
    with pytest.raises(ValueError, match="no test split.*t10k-images"):
        data.load_arrays(idx, split="test")


def test_unknown_local_split(mnist_npz):
    with pytest.raises(ValueError, match=r"Unknown split 'valid'.*'train', 'test'"):
        data.load(mnist_npz, split="valid")
    with pytest.raises(ValueError, match="Unknown split"):
        data.load("ring", split="validation")


def test_too_few_examples(mnist_npz, rng):
    with pytest.raises(ValueError, match="has only 10 examples, fewer than one batch"):
        data.load(mnist_npz, batch_size=64, max_examples=10)
    with pytest.raises(ValueError, match="is empty.*drop_remainder"):
        data.from_arrays(np.zeros((0, 28, 28), "u1"))
    with pytest.raises(ValueError, match="fewer than one batch.*smaller batch_size"):
        data.from_arrays(_images(rng, 5, (8, 8)), batch_size=8)


def test_bad_arrays(rng):
    with pytest.raises(ValueError, match=r"rank 5"):
        data.from_arrays(np.zeros((4, 2, 8, 8, 1), "u1"), batch_size=2)
    with pytest.raises(ValueError, match=r"rank 1"):
        data.from_arrays(np.zeros((4,), "float32"), batch_size=2)
    with pytest.raises(ValueError, match=r"\[-1, 1\].*127\.5"):
        data.from_arrays(rng.uniform(0, 255, (4, 8, 8)).astype("float32"), batch_size=2)
    with pytest.raises(ValueError, match="must be float"):
        data.from_arrays(np.zeros((4, 2), "int64"), batch_size=2)
    with pytest.raises(ValueError, match="0..255"):
        data.from_arrays(np.full((4, 8, 8), 300), batch_size=2)
    with pytest.raises(ValueError, match="4 examples but y has 3 labels"):
        data.from_arrays(_images(rng, 4, (8, 8)), np.arange(3), batch_size=2)
    with pytest.raises(ValueError, match="shape \\(N,\\)"):
        data.from_arrays(_images(rng, 4, (8, 8)), np.eye(4), batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        data.from_arrays(_images(rng, 4, (8, 8)), batch_size=0)
    with pytest.raises(ValueError, match="image_size must be"):
        data.from_arrays(_images(rng, 4, (8, 8)), batch_size=2, image_size=(1, 2, 3))
    with pytest.raises(ValueError, match="points, not images"):
        data.from_arrays(np.zeros((4, 2), "float32"), batch_size=2, image_size=8)
    with pytest.raises(ValueError, match="Unknown mixture kind"):
        data.mixture_dataset("spiral")


def test_check_value_range():
    data.check_value_range(np.array([-1.0, 0.0, 1.0]))
    data.check_value_range(np.zeros((0,)))
    match = r"\[0, 255\].*divide by 127\.5 and subtract 1"
    with pytest.raises(ValueError, match=match):
        data.check_value_range(np.array([0.0, 255.0]))
    with pytest.raises(ValueError, match=r"Expected values in \[0.0, 1.0\]"):
        data.check_value_range(np.array([-0.5]), low=0.0, high=1.0)
    with pytest.raises(ValueError, match="NaN"):
        data.check_value_range(np.array([np.nan]))


def test_load_arrays_rejects_mixture_names():
    with pytest.raises(ValueError, match="synthetic mixture"):
        data.load_arrays("ring")


def test_tfds_arrays_through_fake_loader(monkeypatch, rng):
    x = _images(rng, 5, (28, 28, 1))
    y = np.arange(5)

    def load(name, split, data_dir, as_supervised, batch_size=None):
        assert batch_size == -1
        return (x, y)

    fake = _fake_tfds(monkeypatch, load)
    fake.as_numpy = lambda ds: ds
    x_loaded, y_loaded = data.load_arrays("mnist", split="test")
    np.testing.assert_array_equal(x_loaded, x)
    np.testing.assert_array_equal(y_loaded, y)


def test_pickled_dataset_roundtrip_via_bytes(tmp_path, rng):
    # Protocol 4 (Python 3's default) pickles load as well as protocol 2.
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    x, y = _images(rng, 3, (32, 32, 3)), [1, 2, 3]
    buffer = io.BytesIO()
    pickle.dump({"labels": y, "data": _cifar_rows(x)}, buffer, protocol=4)
    (folder / "test_batch").write_bytes(buffer.getvalue())
    x_loaded, y_loaded = data.load_arrays(folder, split="test")
    np.testing.assert_array_equal(x_loaded, x)
    np.testing.assert_array_equal(y_loaded, y)
