"""Do the generators differ, and do samples vary within a class?

Two questions the usual sample metrics do not answer:

* **Multi-generator games** (MGAN, MAD-GAN, MEGAN): do the K generators
  make different things? `generator_distinctness` labels each generator's
  samples with a classifier and counts how many generators have *distinct
  dominant classes* (on MNIST with K = 10, 10 means every generator owns its
  own digit). `cross_generator_ms_ssim` compares images of different
  generators drawn from the *same* z with images of one generator drawn
  from different z: generators that copy one another give a "between"
  MS-SSIM near 1, far above the "within" value.
* **Conditional games** (cGAN, ControlGAN): is each class a single image?
  `per_class_ms_ssim` is the mean MS-SSIM between distinct samples of each
  class (Odena et al. 2017's class-wise diversity); compare it with the
  same numbers on real data (a collapsed class gives about 1, real MNIST
  digits about 0.2-0.5).

All take images in the classifier's and MS-SSIM's range ([-1, 1], the games'
tanh range, with MS-SSIM's `max_val=2`).

    report = kmgan.metrics.diversity.generator_distinctness(game, classifier)
    report["distinct_dominant"]                  # of K
    kmgan.metrics.diversity.cross_generator_ms_ssim(game)
    # {"between": 0.98, "within": 0.31, ...}: the generators copy one another
"""

import numpy as np

from kmgan.metrics.specialization import class_specialization
from kmgan.metrics.ssim import ms_ssim
from kmgan.metrics.ssim import ms_ssim_diversity


def samples_per_generator(model, num_per_generator=500, seed=0, batch_size=256):
    """(K, n, ...) samples, the same z in every generator's row i.

    Args:
        model: a multi-generator game (`sample_per_generator`), a sampler
            from `export_sampler()` (possibly loaded from `.keras`), or an
            array (K, n, ...) of samples already drawn that way.
        num_per_generator: n, when sampling.
        seed: seed of z.
        batch_size: inference batch size.

    Returns:
        NumPy array (K, n, ...).
    """
    if isinstance(model, np.ndarray):
        if model.ndim < 3:
            raise ValueError(
                f"Expected samples of shape (K, n, ...) per generator; got {model.shape}."
            )
        return model
    if hasattr(model, "sample_per_generator"):
        return np.asarray(
            model.sample_per_generator(num_per_generator, seed=seed, batch_size=batch_size)
        )
    from kmgan.samplers import expert_grid

    flat, k = expert_grid(model, num_per_generator, seed=seed, batch_size=batch_size)
    return np.asarray(flat).reshape((k, num_per_generator) + tuple(flat.shape[1:]))


def generator_distinctness(
    model, classifier, num_per_generator=500, num_classes=10, seed=0, batch_size=256
):
    """How many of the K generators have distinct dominant classes.

    Each generator's samples are labelled by `classifier` (argmax); its
    dominant class is its most frequent label.

    Args:
        model: a multi-generator game, its sampler, or samples (K, n, ...)
            (see `samples_per_generator`).
        classifier: a Keras model or callable mapping a batch of images to
            (batch, num_classes) scores, e.g.
            `kmgan.metrics.stacked_mnist.train_mnist_classifier(...)[0]`.
        num_per_generator: samples per generator.
        num_classes: number of classes of the classifier.
        seed: seed of z.
        batch_size: inference batch size.

    Returns:
        dict with `counts` (K, num_classes) int histograms, `dominant` (K,)
        each generator's dominant class, `dominant_share` (K,) the share of
        its samples in that class, `distinct_dominant` (number of different
        dominant classes, at most min(K, num_classes)), `num_generators`,
        and `classes_covered` (classes with at least 1% of all the
        generators' samples pooled).
    """
    samples = samples_per_generator(model, num_per_generator, seed, batch_size)
    if samples.shape[0] < 1:
        raise ValueError("Need samples from at least one generator.")
    report = class_specialization(samples, classifier, num_classes, batch_size=batch_size)
    counts = report.counts
    totals = np.maximum(counts.sum(axis=1), 1)
    dominant = counts.argmax(axis=1)
    pooled = counts.sum(axis=0) / max(int(counts.sum()), 1)
    return {
        "counts": counts,
        "dominant": dominant,
        "dominant_share": counts.max(axis=1) / totals,
        "distinct_dominant": int(len(set(dominant.tolist()))),
        "num_generators": int(counts.shape[0]),
        "classes_covered": int((pooled >= 0.01).sum()),
    }


