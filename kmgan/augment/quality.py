"""Quality and diversity of the generative models, per class.

FID, KID, precision/recall/density/coverage and the Inception Score on a
feature network, and MS-SSIM diversity on the pixels.
"""

import math

import numpy as np

from kmgan.augment.arrays import VALUE_RANGE
from kmgan.augment.arrays import check_labels
from kmgan.augment.arrays import count_classes
from kmgan.augment.arrays import to_model_range

__all__ = [
    "SCORE_COLUMNS",
    "features_or_none",
    "generative_metrics",
]

#: The feature-based scores of a `generative_metrics` row.
SCORE_COLUMNS = (
    "fid",
    "kid",
    "kid_std",
    "precision",
    "recall",
    "density",
    "coverage",
    "inception_score",
    "inception_score_std",
)


def features_or_none(features):
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


def _features_of(images, features):
    """Pool features and class probabilities (``None`` for a network without them)."""
    pools, probs = [], []
    step = int(getattr(features, "batch_size", 64) or 64)
    for i in range(0, len(images), step):
        pool, prob = features(images[i : i + step], value_range=VALUE_RANGE)
        pools.append(np.asarray(pool, np.float64))
        probs.append(None if prob is None else np.asarray(prob, np.float64))
    has_probs = all(p is not None for p in probs)
    return np.concatenate(pools), (np.concatenate(probs) if has_probs else None)


def _scores(g_pool, g_probs, r_pool, seed, pr_k=3, dc_k=5):
    """FID, KID, IS and precision/recall/density/coverage of one group (NaN if impossible)."""
    from kmgan.metrics.inception import frechet_distance
    from kmgan.metrics.inception import inception_score_from_probs
    from kmgan.metrics.kid import kid_from_features
    from kmgan.metrics.prdc import prdc_from_features

    out = dict.fromkeys(SCORE_COLUMNS, math.nan)
    if g_probs is not None:
        out["inception_score"], out["inception_score_std"] = inception_score_from_probs(
            g_probs, num_splits=min(10, len(g_probs))
        )
    if r_pool is None or len(r_pool) < 2:
        return out
    out["fid"] = frechet_distance(
        g_pool.mean(0), np.cov(g_pool, rowvar=False), r_pool.mean(0), np.cov(r_pool, rowvar=False)
    )
    size = min(len(g_pool), len(r_pool), 1000)
    whole = size == len(g_pool) == len(r_pool)
    out["kid"], out["kid_std"] = kid_from_features(
        g_pool, r_pool, num_subsets=1 if whole else 100, subset_size=size, seed=seed
    )
    if min(len(g_pool), len(r_pool)) > max(pr_k, dc_k):
        out.update(prdc_from_features(r_pool, g_pool, pr_k=pr_k, dc_k=dc_k))
    return {k: float(v) for k, v in out.items()}


def _has_probabilities(features, images):
    """Whether the network gives class probabilities (the Inception Score's input)."""
    return features(images[:2], value_range=VALUE_RANGE)[1] is not None


def _capped(labels, k, cap, rng):
    """Per class, the sorted indices of at most `cap` of its members."""
    picks = []
    for c in range(k):
        idx = np.flatnonzero(labels == c)
        if len(idx) > cap:
            idx = np.sort(rng.choice(idx, cap, replace=False))
        picks.append(idx)
    return picks


def generative_metrics(
    images,
    labels,
    real_x,
    real_y,
    features=None,
    num_classes=None,
    diversity_pairs=200,
    seed=0,
    max_per_class=1000,
    include_all=True,
):
    """Per-class FID, KID, IS, precision/recall/density/coverage and MS-SSIM of samples.

    For each class ``c`` with at least 2 generated images: FID, KID and
    precision, recall (k = 3), density and coverage (k = 5) between the
    generated and the real images of class ``c``, the Inception Score of
    the generated ones (when the network has a classifier head) and their
    MS-SSIM diversity (mean MS-SSIM over random pairs; lower is more
    diverse; compare with the real data's own value, e.g. from
    ``generative_metrics(real_x, real_y, None, None)``). With ``include_all``
    a row ``class="all"`` covers all images together.

    Args:
        images: generated images ``(N, H, W[, C])`` in ``[-1, 1]``.
        labels: their labels (a conditional generator's, or those given by
            the confidence filter).
        real_x: real images of the same domain (uint8 or ``[-1, 1]``), or
            ``None`` to skip the comparisons (e.g. for the real data's own
            IS and MS-SSIM, the reference values).
        real_y: their labels (``None`` with ``real_x``).
        features: an ``kmgan.metrics.InceptionFeatures`` (``weights=None``
            for tests), ``kmgan.metrics.inception_2015(...)`` (the FID
            network; no IS), any callable ``f(images, value_range=...) ->
            (pool, probs or None)``, ``"imagenet"`` / a weights path (built
            here), or ``None`` to skip every feature-based score (MS-SSIM
            is still computed).
        num_classes: number of classes (default: largest label + 1).
        diversity_pairs: pairs of images per MS-SSIM estimate.
        seed: seed of the pair sampling, the per-class subsampling and
            KID's subsets.
        max_per_class: use at most this many images per class (each side).
        include_all: add the ``"all"`` row.

    Returns:
        A list of dicts with ``class``, ``n``, ``fid``, ``kid``, ``kid_std``,
        ``precision``, ``recall``, ``density``, ``coverage``,
        ``inception_score``, ``inception_score_std`` (NaN when skipped) and
        ``ms_ssim``.
    """
    from kmgan.metrics import ms_ssim_diversity

    features = features_or_none(features)
    gx = to_model_range(images)
    gy = check_labels(labels, len(gx), "labels")
    if real_x is None:
        rx, ry = gx[:0], gy[:0]
    else:
        rx = to_model_range(real_x)
        ry = check_labels(real_y, len(rx), "real labels")
    k = count_classes(gy, ry, num_classes=num_classes)
    rng = np.random.default_rng(seed)
    # At most `max_per_class` images of each class, each side; "all" is their union.
    g_picks = _capped(gy, k, max_per_class, rng)
    r_picks = _capped(ry, k, max_per_class, rng)
    g_all, r_all = np.concatenate(g_picks), np.concatenate(r_picks)
    g_pool = g_probs = r_pool = None
    if (
        features is not None
        and len(g_all)
        and (len(r_all) >= 2 or _has_probabilities(features, gx))
    ):
        g_pool, g_probs = _features_of(gx[g_all], features)
        if len(r_all) >= 2:
            r_pool, _ = _features_of(rx[r_all], features)
    groups = [(c, gy[g_all] == c, ry[r_all] == c) for c in range(k)]
    if include_all:
        groups.append(("all", np.ones(len(g_all), bool), np.ones(len(r_all), bool)))
    rows = []
    for c, g_mask, r_mask in groups:
        g = gx[g_all[g_mask]]
        row = {"class": c, "n": int(len(g)), **dict.fromkeys(SCORE_COLUMNS, math.nan)}
        row["ms_ssim"] = math.nan
        if len(g) >= 2:
            if g_pool is not None and (g_probs is not None or r_pool is not None):
                row.update(
                    _scores(
                        g_pool[g_mask],
                        None if g_probs is None else g_probs[g_mask],
                        None if r_pool is None else r_pool[r_mask],
                        seed,
                    )
                )
            pairs = min(int(diversity_pairs), len(g) * (len(g) - 1) // 2)
            row["ms_ssim"] = ms_ssim_diversity(
                g, num_pairs=pairs, seed=seed, batch_size=max(pairs, 1)
            )
        rows.append(row)
    return rows
