"""Every feature metric of a generated set from one extraction: ``evaluate``.

The generated set is streamed once through the extractor (and, for the
``"classes"`` scores, through a domain classifier in the same pass); the
real set once too, or read as precomputed features (e.g. from
:func:`kmgan.metrics.real_features`, cached per dataset/split/network).
FID, KID, precision/recall and density/coverage are then all computed on
those two arrays.
"""

import numpy as np

from kmgan.metrics.features import check_feature_array
from kmgan.metrics.features import extract
from kmgan.metrics.features import is_feature_array
from kmgan.metrics.features import known_count
from kmgan.metrics.features import resolve_features
from kmgan.metrics.inception import frechet_distance
from kmgan.metrics.kid import kid_from_features
from kmgan.metrics.prdc import prdc_from_features

#: The metric names `evaluate` knows.
METRICS = ("fid", "kid", "pr", "dc", "classes")
FEATURE_METRICS = ("fid", "kid", "pr", "dc")

__all__ = ["FEATURE_METRICS", "METRICS", "evaluate", "feature_scores", "parse_metrics"]


def parse_metrics(metrics):
    """Checks a list of metric names (or a comma-separated string).

    Args:
        metrics: e.g. ``("fid", "kid")`` or ``"fid,kid,pr,dc,classes"``.

    Returns:
        A tuple of distinct names from :data:`METRICS`, in the given order.

    Raises:
        ValueError: for an empty list or an unknown name.
    """
    if isinstance(metrics, str):
        metrics = [m for m in metrics.replace(" ", "").split(",") if m]
    names = tuple(dict.fromkeys(str(m).lower() for m in metrics))
    if not names:
        raise ValueError(f"Pass at least one metric of {METRICS}.")
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metric(s) {unknown}; expected some of {METRICS}.")
    return names


def _min_count(metrics, kid_subset_size, pr_k, dc_k):
    need = 2  # a covariance needs two samples
    if "kid" in metrics and kid_subset_size is not None:
        need = max(need, int(kid_subset_size))
    if "pr" in metrics:
        need = max(need, int(pr_k) + 1)
    if "dc" in metrics:
        need = max(need, int(dc_k) + 1)
    return need


def feature_scores(
    generated,
    real,
    metrics=FEATURE_METRICS,
    *,
    kid_subsets=100,
    kid_subset_size=1000,
    pr_k=3,
    dc_k=5,
    seed=0,
    fid_method="sqrtm",
    prdc_dtype="float64",
):
    """FID / KID / PR / DC of two feature arrays.

    Args:
        generated: ``(M, d)`` generated features.
        real: ``(N, d)`` real features.
        metrics: some of :data:`FEATURE_METRICS`.
        kid_subsets: KID's number of subsets.
        kid_subset_size: KID's subset size (``None``: whole sets).
        pr_k: k of precision / recall.
        dc_k: k of density / coverage.
        seed: seed of KID's subsets.
        fid_method: matrix square root of FID, ``"sqrtm"`` or ``"eigh"``.
        prdc_dtype: distance precision of PR / DC.

    Returns:
        dict with ``fid``; ``kid``, ``kid_std``; ``precision``, ``recall``;
        ``density``, ``coverage`` (those asked for).
    """
    metrics = [m for m in parse_metrics(metrics) if m in FEATURE_METRICS]
    need = _min_count(metrics, kid_subset_size, pr_k, dc_k)
    g = check_feature_array(generated, "the generated features", min_count=need)
    r = check_feature_array(real, "the real features", min_count=need)
    if g.shape[1] != r.shape[1]:
        raise ValueError(f"The feature dimensions differ: {g.shape[1]} and {r.shape[1]}.")
    out = {}
    if "fid" in metrics:
        g64, r64 = g.astype(np.float64), r.astype(np.float64)
        out["fid"] = frechet_distance(
            g64.mean(axis=0),
            np.cov(g64, rowvar=False),
            r64.mean(axis=0),
            np.cov(r64, rowvar=False),
            method=fid_method,
        )
    if "kid" in metrics:
        out["kid"], out["kid_std"] = kid_from_features(
            r, g, num_subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
        )
    if "pr" in metrics or "dc" in metrics:
        out.update(
            prdc_from_features(
                r,
                g,
                pr_k=pr_k if "pr" in metrics else None,
                dc_k=dc_k if "dc" in metrics else None,
                dtype=prdc_dtype,
            )
        )
    return out


