"""Labelling generated images with an auxiliary classifier and a confidence filter.

An auxiliary classifier, trained on the real data with traditional
augmentation, labels unlabelled samples; only samples whose top class
probability reaches a confidence threshold are kept, and how many were kept
per class is reported (`label_with_classifier`, `draw_labelled`).
"""

import math

import keras
import numpy as np

from kmgan.augment.arrays import as_numpy
from kmgan.augment.arrays import padded_predict
from kmgan.augment.arrays import to_model_range
from kmgan.augment.samplers import ConditionalSampler
from kmgan.augment.samplers import UnlabelledSampler

__all__ = [
    "derived_seed",
    "draw_labelled",
    "label_with_classifier",
    "predict_proba",
]


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
        scores = padded_predict(classifier, x, batch_size) if len(x) else None
    else:
        parts = [as_numpy(classifier(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
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


def derived_seed(*parts):
    return int(np.random.default_rng([abs(int(p)) for p in parts]).integers(0, 2**31 - 1))


def draw_labelled(
    sampler,
    needed_per_class,
    classifier=None,
    threshold=0.9,
    seed=0,
    batch_size=256,
    max_draw_factor=20,
    min_chunk=256,
    max_chunk=16384,
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
        x = sampler(labels, seed=derived_seed(seed, 0))
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
        x = sampler(size, seed=derived_seed(seed, rounds))
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
