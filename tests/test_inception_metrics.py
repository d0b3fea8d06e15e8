"""Inception Score, FID, the InceptionV3 feature extractor and the statistics cache.

No test downloads anything: the network runs with ``weights=None`` at
InceptionV3's minimum input size (75 px), and the ImageNet path is exercised
with the download monkeypatched to fail.
"""

import os

import keras
import numpy as np
import pytest
from scipy import linalg

from kmgan.metrics import inception
from tests.metric_helpers import FirstDims

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def features():
    """One random-weight extractor for the module (building it is the slow part)."""
    return inception.InceptionFeatures(weights=None, batch_size=8, input_size=75)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    return rng.uniform(-1.0, 1.0, size=(13, 32, 32, 3)).astype("float32")


class CountingFeatures:
    """Wraps a feature extractor and counts its forward passes."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def __call__(self, images, value_range=None):
        self.calls += 1
        return self.inner(images, value_range=value_range)

    def __getattr__(self, name):  # batch_size, weights_tag, input_size
        return getattr(self.inner, name)


def _reference_frechet(mu1, s1, mu2, s2):
    """Independent FID: Tr sqrt(S1 S2) = sum sqrt(eig(sqrt(S1) S2 sqrt(S1)))."""
    w, v = np.linalg.eigh(s1)
    sqrt_s1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = sqrt_s1 @ s2 @ sqrt_s1
    tr_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)))
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt


# ---------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------


def test_fid_of_features_with_themselves_is_zero(rng):
    x = rng.normal(size=(600, 32)) @ rng.normal(size=(32, 32)) + 3.0
    stats = inception.RunningStatistics().update(x)
    mu, sigma = stats.mean, stats.covariance
    d = inception.frechet_distance(mu, sigma, mu, sigma)
    assert abs(d) < 1e-6 * np.trace(sigma)


@pytest.mark.parametrize("dim,n", [(16, 400), (64, 300), (64, 40)])
def test_frechet_distance_matches_independent_implementation(rng, dim, n):
    a = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim))
    b = 0.7 * rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim)) + 0.5
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    got = inception.frechet_distance(mu1, s1, mu2, s2)
    want = _reference_frechet(mu1, s1, mu2, s2)
    assert got == pytest.approx(want, rel=1e-3, abs=1e-6)
    # Symmetric, as a distance between Gaussians must be.
    assert inception.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(got, rel=1e-6)


def test_frechet_distance_eigh_method_agrees_with_sqrtm(rng):
    a = rng.normal(size=(300, 24))
    b = rng.normal(size=(300, 24)) @ rng.normal(size=(24, 24)) * 0.3 + 1.0
    args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert inception.frechet_distance(*args, method="eigh") == pytest.approx(
        inception.frechet_distance(*args), rel=1e-6
    )
    with pytest.raises(ValueError, match="method"):
        inception.frechet_distance(*args, method="svd")


def test_frechet_distance_of_known_gaussians():
    # N(0, I) vs N(1, 4 I) in d dims: d * 1 + d * (1 + 4 - 2 * 2) = 2 d.
    d = 5
    got = inception.frechet_distance(np.zeros(d), np.eye(d), np.ones(d), 4 * np.eye(d))
    assert got == pytest.approx(2 * d, rel=1e-9)


def test_frechet_distance_retries_with_eps_offset(monkeypatch, rng):
    x = rng.normal(size=(50, 6))
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    real_sqrtm = linalg.sqrtm
    seen = []

    def flaky_sqrtm(a, *args, **kwargs):
        seen.append(a.copy())
        if len(seen) == 1:
            return np.full_like(a, np.nan)
        return real_sqrtm(a, *args, **kwargs)

    monkeypatch.setattr(inception.linalg, "sqrtm", flaky_sqrtm)
    with pytest.warns(RuntimeWarning, match="singular"):
        d = inception.frechet_distance(mu, sigma, mu, sigma, eps=1e-6)
    assert len(seen) == 2
    offset = np.eye(6) * 1e-6
    np.testing.assert_allclose(seen[1], (sigma + offset) @ (sigma + offset))
    assert abs(d) < 1e-4


def test_frechet_distance_rejects_large_imaginary_part(monkeypatch):
    monkeypatch.setattr(
        inception.linalg, "sqrtm", lambda a, *args, **kw: np.eye(len(a)) * (1 + 0.5j)
    )
    with pytest.raises(ValueError, match="imaginary"):
        inception.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(3))


def test_frechet_distance_discards_small_imaginary_part(monkeypatch):
    monkeypatch.setattr(
        inception.linalg, "sqrtm", lambda a, *args, **kw: np.eye(len(a)) * (1 + 1e-9j)
    )
    d = inception.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(3))
    assert isinstance(d, float) and abs(d) < 1e-12


def test_frechet_distance_checks_shapes():
    with pytest.raises(ValueError):
        inception.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_running_statistics_equal_numpy(rng):
    x = rng.normal(size=(257, 10)) * 3 + 100.0  # large mean: stability matters
    stats = inception.RunningStatistics()
    for chunk in np.array_split(x, [1, 2, 50, 51, 200]):
        stats.update(chunk)
    assert stats.count == 257
    np.testing.assert_allclose(stats.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------
# Inception Score from probabilities
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 10, 1000])
def test_is_of_equally_likely_one_hot_predictions_is_n(n):
    probs = np.eye(n)[np.arange(5 * n) % n]
    mean, std = inception.inception_score_from_probs(probs, num_splits=1)
    assert mean == pytest.approx(n, rel=1e-9)
    assert std == 0.0


def test_is_of_identical_predictions_is_one(rng):
    p = rng.dirichlet(np.ones(1000))
    mean, std = inception.inception_score_from_probs(np.tile(p, (100, 1)), num_splits=10)
    assert mean == pytest.approx(1.0, abs=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_is_num_splits():
    # 10 classes in 10 contiguous blocks: each split sees a single class -> 1,
    # the whole set sees 10 equally likely classes -> 10.
    probs = np.eye(10)[np.repeat(np.arange(10), 20)]
    assert inception.inception_score_from_probs(probs, num_splits=10) == pytest.approx((1.0, 0.0))
    assert inception.inception_score_from_probs(probs, num_splits=1)[0] == pytest.approx(10.0)
    # 2 splits: 5 classes each.
    assert inception.inception_score_from_probs(probs, num_splits=2) == pytest.approx((5.0, 0.0))
    # Uneven split sizes are allowed (reference slicing), and the std is > 0.
    mean, std = inception.inception_score_from_probs(probs[:150], num_splits=4)
    assert 1.0 < mean < 10.0 and std > 0.0
    with pytest.raises(ValueError):
        inception.inception_score_from_probs(probs[:5], num_splits=10)
    with pytest.raises(ValueError):
        inception.inception_score_from_probs(probs, num_splits=0)


def test_is_matches_reference_formula_on_soft_predictions(rng):
    probs = rng.dirichlet(np.full(20, 0.3), size=300)
    want = []
    for part in np.array_split(probs, 3):
        py = part.mean(0, keepdims=True)
        want.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(py)), 1))))
    got = inception.inception_score_from_probs(probs, num_splits=3)
    assert got == pytest.approx((np.mean(want), np.std(want)), rel=1e-9)


# ---------------------------------------------------------------------------
# Preprocessing and batching
# ---------------------------------------------------------------------------


def test_preprocess_value_ranges_and_grayscale(rng):
    u8 = rng.integers(0, 256, size=(4, 9, 9, 1), dtype=np.uint8)
    from_u8 = inception.preprocess_images(u8)  # uint8 -> (0, 255) by default
    assert from_u8.shape == (4, 9, 9, 3) and from_u8.dtype == np.float32
    np.testing.assert_allclose(from_u8[..., 0], from_u8[..., 2])
    np.testing.assert_allclose(from_u8[..., 0], u8[..., 0] / 127.5 - 1.0, atol=1e-6)
    unit = u8.astype("float32") / 255.0
    np.testing.assert_allclose(
        inception.preprocess_images(unit, value_range=(0, 1)), from_u8, atol=1e-6
    )
    pm1 = unit * 2 - 1
    np.testing.assert_allclose(inception.preprocess_images(pm1), from_u8, atol=1e-6)
    np.testing.assert_allclose(inception.preprocess_images(pm1[..., 0]), from_u8, atol=1e-6)
    # Float images far outside the declared range are a mistake, not data.
    with pytest.raises(ValueError, match="value_range"):
        inception.preprocess_images(u8.astype("float32"))
    with pytest.raises(ValueError):
        inception.preprocess_images(np.zeros((2, 8, 8, 4), "float32"))


def test_iterate_batches_sources(images):
    from_array = list(inception.iterate_batches(images, batch_size=8))
    assert [len(b) for b in from_array] == [8, 5]
    gen = (images[i : i + 4] for i in range(0, len(images), 4))
    assert sum(len(b) for b in inception.iterate_batches(gen, 8, num_samples=10)) == 10
    pairs = [(images[:10], np.zeros(10)), (images[10:], np.zeros(3))]  # (x, y) elements
    np.testing.assert_array_equal(np.concatenate(list(inception.iterate_batches(pairs))), images)
    calls = []

    def sample_fn(n):
        calls.append(n)
        return images[:n]

    out = list(inception.iterate_batches(sample_fn, batch_size=5, num_samples=12))
    assert calls == [5, 5, 2] and sum(len(b) for b in out) == 12
    with pytest.raises(ValueError, match="num_samples"):
        list(inception.iterate_batches(sample_fn, batch_size=8))
    with pytest.raises(ValueError, match="only"):
        list(inception.iterate_batches(iter([images[:3]]), 8, num_samples=10))


# ---------------------------------------------------------------------------
# The network (random weights, 75 px)
# ---------------------------------------------------------------------------


def test_features_shapes_and_probabilities(features, images):
    pool, probs = features(images[:5])
    assert pool.shape == (5, 2048) and probs.shape == (5, 1000)
    assert np.all(np.isfinite(pool)) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)
    assert features.weights_tag == "random" and features.input_size == 75


def test_features_accept_uint8_grayscale(features, rng):
    # 32x32 (upsampled to 75) keeps the one traced input shape of this module;
    # other sizes go through the same Resizing layer.
    gray = rng.integers(0, 256, size=(3, 32, 32), dtype=np.uint8)
    pool_u8, _ = features(gray)
    assert pool_u8.shape == (3, 2048)
    as_rgb_float = np.repeat(gray[..., None], 3, -1).astype("float32") / 127.5 - 1.0
    pool_f, _ = features(as_rgb_float, value_range=(-1, 1))
    np.testing.assert_allclose(pool_u8, pool_f, rtol=1e-4, atol=1e-4)


def test_streaming_statistics_equal_in_memory(features, images):
    pool, _ = features(images)  # one in-memory pass over the whole array
    mu_ref, sigma_ref = (
        pool.astype(np.float64).mean(0),
        np.cov(pool.astype(np.float64), rowvar=False),
    )

    mu_arr, sigma_arr = inception.activation_statistics(images, features)
    batches = (images[i : i + 5] for i in range(0, len(images), 5))  # other batch size
    mu_gen, sigma_gen = inception.activation_statistics(batches, features)
    position = [0]

    def sample_fn(n):  # a "generator" handing out the images n at a time
        start = position[0]
        position[0] += n
        return images[start : start + n]

    mu_fn, sigma_fn = inception.activation_statistics(
        sample_fn, features, num_samples=13, batch_size=4
    )
    scale = np.abs(sigma_ref).max()
    for mu, sigma in [(mu_arr, sigma_arr), (mu_gen, sigma_gen), (mu_fn, sigma_fn)]:
        assert mu.shape == (2048,) and sigma.shape == (2048, 2048)
        np.testing.assert_allclose(mu, mu_ref, rtol=1e-4, atol=1e-5 * np.abs(mu_ref).max())
        np.testing.assert_allclose(sigma, sigma_ref, rtol=1e-3, atol=1e-4 * scale)
    # FID of a set with itself, through the images, is ~0 (first 64 features).
    small = FirstDims(features)
    d = inception.fid(images, (mu_gen[:64], sigma_gen[:64, :64]), small)
    assert abs(d) < 1e-3 * np.trace(sigma_ref[:64, :64])


def test_inception_score_and_metrics_with_network(features, images):
    mean, std = inception.inception_score(images, num_splits=3, features=features)
    assert 1.0 <= mean <= 1000.0 and std >= 0.0
    _, probs = features(images)
    assert (mean, std) == pytest.approx(inception.inception_score_from_probs(probs, 3), rel=1e-4)
    small = FirstDims(features)
    stats = inception.activation_statistics(images, small)
    assert stats[0].shape == (64,)
    out = inception.inception_metrics(images, stats, small, num_splits=3)
    assert out["inception_score"] == pytest.approx(mean, rel=1e-4)
    assert abs(out["fid"]) < 1e-3 * np.trace(stats[1])


def test_statistics_cache_writes_once_then_reloads(features, images, tmp_path):
    counting = CountingFeatures(features)
    mu1, sigma1 = inception.real_statistics("toy", "train", images, counting, cache_dir=tmp_path)
    calls_after_first = counting.calls
    assert calls_after_first > 0
    expected = tmp_path / "toy_train_random_75.npz"
    assert [p.name for p in tmp_path.iterdir()] == [expected.name]
    assert inception.real_statistics_path("toy", "train", counting, tmp_path) == str(expected)
    mtime = os.path.getmtime(expected)

    def must_not_be_read():
        raise AssertionError("the cached statistics should have been used")
        yield  # pragma: no cover

    mu2, sigma2 = inception.real_statistics(
        "toy", "train", must_not_be_read(), counting, cache_dir=tmp_path
    )
    assert counting.calls == calls_after_first  # nothing recomputed
    assert os.path.getmtime(expected) == mtime
    np.testing.assert_array_equal(mu1, mu2)
    np.testing.assert_array_equal(sigma1, sigma2)
    # A different split is a different key.
    inception.real_statistics("toy", "test", images[:6], counting, cache_dir=tmp_path)
    assert counting.calls > calls_after_first
    assert (tmp_path / "toy_test_random_75.npz").exists()


def test_cache_hit_with_default_features_needs_no_weights(tmp_path, monkeypatch):
    path = inception.real_statistics_path("cifar10", "train", None, tmp_path)
    assert os.path.basename(path) == "cifar10_train_imagenet_299.npz"
    np.savez(path, mu=np.zeros(3), sigma=np.eye(3))

    def no_download(*args, **kwargs):
        raise AssertionError("no download on a cache hit")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    mu, sigma = inception.real_statistics("cifar10", "train", None, cache_dir=tmp_path)
    np.testing.assert_array_equal(sigma, np.eye(3))


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


def test_imagenet_without_network_raises_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3]"
        )

    def must_not_build(*args, **kwargs):
        raise AssertionError("must not build a model (no fallback to random weights)")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr(keras.applications, "InceptionV3", must_not_build)
    with pytest.raises(RuntimeError) as info:
        inception.InceptionFeatures(weights="imagenet")
    message = str(info.value)
    assert inception.INCEPTION_V3_WEIGHTS_FILE in message
    assert inception.INCEPTION_V3_WEIGHTS_URL in message
    assert 'weights="/path/to/' in message


def test_local_weights_file_is_loaded(features, tmp_path):
    path = tmp_path / "my_inception.weights.h5"
    features.inception.save_weights(str(path))
    loaded = inception.InceptionFeatures(weights=str(path), batch_size=8, input_size=75)
    assert loaded.weights_tag.startswith("my-inception-")  # "_" separates key fields
    assert len(loaded.inception.weights) == len(features.inception.weights)
    for mine, theirs in zip(loaded.inception.weights, features.inception.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs)
        )


def test_weights_file_tag(tmp_path, monkeypatch):
    path = tmp_path / "w.h5"
    path.write_bytes(b"not really weights")
    tag = inception.weights_file_tag(path)
    assert tag.startswith("w-") and len(tag) == len("w-") + 8
    # A local copy of the official file shares the "imagenet" cache key.
    monkeypatch.setattr(inception, "INCEPTION_V3_WEIGHTS_MD5", inception._file_digest(path, "md5"))
    assert inception.weights_file_tag(path) == "imagenet"


def test_missing_local_weights_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        inception.InceptionFeatures(weights=str(tmp_path / "nope.h5"), input_size=75)


def test_input_size_below_minimum_raises():
    with pytest.raises(ValueError, match="75"):
        inception.InceptionFeatures(weights=None, input_size=32)
