"""KID, precision/recall, density/coverage, `evaluate` and the real-feature cache.

KID is checked against the paper's formula written as an explicit double
loop (independent of kmgan's matrix form), and against clean-fid's
`kernel_distance` where clean-fid is installed (`pip install --no-deps
clean-fid`; its module imports torchvision, so the function is read from its
source file); PR/DC against the `prdc` package (0.2), on the same features.
"""

import ast
import importlib.util
import math
import os
import warnings

import numpy as np
import pytest

from kmgan import metrics
from kmgan.metrics import features as feats
from kmgan.metrics.inception import preprocess_images
from kmgan.metrics.kid import kid_from_features
from kmgan.metrics.kid import mmd2_unbiased
from kmgan.metrics.prdc import nearest_neighbour_radii
from kmgan.metrics.prdc import prdc_from_features


class Projection:
    """A fake extractor: grey pixels times a fixed random matrix; counts its images."""

    batch_size = 16
    input_size = 8
    comparable_to_papers = False
    name = "random projection"

    def __init__(self, dim=16, pixels=64, seed=0, tag="proj"):
        self.matrix = np.random.default_rng(seed).normal(size=(pixels, dim)).astype(np.float32)
        self.feature_dim = dim
        self.weights_tag = tag
        self.images_seen = 0

    def __call__(self, images, value_range=None):
        x = preprocess_images(images, value_range).mean(axis=-1)
        self.images_seen += len(x)
        return x.reshape(len(x), -1) @ self.matrix, None


def sampler_of(array):
    """A sample_fn(n) that hands out the rows of an array in order."""
    done = [0]

    def sample_fn(n):
        done[0] += n
        return array[done[0] - n : done[0]]

    return sample_fn


def images(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(shift, 0.4, size=(n, 8, 8, 1)), -1, 1).astype(np.float32)


