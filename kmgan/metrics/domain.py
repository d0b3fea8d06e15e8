"""Domain classifiers: scores for digit-like data, where ImageNet features see little.

A small CNN trained once on the real training split of a dataset (MNIST,
Fashion-MNIST, any labelled Keras-style ``.npz``) and cached under
``~/.cache/kmgan/domain/`` scores generated images by what they depict:

* ``class_histogram`` / ``classes_covered``: which classes the generator
  makes (mode coverage at the level of classes);
* ``kl_to_real``: KL(p_generated || p_real) of the predicted class
  histogram to the real class frequencies (0 for matching proportions,
  ``log(1 / p_c)`` for a generator that only makes class c);
* ``label_accuracy``: for a conditional generator, how often the classifier
  reads back the label that was asked for;
* ``features``: the penultimate (128-d) activations. The classifier is
  itself a feature extractor (``comparable_to_papers=False``), so
  ``kmgan.metrics.fid(a, b, features=clf)`` is a fast "classifier FID" for
  monitoring a run, meaningful only between runs scored by the same
  classifier;
* :func:`classification_accuracy_score` (CAS, Ravuri & Vinyals 2019): the
  accuracy on real test data of a classifier trained on generated data
  only.

``kmgan.metrics.stacked_mnist`` labels its stacked digits with the same
classifier (:func:`classifier_network`, :func:`train_classifier`).
"""

import hashlib
import json
import os
import warnings

import keras
import numpy as np
from keras import layers
from scipy import special

from kmgan.metrics.features import dataset_tag
from kmgan.metrics.inception import _to_numpy
from kmgan.metrics.inception import preprocess_images

#: Part of the cache key: bump it when :func:`classifier_network` changes.
ARCHITECTURE_VERSION = "cnn-v1"
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "kmgan", "domain")
FEATURES_LAYER = "features"

__all__ = [
    "ARCHITECTURE_VERSION",
    "DEFAULT_CACHE_DIR",
    "DomainClassifier",
    "classification_accuracy_score",
    "classifier_network",
    "domain_classifier",
    "train_classifier",
]


def classifier_network(
    input_shape=(28, 28, 1), num_classes=10, seed=None, name="domain_classifier"
):
    """The domain classifier's CNN: images in [-1, 1] -> class logits.

    Conv(32, 3) - ReLU - MaxPool - Conv(64, 3) - ReLU - MaxPool - Dense(128)
    (layer ``"features"``, the penultimate features) - Dropout(0.3) -
    Dense(num_classes) (layer ``"logits"``).

    Args:
        input_shape: ``(H, W, C)``, channels-last.
        num_classes: number of classes.
        seed: initializer seed (``None``: random).
        name: model name.

    Returns:
        A functional ``keras.Model``.
    """
    init = keras.initializers.GlorotUniform

    def s(i):
        return None if seed is None else seed + i

    inp = keras.Input(tuple(input_shape), name="image")
    x = layers.Conv2D(32, 3, activation="relu", kernel_initializer=init(s(0)))(inp)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu", kernel_initializer=init(s(1)))(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", kernel_initializer=init(s(2)), name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.3, seed=s(3))(x)
    logits = layers.Dense(int(num_classes), kernel_initializer=init(s(4)), name="logits")(x)
    return keras.Model(inp, logits, name=name)


def _prepare(images, input_shape, value_range=None, chunk=10000):
    """Images -> float32 ``(N,) + input_shape`` in [-1, 1], checked."""
    x = _to_numpy(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"Expected images (N, H, W) or (N, H, W, C); got shape {x.shape}.")
    height, width, channels = (int(v) for v in input_shape)
    if x.shape[-1] != channels:
        # Grayscale repeated to RGB (what `preprocess_images` makes) is read back.
        grey = (
            channels == 1
            and x.shape[-1] == 3
            and all(np.array_equal(x[..., 0], x[..., c]) for c in (1, 2))
        )
        if not grey:
            raise ValueError(
                f"The classifier takes {channels}-channel images; got shape {x.shape}."
            )
        x = x[..., :1]
    if x.shape[1:3] != (height, width):
        raise ValueError(
            f"The classifier takes {height}x{width} images; got {x.shape[1]}x{x.shape[2]} "
            f"(shape {x.shape})."
        )
    out = np.empty(x.shape[:3] + (channels,), np.float32)
    for start in range(0, max(len(x), 1), chunk):
        part = x[start : start + chunk]
        if len(part):
            out[start : start + chunk] = preprocess_images(part, value_range)[..., :channels]
    return out


