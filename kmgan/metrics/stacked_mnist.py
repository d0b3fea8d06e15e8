"""Stacked MNIST: 1,000 modes from three MNIST digits in the RGB channels.

The benchmark of VEEGAN (Srivastava et al. 2017), PacGAN (Lin et al. 2018)
and MAD-GAN: an example is three MNIST digits stacked as the R, G and B
channels of a 28x28x3 image; its mode is the triple of digit labels,
100 * d_R + 10 * d_G + d_B, one of 1,000. A generator is scored on 26,000
samples: each channel is labelled by a pretrained MNIST classifier, and we
count the modes that get at least one sample and the KL divergence of the
mode histogram from the uniform distribution over 1,000 modes,
KL(p || U) = sum_m p_m log(1000 p_m) (0 for a perfectly balanced
generator, log 1000 = 6.9 for one that makes a single mode).

Images are in [-1, 1] (the games' tanh range), and the classifier takes
(N, 28, 28, 1) images in [-1, 1]: `kmgan.metrics.domain_classifier("mnist")`
(trained once and cached; the one classifier mechanism of kmgan.metrics), or
a model from `train_mnist_classifier` (the same network and training; it
reaches about 97% test accuracy on the 5,000-digit offline subset in a few
epochs, 99% on full MNIST).
"""

import keras
import numpy as np

from kmgan.metrics import domain
from kmgan.metrics.mode_coverage import kl_to_uniform

NUM_MODES = 1000
#: Samples the PacGAN / VEEGAN protocol scores.
PROTOCOL_SAMPLES = 26000


def to_unit_range(images):
    """MNIST digits -> float32 (N, 28, 28, 1) in [-1, 1].

    Integer arrays (uint8 0-255) are scaled by x / 127.5 - 1; float arrays
    are taken to be in [-1, 1] already (the games' range) and kept as they
    are.
    """
    raw = np.asarray(images)
    x = raw[..., None] if raw.ndim == 3 else raw
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(f"Expected MNIST images (N, 28, 28[, 1]), got {raw.shape}.")
    if np.issubdtype(raw.dtype, np.integer):
        return x.astype("float32") / 127.5 - 1.0
    return x.astype("float32")


def stacked_mnist(images, labels=None, num_samples=PROTOCOL_SAMPLES, seed=None):
    """Builds stacked-MNIST examples from an MNIST array.

    Each example draws three digits uniformly at random (with replacement)
    and stacks them as R, G, B.

    Args:
        images: MNIST digits (N, 28, 28) or (N, 28, 28, 1), uint8 0-255 or
            floats in [-1, 1].
        labels: their labels (N,), or None.
        num_samples: examples to build.
        seed: seed of the draws.

    Returns:
        `(x, modes)`: float32 (num_samples, 28, 28, 3) in [-1, 1] and int32
        modes 100 * d_R + 10 * d_G + d_B (None without labels).
    """
    x = to_unit_range(images)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(x), size=(int(num_samples), 3))
    stacked = np.concatenate([x[picks[:, c]] for c in range(3)], axis=-1)
    if labels is None:
        return stacked, None
    y = np.asarray(labels).astype("int64").reshape(-1)
    modes = 100 * y[picks[:, 0]] + 10 * y[picks[:, 1]] + y[picks[:, 2]]
    return stacked, modes.astype("int32")


def stacked_mnist_dataset(
    images, num_samples=PROTOCOL_SAMPLES * 2, batch_size=64, seed=None, labels=None
):
    """A `tf.data` pipeline of stacked-MNIST images for `game.fit`.

    Args: as `stacked_mnist`; with `labels` the batches are (x, mode).
    """
    from kmgan import data

    x, modes = stacked_mnist(images, labels, num_samples, seed)
    return data.from_arrays(x, modes, batch_size=batch_size, seed=seed)


def mnist_classifier(name="mnist_classifier", seed=None):
    """A small CNN for 28x28x1 digits in [-1, 1] -> 10 logits.

    The domain classifier's network,
    `kmgan.metrics.domain.classifier_network((28, 28, 1), 10)`:
    Conv(32, 3) - ReLU - MaxPool - Conv(64, 3) - ReLU - MaxPool - Dense(128)
    - Dropout(0.3) - Dense(10).
    """
    return domain.classifier_network((28, 28, 1), 10, seed=seed, name=name)


