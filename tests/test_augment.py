"""kmgan.augment: mixing, the confidence filter, traditional augmentation, the sweep."""

import csv
import json
import os

import keras
import numpy as np
import pytest

from kmgan import augment as A
from kmgan.data import load_arrays

# ---------------------------------------------------------------------------
# Mixing: exact proportions, class stratification
# ---------------------------------------------------------------------------


def _tagged(counts, offset=0):
    """Images whose pixel (0, 0) holds a unique id, labels per `counts`."""
    y = np.repeat(np.arange(len(counts)), counts)
    ids = np.arange(len(y)) + offset
    x = np.zeros((len(y), 4, 4, 1), np.float32)
    x[:, 0, 0, 0] = ids / 1000.0
    return x, y


def _ids(x):
    return np.round(x[:, 0, 0, 0] * 1000).astype(int)


def test_apportion_is_exact_largest_remainder():
    np.testing.assert_array_equal(A.apportion(10, [10, 7, 3]), [5, 4, 1])  # tie -> lower id
    np.testing.assert_array_equal(A.apportion(15, [5, 3, 2]), [8, 4, 3])
    np.testing.assert_array_equal(A.apportion(0, [5, 3]), [0, 0])
    np.testing.assert_array_equal(A.stratified_counts([10, 6, 4], 0.1), [1, 1, 0])
    np.testing.assert_array_equal(A.stratified_counts([10, 6, 4], 0.5), [5, 3, 2])
    # 0.29 * 100 is 28.999... in floats; the exact rational count is 29.
    assert A.stratified_counts([100], 0.29).tolist() == [29]
    # half rounds up: 0.5 * 5 = 2.5 -> 3
    assert A.stratified_counts([5], 0.5).tolist() == [3]


@pytest.mark.parametrize(
    "fraction, ratio, real_counts, gen_counts",
    [
        (0.5, 1.5, [5, 3, 2], [8, 4, 3]),
        (0.1, 2.0, [1, 1, 0], [2, 2, 0]),
        (1.0, 0.5, [10, 6, 4], [5, 3, 2]),
        (1.0, 0.0, [10, 6, 4], [0, 0, 0]),
    ],
)
def test_mix_counts_and_stratification_exact(fraction, ratio, real_counts, gen_counts):
    real_x, real_y = _tagged([10, 6, 4])
    gen_x, gen_y = _tagged([20, 20, 20], offset=500)
    x, y, info = A.mix(
        real_x, real_y, gen_x, gen_y, real_fraction=fraction, generated_ratio=ratio, seed=3
    )
    assert info["real_per_class"].tolist() == real_counts
    assert info["generated_per_class"].tolist() == gen_counts
    assert info["n_real"] == sum(real_counts) and info["n_generated"] == sum(gen_counts)
    assert x.shape == (sum(real_counts) + sum(gen_counts), 4, 4, 1) and x.dtype == np.float32
    ids = _ids(x)
    is_gen = info["is_generated"]
    assert np.all(ids[~is_gen] < 500) and np.all(ids[is_gen] >= 500)
    assert len(np.unique(ids)) == len(ids)  # no example twice
    assert np.bincount(y[~is_gen], minlength=3).tolist() == real_counts
    assert np.bincount(y[is_gen], minlength=3).tolist() == gen_counts
    # every image keeps its own label
    np.testing.assert_array_equal(y[~is_gen], real_y[ids[~is_gen]])
    np.testing.assert_array_equal(y[is_gen], gen_y[ids[is_gen] - 500])


def test_mix_is_seeded_and_nested():
    real_x, real_y = _tagged([30, 20, 10])
    gen_x, gen_y = _tagged([40, 40, 40], offset=500)
    small = A.mix(real_x, real_y, gen_x, gen_y, 0.1, 0.5, seed=1)
    big = A.mix(real_x, real_y, gen_x, gen_y, 0.5, 1.0, seed=1)
    again = A.mix(real_x, real_y, gen_x, gen_y, 0.1, 0.5, seed=1)
    other = A.mix(real_x, real_y, gen_x, gen_y, 0.5, 1.0, seed=2)
    np.testing.assert_array_equal(small[0], again[0])
    assert set(small[2]["real_indices"]) <= set(big[2]["real_indices"])
    assert set(big[2]["real_indices"]) != set(other[2]["real_indices"])
    # uint8 real images come back in [-1, 1]
    x, _, _ = A.mix(
        np.full((4, 2, 2), 255, np.uint8), [0, 0, 1, 1], real_fraction=1.0, generated_ratio=0
    )
    assert x.dtype == np.float32 and np.allclose(x, 1.0)