def _labels(labels, n=None, what="labels"):
    y = np.asarray(labels).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what} must be integer class ids; got dtype {y.dtype}.")
    if n is not None and len(y) != n:
        raise ValueError(f"Got {len(y)} {what} for {n} images.")
    if len(y) and y.min() < 0:
        raise ValueError(f"{what} must be non-negative; got {y.min()}.")
    return y.astype(np.int32)


def train_classifier(
    images,
    labels,
    model=None,
    epochs=3,
    batch_size=128,
    seed=0,
    verbose=0,
    value_range=None,
    num_classes=None,
):
    """Trains a classifier of images in [-1, 1] with Adam(1e-3) and cross-entropy.

    Args:
        images: ``(N, H, W[, C])`` training images (uint8, or floats in
            ``value_range``).
        labels: ``(N,)`` integer labels.
        model: the classifier (images -> logits); default
            :func:`classifier_network` for these images and classes.
        epochs: passes over the data.
        batch_size: batch size.
        seed: initializer seed of the default model.
        verbose: Keras verbosity.
        value_range: pixel range of float images (default ``(-1, 1)``).
        num_classes: classes of the default model (default
            ``max(labels) + 1``).

    Returns:
        The trained ``keras.Model``.
    """
    y = _labels(labels)
    if not len(y):
        raise ValueError("No training images were given.")
    if model is None:
        shape = _to_numpy(images).shape[1:]
        shape = tuple(shape) + (1,) if len(shape) == 2 else tuple(shape)
        model = classifier_network(shape, num_classes or int(y.max()) + 1, seed=seed)
    x = _prepare(images, model.inputs[0].shape[1:], value_range)
    if len(x) != len(y):
        raise ValueError(f"Got {len(y)} labels for {len(x)} images.")
    classes = int(model.outputs[0].shape[-1])
    if y.max() >= classes:
        raise ValueError(f"The model has {classes} outputs; got label {y.max()}.")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=int(epochs), batch_size=int(batch_size), verbose=verbose, shuffle=True)
    return model


def _weights_digest(model):
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()


