"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy between the feature
distributions of two image sets under the cubic polynomial kernel

    k(x, y) = (x . y / d + 1) ** 3,

with ``d`` the feature dimension, estimated without bias:

    MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m - 1))
          + sum_{i != j} k(y_i, y_j) / (n (n - 1))
          - 2 sum_{i, j} k(x_i, y_j) / (m n).

Unlike FID it has an unbiased estimator, so its value does not depend on the
number of samples (only its variance does), and it can be slightly negative
for two samples of one distribution. The usual protocol (the paper's code,
torch-fidelity, clean-fid, StyleGAN's metrics) averages the estimate over
``num_subsets=100`` random subsets of ``subset_size=1000`` samples of each
set, drawn without replacement, and reports the mean and the standard
deviation over subsets. The subsets are drawn in the order torch-fidelity
0.4 draws them (``numpy.random.RandomState(seed).choice``, first set then
second set for each subset, its ``mmd2`` "unbiased" estimate), so the same
features and seed should give its numbers; the tests check kmgan against the
formula pair by pair and against clean-fid's ``kernel_distance``.
Papers often print KID x 1000 (or x 100).
"""

import numpy as np

from kmgan.metrics.features import check_feature_array
from kmgan.metrics.features import resolve_features

__all__ = ["kid", "kid_from_features", "mmd2_unbiased", "polynomial_kernel"]


def polynomial_kernel(x, y, degree=3, coef0=1.0):
    """The polynomial kernel matrix ``(x y^T / d + coef0) ** degree``.

    Args:
        x: ``(m, d)`` features.
        y: ``(n, d)`` features.
        degree: the power (3 for KID).
        coef0: the offset (1 for KID).

    Returns:
        float64 ``(m, n)``.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x, y):
    """Unbiased MMD² of two feature sets under KID's cubic kernel.

    Args:
        x: ``(m, d)`` features, ``m >= 2``.
        y: ``(n, d)`` features, ``n >= 2``.

    Returns:
        The estimate, a Python float.
    """
    m, n = x.shape[0], y.shape[0]
    k_xx = polynomial_kernel(x, x)
    k_yy = polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * k_xy.sum() / (m * n))


def _check_subsets(num_subsets, subset_size):
    num_subsets = int(num_subsets)
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be at least 1; got {num_subsets}.")
    if subset_size is not None:
        subset_size = int(subset_size)
        if subset_size < 2:
            raise ValueError(f"subset_size must be at least 2; got {subset_size}.")
    elif num_subsets != 1:
        raise ValueError("subset_size=None (the whole sets) needs num_subsets=1.")
    return num_subsets, subset_size


def kid_from_features(features_a, features_b, num_subsets=100, subset_size=1000, seed=0):
    """KID of two feature arrays: mean and std of MMD² over random subsets.

    Args:
        features_a: ``(m, d)`` features of the first set.
        features_b: ``(n, d)`` features of the second set.
        num_subsets: number of subsets (100 in the usual protocol).
        subset_size: samples per subset from each set (1000 in the usual
            protocol); at most ``min(m, n)``. With ``subset_size`` equal to
            both set sizes and ``num_subsets=1`` the result is the full-set
            estimate. ``None`` takes each set whole, sizes may differ
            (``num_subsets`` must then be 1).
        seed: seed of the subset draws.

    Returns:
        ``(mean, std)``: Python floats (std over subsets, ``ddof=0``; 0 for
        one subset).

    Raises:
        ValueError: for fewer samples than ``subset_size``, mismatched
            feature dimensions, or NaN.
    """
    num_subsets, subset_size = _check_subsets(num_subsets, subset_size)
    a = check_feature_array(features_a, "the first set's features", min_count=subset_size or 2)
    b = check_feature_array(features_b, "the second set's features", min_count=subset_size or 2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"The feature dimensions differ: {a.shape[1]} and {b.shape[1]}.")
    if subset_size is None:
        return mmd2_unbiased(a, b), 0.0
    rng = np.random.RandomState(seed)
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        x = a[rng.choice(a.shape[0], subset_size, replace=False)]
        y = b[rng.choice(b.shape[0], subset_size, replace=False)]
        values[i] = mmd2_unbiased(x, y)
    return float(values.mean()), float(values.std())


def kid(
    a,
    b,
    features=None,
    *,
    num_subsets=100,
    subset_size=1000,
    seed=0,
    num_samples=None,
    batch_size=None,
    value_range=None,
):
    """Kernel Inception Distance between two sets of images (or features).

    Args:
        a: the first set: images (array ``(N, H, W[, C])``, iterable of
            batches, or ``sample_fn(n)`` with ``num_samples``; see
            :func:`kmgan.metrics.inception.iterate_batches`) or a ``(N, d)``
            feature array, e.g. from :func:`kmgan.metrics.real_features`.
        b: the second set, likewise.
        features: the extractor for image sets, e.g.
            ``kmgan.metrics.inception_2015(path)`` (``None``: the default
            of :func:`kmgan.metrics.fid`).
        num_subsets: number of subsets (100 in the usual protocol).
        subset_size: samples per subset from each set (1000 in the usual
            protocol); ``None`` takes each set whole (one subset).
        seed: seed of the subset draws.
        num_samples: images to take from each image set.
        batch_size: images per forward pass.
        value_range: pixel range of the image sets, see
            :func:`kmgan.metrics.inception.preprocess_images`.

    Returns:
        ``(mean, std)`` of the unbiased MMD² over the subsets.

    Raises:
        ValueError: before any forward pass, for fewer samples than
            ``subset_size``, mismatched feature dimensions or NaN features.
    """
    num_subsets, subset_size = _check_subsets(num_subsets, subset_size)
    fa, fb = resolve_features(
        [a, b],
        features,
        min_count=subset_size or 2,
        num_samples=num_samples,
        batch_size=batch_size,
        value_range=value_range,
    )
    return kid_from_features(fa, fb, num_subsets, subset_size, seed)