def structured(n, dim, seed, shift=0.0, rank=12):
    """Non-negative low-rank features, like pooled CNN activations."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).normal(size=(rank, dim))
    return np.maximum(rng.normal(shift, 1.0, size=(n, rank)) @ basis, 0.0)


# ---------------------------------------------------------------------- KID


def kid_double_loop(x, y):
    """Unbiased MMD^2, cubic kernel, summed pair by pair (Binkowski et al. eq. 4)."""
    d = len(x[0])

    def k(a, b):
        return (math.fsum(float(p) * float(q) for p, q in zip(a, b)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = math.fsum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = math.fsum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    xy = math.fsum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2.0 * xy / (m * n)


def test_kid_full_sets_match_the_double_loop():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 5)), rng.normal(0.3, 1.2, size=(9, 5))
    expected = kid_double_loop(x, y)
    np.testing.assert_allclose(mmd2_unbiased(x, y), expected, rtol=1e-10)
    np.testing.assert_allclose(
        kid_from_features(x, y, num_subsets=1, subset_size=None)[0], expected, rtol=1e-10
    )
    # subset_size = the set size, one subset: the full-set estimate.
    z = rng.normal(0.3, 1.2, size=(7, 5))
    mean, std = kid_from_features(x, z, num_subsets=1, subset_size=7)
    np.testing.assert_allclose(mean, kid_double_loop(x, z), rtol=1e-10)
    assert std == 0.0


def test_kid_subsets_match_the_double_loop_on_the_same_draws():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 4)), rng.normal(0.5, 1.0, size=(10, 4))
    mean, std = kid_from_features(x, y, num_subsets=5, subset_size=6, seed=3)
    draws = np.random.RandomState(3)
    values = []
    for _ in range(5):
        i = draws.choice(12, 6, replace=False)
        j = draws.choice(10, 6, replace=False)
        values.append(kid_double_loop(x[i], y[j]))
    np.testing.assert_allclose(mean, np.mean(values), rtol=1e-10)
    np.testing.assert_allclose(std, np.std(values), rtol=1e-8)
    assert kid_from_features(x, y, num_subsets=5, subset_size=6, seed=4)[0] != mean


def _cleanfid_kernel_distance():
    spec = importlib.util.find_spec("cleanfid")
    if spec is None:
        pytest.skip("clean-fid is not installed (pip install --no-deps clean-fid)")
    path = os.path.join(spec.submodule_search_locations[0], "fid.py")
    with open(path) as f:
        tree = ast.parse(f.read())
    node = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "kernel_distance"
    )
    namespace = {"np": np}
    exec(compile(ast.Module([node], type_ignores=[]), path, "exec"), namespace)
    return namespace["kernel_distance"]


def test_kid_matches_clean_fid():
    kernel_distance = _cleanfid_kernel_distance()
    a, b = structured(300, 64, 0), structured(300, 64, 1, shift=0.2)
    full = kernel_distance(b, a, num_subsets=1, max_subset_size=300)
    np.testing.assert_allclose(kid_from_features(a, b, 1, 300)[0], full, rtol=1e-9)
    # clean-fid draws from its second argument first, with the global RNG.
    np.random.seed(5)
    subsets = kernel_distance(b, a, num_subsets=20, max_subset_size=100)
    np.testing.assert_allclose(kid_from_features(a, b, 20, 100, seed=5)[0], subsets, rtol=1e-9)


def test_kid_of_images_uses_the_extractor():
    proj = Projection()
    a, b = images(40, 0), images(30, 1, shift=0.3)
    mean, std = metrics.kid(a, b, features=proj, num_subsets=10, subset_size=20, seed=0)
    expected = kid_from_features(proj(a)[0], proj(b)[0], 10, 20, seed=0)
    np.testing.assert_allclose((mean, std), expected, rtol=1e-6)
    # A sampler and precomputed features give the same numbers.
    sampled = metrics.kid(
        proj(a)[0],
        sampler_of(b),
        features=proj,
        num_samples=30,
        num_subsets=10,
        subset_size=20,
        seed=0,
    )
    np.testing.assert_allclose(sampled, expected, rtol=1e-6)
    same = metrics.kid(
        images(200, 2), images(200, 3), features=proj, num_subsets=20, subset_size=100
    )[0]
    apart = metrics.kid(
        images(200, 2), images(200, 3, shift=0.4), features=proj, num_subsets=20, subset_size=100
    )[0]
    assert abs(same) < apart / 20


# ------------------------------------------------------------------- PR / DC


@pytest.mark.parametrize("dim, k", [(64, 3), (64, 5), (2048, 3), (2048, 5)])
def test_prdc_matches_the_prdc_package(dim, k):
    prdc = pytest.importorskip("prdc")
    real = structured(300, dim, 0)
    fake = structured(250, dim, 1, shift=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = prdc.compute_prdc(real, fake, nearest_k=k)
    got = prdc_from_features(real, fake, pr_k=k, dc_k=k, block_elements=5000)  # many blocks
    for name in ("precision", "recall", "density", "coverage"):
        assert abs(got[name] - float(expected[name])) <= 1e-6, name
    assert 0 < got["precision"] < 1 and 0 < got["coverage"] < 1
    pr = metrics.precision_recall(real, fake, k=k)
    dc = metrics.density_coverage(real, fake, k=k)
    assert pr == {"precision": got["precision"], "recall": got["recall"]}
    assert dc == {"density": got["density"], "coverage": got["coverage"]}
    fast = prdc_from_features(real, fake, pr_k=k, dc_k=k, dtype="float32")
    for name in got:
        assert abs(fast[name] - got[name]) <= 1.0 / 250, name


def test_nearest_neighbour_radii_count_the_kth_other_sample():
    x = np.array([[0.0], [1.0], [3.0], [6.0]])
    np.testing.assert_allclose(nearest_neighbour_radii(x, 1), [1, 1, 2, 3])
    np.testing.assert_allclose(nearest_neighbour_radii(x, 2), [3, 2, 3, 5])


def test_prdc_of_images_and_identical_sets():
    proj = Projection()
    a = images(60, 0)
    same = metrics.density_coverage(a, a.copy(), features=proj, k=5)
    assert same["coverage"] == 1.0
    pr = metrics.precision_recall(a, a.copy(), features=proj, k=3)
    assert pr == {"precision": 1.0, "recall": 1.0}
    far = metrics.precision_recall(a, images(60, 1, shift=0.9), features=proj, k=3)
    assert far["precision"] < 0.5


# ------------------------------------------------------------------ evaluate


def test_evaluate_extracts_each_set_once_and_agrees_with_each_metric():
    proj = Projection()
    gen, real = images(120, 0, shift=0.2), images(100, 1)
    out = metrics.evaluate(
        sampler_of(gen),
        real,
        features=proj,
        num_samples=120,
        kid_subsets=10,
        kid_subset_size=50,
        seed=1,
    )
    assert proj.images_seen == 220
    g, r = proj(gen)[0], proj(real)[0]
    np.testing.assert_allclose(out["fid"], metrics.fid(real, gen, features=proj), rtol=1e-5)
    np.testing.assert_allclose(
        (out["kid"], out["kid_std"]), kid_from_features(r, g, 10, 50, seed=1), rtol=1e-6
    )
    expected = prdc_from_features(r, g, pr_k=3, dc_k=5)
    for name in expected:
        assert out[name] == expected[name]
    assert out["num_generated"] == 120 and out["num_real"] == 100
    assert out["features"] == "random projection" and out["comparable_to_papers"] is False
    # Precomputed real features are used as they are.
    proj.images_seen = 0
    again = metrics.evaluate(gen, r, features=proj, metrics=("fid", "pr"))
    assert proj.images_seen == 120 and set(again) >= {"fid", "precision", "recall"}


def _counting_sampler():
    calls = []

    def sample_fn(n):
        calls.append(n)
        return images(n, len(calls))

    return sample_fn, calls


def test_bad_input_raises_before_any_forward_pass():
    proj = Projection()
    few, many = images(3, 0), images(50, 1)
    with pytest.raises(ValueError, match="at least 4"):
        metrics.precision_recall(few, many, features=proj, k=3)
    with pytest.raises(ValueError, match="at least 6"):
        metrics.density_coverage(many, few, features=proj, k=5)
    with pytest.raises(ValueError, match="at least 100"):
        metrics.kid(many, images(200, 2), features=proj, subset_size=100)
    with pytest.raises(ValueError, match="dimension"):
        metrics.kid(np.ones((50, 5)), many, features=proj, subset_size=10)
    with pytest.raises(ValueError, match="dimension"):
        metrics.precision_recall(np.ones((50, 16)), np.ones((50, 8)))
    nan = np.random.default_rng(0).normal(size=(50, 16))
    nan[7, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.precision_recall(many, nan, features=proj)
    sample_fn, calls = _counting_sampler()
    with pytest.raises(ValueError, match="at least 1000"):
        metrics.evaluate(sample_fn, many, features=proj, num_samples=500)
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.evaluate(sample_fn, many, features=proj, num_samples=50, metrics=("fid", "is"))
    with pytest.raises(ValueError, match="classifier"):
        metrics.evaluate(sample_fn, many, features=proj, num_samples=50, metrics=("classes",))
    assert proj.images_seen == 0 and calls == []


# ------------------------------------------------------------------- cache


def _npz(path, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(40, 8, 8), dtype=np.uint8)
    np.savez(path, x_train=x, y_train=np.arange(40) % 4, x_test=x[:20], y_test=np.arange(20) % 4)
    return path


def test_real_features_are_cached_per_dataset_split_count_and_network(tmp_path):
    data_file = _npz(tmp_path / "digits.npz")
    cache = tmp_path / "cache"
    proj = Projection()
    first = feats.real_features(data_file, "train", features=proj, num_samples=30, cache_dir=cache)
    assert first.shape == (30, 16) and proj.images_seen == 30
    x = np.load(data_file)["x_train"]
    np.testing.assert_allclose(first, proj(x[:30])[0], rtol=1e-5, atol=1e-5)
    proj.images_seen = 0
    again = feats.real_features(data_file, "train", features=proj, num_samples=30, cache_dir=cache)
    assert proj.images_seen == 0
    np.testing.assert_array_equal(again, first)
    paths = {
        feats.real_features_path(data_file, "train", proj, 30, cache),
        feats.real_features_path(data_file, "test", proj, 30, cache),
        feats.real_features_path(data_file, "train", proj, 20, cache),
        feats.real_features_path(data_file, "train", Projection(tag="other"), 30, cache),
        feats.real_features_path(_npz(tmp_path / "other.npz", seed=1), "train", proj, 30, cache),
    }
    assert len(paths) == 5
    assert os.listdir(cache) == [
        os.path.basename(feats.real_features_path(data_file, "train", proj, 30, cache))
    ]  # no temporary files left


def test_damaged_real_feature_cache_is_rebuilt_with_a_warning(tmp_path):
    data_file = _npz(tmp_path / "digits.npz")
    cache = tmp_path / "cache"
    proj = Projection()
    first = feats.real_features(data_file, "train", features=proj, cache_dir=cache)
    path = feats.real_features_path(data_file, "train", proj, None, cache)
    with open(path, "r+b") as f:  # truncated
        f.truncate(100)
    with pytest.warns(RuntimeWarning, match="damaged"):
        rebuilt = feats.real_features(data_file, "train", features=proj, cache_dir=cache)
    np.testing.assert_array_equal(rebuilt, first)
    with np.load(path) as stored:  # a valid file whose array was changed
        meta = stored["meta"]
    np.savez(path, features=first + 1.0, meta=meta)
    with pytest.warns(RuntimeWarning, match="checksum"):
        rebuilt = feats.real_features(data_file, "train", features=proj, cache_dir=cache)
    np.testing.assert_array_equal(rebuilt, first)
