"""Quality and diversity of the generative models: per-class FID, IS and MS-SSIM."""

import math

import numpy as np

from kmgan.augment.arrays import VALUE_RANGE
from kmgan.augment.arrays import check_labels
from kmgan.augment.arrays import count_classes
from kmgan.augment.arrays import to_model_range

__all__ = [
    "features_or_none",
    "generative_metrics",
]


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
        row = {
            "class": c,
            "n": int(len(g)),
            "fid": math.nan,
            "inception_score": math.nan,
            "inception_score_std": math.nan,
            "ms_ssim": math.nan,
        }
        if len(g) >= 2:
            if features is not None:
                real_stats = None
                if len(r) >= 2:
                    real_stats = inception.activation_statistics(
                        r, features, value_range=VALUE_RANGE
                    )
                out = inception.inception_metrics(
                    g,
                    real_stats,
                    features,
                    num_splits=min(10, len(g)),
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