def train_mnist_classifier(
    images, labels, epochs=5, batch_size=128, validation=None, seed=0, verbose=0, model=None
):
    """Trains `mnist_classifier` on MNIST digits (the recipe step).

    The training of `kmgan.metrics.domain.train_classifier`; for a
    classifier trained once per dataset and cached, use
    `kmgan.metrics.domain_classifier("mnist.npz")`, which `label_stacked`
    and `stacked_mnist_coverage` take as well.

    Args:
        images, labels: training digits (uint8 or float) and labels.
        epochs, batch_size: training length.
        validation: optional (images, labels) to report accuracy on.
        seed: initializer seed.
        verbose: Keras verbosity.
        model: the classifier to train (28x28x1 in [-1, 1] -> 10 logits);
            default `mnist_classifier(seed=seed)`.

    Returns:
        `(classifier, accuracy)`: the trained model (save it with
        `.save("mnist_classifier.keras")`) and its accuracy on `validation`
        (None without validation data).
    """
    if model is None:
        model = mnist_classifier(seed=seed)
    domain.train_classifier(
        to_unit_range(images),
        labels,
        model=model,
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
    )
    accuracy = None
    if validation is not None:
        predicted = predict_digits(validation[0], model)
        accuracy = float((predicted == np.asarray(validation[1]).reshape(-1)).mean())
    return model, accuracy


def predict_digits(images, classifier, batch_size=1000):
    """argmax of `classifier` on (N, 28, 28[, 1]) digits in [-1, 1] (or
    uint8). `classifier` is a `kmgan.metrics.DomainClassifier`, a Keras
    model or any callable returning (N, 10) scores."""
    x = to_unit_range(images)
    if isinstance(classifier, domain.DomainClassifier):
        return classifier.predict(x)
    if isinstance(classifier, keras.Model):
        scores = classifier.predict(x, batch_size=batch_size, verbose=0)
    else:
        scores = np.concatenate(
            [np.asarray(classifier(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        )
    return np.asarray(scores).argmax(axis=-1)


def label_stacked(samples, classifier, batch_size=1000):
    """The mode of each stacked-MNIST sample, labelled channel by channel.

    Args:
        samples: (N, 28, 28, 3) images in [-1, 1].
        classifier: MNIST classifier on (N, 28, 28, 1) images in [-1, 1].
        batch_size: inference batch size.

    Returns:
        int32 (N,) modes 100 * d_R + 10 * d_G + d_B.
    """
    samples = np.asarray(samples, "float32")
    if samples.ndim != 4 or samples.shape[1:] != (28, 28, 3):
        raise ValueError(f"Expected stacked-MNIST samples (N, 28, 28, 3), got {samples.shape}.")
    n = len(samples)
    # One classifier pass over the 3N channel images.
    channels = np.concatenate([samples[..., c : c + 1] for c in range(3)], axis=0)
    digits = predict_digits(channels, classifier, batch_size).reshape(3, n)
    return (100 * digits[0] + 10 * digits[1] + digits[2]).astype("int32")


def stacked_mnist_coverage(samples, classifier, batch_size=1000):
    """Modes covered and KL to uniform of stacked-MNIST samples.

    Args:
        samples: (N, 28, 28, 3) generated images in [-1, 1] (the protocol
            uses N = 26,000).
        classifier: MNIST classifier (see `label_stacked`).
        batch_size: inference batch size.

    Returns:
        dict with `modes_covered` (of 1,000), `num_modes`, `kl_to_uniform`
        (KL of the mode histogram from uniform), `counts` (1000,) and
        `modes` (per sample).
    """
    modes = label_stacked(samples, classifier, batch_size)
    return coverage_of_modes(modes)


def coverage_of_modes(modes, num_modes=NUM_MODES):
    """`stacked_mnist_coverage` from already-computed modes."""
    counts = np.bincount(np.asarray(modes).reshape(-1), minlength=num_modes)
    return {
        "modes_covered": int((counts > 0).sum()),
        "num_modes": int(num_modes),
        "kl_to_uniform": kl_to_uniform(counts),
        "counts": counts,
        "modes": np.asarray(modes),
    }