class DomainClassifier:
    """A trained classifier that scores generated images (see the module docstring).

    It follows the feature-extractor protocol of :mod:`kmgan.metrics`:
    ``clf(images, value_range=None)`` returns ``(penultimate features,
    class probabilities)``.

    Args:
        model: a classifier ``keras.Model`` from images in [-1, 1] to logits,
            with a layer named ``"features"`` (else the input of its last
            layer is used as the features).
        class_distribution: the real class frequencies ``(num_classes,)``
            (needed by :meth:`kl_to_real`).
        name: a display name.
        batch_size: images per forward pass (the last batch is padded, so
            predict is traced once).
        test_accuracy: accuracy on the real test split, when known.
        info: metadata (dataset, split, training settings), when known.

    Attributes:
        model: the classifier.
        num_classes: number of classes.
        input_shape: ``(H, W, C)``.
        input_size: ``H``.
        feature_dim: size of the penultimate features.
        weights_tag: ``"domain-<sha256 prefix of the weights>"`` (cache keys).
        comparable_to_papers: ``False``.
        has_classifier: ``True``.
        name: the display name.
        class_distribution: float64 ``(num_classes,)`` or ``None``.
        test_accuracy: float or ``None``.
        info: dict.
    """

    comparable_to_papers = False
    has_classifier = True

    def __init__(
        self,
        model,
        class_distribution=None,
        name=None,
        batch_size=500,
        test_accuracy=None,
        info=None,
    ):
        if not isinstance(model, keras.Model):
            raise TypeError(f"Expected a keras.Model classifier; got {type(model).__name__}.")
        self.model = model
        try:
            feats = model.get_layer(FEATURES_LAYER).output
        except ValueError:
            feats = model.layers[-1].input
        self._both = keras.Model(model.inputs, [feats, model.outputs[0]])
        self.input_shape = tuple(int(v) for v in model.inputs[0].shape[1:])
        self.input_size = self.input_shape[0]
        self.num_classes = int(model.outputs[0].shape[-1])
        self.feature_dim = int(feats.shape[-1])
        self.batch_size = int(batch_size)
        self.weights_tag = "domain-" + _weights_digest(model)[:12]
        self.name = name or f"domain classifier {model.name}"
        if class_distribution is not None:
            p = np.asarray(class_distribution, np.float64).reshape(-1)
            if p.shape != (self.num_classes,) or np.any(p < 0) or not p.sum() > 0:
                raise ValueError(
                    f"class_distribution must be {self.num_classes} non-negative frequencies; "
                    f"got {p}."
                )
            class_distribution = p / p.sum()
        self.class_distribution = class_distribution
        self.test_accuracy = None if test_accuracy is None else float(test_accuracy)
        self.info = dict(info or {})

    # ------------------------------------------------------------ passes
    def __call__(self, images, value_range=None):
        """Penultimate features and class probabilities of images.

        Args:
            images: ``(N, H, W[, C])`` images (uint8, or floats in
                ``value_range``, default ``(-1, 1)``).
            value_range: pixel range of float images.

        Returns:
            ``(features, probs)``: float32 ``(N, feature_dim)`` and
            ``(N, num_classes)``.
        """
        x = _prepare(images, self.input_shape, value_range)
        n, size = len(x), self.batch_size
        if n == 0:
            return (
                np.zeros((0, self.feature_dim), np.float32),
                np.zeros((0, self.num_classes), np.float32),
            )
        feats, logits = [], []
        for start in range(0, n, size):
            chunk = x[start : start + size]
            m = len(chunk)
            if m < size:
                pad = np.zeros((size - m,) + chunk.shape[1:], chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            f, z = self._both.predict_on_batch(chunk)
            feats.append(_to_numpy(f)[:m])
            logits.append(_to_numpy(z)[:m])
        probs = special.softmax(np.concatenate(logits).astype(np.float64), axis=-1)
        return np.concatenate(feats).astype(np.float32), probs.astype(np.float32)

    def features(self, images, value_range=None):
        """Penultimate features ``(N, feature_dim)`` of images."""
        return self(images, value_range)[0]

    def predict_proba(self, images, value_range=None):
        """Class probabilities ``(N, num_classes)`` of images."""
        return self(images, value_range)[1]

    def predict(self, images, value_range=None):
        """Predicted classes, int ``(N,)``."""
        return self.predict_proba(images, value_range).argmax(axis=-1)

    # ------------------------------------------------------------ scores
    def class_histogram(self, images, value_range=None):
        """Counts of predicted classes, int64 ``(num_classes,)``."""
        return np.bincount(self.predict(images, value_range), minlength=self.num_classes)

    def classes_covered(self, images, min_count=1, value_range=None):
        """Number of classes predicted for at least ``min_count`` images.

        Args:
            images: generated images.
            min_count: the fewest images a class needs to count (1, the
                stacked-MNIST convention, counts any class the generator
                made at all, including classifier errors; raise it to ask
                for a share of the samples).
            value_range: pixel range of float images.

        Returns:
            An int in ``[0, num_classes]``.
        """
        if int(min_count) < 1:
            raise ValueError(f"min_count must be at least 1; got {min_count}.")
        return int((self.class_histogram(images, value_range) >= int(min_count)).sum())

    def kl_from_histogram(self, counts):
        """KL(p_generated || p_real) of a class histogram (nats).

        Args:
            counts: ``(num_classes,)`` counts (e.g. :meth:`class_histogram`).

        Returns:
            A Python float >= 0; ``inf`` when a class absent from the real
            data is predicted.
        """
        if self.class_distribution is None:
            raise ValueError(
                "This classifier has no real class distribution; build it with "
                "domain_classifier(...) or pass class_distribution=."
            )
        counts = np.asarray(counts, np.float64).reshape(-1)
        if counts.shape != (self.num_classes,) or not counts.sum() > 0:
            raise ValueError(
                f"Expected {self.num_classes} counts with a positive sum; got {counts}."
            )
        p = counts / counts.sum()
        return float(special.rel_entr(p, self.class_distribution).sum())

    def kl_to_real(self, images, value_range=None):
        """KL(p_generated || p_real) of the predicted classes of images (nats)."""
        return self.kl_from_histogram(self.class_histogram(images, value_range))

    def label_accuracy(self, images, requested_labels, value_range=None):
        """Share of images classified as the label they were generated for.

        Args:
            images: images of a conditional generator.
            requested_labels: ``(N,)`` the labels that were asked for.
            value_range: pixel range of float images.

        Returns:
            A Python float in [0, 1].
        """
        y = _labels(requested_labels, len(_to_numpy(images)), "requested labels")
        return float((self.predict(images, value_range) == y).mean())

    def accuracy(self, images, labels, value_range=None):
        """Accuracy on labelled images (e.g. the real test split)."""
        return self.label_accuracy(images, labels, value_range)

    def __repr__(self):
        acc = "" if self.test_accuracy is None else f", test_accuracy={self.test_accuracy:.4f}"
        return f"DomainClassifier({self.name!r}, classes={self.num_classes}{acc})"


# ---------------------------------------------------------------- the cache


def _paths(dataset, split, config, cache_dir):
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    stem = f"{dataset_tag(dataset)}_{split}_{ARCHITECTURE_VERSION}_{digest}"
    folder = os.path.expanduser(os.fspath(cache_dir))
    return os.path.join(folder, stem + ".keras"), os.path.join(folder, stem + ".json")


def _load_cached(model_path, meta_path, batch_size):
    """The cached classifier, or ``None`` (with a warning) when it is damaged."""
    try:
        with open(meta_path) as f:
            meta = json.load(f)
        model = keras.saving.load_model(model_path, safe_mode=True)
        clf = DomainClassifier(
            model,
            meta["class_distribution"],
            name=meta["name"],
            batch_size=batch_size,
            test_accuracy=meta.get("test_accuracy"),
            info=meta,
        )
        if clf.weights_tag != meta["weights_tag"]:
            raise ValueError("its weights do not match the metadata")
        return clf
    except Exception as err:  # noqa: BLE001 - any unreadable file is rebuilt
        warnings.warn(
            f"The cached domain classifier {model_path} is damaged "
            f"({type(err).__name__}: {err}); training it again.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def _atomic_write(path, write):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    root, ext = os.path.splitext(path)
    tmp = f"{root}.{os.getpid()}.tmp{ext}"  # keeps the extension Keras checks
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def domain_classifier(
    dataset="mnist",
    split="train",
    *,
    test_split="test",
    epochs=5,
    batch_size=128,
    max_examples=None,
    seed=0,
    cache_dir=DEFAULT_CACHE_DIR,
    retrain=False,
    verbose=0,
):
    """The domain classifier of a dataset, trained once and cached.

    On the first call the classifier (:func:`classifier_network`) is trained
    on the real ``split`` of ``dataset`` (read with
    :func:`kmgan.data.load_arrays`: a dataset name, or a local ``.npz`` /
    idx folder), its accuracy measured on ``test_split`` when the dataset has
    one, and both the model (``.keras``) and its metadata (``.json``: class
    frequencies, test accuracy, settings) are written atomically under
    ``cache_dir``. Later calls load them. The key holds the dataset (a local
    file by its size and sha256), the split, :data:`ARCHITECTURE_VERSION`
    and the training settings; a damaged entry is retrained, with a
    ``RuntimeWarning``.

    Args:
        dataset: ``"mnist"``, ``"fashion_mnist"``, or a path to a labelled
            Keras-style ``.npz`` (or idx folder).
        split: the training split.
        test_split: the split to measure accuracy on, or ``None``.
        epochs: training epochs (5 reach about 99% test accuracy on full
            MNIST, 90% on Fashion-MNIST).
        batch_size: training batch size.
        max_examples: train on the first ``max_examples`` images only
            (fast tests).
        seed: initializer seed.
        cache_dir: cache folder, ``~/.cache/kmgan/domain`` by default.
        retrain: ignore and overwrite a cached classifier.
        verbose: Keras verbosity while training.

    Returns:
        A :class:`DomainClassifier`.
    """
    config = {
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "max_examples": None if max_examples is None else int(max_examples),
    }
    model_path, meta_path = _paths(dataset, split, config, cache_dir)
    if not retrain and os.path.isfile(model_path) and os.path.isfile(meta_path):
        clf = _load_cached(model_path, meta_path, batch_size=500)
        if clf is not None:
            return clf

    from kmgan import data

    x, y = data.load_arrays(dataset, split)
    if y is None:
        raise ValueError(
            f"{dataset} has no labels for the {split!r} split; a domain "
            "classifier needs labelled training data."
        )
    if max_examples is not None:
        x, y = x[: int(max_examples)], y[: int(max_examples)]
    y = _labels(y)
    num_classes = int(y.max()) + 1
    shape = x.shape[1:] + (1,) if x.ndim == 3 else x.shape[1:]
    model = classifier_network(shape, num_classes, seed=seed, name="domain_classifier")
    train_classifier(x, y, model=model, epochs=epochs, batch_size=batch_size, verbose=verbose)
    distribution = np.bincount(y, minlength=num_classes) / len(y)
    name = f"domain classifier ({dataset_tag(dataset)}, {split})"
    clf = DomainClassifier(model, distribution, name=name)
    if test_split is not None:
        try:
            x_test, y_test = data.load_arrays(dataset, test_split)
        except ValueError:
            x_test = y_test = None
        if y_test is not None:
            clf.test_accuracy = clf.accuracy(x_test, _labels(y_test))
    meta = {
        "name": name,
        "dataset": str(dataset),
        "dataset_tag": dataset_tag(dataset),
        "split": split,
        "num_train": int(len(y)),
        "num_classes": num_classes,
        "class_distribution": distribution.tolist(),
        "test_split": test_split,
        "test_accuracy": clf.test_accuracy,
        "architecture": ARCHITECTURE_VERSION,
        "config": config,
        "weights_tag": clf.weights_tag,
        "keras_version": keras.__version__,
        "trained_on_backend": keras.backend.backend(),
    }
    clf.info = meta
    _atomic_write(model_path, model.save)

    def write_meta(path):
        with open(path, "w") as f:
            json.dump(meta, f, indent=1)

    _atomic_write(meta_path, write_meta)
    return clf


def classification_accuracy_score(
    conditional_sample_fn,
    real_test,
    num_samples=10000,
    num_classes=None,
    epochs=3,
    batch_size=128,
    seed=0,
    value_range=None,
    model=None,
    verbose=0,
):
    """Classification Accuracy Score (Ravuri & Vinyals 2019).

    A classifier (:func:`classifier_network`) is trained on generated images
    only, ``num_samples`` of them with balanced labels, each image generated
    for its label; the score is its accuracy on the real test data. A
    conditional generator whose images carry the features of their classes
    scores near a classifier trained on real data; one that ignores its
    labels scores near chance.

    Args:
        conditional_sample_fn: ``fn(labels) -> images``, one image per
            label (e.g. a :class:`kmgan.augment.ConditionalSampler`, or
            ``lambda y: game.sample(len(y), labels=y, seed=0)``).
        real_test: ``(images, labels)`` of the real test split.
        num_samples: generated training images.
        num_classes: number of classes (default: from the test labels).
        epochs: training epochs.
        batch_size: training batch size.
        seed: seed of the label order and of the classifier's initializer.
        value_range: pixel range of float images (default ``(-1, 1)``).
        model: an untrained classifier (images in [-1, 1] -> logits) to
            train instead of :func:`classifier_network` (the paper trains a
            ResNet).
        verbose: Keras verbosity.

    Returns:
        The accuracy on ``real_test``, a Python float in [0, 1].
    """
    x_test, y_test = real_test
    y_test = _labels(y_test, len(_to_numpy(x_test)), "test labels")
    num_classes = int(num_classes or y_test.max() + 1)
    if int(num_samples) < num_classes:
        raise ValueError(f"num_samples={num_samples} is fewer than the {num_classes} classes.")
    labels = np.random.default_rng(seed).permutation(np.arange(int(num_samples)) % num_classes)
    labels = labels.astype(np.int32)
    images = _to_numpy(conditional_sample_fn(labels))
    if len(images) != len(labels):
        raise ValueError(
            f"conditional_sample_fn returned {len(images)} images for {len(labels)} labels."
        )
    if model is None:
        shape = images.shape[1:] + (1,) if images.ndim == 3 else images.shape[1:]
        model = classifier_network(shape, num_classes, seed=seed, name="cas_classifier")
    train_classifier(
        images,
        labels,
        model=model,
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
        value_range=value_range,
    )
    return DomainClassifier(model).accuracy(x_test, y_test)