def _mean_pair_ms_ssim(a, b, batch_size=256, **kwargs):
    """Mean MS-SSIM over the pairs (a[i], b[i]), in fixed-size batches."""
    total, count = 0.0, 0
    for start in range(0, len(a), batch_size):
        xa, xb = a[start : start + batch_size], b[start : start + batch_size]
        m = len(xa)
        if m < batch_size and count:  # pad: one input shape for the compiled model
            xa = np.concatenate([xa, np.repeat(xa[:1], batch_size - m, axis=0)])
            xb = np.concatenate([xb, np.repeat(xb[:1], batch_size - m, axis=0)])
        values = np.asarray(ms_ssim(xa, xb, **kwargs))
        total += float(np.sum(values[:m], dtype=np.float64))
        count += m
    return total / count


def cross_generator_ms_ssim(
    model, num_pairs=1000, num_per_generator=100, seed=0, batch_size=256, max_val=2.0, **kwargs
):
    """Mean MS-SSIM between generators for the same z, and within one generator.

    "between": pairs (G_i(z), G_j(z)), i != j, the same z; "within":
    pairs (G_k(z), G_k(z')), z != z'. Generators that draw the same image
    for the same z have "between" near 1 while "within" stays at the
    data's diversity; distinct generators have "between" no higher than
    "within".

    Args:
        model: a multi-generator game, its sampler, or samples (K, n, H, W, C)
            with the same z in every generator's column (see
            `samples_per_generator`); K >= 2, n >= 2.
        num_pairs: pairs drawn for each of the two means (uniformly, with
            replacement).
        num_per_generator: n, when sampling.
        seed: seed of z and of the pair draws.
        batch_size: pairs per MS-SSIM evaluation.
        max_val: dynamic range of the pixels (2.0 for [-1, 1]).
        **kwargs: passed to `kmgan.metrics.ms_ssim` (e.g. `small_images`).

    Returns:
        dict with floats `between`, `within` and `ratio` (between / within).
    """
    x = samples_per_generator(model, num_per_generator, seed, batch_size)
    if x.ndim != 5:
        raise ValueError(f"Expected image samples (K, n, H, W, C); got {x.shape}.")
    k, n = x.shape[:2]
    if k < 2 or n < 2:
        raise ValueError(f"Need at least 2 generators and 2 samples each; got K={k}, n={n}.")
    if int(num_pairs) < 1:
        raise ValueError(f"num_pairs must be positive; got {num_pairs}.")
    x = x.astype(np.float32, copy=False)
    rng = np.random.default_rng(seed)
    num_pairs = int(num_pairs)
    # between: generators i != j, the same column (the same z)
    gi = rng.integers(0, k, num_pairs)
    gj = (gi + rng.integers(1, k, num_pairs)) % k
    col = rng.integers(0, n, num_pairs)
    between = _mean_pair_ms_ssim(x[gi, col], x[gj, col], batch_size, max_val=max_val, **kwargs)
    # within: one generator, columns m != m'
    g = rng.integers(0, k, num_pairs)
    m = rng.integers(0, n, num_pairs)
    m2 = (m + rng.integers(1, n, num_pairs)) % n
    within = _mean_pair_ms_ssim(x[g, m], x[g, m2], batch_size, max_val=max_val, **kwargs)
    return {"between": between, "within": within, "ratio": between / max(within, 1e-12)}


def per_class_ms_ssim(images, labels, num_pairs=500, seed=0, batch_size=256, max_val=2.0, **kwargs):
    """Mean MS-SSIM between distinct samples of each class (lower = more diverse).

    Args:
        images: (N, H, W, C) images (generated or real) in [-1, 1].
        labels: (N,) their integer classes (the requested labels for a
            conditional generator, the true labels for real data).
        num_pairs: pairs per class (None: all pairs of the class).
        seed: seed of the pair draws.
        batch_size: pairs per MS-SSIM evaluation.
        max_val: dynamic range of the pixels.
        **kwargs: passed to `kmgan.metrics.ms_ssim`.

    Returns:
        dict with `per_class` ({class: mean MS-SSIM}, classes with at least
        2 images) and `mean` (the mean over those classes).
    """
    x = np.asarray(images)
    y = np.asarray(labels).reshape(-1)
    if x.ndim != 4:
        raise ValueError(f"Expected images of shape (N, H, W, C); got {x.shape}.")
    if len(y) != len(x):
        raise ValueError(f"Got {len(y)} labels for {len(x)} images.")
    per_class = {}
    for c in np.unique(y):
        members = x[y == c]
        if len(members) < 2:
            continue
        per_class[int(c)] = ms_ssim_diversity(
            members,
            num_pairs=num_pairs,
            seed=seed,
            batch_size=batch_size,
            max_val=max_val,
            **kwargs,
        )
    if not per_class:
        raise ValueError("No class has 2 or more images.")
    return {"per_class": per_class, "mean": float(np.mean(list(per_class.values())))}


__all__ = [
    "cross_generator_ms_ssim",
    "generator_distinctness",
    "per_class_ms_ssim",
    "samples_per_generator",
]
