"""Domain classifiers: training once and caching, the scores, CAS, stacked MNIST."""

import json
import os

import keras
import numpy as np
import pytest

from kmgan import metrics
from kmgan.metrics import domain
from kmgan.metrics import stacked_mnist
from tests.conftest import SHARED_DATA
from tests.metric_helpers import shared_file

MNIST_5K = SHARED_DATA / "mnist_5k.npz"
FAST = {"max_examples": 512, "epochs": 1}  # 4 steps: the cache and the API, not accuracy


@pytest.fixture(scope="module")
def digits():
    with np.load(shared_file("mnist_5k.npz")) as f:
        return {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("domain")


@pytest.fixture(scope="module")
def clf(digits, cache):
    return metrics.domain_classifier(MNIST_5K, cache_dir=cache, **FAST)


def _no_training(*args, **kwargs):
    raise AssertionError("the classifier was trained again")


def test_trained_once_then_loaded_from_the_cache(clf, cache, monkeypatch):
    files = sorted(os.listdir(cache))
    assert [os.path.splitext(f)[1] for f in files] == [".json", ".keras"]
    assert files[0].startswith("mnist-5k-") and domain.ARCHITECTURE_VERSION in files[0]
    meta = json.loads((cache / files[0]).read_text())
    assert meta["num_train"] == 512 and meta["num_classes"] == 10
    np.testing.assert_allclose(sum(meta["class_distribution"]), 1.0)
    assert 0.1 < clf.test_accuracy <= 1.0 and meta["test_accuracy"] == clf.test_accuracy
    monkeypatch.setattr(domain, "train_classifier", _no_training)
    again = metrics.domain_classifier(MNIST_5K, cache_dir=cache, **FAST)
    assert again.weights_tag == clf.weights_tag
    np.testing.assert_allclose(again.class_distribution, clf.class_distribution)
    # Other training settings are another cache entry.
    with pytest.raises(AssertionError, match="trained again"):
        metrics.domain_classifier(MNIST_5K, cache_dir=cache, max_examples=256, epochs=1)


def test_damaged_cache_is_retrained_with_a_warning(digits, tmp_path, monkeypatch):
    def quick(images, labels, model=None, **kwargs):  # training is not what is tested
        return model

    monkeypatch.setattr(domain, "train_classifier", quick)
    first = metrics.domain_classifier(MNIST_5K, cache_dir=tmp_path, test_split=None, **FAST)
    model_file = next(p for p in tmp_path.iterdir() if p.suffix == ".keras")
    model_file.write_bytes(b"not a zip")
    with pytest.warns(RuntimeWarning, match="damaged"):
        second = metrics.domain_classifier(MNIST_5K, cache_dir=tmp_path, test_split=None, **FAST)
    assert second.weights_tag == first.weights_tag  # same seed, same untrained weights
    assert keras.saving.load_model(model_file) is not None
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_scores_of_generated_images(clf, digits):
    x, y = digits["x_test"], digits["y_test"]
    assert clf.predict(x[:50]).shape == (50,)
    counts = clf.class_histogram(x)
    assert counts.shape == (10,) and counts.sum() == len(x)
    assert clf.classes_covered(x) == int((counts >= 1).sum())
    assert clf.classes_covered(x, min_count=len(x) + 1) == 0
    np.testing.assert_allclose(clf.accuracy(x, y), (clf.predict(x) == y).mean())
    assert clf.label_accuracy(x, y) > clf.label_accuracy(x, (y + 1) % 10)
    # KL of class histograms to the real class frequencies.
    p_real = clf.class_distribution
    assert abs(clf.kl_from_histogram(p_real * 1000)) < 1e-12
    one = np.eye(10)[3] * 100
    np.testing.assert_allclose(clf.kl_from_histogram(one), np.log(1 / p_real[3]))
    np.testing.assert_allclose(clf.kl_to_real(x), clf.kl_from_histogram(counts))
    with pytest.raises(ValueError, match="labels"):
        clf.label_accuracy(x[:5], y[:4])
    with pytest.raises(ValueError, match="28x28"):
        clf.predict(np.zeros((2, 32, 32, 1), "float32"))


def test_it_is_a_feature_extractor(clf, digits):
    x = digits["x_test"]
    assert clf.comparable_to_papers is False and clf.feature_dim == 128
    assert clf.input_size == 28 and clf.weights_tag.startswith("domain-")
    f, p = clf(x[:30])
    assert f.shape == (30, 128) and f.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(clf.features(x[:30]), f, rtol=1e-5, atol=1e-6)
    # Floats in [-1, 1] and uint8 read the same; so does grey repeated to RGB.
    scaled = x[:30].astype("float32") / 127.5 - 1.0
    np.testing.assert_allclose(clf(scaled)[0], f, rtol=1e-4, atol=1e-4)
    rgb = np.repeat(scaled[..., None], 3, axis=-1)
    np.testing.assert_allclose(clf(rgb)[0], f, rtol=1e-4, atol=1e-4)
    # The "classifier FID": kmgan.metrics.fid and evaluate on its features.
    real, other = x[:400], x[400:800]
    value = metrics.fid(real, other, features=clf)
    same = metrics.evaluate(other, real, features=clf, metrics=("fid", "classes"))
    np.testing.assert_allclose(same["fid"], value, rtol=1e-4)
    assert same["classes_covered"] == clf.classes_covered(other)
    collapsed = np.repeat(x[:1], 400, axis=0)
    assert metrics.fid(real, collapsed, features=clf) > 5 * value


def test_classification_accuracy_score(digits):
    x, y = digits["x_train"], digits["y_train"]
    by_class = [x[y == c] for c in range(10)]

    def faithful(labels):  # "generates" a real training digit of each label
        return np.stack([by_class[c][i % len(by_class[c])] for i, c in enumerate(labels)])

    def mislabelled(labels):
        return faithful((np.asarray(labels) + 1) % 10)

    def mlp():  # fast on JAX's CPU; the default network is trained in `clf`
        return keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10),
            ]
        )

    test = (digits["x_test"], digits["y_test"])
    good = metrics.classification_accuracy_score(
        faithful, test, num_samples=1000, epochs=3, model=mlp()
    )
    bad = metrics.classification_accuracy_score(
        mislabelled, test, num_samples=1000, epochs=3, model=mlp()
    )
    print(f"CAS of real digits {good:.3f}, of mislabelled ones {bad:.3f} (24 steps each)")
    assert good > 0.6 and bad < 0.1
    with pytest.raises(ValueError, match="fewer than the 10 classes"):
        metrics.classification_accuracy_score(faithful, test, num_samples=5)


def test_stacked_mnist_takes_the_domain_classifier(clf, digits):
    x, modes = stacked_mnist.stacked_mnist(
        digits["x_test"], digits["y_test"], num_samples=200, seed=0
    )
    labelled = stacked_mnist.label_stacked(x, clf)
    digits_r = clf.predict(x[..., :1])
    np.testing.assert_array_equal(labelled // 100, digits_r)
    assert stacked_mnist.stacked_mnist_coverage(x, clf)["modes_covered"] > 1
    model = stacked_mnist.mnist_classifier(seed=0)
    assert model.get_layer(domain.FEATURES_LAYER).output.shape[-1] == 128


@pytest.mark.slow
@pytest.mark.parametrize("name, floor", [("mnist", 0.985), ("fashion_mnist", 0.88)])
def test_full_dataset_accuracy(name, floor, tmp_path):
    path = SHARED_DATA / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    trained = metrics.domain_classifier(path, cache_dir=tmp_path)
    print(f"{name}: test accuracy {trained.test_accuracy:.4f}")
    assert trained.test_accuracy >= floor
