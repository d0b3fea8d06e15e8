"""Generative data augmentation: GAN samples as training data for classifiers.

This module turns the study of Reinhart's thesis ("Multi-Agent Diverse
Generative Adversarial Networks for Generative Data Augmentation", HdM
Stuttgart 2025) into a tool for your own data. It answers one question: does
adding generated images to a classifier's training set beat traditional
augmentation, and does a MAD-GAN's (unlabelled, diverse) output beat a
conditional GAN's (labelled) output?

The pieces, usable on their own:

* **Samplers** (two tiny protocols, so any model works):
  an unlabelled sampler ``sample_fn(n, seed) -> images in [-1, 1]`` (a
  MAD-GAN `.keras` sampler, ``game.sample``, any unconditional generator) is
  wrapped in :class:`UnlabelledSampler`; a labelled sampler
  ``conditional_sample_fn(labels, seed) -> images`` (a conditional generator
  ``G(z, y)``) in :class:`ConditionalSampler`. :func:`load_sampler` builds
  either from a `.keras` file, :func:`sampler_from_model` from a model.
* **Labelling** (:func:`label_with_classifier`, :func:`draw_labelled`): an
  auxiliary classifier, trained on the real data with traditional
  augmentation, labels unlabelled samples; only samples whose top class
  probability reaches a confidence threshold are kept, and how many were kept
  per class is reported.
* **Mixing** (:func:`mix`, :func:`as_dataset`): a real fraction of the real
  set per class plus ``generated_ratio`` times as many generated examples,
  stratified by class with exact, documented rounding, as a ``tf.data``
  pipeline with optional on-the-fly augmentation.
* **Traditional augmentation** (:func:`traditional_augmentation`): the
  thesis's three families, geometric (rotation, scaling, flip where the
  domain allows it, crop, shear), photometric (brightness, contrast, hue for
  RGB, blur) and noise (Gaussian, speckle, salt-and-pepper), built from Keras
  preprocessing layers plus four kmgan layers (:class:`RandomBlur`,
  :class:`RandomGaussianNoise`, :class:`RandomSpeckleNoise`,
  :class:`RandomSaltAndPepper`) that, like Keras' own, run inside a
  ``tf.data`` pipeline whatever the Keras backend.
* **Classifiers** (:func:`simple_cnn`, :func:`train_and_evaluate`,
  :func:`classification_metrics`): the thesis's simple CNNs (conv, batch
  norm, ReLU, max-pool blocks, softmax head) or any Keras model; accuracy,
  macro precision / recall / F1 and the confusion matrix, in NumPy.
* **Generative-model quality** (:func:`generative_metrics`): per-class FID
  and Inception Score (``kmgan.metrics``) and MS-SSIM diversity (the thesis's
  outlook) of each model's labelled samples.
* **The sweep** (:func:`run_sweep`): every method at every real fraction,
  generated ratio and seed; writes ``results.csv``, ``results.md``,
  ``results.json``, ``accuracy_vs_ratio.png`` and sample grids. A sampler
  trained once on the whole training set leaks the images a small real
  fraction withholds; :class:`PerSubset` trains the generative model on each
  real subset instead.

Example::

    import kmgan
    from kmgan import augment

    real = kmgan.data.load_arrays("mnist", "train")
    test = kmgan.data.load_arrays("mnist", "test")
    rows = augment.run_sweep(
        real, test,
        methods={
            "none": None,
            "geometric": "geometric",
            "photometric": "photometric",
            "noise": "noise",
            "cgan": augment.load_sampler("cgan_generator.keras"),
            "madgan": augment.load_sampler("madgan_sampler.keras"),
        },
        real_fractions=(1.0, 0.5, 0.1), generated_ratios=(0, 0.5, 1, 2),
        seeds=(0, 1, 2), epochs=10, out_dir="runs/gda_mnist")

All images handed to or returned by this module are channels-last float32
in ``[-1, 1]`` (the ``tanh`` range of kmgan's generators); uint8 arrays
(``kmgan.data.load_arrays``) are scaled on the way in.
"""

from __future__ import annotations

import csv
import fractions
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "FAMILIES",
    "ConditionalSampler",
    "PerSubset",
    "RandomBlur",
    "RandomGaussianNoise",
    "RandomSaltAndPepper",
    "RandomShear",
    "RandomSpeckleNoise",
    "UnlabelledSampler",
    "apportion",
    "as_dataset",
    "classification_metrics",
    "draw_labelled",
    "evaluate_classifier",
    "generative_metrics",
    "label_with_classifier",
    "load_sampler",
    "mix",
    "plot_accuracy",
    "predict_proba",
    "run_sweep",
    "sampler_from_model",
    "simple_cnn",
    "stratified_counts",
    "to_model_range",
    "traditional_augmentation",
    "train_and_evaluate",
    "train_classifier",
    "write_results",
]

FAMILIES = ("geometric", "photometric", "noise")
_FAMILY_CHOICES = FAMILIES + ("all",)
VALUE_RANGE = (-1.0, 1.0)

# ---------------------------------------------------------------------------
# Images and labels
# ---------------------------------------------------------------------------


def to_model_range(images):
    """Brings images to float32 channels-last ``[-1, 1]``.

    Args:
        images: array ``(N, H, W)`` or ``(N, H, W, C)``: uint8 / integer
            pixels in 0..255 (scaled by ``x / 127.5 - 1``), or floats already
            in ``[-1, 1]`` (a small overshoot is clipped). A backend tensor is
            converted to NumPy.

    Returns:
        float32 array ``(N, H, W, C)`` in ``[-1, 1]``.

    Raises:
        ValueError: for a wrong rank, or floats far outside ``[-1, 1]``
            (e.g. 0..255 floats).
    """
    x = _numpy(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(
            f"Expected images (N, H, W) or (N, H, W, C), got shape {x.shape}."
        )
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        return (x.astype(np.float32) / np.float32(127.5)) - np.float32(1.0)
    x = x.astype(np.float32, copy=False)
    if x.size:
        lo, hi = float(np.min(x)), float(np.max(x))
        if lo < -1.5 or hi > 1.5:
            raise ValueError(
                f"Float images span [{lo:.3g}, {hi:.3g}]; kmgan.augment expects "
                "floats in [-1, 1] (x / 127.5 - 1 for 0..255 pixels) or uint8."
            )
        if lo < -1.0 or hi > 1.0:
            x = np.clip(x, -1.0, 1.0)
    return x


def _numpy(x):
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy"):
        try:
            return np.asarray(x.numpy())
        except Exception:  # pragma: no cover - symbolic tensors
            pass
    return np.asarray(keras.ops.convert_to_numpy(x))


def _labels(y, n=None, what="labels"):
    y = _numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{what} must be integer class ids of shape (N,), got {y.shape}.")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"{what} must be integer class ids.")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"{what} must be non-negative class ids, got {y.min()}.")
    if n is not None and len(y) != n:
        raise ValueError(f"{len(y)} {what} for {n} images.")
    return y


def _num_classes(*label_arrays, num_classes=None):
    if num_classes is not None:
        return int(num_classes)
    top = -1
    for y in label_arrays:
        if y is not None and len(y):
            top = max(top, int(np.max(y)))
    return top + 1


# ---------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------


class UnlabelledSampler:
    """An unlabelled image source: ``sample_fn(n, seed) -> images``.

    Wraps a MAD-GAN sampler, ``game.sample`` of a multi-generator game, or
    any unconditional generator. Samples carry no label; :func:`run_sweep`
    labels them with an auxiliary classifier (:func:`draw_labelled`).

    Args:
        sample_fn: callable ``(n, seed) -> images``: ``n`` images
            ``(n, H, W[, C])`` in ``[-1, 1]`` (or uint8), from integer
            ``seed``.
        name: a display name.

    Attributes:
        labelled: ``False``.
    """

    labelled = False

    def __init__(self, sample_fn, name=None):
        if not callable(sample_fn):
            raise TypeError(f"sample_fn must be callable, got {type(sample_fn).__name__}.")
        self.sample_fn = sample_fn
        self.name = name or getattr(sample_fn, "__name__", "sampler")

    def __call__(self, n, seed=None):
        """Draws ``n`` images.

        Args:
            n: number of images.
            seed: integer seed (the same seed gives the same images).

        Returns:
            float32 ``(n, H, W, C)`` in ``[-1, 1]``.
        """
        x = to_model_range(self.sample_fn(int(n), seed))
        if len(x) != int(n):
            raise ValueError(f"{self.name}: sample_fn({n}, seed) returned {len(x)} images.")
        return x

    def __repr__(self):
        return f"UnlabelledSampler({self.name!r})"


class ConditionalSampler:
    """A labelled image source: ``conditional_sample_fn(labels, seed) -> images``.

    Wraps a conditional generator ``G(z, y)`` (e.g. a ConditionalGAN's).

    Args:
        conditional_sample_fn: callable ``(labels, seed) -> images``: one
            image of class ``labels[i]`` per label, ``(len(labels), H, W[, C])``
            in ``[-1, 1]`` (or uint8), from integer ``seed``.
        num_classes: number of classes the generator knows (optional, for
            checks).
        name: a display name.

    Attributes:
        labelled: ``True``.
    """

    labelled = True

    def __init__(self, conditional_sample_fn, num_classes=None, name=None):
        if not callable(conditional_sample_fn):
            raise TypeError(
                "conditional_sample_fn must be callable, got "
                f"{type(conditional_sample_fn).__name__}."
            )
        self.sample_fn = conditional_sample_fn
        self.num_classes = None if num_classes is None else int(num_classes)
        self.name = name or getattr(conditional_sample_fn, "__name__", "conditional")

    def __call__(self, labels, seed=None):
        """Draws one image per label.

        Args:
            labels: integer class ids ``(N,)``.
            seed: integer seed.

        Returns:
            float32 ``(N, H, W, C)`` in ``[-1, 1]``.
        """
        labels = _labels(labels)
        if self.num_classes is not None and len(labels) and labels.max() >= self.num_classes:
            raise ValueError(
                f"{self.name} knows {self.num_classes} classes; got label {labels.max()}."
            )
        if not len(labels):
            raise ValueError("Pass at least one label.")
        x = to_model_range(self.sample_fn(labels.astype(np.int32), seed))
        if len(x) != len(labels):
            raise ValueError(
                f"{self.name}: conditional_sample_fn returned {len(x)} images for "
                f"{len(labels)} labels."
            )
        return x

    def __repr__(self):
        return f"ConditionalSampler({self.name!r})"


class PerSubset:
    """A generative method trained afresh on each real subset of the sweep.

    With a sampler trained once on the whole real training set, the
    scarce-data runs of :func:`run_sweep` are not really scarce: the
    generator has seen (for a conditional GAN: with labels) the 90 % of the
    data the classifier is denied at ``real_fraction=0.1``. A ``PerSubset``
    method closes that leak: for every (seed, real fraction) the sweep calls
    ``factory`` with exactly the real images (and labels) the classifier
    gets, and uses the sampler it returns.

    Args:
        factory: callable ``(x, y, seed, real_fraction) -> sampler``: trains
            (or loads a cached) generative model on ``x`` (float32 ``[-1, 1]``)
            and ``y`` (an unlabelled model must ignore ``y``) and returns an
            :class:`UnlabelledSampler` or :class:`ConditionalSampler`.
        name: a display name.
    """

    def __init__(self, factory, name=None):
        if not callable(factory):
            raise TypeError(f"factory must be callable, got {type(factory).__name__}.")
        self.factory = factory
        self.name = name or getattr(factory, "__name__", "per_subset")

    def __call__(self, x, y, seed, real_fraction):
        """The sampler for one real subset (see the class docstring)."""
        sampler = self.factory(x, y, seed, real_fraction)
        if not isinstance(sampler, (UnlabelledSampler, ConditionalSampler)):
            raise TypeError(
                f"{self.name}: the factory returned {type(sampler).__name__}, not an "
                "UnlabelledSampler or ConditionalSampler."
            )
        return sampler

    def __repr__(self):
        return f"PerSubset({self.name!r})"


_INDEX_NAMES = ("generator", "index", "expert")
_LABEL_NAMES = ("label", "class", "condition")


def _input_name(tensor):
    name = getattr(tensor, "name", "") or ""
    return name.split(":")[0].lower()


def _sampler_kind(model):
    """"unlabelled", "multi" or "conditional" from a generator's inputs."""
    inputs = list(model.inputs)
    if len(inputs) == 1:
        return "unlabelled"
    if len(inputs) != 2:
        raise ValueError(
            f"{model.name} has {len(inputs)} inputs; a sampler takes z, (z, label) "
            "or (z, generator_index)."
        )
    second = _input_name(inputs[1])
    if any(word in second for word in _INDEX_NAMES):
        return "multi"
    if any(word in second for word in _LABEL_NAMES) or second in ("y", "c"):
        return "conditional"
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if hasattr(layer, "num_generators"):
            return "multi"
    raise ValueError(
        f"Cannot tell whether {model.name}'s second input {second!r} is a class "
        "label or a generator index; pass kind='conditional' or kind='multi'."
    )


def _num_label_classes(model):
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    return None


def _generator_model(model, kind):
    """Reduces a game to the model that samples: its sampler or its generator."""
    if hasattr(model, "export_sampler"):  # a multi-generator game
        return model.export_sampler(), kind or "multi"
    generator = getattr(model, "generator", None)
    if hasattr(model, "play") and isinstance(generator, keras.Model):  # a game
        return generator, kind
    return model, kind


def sampler_from_model(model, kind=None, generator_index=-1, batch_size=256, name=None):
    """Wraps a generator model (or a game) as a sampler.

    Args:
        model: a ``keras.Model`` generator: one input ``z`` (unconditional),
            inputs ``(z, labels)`` (conditional) or ``(z, generator_index)``
            (a multi-generator sampler, e.g. ``game.export_sampler()``); or
            a game: a multi-generator game is sampled through its
            ``export_sampler()``, any other game through its ``generator``.
        kind: ``None`` (read from the inputs: a second input named like
            ``generator``/``index`` is a generator index, like ``label`` /
            ``class`` a class label), ``"unlabelled"``, ``"multi"`` or
            ``"conditional"``.
        generator_index: for a multi-generator sampler, the expert to draw
            from; ``-1`` (default) is the mixture, as the sampler defines it.
        batch_size: inference batch size.
        name: display name (default: the model's name).

    Returns:
        A :class:`ConditionalSampler` for a conditional generator, else an
        :class:`UnlabelledSampler`. ``z ~ N(0, I)`` is drawn with NumPy from
        ``seed``, so a seed fixes the latent codes.
    """
    model, kind = _generator_model(model, kind)
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model generator, got {type(model).__name__}.")
    kind = kind or _sampler_kind(model)
    if kind not in ("unlabelled", "multi", "conditional"):
        raise ValueError(f"kind must be 'unlabelled', 'multi' or 'conditional', got {kind!r}.")
    latent_dim = int(model.inputs[0].shape[-1])
    name = name or model.name
    batch_size = int(batch_size)

    def z_for(n, seed):
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, latent_dim)).astype("float32")

    if kind == "conditional":
        def conditional_sample_fn(labels, seed=None):
            labels = np.asarray(labels, "int32")
            z = z_for(len(labels), seed)
            return _padded_predict(model, [z, labels], batch_size)

        return ConditionalSampler(
            conditional_sample_fn, num_classes=_num_label_classes(model), name=name
        )

    if kind == "multi":
        index = int(generator_index)

        def sample_fn(n, seed=None):
            z = z_for(n, seed)
            return _padded_predict(model, [z, np.full((n,), index, "int32")], batch_size)
    else:
        def sample_fn(n, seed=None):
            return _padded_predict(model, z_for(n, seed), batch_size)

    return UnlabelledSampler(sample_fn, name=name)


