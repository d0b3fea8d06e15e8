"""Stacked MNIST: construction, channel-by-channel labelling, coverage and KL."""

import keras
import numpy as np
import pytest

from kmgan.metrics import stacked_mnist as sm


def brightness_digits(n_per_class=20, seed=0):
    """Fake 'MNIST': digit d is a uint8 image of constant level 20 * d + 10."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class)
    rng.shuffle(labels)
    levels = (20 * labels + 10).astype("uint8")[:, None, None]
    images = np.broadcast_to(levels, (len(labels), 28, 28))
    return np.array(images), labels


def brightness_classifier(x):
    """Reads a brightness digit back from images in [-1, 1]."""
    level = (np.asarray(x).mean(axis=(1, 2, 3)) + 1.0) * 127.5
    return np.eye(10)[np.clip(np.round((level - 10) / 20).astype(int), 0, 9)]


def test_stacked_examples_stack_three_digits():
    images, labels = brightness_digits()
    x, modes = sm.stacked_mnist(images, labels, num_samples=500, seed=0)
    assert x.shape == (500, 28, 28, 3) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    digits = [brightness_classifier(x[..., c : c + 1]).argmax(1) for c in range(3)]
    np.testing.assert_array_equal(modes, 100 * digits[0] + 10 * digits[1] + digits[2])
    x2, modes2 = sm.stacked_mnist(images, labels, num_samples=500, seed=0)
    np.testing.assert_array_equal(modes, modes2)
    assert sm.stacked_mnist(images, None, num_samples=3)[1] is None


def test_coverage_and_kl_of_labelled_samples():
    images, labels = brightness_digits()
    x, modes = sm.stacked_mnist(images, labels, num_samples=20000, seed=1)
    result = sm.stacked_mnist_coverage(x, brightness_classifier)
    np.testing.assert_array_equal(result["modes"], modes)
    assert result["num_modes"] == 1000
    assert result["modes_covered"] == 1000  # 20 samples per mode on average
    assert 0 < result["kl_to_uniform"] < 0.05
    # A collapsed generator: one mode, KL = log(1000).
    collapsed = np.repeat(x[:1], 100, axis=0)
    one = sm.stacked_mnist_coverage(collapsed, brightness_classifier)
    assert one["modes_covered"] == 1
    np.testing.assert_allclose(one["kl_to_uniform"], np.log(1000), rtol=1e-9)


def test_mnist_classifier_shape():
    model = sm.mnist_classifier(seed=0)
    assert tuple(model.inputs[0].shape[1:]) == (28, 28, 1)
    assert tuple(model.outputs[0].shape[1:]) == (10,)


def test_label_stacked_checks_shapes():
    with pytest.raises(ValueError, match="28, 28, 3"):
        sm.label_stacked(np.zeros((2, 28, 28, 1), "float32"), brightness_classifier)
    with pytest.raises(ValueError, match="MNIST"):
        sm.stacked_mnist(np.zeros((4, 28, 28, 3), "uint8"))


def test_real_mnist_classifier_counts_real_stacked_modes(mnist_npz):
    with np.load(mnist_npz) as f:
        keys = ("x_train", "y_train", "x_test", "y_test")
        x_train, y_train, x_test, y_test = (f[k] for k in keys)
    # A small MLP keeps the test fast on JAX's CPU convolutions; the recipe
    # trains the default CNN (`sm.mnist_classifier`) the same way.
    mlp = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    classifier, accuracy = sm.train_mnist_classifier(
        x_train, y_train, epochs=3, batch_size=64, validation=(x_test, y_test), model=mlp
    )
    assert accuracy > 0.85
    # Real stacked-MNIST data built from held-out digits covers (nearly) every
    # mode and is close to uniform; the classifier's errors still land in modes.
    x, modes = sm.stacked_mnist(x_test, y_test, num_samples=8000, seed=0)
    result = sm.stacked_mnist_coverage(x, classifier)
    assert result["modes_covered"] >= 980
    assert result["kl_to_uniform"] < 0.3
    assert (result["modes"] == modes).mean() > 0.7