def test_mix_shortfall():
    real_x, real_y = _tagged([10, 10])
    gen_x, gen_y = _tagged([10, 1], offset=500)
    with pytest.raises(ValueError, match="Too few generated"):
        A.mix(real_x, real_y, gen_x, gen_y, 1.0, 0.5, seed=0)
    _, y, info = A.mix(real_x, real_y, gen_x, gen_y, 1.0, 0.5, seed=0, allow_shortfall=True)
    assert info["generated_per_class"].tolist() == [5, 1]
    assert info["shortfall_per_class"].tolist() == [0, 4]
    with pytest.raises(ValueError, match="labels"):
        A.mix(real_x, real_y, gen_x, None, 1.0, 1.0)
    with pytest.raises(ValueError, match="real_fraction"):
        A.mix(real_x, real_y, real_fraction=0.0)


# ---------------------------------------------------------------------------
# The confidence filter
# ---------------------------------------------------------------------------

_TABLE = np.array(
    [
        [0.95, 0.05, 0.00],  # kept, class 0
        [0.50, 0.50, 0.00],  # dropped
        [0.00, 0.90, 0.10],  # kept: exactly at the threshold
        [0.10, 0.10, 0.80],  # dropped
        [0.02, 0.03, 0.95],  # kept, class 2
        [0.89, 0.11, 0.00],  # dropped, just below
    ],
    np.float32,
)


def _one_hot_images(n, size=8):
    x = np.zeros((n, size, size, 1), np.float32)
    for i in range(n):
        x[i].reshape(-1)[i] = 1.0
    return x