def load_sampler(path, kind=None, generator_index=-1, batch_size=256, name=None):
    """Loads a sampler from a `.keras` generator, sampler or game file.

    ``keras.saving.load_model(path, safe_mode=True)`` after registering
    kmgan's classes. A saved game is reduced to its sampler
    (``export_sampler()``) or its ``generator``.

    Args:
        path: the `.keras` file.
        kind, generator_index, batch_size: see :func:`sampler_from_model`.
        name: display name (default: the file's stem).

    Returns:
        An :class:`UnlabelledSampler` or :class:`ConditionalSampler`.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
    """
    import kmgan  # noqa: F401  registers kmgan's layers and games

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such generator file: {path}")
    model = keras.saving.load_model(path, safe_mode=True)
    stem = os.path.basename(path).rsplit(".", 1)[0]
    return sampler_from_model(
        model, kind=kind, generator_index=generator_index, batch_size=batch_size,
        name=name or stem,
    )


# ---------------------------------------------------------------------------
# Labelling generated images with a confidence filter
# ---------------------------------------------------------------------------


def _looks_like_probabilities(p):
    if not p.size:
        return True
    if np.min(p) < -1e-6 or np.max(p) > 1 + 1e-6:
        return False
    return bool(np.allclose(p.sum(axis=-1), 1.0, atol=1e-3))