def evaluate(
    generated,
    real,
    features=None,
    metrics=FEATURE_METRICS,
    *,
    classifier=None,
    num_samples=None,
    real_num_samples=None,
    batch_size=None,
    value_range=None,
    real_value_range=None,
    kid_subsets=100,
    kid_subset_size=1000,
    pr_k=3,
    dc_k=5,
    min_count=1,
    seed=0,
    fid_method="sqrtm",
    progress=False,
):
    """Scores generated images against real ones, extracting features once per set.

    Args:
        generated: the generated set: images (array, iterable of batches,
            or ``sample_fn(n)`` with ``num_samples``) or ``(M, d)`` features.
        real: the real set, likewise (e.g. the cached
            :func:`kmgan.metrics.real_features`).
        features: the extractor, e.g. ``kmgan.metrics.inception_2015(path)``
            (numbers comparable to papers) or a domain classifier (``None``:
            the default of :func:`kmgan.metrics.fid`).
        metrics: names from :data:`METRICS`: ``"fid"``, ``"kid"``,
            ``"pr"`` (precision, recall), ``"dc"`` (density, coverage),
            ``"classes"`` (classes covered, KL to the real class
            distribution; needs ``classifier``, or ``features`` being a
            domain classifier, and generated images).
        classifier: a :class:`kmgan.metrics.DomainClassifier` for
            ``"classes"``; the generated images go through it in the same
            pass as through ``features``.
        num_samples: generated images to take (required for a ``sample_fn``).
        real_num_samples: real images to take (``None``: all).
        batch_size: images per step.
        value_range: pixel range of the generated images (``None``: from
            the dtype; floats are read as (-1, 1)).
        real_value_range: pixel range of the real images (``None``: from
            the dtype; uint8 is read as (0, 255)).
        kid_subsets: KID's number of subsets (100).
        kid_subset_size: KID's subset size (1000).
        pr_k: k of precision / recall (3).
        dc_k: k of density / coverage (5).
        min_count: images a class needs to count as covered.
        seed: seed of KID's subsets.
        fid_method: matrix square root of FID.
        progress: show progress bars while extracting.

    Returns:
        dict of the scores asked for (see :func:`feature_scores`, plus
        ``classes_covered``, ``kl_to_real``, ``class_histogram`` for
        ``"classes"``), and ``num_generated``, ``num_real``, ``features``
        (the extractor's name) and ``comparable_to_papers``.

    Raises:
        ValueError: before any forward pass, for unknown metrics, too few
            samples (fewer than ``kid_subset_size`` or ``k + 1``),
            mismatched feature dimensions or NaN features, or ``"classes"``
            without a classifier.
    """
    metrics = parse_metrics(metrics)
    want_features = [m for m in metrics if m in FEATURE_METRICS]
    if "classes" in metrics:
        if classifier is None and getattr(features, "class_histogram", None) is not None:
            classifier = features
        if classifier is None:
            raise ValueError('"classes" needs classifier= (a DomainClassifier).')
        if is_feature_array(generated):
            raise ValueError('"classes" needs generated images, not features.')
    need = _min_count(want_features, kid_subset_size, pr_k, dc_k) if want_features else 1
    if want_features:
        # Checks of both sets (counts, dims, NaN) before any forward pass.
        for what, s, n in (("generated", generated, num_samples), ("real", real, real_num_samples)):
            count = int(s.shape[0]) if is_feature_array(s) else known_count(s, n)
            if count is not None and count < need:
                raise ValueError(
                    f"The {what} set has {count} samples; the metrics "
                    f"{want_features} need at least {need}."
                )
        if is_feature_array(real):
            (real_feats,) = resolve_features(
                [real], features, min_count=need, num_samples=real_num_samples
            )
        else:
            real_feats = None
    out = {}
    extractors = []
    if want_features and not is_feature_array(generated):
        if features is None:
            from kmgan.metrics import inception

            features = inception.default_features()
        if real_feats is not None and getattr(features, "feature_dim", None) not in (
            None,
            real_feats.shape[1],
        ):
            raise ValueError(
                f"The feature dimensions differ: the real features are "
                f"{real_feats.shape[1]}-d but "
                f"{features.name} gives {features.feature_dim}-d features."
            )
        extractors.append(features)
    if "classes" in metrics and classifier is not features:
        extractors.append(classifier)
    gen_feats = gen_probs = None
    if extractors:
        results = extract(
            generated,
            extractors,
            num_samples=num_samples,
            batch_size=batch_size,
            value_range=value_range,
            progress=progress,
        )
        if want_features and not is_feature_array(generated):
            gen_feats = results[0][0]
        gen_probs = results[-1][1]
    if want_features:
        if gen_feats is None:
            (gen_feats,) = resolve_features(
                [generated], features, min_count=need, num_samples=num_samples
            )
        if real_feats is None:
            (real_feats,) = resolve_features(
                [real],
                features,
                min_count=need,
                num_samples=real_num_samples,
                batch_size=batch_size,
                value_range=real_value_range,
            )
        out.update(
            feature_scores(
                gen_feats,
                real_feats,
                want_features,
                kid_subsets=kid_subsets,
                kid_subset_size=kid_subset_size,
                pr_k=pr_k,
                dc_k=dc_k,
                seed=seed,
                fid_method=fid_method,
            )
        )
        out["num_generated"], out["num_real"] = int(len(gen_feats)), int(len(real_feats))
        out["features"] = getattr(features, "name", type(features).__name__)
        out["comparable_to_papers"] = bool(getattr(features, "comparable_to_papers", False))
    if "classes" in metrics:
        counts = np.bincount(gen_probs.argmax(axis=-1), minlength=classifier.num_classes)
        out["classes_covered"] = int((counts >= int(min_count)).sum())
        out["num_classes"] = int(classifier.num_classes)
        out["kl_to_real"] = classifier.kl_from_histogram(counts)
        out["class_histogram"] = counts.tolist()
        out.setdefault("num_generated", int(counts.sum()))
    return out
