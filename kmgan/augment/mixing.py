"""Mixing real and generated data, stratified by class with exact counts.

A real fraction of the real set per class plus ``generated_ratio`` times as
many generated examples, stratified by class with exact, documented rounding
(`apportion`, `stratified_counts`, `mix`), as a ``tf.data`` pipeline with
optional on-the-fly augmentation (`as_dataset`).
"""

import fractions
import math

import numpy as np
import tensorflow as tf

from kmgan.augment.arrays import check_labels
from kmgan.augment.arrays import count_classes
from kmgan.augment.arrays import to_model_range
from kmgan.augment.traditional import traditional_augmentation

__all__ = [
    "apportion",
    "as_dataset",
    "as_fraction",
    "mix",
    "round_half_up",
    "stratified_counts",
]


def as_fraction(value, what):
    try:
        f = fractions.Fraction(str(value) if isinstance(value, float) else value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be a number, got {value!r}.") from err
    return f


def round_half_up(value):
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
    f = as_fraction(fraction, "fraction")
    if not 0 <= f <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}.")
    counts = np.asarray(class_counts, np.int64)
    total = round_half_up(f * int(counts.sum()))
    return apportion(total, counts)


def mix(
    real_x,
    real_y,
    gen_x=None,
    gen_y=None,
    real_fraction=1.0,
    generated_ratio=1.0,
    seed=0,
    num_classes=None,
    allow_shortfall=False,
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
    f = as_fraction(real_fraction, "real_fraction")
    r = as_fraction(generated_ratio, "generated_ratio")
    if not 0 < f <= 1:
        raise ValueError(f"real_fraction must be in (0, 1], got {real_fraction}.")
    if r < 0:
        raise ValueError(f"generated_ratio must be >= 0, got {generated_ratio}.")
    rx = to_model_range(real_x)
    ry = check_labels(real_y, len(rx), "real labels")
    if gen_x is not None and gen_y is None:
        raise ValueError(
            "Generated images need labels: use a conditional sampler or label "
            "them with label_with_classifier first."
        )
    gx = None if gen_x is None or len(gen_x) == 0 else to_model_range(gen_x)
    gy = None if gx is None else check_labels(gen_y, len(gx), "generated labels")
    if gx is not None and gx.shape[1:] != rx.shape[1:]:
        raise ValueError(f"Generated images have shape {gx.shape[1:]}, real ones {rx.shape[1:]}.")
    k = count_classes(ry, gy, num_classes=num_classes)
    real_counts = np.bincount(ry, minlength=k)[:k]
    real_keep = stratified_counts(real_counts, f)
    rng_real = np.random.default_rng([int(seed), 0])
    real_idx = []
    for c in range(k):
        members = np.flatnonzero(ry == c)
        real_idx.append(rng_real.permutation(members)[: real_keep[c]])
    real_idx = np.concatenate(real_idx).astype(np.int64) if real_idx else np.zeros(0, np.int64)
    n_real = int(real_keep.sum())

    total_gen = round_half_up(r * n_real)
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
    y = check_labels(y, len(x)).astype(np.int32)
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