def _softmax(logits):
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _padded_predict(model, inputs, batch_size):
    """``model.predict_on_batch`` over full batches only (zero-padded, then cut back).

    Every call then has the same batch shape, so the predict function is
    traced once however many images are asked for (JAX and TensorFlow
    retrace for each new shape).
    """
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    n = len(inputs[0])
    size = int(batch_size)
    padded_n = -(-n // size) * size
    padded = [
        np.concatenate([a, np.zeros((padded_n - n,) + a.shape[1:], a.dtype)]) if padded_n > n
        else a
        for a in inputs
    ]
    outs = []
    for start in range(0, padded_n, size):
        chunk = [a[start : start + size] for a in padded]
        outs.append(_numpy(model.predict_on_batch(chunk if len(chunk) > 1 else chunk[0])))
    return np.concatenate(outs)[:n]


def predict_proba(classifier, images, batch_size=256):
    """Class probabilities of a classifier on images.

    Args:
        classifier: a ``keras.Model`` (``predict`` is used) or any callable
            ``batch -> scores``. Scores that are not probabilities (values
            outside ``[0, 1]`` or rows not summing to 1) are read as logits
            and go through a softmax.
        images: images in ``[-1, 1]`` (or uint8), ``(N, H, W[, C])``.
        batch_size: inference batch size.

    Returns:
        float64 array ``(N, num_classes)``.
    """
    x = to_model_range(images)
    if isinstance(classifier, keras.Model):
        scores = _padded_predict(classifier, x, batch_size) if len(x) else None
    else:
        parts = [_numpy(classifier(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        scores = np.concatenate(parts) if parts else None
    if scores is None:
        return np.zeros((0, 0))
    scores = scores.astype(np.float64).reshape(len(x), -1)
    if not _looks_like_probabilities(scores):
        scores = _softmax(scores)
    return scores


# Probabilities usually come in float32: 0.9 is stored as 0.89999998, which
# must still pass a 0.9 threshold.
_THRESHOLD_TOLERANCE = 1e-6


def label_with_classifier(images, classifier, threshold=0.9, batch_size=256, num_classes=None):
    """Labels images with a classifier, keeping only confident predictions.

    The label of an image is the classifier's top class; the image is kept
    when that class's probability is at least ``threshold``. This is the
    thesis's labelling of MAD-GAN samples by an auxiliary classifier trained
    on the real data with traditional augmentation. (The comparison allows
    1e-6 of float32 round-off: a probability stored as 0.89999998 passes 0.9.)

    Args:
        images: ``(N, H, W[, C])`` images in ``[-1, 1]`` (or uint8).
        classifier: a ``keras.Model`` or callable returning class
            probabilities (or logits, which go through a softmax), see
            :func:`predict_proba`.
        threshold: minimum top-class probability, in ``[0, 1]``; ``0``
            keeps everything.
        batch_size: inference batch size.
        num_classes: length of the per-class counts (default: the
            classifier's number of outputs).

    Returns:
        ``(kept_images, labels, report)``: float32 kept images in input order,
        their int64 labels, and a dict with ``threshold``, ``num_total``,
        ``num_kept``, ``kept_fraction``, ``predicted_per_class`` (top-class
        counts before filtering) and ``kept_per_class`` (int64 arrays of
        length ``num_classes``), and ``confidence`` (the top-class
        probability of every input image).
    """
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}.")
    x = to_model_range(images)
    probs = predict_proba(classifier, x, batch_size=batch_size)
    n_classes = int(num_classes or probs.shape[-1] or 0)
    predicted = probs.argmax(axis=-1) if len(x) else np.zeros((0,), np.int64)
    confidence = probs.max(axis=-1) if len(x) else np.zeros((0,))
    keep = confidence >= threshold - _THRESHOLD_TOLERANCE
    labels = predicted[keep].astype(np.int64)
    report = {
        "threshold": threshold,
        "num_total": int(len(x)),
        "num_kept": int(keep.sum()),
        "kept_fraction": float(keep.mean()) if len(x) else 0.0,
        "predicted_per_class": np.bincount(predicted, minlength=n_classes).astype(np.int64),
        "kept_per_class": np.bincount(labels, minlength=n_classes).astype(np.int64),
        "confidence": confidence,
    }
    return x[keep], labels, report


def _derived_seed(*parts):
    return int(np.random.default_rng([abs(int(p)) for p in parts]).integers(0, 2**31 - 1))


def draw_labelled(
    sampler, needed_per_class, classifier=None, threshold=0.9, seed=0, batch_size=256,
    max_draw_factor=20, min_chunk=256, max_chunk=16384,
):
    """Draws labelled generated images, ``needed_per_class[c]`` of each class.

    A :class:`ConditionalSampler` is asked for exactly those labels. An
    :class:`UnlabelledSampler` is sampled in chunks, each chunk labelled with
    ``classifier`` through :func:`label_with_classifier`, until every class
    has enough confident samples or ``max_draw_factor`` times the total
    needed has been drawn (a class the generator rarely makes, or never makes
    confidently, then falls short; the report says by how much).

    Args:
        sampler: :class:`UnlabelledSampler` or :class:`ConditionalSampler`.
        needed_per_class: int array ``(num_classes,)``.
        classifier: the auxiliary classifier (unlabelled samplers only).
        threshold: confidence threshold of the filter.
        seed: integer seed; chunk ``i`` uses a seed derived from ``(seed, i)``.
        batch_size: inference batch size of the classifier.
        max_draw_factor: budget of draws, in multiples of the total needed.
        min_chunk: smallest chunk drawn from an unlabelled sampler.
        max_chunk: largest chunk (bounds memory when few samples pass).

    Returns:
        ``(x, y, report)``: float32 images, int64 labels (at most
        ``needed_per_class[c]`` of class ``c``, grouped by class) and a dict:
        ``num_drawn``, ``num_kept`` (confident samples, before trimming to
        what is needed), ``kept_fraction``, ``kept_per_class``,
        ``predicted_per_class``, ``needed_per_class``, ``shortfall_per_class``.
    """
    need = np.asarray(needed_per_class, np.int64)
    num_classes = len(need)
    total_needed = int(need.sum())
    if isinstance(sampler, ConditionalSampler):
        labels = np.repeat(np.arange(num_classes), need)
        if total_needed == 0:
            return np.zeros((0,)), labels, _draw_report(0, need, need, need, need, need * 0)
        x = sampler(labels, seed=_derived_seed(seed, 0))
        return x, labels, _draw_report(total_needed, need, need, need, need, need * 0)
    if not isinstance(sampler, UnlabelledSampler):
        raise TypeError(
            "sampler must be an UnlabelledSampler or a ConditionalSampler; wrap a "
            "plain function with UnlabelledSampler(fn) / ConditionalSampler(fn)."
        )
    if classifier is None:
        raise ValueError("An unlabelled sampler needs a classifier to label its samples.")
    xs = [[] for _ in range(num_classes)]
    have = np.zeros(num_classes, np.int64)
    kept_total = np.zeros(num_classes, np.int64)
    predicted_total = np.zeros(num_classes, np.int64)
    drawn, rounds = 0, 0
    budget = int(max_draw_factor) * max(total_needed, 1)
    while total_needed and np.any(have < need) and drawn < budget:
        missing = int(np.clip(need - have, 0, None).sum())
        rate = kept_total.sum() / drawn if drawn else 0.5
        wanted = max(min_chunk, math.ceil(1.2 * missing / max(rate, 0.05)))
        size = int(min(budget - drawn, max_chunk, wanted))
        x = sampler(size, seed=_derived_seed(seed, rounds))
        kept_x, kept_y, rep = label_with_classifier(
            x, classifier, threshold=threshold, batch_size=batch_size, num_classes=num_classes
        )
        if rep["kept_per_class"].shape[0] > num_classes:
            raise ValueError(
                f"The classifier predicts {rep['kept_per_class'].shape[0]} classes, "
                f"but {num_classes} were asked for."
            )
        drawn += size
        rounds += 1
        kept_total += rep["kept_per_class"][:num_classes]
        predicted_total += rep["predicted_per_class"][:num_classes]
        for c in range(num_classes):
            take = int(min(need[c] - have[c], np.sum(kept_y == c)))
            if take > 0:
                xs[c].append(kept_x[kept_y == c][:take])
                have[c] += take
    parts = [np.concatenate(p) for p in xs if p]
    x = np.concatenate(parts) if parts else np.zeros((0,), np.float32)
    y = np.repeat(np.arange(num_classes), have)
    return x, y, _draw_report(drawn, kept_total, predicted_total, need, have, need - have)


def _draw_report(drawn, kept, predicted, need, have, shortfall):
    kept = np.asarray(kept, np.int64)
    return {
        "num_drawn": int(drawn),
        "num_kept": int(kept.sum()),
        "kept_fraction": float(kept.sum() / drawn) if drawn else 0.0,
        "kept_per_class": kept,
        "predicted_per_class": np.asarray(predicted, np.int64),
        "needed_per_class": np.asarray(need, np.int64),
        "obtained_per_class": np.asarray(have, np.int64),
        "shortfall_per_class": np.asarray(shortfall, np.int64),
    }


# ---------------------------------------------------------------------------
# Mixing real and generated data
# ---------------------------------------------------------------------------


def _fraction(value, what):
    try:
        f = fractions.Fraction(str(value) if isinstance(value, float) else value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be a number, got {value!r}.") from err
    return f


def _round_half_up(value):
    """floor(value + 1/2) for a Fraction: 2.5 -> 3, 0.5 -> 1."""
    return int(math.floor(value + fractions.Fraction(1, 2)))


def apportion(total, weights):
    """Splits an integer total over classes in proportion to weights.

    Largest-remainder (Hamilton) method: class ``c`` gets ``floor(q_c)`` of
    its exact quota ``q_c = total * w_c / sum(w)``, and the units left over
    go to the classes with the largest fractional parts (ties to the lower
    class id). Every class gets ``floor(q_c)`` or ``ceil(q_c)`` and the
    counts sum to ``total`` exactly. Quotas are computed in exact rational
    arithmetic, so no float round-off moves a count.

    Args:
        total: non-negative integer to split.
        weights: non-negative integer (or rational) weights per class.

    Returns:
        int64 array of counts, same length as ``weights``, summing to
        ``total`` (all zeros when ``total`` is 0 or every weight is 0).
    """
    total = int(total)
    w = [fractions.Fraction(v) for v in np.asarray(weights).tolist()]
    if total < 0 or any(v < 0 for v in w):
        raise ValueError("apportion needs a non-negative total and weights.")
    s = sum(w)
    if total == 0 or s == 0:
        return np.zeros(len(w), np.int64)
    quotas = [total * v / s for v in w]
    counts = [int(math.floor(q)) for q in quotas]
    left = total - sum(counts)
    order = sorted(range(len(w)), key=lambda c: (-(quotas[c] - counts[c]), c))
    for c in order[:left]:
        counts[c] += 1
    return np.asarray(counts, np.int64)


def stratified_counts(class_counts, fraction):
    """How many examples per class a stratified fraction keeps.

    The total is ``round_half_up(fraction * N)`` (``N`` = all examples) and
    is split over classes by :func:`apportion` in proportion to the class
    sizes: class ``c`` keeps ``floor(fraction * n_c)`` or
    ``ceil(fraction * n_c)``, never more than ``n_c``.

    Args:
        class_counts: examples per class.
        fraction: in ``[0, 1]``.

    Returns:
        int64 array of per-class counts.
    """
    f = _fraction(fraction, "fraction")
    if not 0 <= f <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}.")
    counts = np.asarray(class_counts, np.int64)
    total = _round_half_up(f * int(counts.sum()))
    return apportion(total, counts)


def mix(
    real_x, real_y, gen_x=None, gen_y=None, real_fraction=1.0, generated_ratio=1.0, seed=0,
    num_classes=None, allow_shortfall=False,
):
    """Builds a training set of real and generated images, stratified by class.

    Real part: a stratified ``real_fraction`` of the real set (per-class counts
    by :func:`stratified_counts`: total ``round_half_up(real_fraction * N)``,
    each class ``floor`` or ``ceil`` of its share). Generated part:
    ``G = round_half_up(generated_ratio * R)`` generated images, ``R`` the
    number of real images kept, split over classes in proportion to the real
    kept per class (:func:`apportion`), so the mixed set keeps the real class
    balance. Examples are drawn per class without replacement from a
    permutation fixed by ``seed``: for one seed the subsets are nested (the
    10 % real subset lies inside the 50 % one; the generated images at ratio
    0.5 inside those at ratio 1), which keeps the sweep's comparisons paired.

    Args:
        real_x: real images ``(N, H, W[, C])`` (uint8 or ``[-1, 1]``).
        real_y: their integer labels ``(N,)``.
        gen_x: generated images (``[-1, 1]``), or ``None`` for real only.
        gen_y: their labels (labelled by a conditional generator or by
            :func:`label_with_classifier`).
        real_fraction: fraction of the real set kept, in ``(0, 1]``.
        generated_ratio: generated examples per real example kept, ``>= 0``.
        seed: integer seed of the selection.
        num_classes: number of classes (default: largest label + 1).
        allow_shortfall: when a class has fewer generated images than its
            share, take all of them (and report the shortfall) instead of
            raising.

    Returns:
        ``(x, y, info)``: float32 images in ``[-1, 1]`` (real first, then
        generated), int32 labels, and a dict with ``real_per_class``,
        ``generated_per_class``, ``requested_generated_per_class``,
        ``shortfall_per_class`` (int64 arrays), ``n_real``, ``n_generated``,
        ``is_generated`` (bool mask), ``real_indices`` and
        ``generated_indices`` (indices into the inputs).

    Raises:
        ValueError: for fractions out of range, mismatched arrays, generated
            images without labels, or (without ``allow_shortfall``) too few
            generated images of some class.
    """
    f = _fraction(real_fraction, "real_fraction")
    r = _fraction(generated_ratio, "generated_ratio")
    if not 0 < f <= 1:
        raise ValueError(f"real_fraction must be in (0, 1], got {real_fraction}.")
    if r < 0:
        raise ValueError(f"generated_ratio must be >= 0, got {generated_ratio}.")
    rx = to_model_range(real_x)
    ry = _labels(real_y, len(rx), "real labels")
    if gen_x is not None and gen_y is None:
        raise ValueError(
            "Generated images need labels: use a conditional sampler or label "
            "them with label_with_classifier first."
        )
    gx = None if gen_x is None or len(gen_x) == 0 else to_model_range(gen_x)
    gy = None if gx is None else _labels(gen_y, len(gx), "generated labels")
    if gx is not None and gx.shape[1:] != rx.shape[1:]:
        raise ValueError(
            f"Generated images have shape {gx.shape[1:]}, real ones {rx.shape[1:]}."
        )
    k = _num_classes(ry, gy, num_classes=num_classes)
    real_counts = np.bincount(ry, minlength=k)[:k]
    real_keep = stratified_counts(real_counts, f)
    rng_real = np.random.default_rng([int(seed), 0])
    real_idx = []
    for c in range(k):
        members = np.flatnonzero(ry == c)
        real_idx.append(rng_real.permutation(members)[: real_keep[c]])
    real_idx = np.concatenate(real_idx).astype(np.int64) if real_idx else np.zeros(0, np.int64)
    n_real = int(real_keep.sum())

    total_gen = _round_half_up(r * n_real)
    requested = apportion(total_gen, real_keep)
    gen_counts = np.bincount(gy, minlength=k)[:k] if gy is not None else np.zeros(k, np.int64)
    shortfall = np.clip(requested - gen_counts, 0, None)
    if shortfall.any() and not allow_shortfall:
        missing = {c: int(s) for c, s in enumerate(shortfall) if s}
        raise ValueError(
            f"Too few generated images for ratio {generated_ratio}: missing per class "
            f"{missing} (requested {requested.tolist()}, available "
            f"{gen_counts.tolist()}). Draw more, or pass allow_shortfall=True."
        )
    taken = requested - shortfall
    rng_gen = np.random.default_rng([int(seed), 1])
    gen_idx = []
    for c in range(k):
        if gy is None:
            break
        members = np.flatnonzero(gy == c)
        gen_idx.append(rng_gen.permutation(members)[: taken[c]])
    gen_idx = np.concatenate(gen_idx).astype(np.int64) if gen_idx else np.zeros(0, np.int64)

    parts_x = [rx[real_idx]]
    parts_y = [ry[real_idx]]
    if len(gen_idx):
        parts_x.append(gx[gen_idx])
        parts_y.append(gy[gen_idx])
    x = np.concatenate(parts_x).astype(np.float32, copy=False)
    y = np.concatenate(parts_y).astype(np.int32)
    info = {
        "real_per_class": real_keep.astype(np.int64),
        "generated_per_class": taken.astype(np.int64),
        "requested_generated_per_class": requested.astype(np.int64),
        "shortfall_per_class": shortfall.astype(np.int64),
        "n_real": n_real,
        "n_generated": int(taken.sum()),
        "is_generated": np.concatenate(
            [np.zeros(len(real_idx), bool), np.ones(len(gen_idx), bool)]
        ),
        "real_indices": real_idx,
        "generated_indices": gen_idx,
    }
    return x, y, info


def as_dataset(x, y, batch_size=64, augmentation=None, seed=0, shuffle=True, drop_remainder=True):
    """A ``tf.data`` pipeline of ``(images, labels)`` batches for ``model.fit``.

    Args:
        x: images ``(N, H, W[, C])``, uint8 or ``[-1, 1]`` floats.
        y: integer labels ``(N,)``.
        batch_size: examples per batch; capped at ``N`` so a small set still
            gives one batch.
        augmentation: ``None``; a family name for
            :func:`traditional_augmentation` (``"geometric"``,
            ``"photometric"``, ``"noise"``, ``"all"``); or a Keras layer
            (e.g. the ``keras.layers.Pipeline`` it returns) applied to every
            batch with ``training=True``, on the fly, so each epoch sees
            freshly augmented images.
        seed: seed of the shuffle (and of a family built here). TensorFlow
            combines it with its global seed, so for the same order in every
            run also call ``keras.utils.set_random_seed`` first (as
            :func:`run_sweep` does).
        shuffle: reshuffle every epoch.
        drop_remainder: drop the last short batch (JAX retraces for every
            new batch shape).

    Returns:
        A prefetched ``tf.data.Dataset`` of float32 images in ``[-1, 1]``
        ``(B, H, W, C)`` and int32 labels ``(B,)``.
    """
    x = to_model_range(x)
    y = _labels(y, len(x)).astype(np.int32)
    n = len(x)
    if n == 0:
        raise ValueError("as_dataset needs at least one example.")
    batch_size = max(1, min(int(batch_size), n))
    if isinstance(augmentation, str):
        augmentation = traditional_augmentation(augmentation, image_shape=x.shape[1:], seed=seed)
    with tf.device("/CPU:0"):
        ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if augmentation is not None:
        ds = ds.map(_augment_fn(augmentation))
    return ds.prefetch(tf.data.AUTOTUNE)


def _augment_fn(layer):
    """The `map` function applying `layer` to each batch of images."""

    @tf.autograph.experimental.do_not_convert  # plain Keras calls; nothing to convert
    def augment(images, labels):
        out = layer(images, training=True)
        return tf.cast(out, images.dtype), labels

    return augment


# ---------------------------------------------------------------------------
# Traditional augmentation layers
# ---------------------------------------------------------------------------

try:  # Keras >= 3.11: the base of its tf.data-safe preprocessing layers.
    from keras.src.layers.preprocessing.data_layer import DataLayer as _DataLayer
except ImportError:  # pragma: no cover - older Keras 3
    try:
        from keras.src.layers.preprocessing.tf_data_layer import TFDataLayer as _DataLayer
    except ImportError:
        _DataLayer = None


class _OpsBackend:
    """Stand-in for Keras' dynamic backend when its DataLayer is unavailable."""

    numpy = keras.ops
    random = keras.random
    cast = staticmethod(keras.ops.cast)
    shape = staticmethod(keras.ops.shape)

    @property
    def _backend(self):
        return keras.backend.backend()


if _DataLayer is None:  # pragma: no cover - only without keras.src's DataLayer

    class _DataLayer(keras.layers.Layer):
        """Plain-layer fallback: works in models and on the TensorFlow backend's
        tf.data; on other backends use the layers inside a model instead."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.backend = _OpsBackend()

        def _get_seed_generator(self, backend=None):
            return self.generator


class _RandomImageLayer(_DataLayer):
    """Base of kmgan's random image layers.

    Built on Keras' ``DataLayer`` (the base of ``keras.layers.RandomFlip`` and
    friends): inside a ``tf.data`` pipeline it computes with TensorFlow
    whatever the Keras backend, elsewhere with the backend's ops, and it
    draws its randomness from a ``keras.random.SeedGenerator``.

    Args:
        rate: probability that an image is changed at all (per image).
        value_range: ``(low, high)`` of the pixel values; outputs are clipped
            to it.
        seed: integer seed.
    """

    def __init__(self, rate=1.0, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(**kwargs)
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}.")
        lo, hi = (float(v) for v in value_range)
        if not hi > lo:
            raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}.")
        self.rate = rate
        self.value_range = (lo, hi)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        B = self.backend
        unbatched = len(images.shape) == 3
        if unbatched:
            images = B.numpy.expand_dims(images, 0)
        dtype = images.dtype
        x = B.cast(images, "float32")
        seed = self._get_seed_generator(B._backend)
        shape = B.shape(x)
        out = self._transform(x, shape, seed)
        if self.rate < 1.0:
            apply = B.random.uniform((shape[0], 1, 1, 1), seed=seed) < self.rate
            out = B.numpy.where(apply, out, x)
        out = B.numpy.clip(out, self.value_range[0], self.value_range[1])
        out = B.cast(out, dtype)
        if unbatched:
            out = B.numpy.squeeze(out, axis=0)
        return out

    def _strength(self, shape, maximum, seed):
        """Per-image strength ~ U(0, maximum), shape (B, 1, 1, 1)."""
        return self.backend.random.uniform((shape[0], 1, 1, 1), 0.0, float(maximum), seed=seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"rate": self.rate, "value_range": list(self.value_range), "seed": self.seed}
        )
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class RandomGaussianNoise(_RandomImageLayer):
    """Additive Gaussian noise: ``x + sigma * (high - low) * N(0, 1)``, clipped.

    ``sigma`` is drawn per image from ``U(0, stddev)``. Unlike
    ``keras.layers.GaussianNoise`` (a regulariser active only in training
    mode inside a model) this is an augmentation layer for pipelines.

    Args:
        stddev: largest noise standard deviation, as a fraction of the value
            range (0.1 is 10 % of the range).
        rate, value_range, seed: see the base class (probability per image,
            pixel range, seed).
    """

    def __init__(self, stddev=0.1, rate=1.0, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(rate=rate, value_range=value_range, seed=seed, **kwargs)
        self.stddev = float(stddev)

    def _transform(self, x, shape, seed):
        B = self.backend
        span = self.value_range[1] - self.value_range[0]
        sigma = self._strength(shape, self.stddev * span, seed)
        return x + sigma * B.random.normal(shape, seed=seed)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="kmgan")
class RandomSpeckleNoise(_RandomImageLayer):
    """Multiplicative (speckle) noise: ``u + u * sigma * N(0, 1)``.

    ``u`` is the intensity rescaled to ``[0, 1]``, so dark pixels (a digit's
    background) stay clean and bright ones get noise proportional to their
    value, like sensor speckle. ``sigma`` is drawn per image from
    ``U(0, stddev)``.

    Args:
        stddev: largest relative noise standard deviation.
        rate, value_range, seed: see the base class.
    """

    def __init__(self, stddev=0.3, rate=1.0, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(rate=rate, value_range=value_range, seed=seed, **kwargs)
        self.stddev = float(stddev)

    def _transform(self, x, shape, seed):
        B = self.backend
        lo, hi = self.value_range
        u = (x - lo) / (hi - lo)
        sigma = self._strength(shape, self.stddev, seed)
        u = u + u * sigma * B.random.normal(shape, seed=seed)
        return u * (hi - lo) + lo

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="kmgan")
class RandomSaltAndPepper(_RandomImageLayer):
    """Salt-and-pepper noise: a random share of pixels set to low or high.

    The share ``a`` is drawn per image from ``U(0, amount)``; each pixel
    (all its channels together) becomes ``high`` (salt) with probability
    ``a / 2`` and ``low`` (pepper) with probability ``a / 2``.

    Args:
        amount: largest share of corrupted pixels, in ``[0, 1]``.
        rate, value_range, seed: see the base class.
    """

    def __init__(self, amount=0.05, rate=1.0, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(rate=rate, value_range=value_range, seed=seed, **kwargs)
        amount = float(amount)
        if not 0.0 <= amount <= 1.0:
            raise ValueError(f"amount must be in [0, 1], got {amount}.")
        self.amount = amount

    def _transform(self, x, shape, seed):
        B = self.backend
        lo, hi = self.value_range
        a = self._strength(shape, self.amount, seed)
        u = B.random.uniform((shape[0], shape[1], shape[2], 1), seed=seed)
        out = B.numpy.where(u < a / 2.0, hi, x)
        return B.numpy.where(u > 1.0 - a / 2.0, lo, out)

    def get_config(self):
        return {**super().get_config(), "amount": self.amount}


@keras.saving.register_keras_serializable(package="kmgan")
class RandomBlur(_RandomImageLayer):
    """Gaussian blur with a random standard deviation per image.

    A separable depthwise convolution written with ``keras.ops``: the image
    (reflect-padded) is convolved along height, then width, with a
    ``kernel_size``-tap Gaussian whose sigma is drawn per image from
    ``U(0, sigma)`` (a tiny sigma leaves the image unchanged). Each image's
    kernel is its own, which a single ``depthwise_conv`` kernel could not
    give, so the taps are applied as a weighted sum of shifted copies.

    Args:
        sigma: largest standard deviation, in pixels.
        kernel_size: odd number of taps.
        rate, value_range, seed: see the base class.
    """

    def __init__(self, sigma=1.0, kernel_size=5, rate=1.0, value_range=VALUE_RANGE, seed=None,
                 **kwargs):
        super().__init__(rate=rate, value_range=value_range, seed=seed, **kwargs)
        kernel_size = int(kernel_size)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}.")
        self.sigma = float(sigma)
        self.kernel_size = kernel_size

    def _transform(self, x, shape, seed):
        B = self.backend
        r = self.kernel_size // 2
        if r == 0:
            return x
        height, width = x.shape[1], x.shape[2]
        if height is None or width is None:
            raise ValueError("RandomBlur needs images with a known height and width.")
        if min(height, width) <= r:
            raise ValueError(f"RandomBlur: kernel_size {self.kernel_size} is too big for "
                             f"{height}x{width} images.")
        sigma = B.random.uniform((shape[0], 1), 1e-3, max(self.sigma, 1e-3), seed=seed)
        taps = B.cast(B.numpy.arange(-r, r + 1), "float32")[None, :]
        weights = B.numpy.exp(-(taps**2) / (2.0 * sigma**2))
        weights = weights / B.numpy.sum(weights, axis=1, keepdims=True)  # (B, k)
        padded = B.numpy.pad(x, [[0, 0], [r, r], [0, 0], [0, 0]], mode="reflect")
        out = 0.0
        for i in range(self.kernel_size):
            w = B.numpy.reshape(weights[:, i], (-1, 1, 1, 1))
            out = out + w * padded[:, i : i + height]
        padded = B.numpy.pad(out, [[0, 0], [0, 0], [r, r], [0, 0]], mode="reflect")
        out = 0.0
        for i in range(self.kernel_size):
            w = B.numpy.reshape(weights[:, i], (-1, 1, 1, 1))
            out = out + w * padded[:, :, i : i + width]
        return out

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="kmgan")
class RandomShear(keras.layers.RandomShear):
    """``keras.layers.RandomShear`` whose config round-trips.

    Keras 3.15's ``RandomShear.get_config`` stores a symmetric factor as
    ``(-f, f)``, which its own constructor then rejects (factors must lie in
    ``[0, 1]``), so a pipeline holding it cannot be saved and reloaded. This
    subclass stores ``f`` instead; it shears exactly like the Keras layer.
    """

    def get_config(self):
        config = super().get_config()
        for key in ("x_factor", "y_factor"):
            lower, upper = config[key]
            config[key] = float(upper) if lower == -upper else [float(lower), float(upper)]
        return config


def _keras_cv_layers(family, value_range, seed):  # pragma: no cover - optional extra
    """Extra layers from keras-cv (the `cv` extra) when it is installed."""
    try:
        import keras_cv  # noqa: F401
    except Exception:
        return []
    out = []
    if family == "photometric" and hasattr(keras_cv.layers, "RandomSharpness"):
        out.append(keras_cv.layers.RandomSharpness(0.2, value_range=value_range, seed=seed))
    return out


def traditional_augmentation(
    family="all", image_shape=(28, 28, 1), allow_flip=None, seed=None, value_range=VALUE_RANGE,
    strength=1.0, use_keras_cv=False,
):
    """The thesis's traditional augmentation families as one Keras layer.

    ====================  =====================================================
    family                layers (maximum strength at ``strength=1``)
    ====================  =====================================================
    ``"geometric"``       ``RandomRotation`` (±15°), ``RandomZoom`` (scaling,
                          ±10 %), ``RandomFlip("horizontal")`` where allowed,
                          crop as ``RandomTranslation`` (±10 %: a random crop
                          of a padded image, keeping the size),
                          :class:`RandomShear` (0.1; Keras' layer with a
                          config that round-trips)
    ``"photometric"``     ``RandomBrightness`` (±0.2 of the range),
                          ``RandomContrast`` (±30 %), ``RandomHue`` (0.1, RGB
                          only), :class:`RandomBlur` (sigma up to 1 px)
    ``"noise"``           :class:`RandomGaussianNoise` (sigma up to 8 % of the
                          range), :class:`RandomSpeckleNoise` (up to 0.3),
                          :class:`RandomSaltAndPepper` (up to 4 % of pixels),
                          each applied to half the images
    ``"all"``             the three in this order
    ====================  =====================================================

    Geometric transforms fill uncovered pixels with the low value for
    grayscale images (a digit's background) and by reflection for RGB.

    Args:
        family: ``"geometric"``, ``"photometric"``, ``"noise"``, ``"all"``,
            or a list of those.
        image_shape: ``(H, W, C)`` of the images.
        allow_flip: whether horizontal flips are label-preserving. ``None``
            (default) allows them for RGB images only: grayscale images are
            taken to be digit-like (MNIST), where a flipped 2 or 9 is no
            digit. Pass ``True`` for e.g. Fashion-MNIST.
        seed: integer seed; layer ``i`` uses ``seed + i``.
        value_range: ``(low, high)`` of the pixel values.
        strength: multiplies every layer's maximum strength.
        use_keras_cv: also add keras-cv layers when keras-cv is installed
            (the `cv` extra); never required.

    Returns:
        A ``keras.layers.Pipeline`` (a layer usable both in ``tf.data`` ``map``
        on any backend and inside a model; a ``keras.Sequential`` would
        convert its inputs to backend tensors and break ``tf.data`` on JAX).
    """
    families = [family] if isinstance(family, str) else list(family)
    expanded = []
    for fam in families:
        if fam not in _FAMILY_CHOICES:
            raise ValueError(f"Unknown augmentation family {fam!r}; choose from {_FAMILY_CHOICES}.")
        for f in FAMILIES if fam == "all" else (fam,):
            if f not in expanded:
                expanded.append(f)
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (H, W, C), got {image_shape}.")
    channels = image_shape[-1]
    if allow_flip is None:
        allow_flip = channels == 3
    lo, hi = (float(v) for v in value_range)
    s = float(strength)
    if s < 0:
        raise ValueError(f"strength must be >= 0, got {strength}.")
    counter = [0]

    def next_seed():
        counter[0] += 1
        return None if seed is None else int(seed) + counter[0] - 1

    fill = dict(fill_mode="constant", fill_value=lo) if channels == 1 else dict(fill_mode="reflect")
    layers_out = []
    for fam in expanded:
        if fam == "geometric":
            layers_out += [
                keras.layers.RandomRotation(15.0 / 360.0 * s, seed=next_seed(), **fill),
                keras.layers.RandomZoom(0.1 * s, 0.1 * s, seed=next_seed(), **fill),
            ]
            if allow_flip:
                layers_out.append(keras.layers.RandomFlip("horizontal", seed=next_seed()))
            layers_out += [
                keras.layers.RandomTranslation(0.1 * s, 0.1 * s, seed=next_seed(), **fill),
                RandomShear(0.1 * s, 0.1 * s, seed=next_seed(), **fill),
            ]
        elif fam == "photometric":
            layers_out += [
                keras.layers.RandomBrightness(0.2 * s, value_range=(lo, hi), seed=next_seed()),
                keras.layers.RandomContrast(0.3 * s, value_range=(lo, hi), seed=next_seed()),
            ]
            if channels == 3:
                layers_out.append(
                    keras.layers.RandomHue(min(0.1 * s, 1.0), value_range=(lo, hi),
                                           seed=next_seed())
                )
            layers_out.append(RandomBlur(1.0 * s, kernel_size=5, value_range=(lo, hi),
                                         seed=next_seed()))
            if use_keras_cv:
                layers_out += _keras_cv_layers(fam, (lo, hi), next_seed())
        else:
            layers_out += [
                RandomGaussianNoise(0.08 * s, rate=0.5, value_range=(lo, hi), seed=next_seed()),
                RandomSpeckleNoise(0.3 * s, rate=0.5, value_range=(lo, hi), seed=next_seed()),
                RandomSaltAndPepper(min(0.04 * s, 1.0), rate=0.5, value_range=(lo, hi),
                                    seed=next_seed()),
            ]
    name = "_".join(expanded) + "_augmentation"
    return keras.layers.Pipeline(layers_out, name=name)


# ---------------------------------------------------------------------------
# Classifiers
# ---------------------------------------------------------------------------

# Blocks of (conv, batch norm, ReLU, max-pool) per dataset: the thesis's
# classifiers differ "mainly in the number of blocks" (its chapter 4, with
# the exact layouts, is unwritten; these are our reading).
_CNN_BLOCKS = {"mnist": 2, "fashion_mnist": 3, "cifar10": 4}


def simple_cnn(
    image_shape=(28, 28, 1), num_classes=10, dataset=None, blocks=None, base_filters=32,
    dense_units=128, dropout=0.3, batch_norm_momentum=0.9, name=None,
):
    """The thesis's simple CNN classifier.

    ``blocks`` blocks of Conv2D 3x3 (``base_filters * 2**i`` filters, at most
    256) -> BatchNormalization -> ReLU -> MaxPool 2x2, then Flatten ->
    Dense(``dense_units``, ReLU) -> Dropout -> Dense(``num_classes``,
    softmax). The thesis's three classifiers differ in their number of
    blocks: MNIST 2, Fashion-MNIST 3, CIFAR-10 4 (our reading; its
    architecture chapter gives no more detail).

    Args:
        image_shape: ``(H, W, C)``.
        num_classes: number of classes.
        dataset: ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"`` to pick
            the block count; ``None`` picks MNIST's for 1 channel and
            CIFAR-10's for 3.
        blocks: explicit number of blocks (overrides ``dataset``); capped so
            the feature map stays at least 1 pixel.
        base_filters: filters of the first block.
        dense_units: width of the hidden dense layer (0: none).
        dropout: dropout rate before the output layer.
        batch_norm_momentum: momentum of the batch norms' moving statistics.
            0.9 rather than Keras' 0.99: with scarce data a run takes only a
            few hundred steps, after which 0.99-statistics are still far
            from the data's and spoil inference (on 2,000 MNIST digits, 5
            epochs: 55 % test accuracy with 0.99, 96 % with 0.9).
        name: model name.

    Returns:
        An uncompiled functional ``keras.Model`` images in ``[-1, 1]`` ->
        class probabilities.
    """
    image_shape = tuple(int(d) for d in image_shape)
    if blocks is None:
        key = (dataset or ("cifar10" if image_shape[-1] == 3 else "mnist")).lower()
        key = key.replace("-", "_").replace("fashionmnist", "fashion_mnist")
        if key not in _CNN_BLOCKS:
            raise ValueError(f"Unknown dataset {dataset!r}; choose from {tuple(_CNN_BLOCKS)}.")
        blocks = _CNN_BLOCKS[key]
    blocks = int(blocks)
    max_blocks = int(math.floor(math.log2(max(1, min(image_shape[:2])))))
    blocks = max(1, min(blocks, max_blocks))
    inputs = keras.Input(image_shape, name="image")
    x = inputs
    for i in range(blocks):
        filters = min(256, int(base_filters) * 2**i)
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(momentum=float(batch_norm_momentum), name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dense_units:
        x = keras.layers.Dense(int(dense_units), activation="relu", name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    outputs = keras.layers.Dense(int(num_classes), activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name or f"simple_cnn_{blocks}blocks")


def _outputs_probabilities(model):
    last = model.layers[-1] if getattr(model, "layers", None) else None
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", "") == "softmax"


def _build_model(model_fn):
    if isinstance(model_fn, keras.Model):
        model = keras.models.clone_model(model_fn)
    elif callable(model_fn):
        model = model_fn()
    else:
        raise TypeError("model_fn must be a callable returning a keras.Model, or a keras.Model.")
    if not isinstance(model, keras.Model):
        raise TypeError(f"model_fn returned {type(model).__name__}, not a keras.Model.")
    if not getattr(model, "compiled", False):
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=not _outputs_probabilities(model)
            ),
            metrics=["accuracy"],
        )
    return model


def train_classifier(model_fn, train_ds, epochs=5, seed=None, verbose=0, steps=None):
    """Builds a fresh classifier and fits it.

    Args:
        model_fn: callable returning a new ``keras.Model`` (e.g.
            ``lambda: simple_cnn((28, 28, 1), 10)``), or a functional /
            Sequential model, cloned with fresh weights. An uncompiled model
            is compiled with Adam(1e-3) and sparse categorical cross-entropy
            (``from_logits`` unless its last layer is a softmax).
        train_ds: ``tf.data`` of ``(images, labels)`` batches (:func:`as_dataset`).
        epochs: training epochs (ignored when ``steps`` is given).
        seed: if given, ``keras.utils.set_random_seed(seed)`` before building
            the model (fixes its initial weights and dropout).
        verbose: ``fit`` verbosity.
        steps: train for exactly this many optimizer steps instead (the
            dataset is repeated), the same budget whatever the set's size.

    Returns:
        The trained model.
    """
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    model = _build_model(model_fn)
    if steps:
        model.fit(train_ds.repeat(), epochs=1, steps_per_epoch=int(steps), verbose=verbose,
                  shuffle=False)
    else:
        model.fit(train_ds, epochs=int(epochs), verbose=verbose, shuffle=False)  # ds shuffles
    return model


def _num_steps(train_ds, epochs, steps):
    if steps:
        return int(steps)
    batches = int(train_ds.cardinality())
    return batches * int(epochs) if batches >= 0 else -1


def classification_metrics(y_true, y_pred, num_classes=None):
    """Accuracy, macro precision / recall / F1 and the confusion matrix, in NumPy.

    Macro averages run over the classes that occur in ``y_true`` or
    ``y_pred`` (scikit-learn's convention); a class never predicted has
    precision 0, a class never true recall 0 (``zero_division=0``).

    Args:
        y_true: true integer labels ``(N,)``.
        y_pred: predicted integer labels ``(N,)``.
        num_classes: size of the confusion matrix (default: largest label + 1).

    Returns:
        dict: ``accuracy``, ``precision_macro``, ``recall_macro``,
        ``f1_macro`` (floats), ``confusion_matrix`` (int64 ``(K, K)``, rows
        true, columns predicted), ``precision``, ``recall``, ``f1``,
        ``support`` (per-class arrays).
    """
    y_true = _labels(y_true, what="true labels")
    y_pred = _labels(y_pred, len(y_true), "predicted labels")
    k = _num_classes(y_true, y_pred, num_classes=num_classes)
    if len(y_true) and max(y_true.max(), y_pred.max()) >= k:
        raise ValueError(f"Labels exceed num_classes={k}.")
    cm = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k).astype(np.int64)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = (predicted > 0) | (support > 0)
    macro = (lambda v: float(v[present].mean()) if present.any() else 0.0)
    return {
        "accuracy": float(tp.sum() / len(y_true)) if len(y_true) else 0.0,
        "precision_macro": macro(precision),
        "recall_macro": macro(recall),
        "f1_macro": macro(f1),
        "confusion_matrix": cm,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support.astype(np.int64),
    }


def evaluate_classifier(model, x_test, y_test, num_classes=None, batch_size=256):
    """Classification metrics of a trained model on a (real) test split.

    Args:
        model: a trained ``keras.Model`` (or callable ``batch -> scores``).
        x_test: test images (uint8 or ``[-1, 1]``).
        y_test: test labels.
        num_classes: see :func:`classification_metrics`.
        batch_size: inference batch size.

    Returns:
        The dict of :func:`classification_metrics`.
    """
    x = to_model_range(x_test)
    y = _labels(y_test, len(x), "test labels")
    probs = predict_proba(model, x, batch_size=batch_size)
    if num_classes is None:
        num_classes = max(probs.shape[-1], _num_classes(y))
    return classification_metrics(y, probs.argmax(axis=-1), num_classes=num_classes)


def train_and_evaluate(model_fn, train_ds, x_test, y_test, epochs=5, num_classes=None, seed=None,
                       verbose=0, batch_size=256, steps=None):
    """Trains a fresh classifier on ``train_ds`` and evaluates it on the test split.

    Args:
        model_fn: see :func:`train_classifier`.
        train_ds: ``tf.data`` of ``(images, labels)`` batches.
        x_test: real test images.
        y_test: real test labels.
        epochs: training epochs.
        num_classes: number of classes (default: the model's outputs).
        seed: seed set before building the model.
        verbose: ``fit`` verbosity.
        batch_size: inference batch size.
        steps: a fixed number of optimizer steps instead of ``epochs``.

    Returns:
        dict of :func:`classification_metrics` (``accuracy``,
        ``precision_macro``, ``recall_macro``, ``f1_macro``,
        ``confusion_matrix``, per-class arrays) plus ``train_seconds`` and
        ``train_steps`` (optimizer steps taken).
    """
    start = time.perf_counter()
    model = train_classifier(model_fn, train_ds, epochs=epochs, seed=seed, verbose=verbose,
                             steps=steps)
    seconds = time.perf_counter() - start
    metrics = evaluate_classifier(model, x_test, y_test, num_classes=num_classes,
                                  batch_size=batch_size)
    metrics["train_seconds"] = seconds
    metrics["train_steps"] = _num_steps(train_ds, epochs, steps)
    return metrics


# ---------------------------------------------------------------------------
# Quality and diversity of the generative models
# ---------------------------------------------------------------------------


def _features_or_none(features):
    from kmgan.metrics import inception

    if features is None or features is False:
        return None
    if isinstance(features, str):
        if features.lower() in ("none", "off", "skip"):
            return None
        if features.lower() == "random":
            return inception.InceptionFeatures(weights=None, input_size=inception.MIN_INPUT_SIZE)
        return inception.InceptionFeatures(weights=features)
    if not callable(features):
        raise TypeError("features must be an InceptionFeatures, a callable, a string or None.")
    return features


def generative_metrics(
    images, labels, real_x, real_y, features=None, num_classes=None, diversity_pairs=200,
    seed=0, max_per_class=1000, include_all=True,
):
    """Per-class FID, Inception Score and MS-SSIM diversity of generated images.

    For each class ``c`` with at least 2 generated images: FID between the
    generated and the real images of class ``c``, the Inception Score of the
    generated ones and their MS-SSIM diversity (mean MS-SSIM over random
    pairs; lower is more diverse; compare with the real data's own value,
    e.g. from ``generative_metrics(real_x, real_y, real_x, real_y)``). With
    ``include_all`` a row ``class="all"`` covers all images together.

    Args:
        images: generated images ``(N, H, W[, C])`` in ``[-1, 1]``.
        labels: their labels (a conditional generator's, or those given by
            the confidence filter).
        real_x: real images of the same domain (uint8 or ``[-1, 1]``), or
            ``None`` to skip FID (e.g. for the real data's own IS and
            MS-SSIM, the reference values).
        real_y: their labels (``None`` with ``real_x``).
        features: an ``kmgan.metrics.InceptionFeatures`` (``weights=None``
            for tests), any callable ``f(images, value_range=...) -> (pool,
            probs)``, ``"imagenet"`` / a weights path (built here), or
            ``None`` to skip FID and IS (MS-SSIM is still computed).
        num_classes: number of classes (default: largest label + 1).
        diversity_pairs: pairs of images per MS-SSIM estimate.
        seed: seed of the pair sampling and of the per-class subsampling.
        max_per_class: use at most this many images per class (each side).
        include_all: add the ``"all"`` row.

    Returns:
        A list of dicts with ``class``, ``n``, ``fid``, ``inception_score``,
        ``inception_score_std`` (NaN when skipped) and ``ms_ssim``.
    """
    from kmgan.metrics import inception
    from kmgan.metrics import ms_ssim_diversity

    features = _features_or_none(features)
    gx = to_model_range(images)
    gy = _labels(labels, len(gx), "labels")
    if real_x is None:
        rx, ry = gx[:0], gy[:0]
    else:
        rx = to_model_range(real_x)
        ry = _labels(real_y, len(rx), "real labels")
    k = _num_classes(gy, ry, num_classes=num_classes)
    rng = np.random.default_rng(seed)
    groups = [(c, gy == c, ry == c) for c in range(k)]
    if include_all:
        groups.append(("all", np.ones(len(gy), bool), np.ones(len(ry), bool)))
    rows = []
    for c, gmask, rmask in groups:
        cap = max_per_class * (k if c == "all" else 1)
        g = gx[gmask]
        r = rx[rmask]
        if len(g) > cap:
            g = g[np.sort(rng.choice(len(g), cap, replace=False))]
        if len(r) > cap:
            r = r[np.sort(rng.choice(len(r), cap, replace=False))]
        row = {"class": c, "n": int(len(g)), "fid": math.nan, "inception_score": math.nan,
               "inception_score_std": math.nan, "ms_ssim": math.nan}
        if len(g) >= 2:
            if features is not None:
                real_stats = None
                if len(r) >= 2:
                    real_stats = inception.activation_statistics(
                        r, features, value_range=VALUE_RANGE
                    )
                out = inception.inception_metrics(
                    g, real_stats, features, num_splits=min(10, len(g)),
                    value_range=VALUE_RANGE,
                )
                row["inception_score"] = out["inception_score"]
                row["inception_score_std"] = out["inception_score_std"]
                row["fid"] = out.get("fid", math.nan)
            pairs = min(int(diversity_pairs), len(g) * (len(g) - 1) // 2)
            row["ms_ssim"] = ms_ssim_diversity(
                g, num_pairs=pairs, seed=seed, batch_size=max(pairs, 1)
            )
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------

RESULT_COLUMNS = (
    "method", "kind", "real_fraction", "generated_ratio", "seed", "n_real", "n_generated",
    "accuracy", "precision_macro", "recall_macro", "f1_macro", "epochs", "train_steps",
    "train_seconds", "kept_fraction", "aux_accuracy",
)
GEN_METRIC_COLUMNS = (
    "method", "class", "n", "fid", "inception_score", "inception_score_std", "ms_ssim",
)
DEFAULT_METHODS = {"none": None, "geometric": "geometric", "photometric": "photometric",
                   "noise": "noise"}


def _parse_method(name, spec):
    if spec is None or (isinstance(spec, str) and spec == "none"):
        return "baseline", None
    if isinstance(spec, str):
        if spec not in _FAMILY_CHOICES:
            raise ValueError(
                f"Method {name!r}: unknown augmentation {spec!r}; use one of "
                f"{_FAMILY_CHOICES}, None, a Keras layer or a sampler."
            )
        return "traditional", spec
    if isinstance(spec, ConditionalSampler):
        return "conditional", spec
    if isinstance(spec, UnlabelledSampler):
        return "unlabelled", spec
    if isinstance(spec, PerSubset):
        return "per_subset", spec
    if isinstance(spec, keras.layers.Layer):
        return "traditional", spec
    raise TypeError(
        f"Method {name!r}: expected None, a family name, a Keras layer, an "
        f"UnlabelledSampler, a ConditionalSampler or PerSubset, got {type(spec).__name__}. Wrap a "
        "sample_fn(n, seed) in UnlabelledSampler and a conditional_sample_fn(labels, "
        "seed) in ConditionalSampler."
    )


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) else v
    return value


def _fmt(v, digits=4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _mean_std(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values)) if len(values) > 1 else 0.0


def _cell(values, digits=4):
    m, s = _mean_std(values)
    if math.isnan(m):
        return "·"
    return f"{m:.{digits}f}" if len(values) < 2 else f"{m:.{digits}f} ± {s:.{digits}f}"


def write_results(rows, out_dir, gen_metrics=None, filter_reports=None, title=None, notes=()):
    """Writes ``results.csv``, ``results.md``, ``results.json`` and the plot.

    Args:
        rows: result rows of :func:`run_sweep`.
        out_dir: output folder (created).
        gen_metrics: rows of generative-model metrics (``method`` added).
        filter_reports: confidence-filter reports of the unlabelled methods.
        title: heading of the Markdown file.
        notes: extra lines for the Markdown file (e.g. skipped methods).

    Returns:
        dict of the written paths (``csv``, ``md``, ``json``, ``plot``).
    """
    os.makedirs(out_dir, exist_ok=True)
    gen_metrics = gen_metrics or []
    filter_reports = filter_reports or []
    csv_path = os.path.join(out_dir, "results.csv")
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row.get(k), 6) if isinstance(row.get(k), float) else
                             row.get(k, "") for k in RESULT_COLUMNS})
    if gen_metrics:
        with open(os.path.join(out_dir, "generative_metrics.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=GEN_METRIC_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in gen_metrics:
                writer.writerow({k: _fmt(row.get(k), 6) if isinstance(row.get(k), float) else
                                 row.get(k, "") for k in GEN_METRIC_COLUMNS})
    json_path = os.path.join(out_dir, "results.json")
    with open(json_path, "w") as f:
        json.dump(_jsonable({"runs": rows, "generative_metrics": gen_metrics,
                             "filter_reports": filter_reports}), f, indent=1)
    md_path = os.path.join(out_dir, "results.md")
    with open(md_path, "w") as f:
        f.write(_markdown(rows, gen_metrics, filter_reports, title, notes))
    plot_path = os.path.join(out_dir, "accuracy_vs_ratio.png")
    plot_accuracy(rows, plot_path)
    return {"csv": csv_path, "md": md_path, "json": json_path, "plot": plot_path}


def _methods_in_order(rows):
    seen = []
    for row in rows:
        if row["method"] not in seen:
            seen.append(row["method"])
    return seen


def _markdown(rows, gen_metrics, filter_reports, title, notes):
    lines = [f"# {title or 'Generative data augmentation'}", ""]
    seeds = sorted({r["seed"] for r in rows})
    lines.append(
        "Classifier accuracy and macro F1 on the real test split, mean ± std over "
        f"{len(seeds)} seed(s) {seeds}. Columns: generated images added per real image "
        "kept. Baselines and traditional augmentation add none (their value sits in the "
        "0× column); generative methods at 0× are the `none` baseline."
    )
    lines.append("")
    lines += [f"- {n}" for n in notes]
    if notes:
        lines.append("")
    fractions_ = sorted({r["real_fraction"] for r in rows}, reverse=True)
    ratios = sorted({r["generated_ratio"] for r in rows} | {0.0})
    methods = _methods_in_order(rows)
    short = False
    for metric in ("accuracy", "f1_macro"):
        for frac in fractions_:
            sub = [r for r in rows if r["real_fraction"] == frac]
            n_real = sorted({r["n_real"] for r in sub})
            lines.append(f"## {metric} — real fraction {frac:g} (n_real = "
                         f"{', '.join(str(n) for n in n_real)})")
            lines.append("")
            lines.append("| method | kind | " + " | ".join(f"{g:g}×" for g in ratios) + " |")
            lines.append("| --- | --- | " + " | ".join("---:" for _ in ratios) + " |")
            for m in methods:
                mrows = [r for r in sub if r["method"] == m]
                if not mrows:
                    continue
                cells = []
                for g in ratios:
                    at = [r for r in mrows if r["generated_ratio"] == g]
                    cell = _cell([r[metric] for r in at])
                    if any(r["n_generated"] < _round_half_up(_fraction(g, "ratio") * r["n_real"])
                           for r in at):
                        cell += " †"
                        short = True
                    cells.append(cell)
                lines.append(f"| {m} | {mrows[0]['kind']} | " + " | ".join(cells) + " |")
            lines.append("")
    if short:
        lines.append("† fewer generated images than the ratio asks for: the confidence filter "
                     "kept too few samples of some classes (see `n_generated` below and the "
                     "filter table).")
        lines.append("")
    if filter_reports:
        lines.append("## Confidence filter (unlabelled generators)")
        lines.append("")
        lines.append("| method | real fraction | seed | aux. classifier accuracy | drawn | "
                     "kept | kept % | kept per class | shortfall per class |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
        for rep in filter_reports:
            lines.append(
                f"| {rep['method']} | {rep['real_fraction']:g} | {rep['seed']} | "
                f"{_fmt(rep.get('aux_accuracy'))} | {rep['num_drawn']} | {rep['num_kept']} | "
                f"{100 * rep['kept_fraction']:.1f} | {list(map(int, rep['kept_per_class']))} | "
                f"{list(map(int, rep['shortfall_per_class']))} |"
            )
        lines.append("")
    if gen_metrics:
        lines.append("## Generative models: per-class FID, IS and MS-SSIM diversity")
        lines.append("")
        lines.append("Lower MS-SSIM means more diverse; compare with the `real data` rows. "
                     "FID / IS are empty when no Inception features were given.")
        lines.append("")
        lines.append("| method | class | n | FID | IS | MS-SSIM |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: |")
        for row in gen_metrics:
            is_cell = _fmt(row.get("inception_score"), 3)
            if is_cell and _fmt(row.get("inception_score_std")):
                is_cell += f" ± {row['inception_score_std']:.3f}"
            lines.append(f"| {row['method']} | {row['class']} | {row['n']} | "
                         f"{_fmt(row.get('fid'), 2)} | {is_cell} | {_fmt(row.get('ms_ssim'), 4)} |")
        lines.append("")
    lines.append("## All runs")
    lines.append("")
    cols = ("method", "kind", "real_fraction", "generated_ratio", "seed", "n_real",
            "n_generated", "train_steps", "accuracy", "precision_macro", "recall_macro",
            "f1_macro")
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("| " + " | ".join("---" for _ in cols) + " |")
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    lines.append("")
    return "\n".join(lines)


def plot_accuracy(rows, path, metric="accuracy"):
    """Plots a metric against the generated ratio, one line per method.

    One panel per real fraction. Generative methods are lines through their
    ratios (starting at the ``none`` baseline at 0×, when present);
    baselines and traditional augmentation, which add no generated images,
    are horizontal dashed lines. Error bars: std over seeds.

    Args:
        rows: result rows of :func:`run_sweep`.
        path: PNG file to write.
        metric: row key to plot.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fractions_ = sorted({r["real_fraction"] for r in rows}, reverse=True)
    ratios = sorted({r["generated_ratio"] for r in rows} | {0.0})
    methods = _methods_in_order(rows)
    fig, axes = plt.subplots(1, max(1, len(fractions_)), figsize=(5 * max(1, len(fractions_)), 4),
                             squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, frac in zip(axes[0], fractions_):
        sub = [r for r in rows if r["real_fraction"] == frac]
        base = [r[metric] for r in sub if r["method"] == "none" or r["kind"] == "baseline"]
        for i, m in enumerate(methods):
            mrows = [r for r in sub if r["method"] == m]
            if not mrows:
                continue
            color = colors[i % len(colors)]
            if mrows[0]["kind"] in ("baseline", "traditional"):
                mean, std = _mean_std([r[metric] for r in mrows])
                ax.axhline(mean, ls="--", color=color, label=m)
                if std > 0:
                    ax.axhspan(mean - std, mean + std, color=color, alpha=0.1)
                continue
            xs, ys, es = [], [], []
            if base and not any(r["generated_ratio"] == 0 for r in mrows):
                mean, std = _mean_std(base)
                xs.append(0.0), ys.append(mean), es.append(std)
            for g in sorted({r["generated_ratio"] for r in mrows}):
                mean, std = _mean_std([r[metric] for r in mrows if r["generated_ratio"] == g])
                xs.append(g), ys.append(mean), es.append(std)
            ax.errorbar(xs, ys, yerr=es, marker="o", color=color, label=m, capsize=3)
        ax.set_title(f"real fraction {frac:g}")
        ax.set_xlabel("generated images per real image")
        ax.set_ylabel(metric)
        ax.set_xticks(ratios)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _class_grid(x, y, path, per_class=8):
    from kmgan.callbacks import save_image_grid

    classes = [c for c in np.unique(y)]
    n = min([per_class] + [int(np.sum(y == c)) for c in classes]) if classes else 0
    if n < 1:
        return None
    picked = np.concatenate([x[y == c][:n] for c in classes])
    save_image_grid(picked, path, rows=len(classes))
    return path


def run_sweep(
    real, test, methods=None, real_fractions=(1.0, 0.5, 0.1), generated_ratios=(0, 0.5, 1, 2),
    seeds=(0,), epochs=5, out_dir="runs/gda", model_fn=None, batch_size=64, threshold=0.9,
    train_steps=None,
    aux_model_fn=None, aux_epochs=None, aux_augmentation="geometric", aux_classifier=None,
    num_classes=None, allow_flip=None, features="imagenet", gan_metrics=True, metric_samples=1000,
    diversity_pairs=200, max_draw_factor=20, title=None, notes=(), log=print, verbose=0,
):
    """The study: classifiers trained on every method's training sets.

    For each seed and real fraction ``f`` the real subset is the same for
    every method (:func:`mix`, nested across fractions). Then:

    * ``baseline`` (``None``): the real subset, no augmentation;
    * ``traditional`` (a family name or a Keras layer): the real subset with
      on-the-fly augmentation; these add no images, so they run once per
      ``f`` (their rows have ``generated_ratio`` 0);
    * ``conditional`` (:class:`ConditionalSampler`): for each ratio ``r > 0``
      the real subset plus ``r`` times as many generated images, class
      balance as the real subset;
    * ``unlabelled`` (:class:`UnlabelledSampler`, e.g. MAD-GAN): the same,
      with labels from an auxiliary classifier trained on the real subset
      with ``aux_augmentation`` and the confidence filter (``threshold``);
    * :class:`PerSubset`: either of the two, with the generative model
      trained on each (seed, fraction) real subset itself, so that a scarce
      real fraction is scarce for the generator too.

    A sampler given directly was trained on whatever data its owner used
    (usually the whole training set): at small real fractions it then brings
    in information from real images the classifier is denied.

    A ratio of 0 for a generative method is the ``none`` baseline and is not
    re-run. Generated images are drawn once per (method, fraction, seed) for
    the largest ratio and the smaller ratios use nested subsets.

    Files written to ``out_dir``: ``results.csv`` (one row per run),
    ``results.md`` (tables per real fraction, filter and generative-model
    tables, all runs), ``results.json`` (everything, confusion matrices
    included), ``accuracy_vs_ratio.png``, ``generative_metrics.csv`` and
    ``samples_<method>.png`` (generated images by class; for an unlabelled
    sampler also ``samples_<method>_unfiltered.png``, before the filter).

    Args:
        real: ``(x, y)`` real training data (uint8 or ``[-1, 1]``).
        test: ``(x, y)`` real test data.
        methods: dict name -> ``None`` | family name | Keras layer |
            sampler | :class:`PerSubset`. Default: none, geometric,
            photometric, noise.
        real_fractions: fractions of the real training set, in ``(0, 1]``.
        generated_ratios: generated images per real image kept.
        seeds: one full sweep per seed (data selection, sampling, weights).
        epochs: classifier training epochs. With a fixed number of epochs a
            run with more (generated) images also takes more optimizer
            steps; the ``train_steps`` column shows how many.
        out_dir: output folder.
        model_fn: callable returning a fresh classifier; default
            :func:`simple_cnn` for the image shape and class count.
        batch_size: classifier batch size.
        threshold: confidence threshold of the filter.
        train_steps: train every classifier (and the auxiliary one) for this
            many optimizer steps instead of ``epochs``: the same budget for
            every method, so a gain cannot come from more steps alone.
        aux_model_fn: auxiliary classifier builder (default ``model_fn``).
        aux_epochs: its epochs (default ``epochs``).
        aux_augmentation: traditional augmentation while training it
            (family name, layer or ``None``).
        aux_classifier: an already trained auxiliary classifier to use
            instead (then nothing is trained for labelling).
        num_classes: number of classes (default: largest label + 1).
        allow_flip: passed to :func:`traditional_augmentation`.
        features: Inception features for FID / IS (see
            :func:`generative_metrics`): ``"imagenet"`` (default; built
            only when there is a generative method, and the sweep stops at
            once with the reason when the weights cannot be had: never a
            silent fall-back to random weights), a weights path, an
            ``InceptionFeatures`` (``weights=None`` for tests), a callable,
            or ``None`` to skip FID / IS.
        gan_metrics: compute per-class FID / IS / MS-SSIM of each generative
            method (from its labelled samples of the first seed at the
            largest real fraction) and of the real data.
        metric_samples: images per class for those metrics (at most).
        diversity_pairs: pairs per MS-SSIM estimate.
        max_draw_factor: draw budget of the filter (see :func:`draw_labelled`).
        title: heading of ``results.md``.
        notes: lines listed under the heading of ``results.md`` (e.g. a
            skipped method and why).
        log: progress printer (``None``: silent).
        verbose: ``fit`` verbosity.

    Returns:
        The list of result rows (dicts with the ``RESULT_COLUMNS`` plus
        ``confusion_matrix`` and ``per_class_f1``).
    """
    log = log or (lambda *a, **k: None)
    features_arg = features
    real_x, real_y = to_model_range(real[0]), _labels(real[1], len(real[0]), "real labels")
    test_x, test_y = to_model_range(test[0]), _labels(test[1], len(test[0]), "test labels")
    if real_x.shape[1:] != test_x.shape[1:]:
        raise ValueError(
            f"Train images {real_x.shape[1:]} and test images {test_x.shape[1:]} differ."
        )
    k = _num_classes(real_y, test_y, num_classes=num_classes)
    image_shape = real_x.shape[1:]
    methods = dict(DEFAULT_METHODS if methods is None else methods)
    parsed = {name: _parse_method(name, spec) for name, spec in methods.items()}
    ratios = sorted({float(g) for g in generated_ratios})
    if any(g < 0 for g in ratios):
        raise ValueError("generated_ratios must be >= 0.")
    fractions_ = [float(f) for f in real_fractions]
    for f in fractions_:
        if not 0 < f <= 1:
            raise ValueError(f"real fractions must be in (0, 1], got {f}.")
    positive = [g for g in ratios if g > 0]
    generative = [n for n, (kind, _) in parsed.items()
                  if kind in ("conditional", "unlabelled", "per_subset")]
    if generative and not positive:
        log("note: no positive generated ratio; generative methods have nothing to add.")
    model_fn = model_fn or (lambda: simple_cnn(image_shape, k))
    aux_model_fn = aux_model_fn or model_fn
    aux_epochs = epochs if aux_epochs is None else aux_epochs
    features = None
    if gan_metrics and generative:
        try:
            features = _features_or_none(features_arg)
        except RuntimeError as err:
            raise RuntimeError(
                f"{err}\nPass features=None (kmgan augment: --inception none) to run the "
                "sweep without FID / IS."
            ) from err
    os.makedirs(out_dir, exist_ok=True)

    rows, filter_reports, gen_metrics = [], [], []
    metrics_done = set()
    top_fraction = max(fractions_)

    def record(method, kind, f, g, seed, info, metrics, extra=None):
        row = {
            "method": method, "kind": kind, "real_fraction": f, "generated_ratio": g,
            "seed": int(seed), "n_real": int(info["n_real"]),
            "n_generated": int(info["n_generated"]),
            "accuracy": metrics["accuracy"], "precision_macro": metrics["precision_macro"],
            "recall_macro": metrics["recall_macro"], "f1_macro": metrics["f1_macro"],
            "epochs": int(epochs), "train_steps": int(metrics.get("train_steps", -1)),
            "train_seconds": metrics.get("train_seconds", math.nan),
            "kept_fraction": math.nan, "aux_accuracy": math.nan,
            "confusion_matrix": metrics["confusion_matrix"], "per_class_f1": metrics["f1"],
        }
        row.update(extra or {})
        rows.append(row)
        log(f"  {method:>12s} f={f:g} r={g:g} seed={seed}: n_real={row['n_real']} "
            f"n_gen={row['n_generated']} acc={row['accuracy']:.4f} f1={row['f1_macro']:.4f}")
        return row

    def seeded_dataset(x, y, augmentation, seed):
        # tf.data's shuffle depends on TensorFlow's global seed as well as its
        # own: set both, so every run of a seed sees the same order.
        keras.utils.set_random_seed(int(seed))
        return as_dataset(x, y, batch_size=batch_size, augmentation=augmentation, seed=seed)

    def fit_eval(x, y, augmentation, seed):
        ds = seeded_dataset(x, y, augmentation, seed)
        return train_and_evaluate(model_fn, ds, test_x, test_y, epochs=epochs, num_classes=k,
                                  seed=seed, verbose=verbose, steps=train_steps)

    def augmentation_for(spec, seed):
        if spec is None or isinstance(spec, keras.layers.Layer):
            return spec
        return traditional_augmentation(spec, image_shape, allow_flip=allow_flip, seed=seed)

    if gan_metrics and generative:
        log("generative metrics: real data reference")
        for row in generative_metrics(real_x, real_y, None, None, features=features,
                                      num_classes=k, diversity_pairs=diversity_pairs, seed=0,
                                      max_per_class=metric_samples):
            gen_metrics.append({"method": "real data", **row})

    for seed in seeds:
        for f in fractions_:
            log(f"seed {seed}, real fraction {f:g}")
            x_real, y_real, info_real = mix(real_x, real_y, real_fraction=f, generated_ratio=0,
                                            seed=seed, num_classes=k)
            for name, (kind, spec) in parsed.items():
                if kind in ("baseline", "traditional"):
                    metrics = fit_eval(x_real, y_real, augmentation_for(spec, seed), seed)
                    record(name, kind, f, 0.0, seed, info_real, metrics)
            if not generative or not positive:
                continue
            # Per class, the most any ratio asks for (largest-remainder rounding
            # need not be monotone in the total, so take the maximum over ratios).
            needed = np.max([apportion(_round_half_up(_fraction(g, "ratio") * info_real["n_real"]),
                                       info_real["real_per_class"]) for g in positive], axis=0)
            aux_state = {"model": aux_classifier, "accuracy": math.nan, "done": False}

            def auxiliary():
                # Trained on first need, once per (seed, fraction).
                if not aux_state["done"]:
                    aux_state["done"] = True
                    if aux_state["model"] is None:
                        log(f"  training the auxiliary classifier ({aux_augmentation} "
                            "augmentation)")
                        aux_ds = seeded_dataset(
                            x_real, y_real, augmentation_for(aux_augmentation, seed), seed)
                        aux_state["model"] = train_classifier(
                            aux_model_fn, aux_ds, epochs=aux_epochs, seed=seed,
                            verbose=verbose, steps=train_steps)
                    aux_state["accuracy"] = evaluate_classifier(
                        aux_state["model"], test_x, test_y, num_classes=k)["accuracy"]
                return aux_state["model"], aux_state["accuracy"]

            for name in generative:
                kind, sampler = parsed[name]
                shown_kind = kind
                if kind == "per_subset":
                    log(f"  {name}: training on this real subset ({len(x_real)} images)")
                    sampler = sampler(x_real, y_real, seed, f)
                    kind = "conditional" if isinstance(sampler, ConditionalSampler) else "unlabelled"
                    shown_kind = f"{kind}, per subset"
                aux, aux_acc = auxiliary() if kind == "unlabelled" else (None, math.nan)
                pool_x, pool_y, rep = draw_labelled(
                    sampler, needed, classifier=aux,
                    threshold=threshold, seed=_derived_seed(seed, int(f * 1e6)),
                    max_draw_factor=max_draw_factor,
                )
                extra = {}
                if kind == "unlabelled":
                    extra = {"kept_fraction": rep["kept_fraction"], "aux_accuracy": aux_acc}
                    filter_reports.append({"method": name, "real_fraction": f, "seed": int(seed),
                                           "aux_accuracy": aux_acc, **rep})
                    log(f"  {name}: kept {rep['num_kept']}/{rep['num_drawn']} "
                        f"({100 * rep['kept_fraction']:.1f}%) above {threshold}; per class "
                        f"{rep['kept_per_class'].tolist()}; shortfall "
                        f"{rep['shortfall_per_class'].tolist()}")
                if seed == seeds[0] and f == top_fraction and name not in metrics_done:
                    metrics_done.add(name)
                    if kind == "unlabelled":  # what the filter saw, before filtering
                        from kmgan.callbacks import save_image_grid

                        save_image_grid(sampler(64, seed=_derived_seed(seed, 99)),
                                        os.path.join(out_dir, f"samples_{name}_unfiltered.png"))
                    if len(pool_x):
                        _class_grid(pool_x, pool_y, os.path.join(out_dir, f"samples_{name}.png"))
                    if gan_metrics and len(pool_x):
                        log(f"  generative metrics: {name}")
                        for row in generative_metrics(
                            pool_x, pool_y, real_x, real_y, features=features, num_classes=k,
                            diversity_pairs=diversity_pairs, seed=seed,
                            max_per_class=metric_samples,
                        ):
                            gen_metrics.append({"method": name, **row})
                for g in positive:
                    x, y, info = mix(real_x, real_y, pool_x, pool_y, real_fraction=f,
                                     generated_ratio=g, seed=seed, num_classes=k,
                                     allow_shortfall=True)
                    metrics = fit_eval(x, y, None, seed)
                    record(name, shown_kind, f, g, seed, info, metrics, extra)
        write_results(rows, out_dir, gen_metrics, filter_reports, title, notes)  # partial
    paths = write_results(rows, out_dir, gen_metrics, filter_reports, title, notes)
    log(f"wrote {paths['csv']}, {paths['md']}, {paths['plot']}")
    return rows