def _table_classifier(table, size=8):
    """A fixed keras classifier: image i (one-hot at pixel i) -> table[i]."""
    inputs = keras.Input((size, size, 1))
    dense = keras.layers.Dense(table.shape[1], use_bias=False)
    outputs = dense(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((size * size, table.shape[1]), np.float32)
    kernel[: len(table)] = table
    dense.set_weights([kernel])
    return model


@pytest.mark.parametrize("kind", ["keras_model", "callable", "logits"])
def test_confidence_filter_keeps_exactly_the_confident(kind):
    images = _one_hot_images(len(_TABLE))
    if kind == "keras_model":
        classifier = _table_classifier(_TABLE)
    else:
        # logits whose softmax is the table (up to the zeros)
        table = _TABLE if kind == "callable" else np.log(np.clip(_TABLE, 1e-12, None))

        def classifier(batch):
            return table[np.argmax(batch.reshape(len(batch), -1), axis=1)]

    kept, labels, report = A.label_with_classifier(images, classifier, threshold=0.9)
    assert labels.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(kept, images[[0, 2, 4]])
    assert report["kept_per_class"].tolist() == [1, 1, 1]
    assert report["predicted_per_class"].tolist() == [3, 1, 2]
    assert report["num_total"] == 6 and report["num_kept"] == 3
    assert report["kept_fraction"] == pytest.approx(0.5)
    _, labels_all, _ = A.label_with_classifier(images, classifier, threshold=0.0)
    assert len(labels_all) == 6
    _, none, report = A.label_with_classifier(images, classifier, threshold=0.99)
    assert len(none) == 0 and report["kept_per_class"].tolist() == [0, 0, 0]


def test_draw_labelled_fills_classes_and_reports_shortfall():
    table = np.array([[0.97, 0.03, 0.0], [0.2, 0.8, 0.0], [0.05, 0.95, 0.0]], np.float32)
    classifier = _table_classifier(table)
    rng_images = _one_hot_images(3)

    def sample_fn(n, seed):  # never makes class 2; a fifth of class 1 is unsure
        idx = np.random.default_rng(seed).integers(0, 3, n)
        return rng_images[idx]

    x, y, report = A.draw_labelled(
        A.UnlabelledSampler(sample_fn),
        [5, 7, 2],
        classifier,
        threshold=0.9,
        seed=0,
        max_draw_factor=20,
        min_chunk=64,
    )
    assert np.bincount(y, minlength=3).tolist() == [5, 7, 0]
    assert report["shortfall_per_class"].tolist() == [0, 0, 2]
    assert report["kept_per_class"][2] == 0 and report["num_drawn"] <= 20 * 14
    assert len(x) == len(y)

    def conditional(labels, seed):
        return rng_images[np.asarray(labels)]

    x, y, report = A.draw_labelled(A.ConditionalSampler(conditional), [1, 2, 3], seed=0)
    assert np.bincount(y).tolist() == [1, 2, 3] and len(x) == 6
    assert report["shortfall_per_class"].tolist() == [0, 0, 0]


# ---------------------------------------------------------------------------
# Traditional augmentation
# ---------------------------------------------------------------------------


def _blobs(n=8, size=28, channels=1, seed=0):
    """Digit-like images: dark background, a bright off-centre rectangle."""
    rng = np.random.default_rng(seed)
    x = np.full((n, size, size, channels), -1.0, np.float32)
    for i in range(n):
        r, c = rng.integers(3, size // 2, 2)
        x[i, r : r + size // 3, c : c + size // 5] = rng.uniform(0.2, 0.9, channels)
    return x


LAYERS = {
    "gaussian_noise": lambda: A.RandomGaussianNoise(0.1, seed=1),
    "speckle_noise": lambda: A.RandomSpeckleNoise(0.5, seed=1),
    "salt_and_pepper": lambda: A.RandomSaltAndPepper(0.1, seed=1),
    "blur": lambda: A.RandomBlur(1.5, seed=1),
}


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("family", ["geometric", "photometric", "noise", "all"])
def test_family_changes_images_keeps_shape_dtype_labels(family, channels):
    x = _blobs(channels=channels)
    y = np.arange(len(x)) % 3
    layer = A.traditional_augmentation(family, x.shape[1:], seed=0)
    ds = A.as_dataset(x, y, batch_size=4, augmentation=layer, shuffle=False)
    batches = list(ds.as_numpy_iterator())
    out = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_array_equal(labels, y)
    assert out.min() >= -1.0 and out.max() <= 1.0
    changed = np.abs(out - x).reshape(len(x), -1).max(axis=1) > 1e-3
    assert changed.sum() >= len(x) // 2, f"{family} left {np.sum(~changed)} images unchanged"
    second = np.concatenate([b[0] for b in ds.as_numpy_iterator()])
    assert not np.allclose(second, out), "augmentation must differ between epochs"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_kmgan_layers_change_images_in_model_and_pipeline(name):
    x = _blobs()
    layer = LAYERS[name]()
    direct = np.asarray(keras.ops.convert_to_numpy(layer(x)))
    assert direct.shape == x.shape and direct.dtype == np.float32
    assert np.abs(direct - x).max() > 1e-3
    assert direct.min() >= -1.0 and direct.max() <= 1.0
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    ds = A.as_dataset(x, np.zeros(len(x)), batch_size=8, augmentation=LAYERS[name](), shuffle=False)
    ((out, labels),) = list(ds.as_numpy_iterator())
    assert out.shape == x.shape and np.abs(out - x).max() > 1e-3 and not labels.any()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_speckle_spares_the_dark_background():
    x = _blobs()
    out = np.asarray(keras.ops.convert_to_numpy(A.RandomSpeckleNoise(0.5, seed=0)(x)))
    background = x == -1.0
    np.testing.assert_allclose(out[background], -1.0, atol=1e-6)


def test_flips_off_for_digits_by_default():
    def names(layer):
        return [type(sub).__name__ for sub in layer.layers]

    assert "RandomFlip" not in names(A.traditional_augmentation("all", (28, 28, 1)))
    assert "RandomFlip" in names(
        A.traditional_augmentation("geometric", (28, 28, 1), allow_flip=True)
    )
    assert "RandomFlip" in names(A.traditional_augmentation("geometric", (32, 32, 3)))
    assert "RandomFlip" not in names(
        A.traditional_augmentation("geometric", (32, 32, 3), allow_flip=False)
    )
    assert "RandomHue" in names(A.traditional_augmentation("photometric", (32, 32, 3)))
    assert "RandomHue" not in names(A.traditional_augmentation("photometric", (28, 28, 1)))
    with pytest.raises(ValueError, match="family"):
        A.traditional_augmentation("colour", (28, 28, 1))


def test_pipeline_round_trips_through_keras_serialization():
    layer = A.traditional_augmentation("all", (32, 32, 3), seed=0)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert [type(s).__name__ for s in clone.layers] == [type(s).__name__ for s in layer.layers]


# ---------------------------------------------------------------------------
# Classifiers and metrics
# ---------------------------------------------------------------------------


def test_classification_metrics_by_hand():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 0, 2]
    m = A.classification_metrics(y_true, y_pred, num_classes=4)
    assert m["accuracy"] == pytest.approx(4 / 6)
    np.testing.assert_array_equal(
        m["confusion_matrix"],
        [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]],
    )
    # class 3 never occurs: left out of the macro averages
    assert m["precision_macro"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["recall_macro"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    f1 = [0.5, 0.8, 2 / 3]
    assert m["f1_macro"] == pytest.approx(np.mean(f1))


def test_train_and_evaluate_epochs_or_fixed_steps():
    x = _blobs(40, seed=3)
    y = np.arange(40) % 2
    ds = A.as_dataset(x, y, batch_size=10, seed=0)

    def tiny():
        return A.simple_cnn((28, 28, 1), 2, blocks=1, base_filters=2, dense_units=0, dropout=0)

    by_epochs = A.train_and_evaluate(tiny, ds, x, y, epochs=2, seed=0)
    by_steps = A.train_and_evaluate(tiny, ds, x, y, steps=3, seed=0)
    assert by_epochs["train_steps"] == 8 and by_steps["train_steps"] == 3
    assert by_epochs["confusion_matrix"].sum() == 40 and 0 <= by_steps["accuracy"] <= 1


def test_simple_cnn_block_counts():
    def pools(model):
        return sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)

    assert pools(A.simple_cnn((28, 28, 1), 10)) == 2
    assert pools(A.simple_cnn((28, 28, 1), 10, dataset="fashion_mnist")) == 3
    assert pools(A.simple_cnn((32, 32, 3), 10)) == 4
    assert A.simple_cnn((32, 32, 3), 7).output_shape == (None, 7)


# ---------------------------------------------------------------------------
# Samplers from .keras files
# ---------------------------------------------------------------------------


def _tiny_generator(latent=4, shape=(28, 28, 1)):
    z = keras.Input((latent,), name="z")
    h = keras.layers.Dense(int(np.prod(shape)), activation="tanh")(z)
    return keras.Model(z, keras.layers.Reshape(shape)(h), name="tiny_g")


def _tiny_conditional(num_classes=10, latent=4, shape=(28, 28, 1)):
    z = keras.Input((latent,), name="z")
    labels = keras.Input((), dtype="int32", name="labels")
    e = keras.layers.Embedding(num_classes, 4)(labels)
    h = keras.layers.Concatenate()([z, e])
    h = keras.layers.Dense(int(np.prod(shape)), activation="tanh")(h)
    return keras.Model([z, labels], keras.layers.Reshape(shape)(h), name="tiny_cg")


@keras.saving.register_keras_serializable(package="kmgan_tests")
class _MixtureIndex(keras.layers.Layer):
    """Generator index -> embedding row: -1 (the mixture) -> 0, expert k -> k + 1."""

    def call(self, index):
        return keras.ops.maximum(keras.ops.cast(index, "int32") + 1, 0)

    def compute_output_shape(self, shape):
        return shape


def _tiny_multi(k=3, latent=4, shape=(28, 28, 1)):
    """(z, generator index) -> image, like a multi-generator game's sampler."""
    z = keras.Input((latent,), name="z")
    index = keras.Input((), dtype="int32", name="generator")
    e = keras.layers.Embedding(k + 1, 4)(_MixtureIndex()(index))
    h = keras.layers.Concatenate()([z, e])
    h = keras.layers.Dense(int(np.prod(shape)), activation="tanh")(h)
    return keras.Model([z, index], keras.layers.Reshape(shape)(h), name="tiny_multi")


def test_load_sampler_kinds(tmp_path):
    paths = {}
    for name, model in [
        ("g", _tiny_generator()),
        ("cg", _tiny_conditional()),
        ("multi", _tiny_multi()),
    ]:
        paths[name] = str(tmp_path / f"{name}.keras")
        model.save(paths[name])
    g = A.load_sampler(paths["g"])
    cg = A.load_sampler(paths["cg"])
    multi = A.load_sampler(paths["multi"])
    assert isinstance(g, A.UnlabelledSampler) and isinstance(multi, A.UnlabelledSampler)
    assert isinstance(cg, A.ConditionalSampler) and cg.num_classes == 10
    assert g(5, seed=1).shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(g(3, seed=1), g(3, seed=1))
    assert not np.allclose(g(3, seed=1), g(3, seed=2))
    assert cg(np.array([0, 9, 3]), seed=0).shape == (3, 28, 28, 1)
    assert multi(4, seed=0).shape == (4, 28, 28, 1)
    with pytest.raises(FileNotFoundError):
        A.load_sampler(str(tmp_path / "missing.keras"))


# ---------------------------------------------------------------------------
# Generative-model metrics and the end-to-end sweep
# ---------------------------------------------------------------------------


class _StubFeatures:
    """A cheap stand-in for InceptionFeatures: pooled pixels and a softmax."""

    batch_size = 64

    def __call__(self, images, value_range=None):
        x = np.asarray(images, np.float32)
        if x.ndim == 3:
            x = x[..., None]
        pooled = x.reshape(len(x), 7, x.shape[1] // 7, 7, x.shape[2] // 7, -1).mean(axis=(2, 4, 5))
        pool = pooled.reshape(len(x), -1)
        logits = pool[:, :10] * 3.0
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        return pool, probs / probs.sum(axis=1, keepdims=True)


def test_generative_metrics_per_class():
    x = _blobs(12, seed=1)
    y = np.arange(12) % 3
    real = _blobs(12, seed=2)
    rows = A.generative_metrics(x, y, real, y, features=_StubFeatures(), diversity_pairs=5)
    assert [r["class"] for r in rows] == [0, 1, 2, "all"]
    for r in rows:
        assert np.isfinite(r["fid"]) and r["fid"] >= 0
        assert np.isfinite(r["inception_score"]) and r["inception_score"] >= 1 - 1e-6
        assert 0 <= r["ms_ssim"] <= 1
    no_fid = A.generative_metrics(x, y, None, None, features=None, diversity_pairs=5)
    assert all(np.isnan(r["fid"]) and np.isnan(r["inception_score"]) for r in no_fid)


class _PoolOnly(_StubFeatures):
    """Pool features only, like the 2015 FID network (no classifier head); counts calls."""

    calls = 0

    def __call__(self, images, value_range=None):
        self.calls += 1
        return super().__call__(images, value_range)[0], None


def test_generative_metrics_on_a_network_without_probabilities():
    from kmgan.metrics.inception import frechet_distance
    from kmgan.metrics.kid import kid_from_features

    x = _blobs(12, seed=1)
    y = np.arange(12) % 3
    real = _blobs(12, seed=2)
    features = _PoolOnly()
    rows = A.generative_metrics(x, y, real, y, features=features, diversity_pairs=5)
    assert features.calls == 2  # each side's features once, not once per class
    everything = rows[-1]
    assert everything["class"] == "all" and everything["n"] == 12
    g, r = _StubFeatures()(x)[0].astype(np.float64), _StubFeatures()(real)[0].astype(np.float64)
    want_fid = frechet_distance(
        g.mean(0), np.cov(g, rowvar=False), r.mean(0), np.cov(r, rowvar=False)
    )
    np.testing.assert_allclose(everything["fid"], want_fid, rtol=1e-6)
    want_kid, _ = kid_from_features(g, r, num_subsets=1, subset_size=12)
    np.testing.assert_allclose(everything["kid"], want_kid, rtol=1e-6)
    assert 0 <= everything["coverage"] <= 1 and 0 <= everything["precision"] <= 1
    for row in rows:
        assert np.isnan(row["inception_score"])  # no classifier head
    for row in rows[:-1]:  # 4 images a class: too few for k = 5 neighbours
        assert np.isfinite(row["fid"]) and np.isnan(row["coverage"])
    same = A.generative_metrics(real, y, real, y, features=_PoolOnly(), diversity_pairs=5)[-1]
    assert same["coverage"] == 1.0 and same["precision"] == 1.0 and same["recall"] == 1.0
    assert abs(same["fid"]) < 1e-6
    alone = _PoolOnly()
    reference = A.generative_metrics(real, y, None, None, features=alone, diversity_pairs=5)
    assert alone.calls == 1  # one probe, then no features: nothing to score without a head
    assert all(np.isnan(r["fid"]) and np.isfinite(r["ms_ssim"]) for r in reference)


def test_end_to_end_sweep_writes_every_method(mnist_npz, tmp_path):
    x_train, y_train = load_arrays(str(mnist_npz), "train")
    x_test, y_test = load_arrays(str(mnist_npz), "test")
    real = (x_train[:300], y_train[:300])
    test = (x_test[:100], y_test[:100])
    subsets = []
    conditional = A.sampler_from_model(_tiny_conditional())

    def per_subset(x, y, seed, fraction):  # "trains" a generator on exactly this subset
        subsets.append((len(x), np.bincount(y, minlength=10).tolist(), seed, fraction))
        return conditional

    methods = {
        "none": None,
        "geometric": "geometric",
        "photometric": "photometric",
        "noise": "noise",
        "cgan": A.sampler_from_model(_tiny_conditional()),
        "madgan": A.sampler_from_model(_tiny_multi()),
        "cgan_subset": A.PerSubset(per_subset),
    }
    out = tmp_path / "sweep"
    rows = A.run_sweep(
        real,
        test,
        methods=methods,
        real_fractions=(0.5,),
        generated_ratios=(0, 1),
        seeds=(0,),
        epochs=1,
        out_dir=str(out),
        batch_size=50,
        threshold=0.12,
        model_fn=lambda: A.simple_cnn(
            (28, 28, 1), 10, blocks=1, base_filters=4, dense_units=0, dropout=0.0
        ),
        features=_StubFeatures(),
        metric_samples=40,
        diversity_pairs=10,
        max_draw_factor=5,
        log=None,
    )
    by_method = {}
    for row in rows:
        by_method.setdefault(row["method"], []).append(row)
    assert set(by_method) == set(methods)
    for name in ("none", "geometric", "photometric", "noise"):
        (row,) = by_method[name]
        assert row["n_generated"] == 0 and row["n_real"] == 150 and row["generated_ratio"] == 0
    (cgan,) = by_method["cgan"]
    assert cgan["n_real"] == 150 and cgan["n_generated"] == 150 and cgan["generated_ratio"] == 1
    (subset_row,) = by_method["cgan_subset"]
    assert subset_row["kind"] == "conditional, per subset" and subset_row["n_generated"] == 150
    real_counts = np.bincount(np.asarray(real[1])[:300], minlength=10)
    assert subsets == [(150, A.stratified_counts(real_counts, 0.5).tolist(), 0, 0.5)]
    (madgan,) = by_method["madgan"]
    assert madgan["generated_ratio"] == 1 and 0 <= madgan["n_generated"] <= 150
    assert 0 <= madgan["kept_fraction"] <= 1 and 0 <= madgan["aux_accuracy"] <= 1
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    for r in rows:
        assert np.asarray(r["confusion_matrix"]).sum() == 100

    with open(out / "results.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert {r["method"] for r in csv_rows} == set(methods)
    assert len(csv_rows) == len(rows) == len(methods)
    md = (out / "results.md").read_text()
    for name in methods:
        assert f"| {name} |" in md
    assert "Confidence filter" in md and "MS-SSIM" in md
    assert (out / "accuracy_vs_ratio.png").stat().st_size > 1000
    assert os.path.exists(out / "samples_cgan_fraction0.5.png")
    assert os.path.exists(out / "samples_madgan_fraction0.5_unfiltered.png")
    data = json.loads((out / "results.json").read_text())
    assert len(data["runs"]) == len(rows)
    methods_with_metrics = {r["method"] for r in data["generative_metrics"]}
    assert {"real data", "cgan"} <= methods_with_metrics


@pytest.mark.slow
def test_generative_metrics_with_random_inception_features():
    """The real InceptionV3 path (weights=None: numbers meaningless, plumbing real)."""
    from kmgan.metrics import InceptionFeatures

    features = InceptionFeatures(weights=None, input_size=75, batch_size=8)
    x = _blobs(8, seed=1)
    y = np.arange(8) % 2
    rows = A.generative_metrics(x, y, _blobs(8, seed=2), y, features=features, diversity_pairs=3)
    assert [r["class"] for r in rows] == [0, 1, "all"]
    assert all(np.isfinite(r["fid"]) and np.isfinite(r["inception_score"]) for r in rows)


@pytest.mark.slow
def test_augment_command_loads_keras_generators(mnist_npz, tmp_path):
    from kmgan import augment_cli

    _tiny_conditional().save(tmp_path / "cgan.keras")
    _tiny_multi().save(tmp_path / "madgan.keras")
    out = tmp_path / "run"
    assert (
        augment_cli.main(
            [
                "--data",
                str(mnist_npz),
                "--max-train",
                "200",
                "--max-test",
                "50",
                "--cgan",
                str(tmp_path / "cgan.keras"),
                "--madgan",
                str(tmp_path / "madgan.keras"),
                "--methods",
                "none",
                "noise",
                "cgan",
                "madgan",
                "--real-fractions",
                "0.5",
                "--generated-ratios",
                "0",
                "1",
                "--epochs",
                "1",
                "--threshold",
                "0.1",
                "--inception",
                "none",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with open(out / "results.csv") as f:
        methods = {row["method"] for row in csv.DictReader(f)}
    assert methods == {"none", "noise", "cgan", "madgan"}
