"""Precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al. 2020).

All four compare a real and a generated feature set through k-nearest-
neighbour balls. The ball of a sample has the distance to its k-th nearest
neighbour within its own set as radius (the sample itself not counted);
``x`` is "inside" a ball when its distance to the centre is strictly smaller
than the radius (as in the ``prdc`` package, Naeem et al.'s reference code).

* precision: the share of generated samples inside some real ball
  (fidelity: how much of what the generator makes looks real);
* recall: the share of real samples inside some generated ball
  (diversity: how much of the real data the generator reaches);
* density: the number of real balls a generated sample is inside, averaged
  over generated samples and divided by ``k`` (about 1 when both sets come
  from one distribution; above 1 for samples crowded where the real data is
  dense; not bounded by 1);
* coverage: the share of real samples whose ball holds at least one
  generated sample (robust to outliers, unlike recall).

Usual choices: ``k=3`` for precision/recall (Kynkäänniemi et al.), ``k=5``
for density/coverage (Naeem et al.), on 10,000 or 50,000 samples of each set
(the number matters: these are not unbiased estimates).

Distances are computed block by block, never as a whole
``N x M x d`` tensor: each block is ``|x|^2 + |y|^2 - 2 x y^T`` for a slab of
rows against all columns, in float64 by default (features are first centred
on the real set's mean, which costs nothing and keeps the expansion
accurate), and only the k smallest distances per row, or the comparisons
with the radii, are kept.
"""

import numpy as np

from kmgan.metrics.features import check_feature_array
from kmgan.metrics.features import resolve_features

__all__ = [
    "density_coverage",
    "nearest_neighbour_radii",
    "prdc_from_features",
    "precision_recall",
]

#: Distances held at once (a block of rows x all columns).
DEFAULT_BLOCK_ELEMENTS = 1 << 22


def _check_k(k, name="k"):
    if isinstance(k, bool) or int(k) != k or int(k) < 1:
        raise ValueError(f"{name} must be a positive integer; got {k!r}.")
    return int(k)


def _block_rows(n_cols, block_elements):
    return max(1, int(block_elements) // max(1, n_cols))


def _squared_distances(x_block, y, x_norms, y_norms):
    d = x_norms[:, None] + y_norms[None, :] - 2.0 * (x_block @ y.T)
    return np.maximum(d, 0.0, out=d)


def _radii(x, ks, block_elements):
    """Squared k-NN radii of every row of ``x`` within ``x``, for each k in ``ks``."""
    n = x.shape[0]
    top = max(ks)
    norms = np.einsum("ij,ij->i", x, x)
    radii = {k: np.empty(n, x.dtype) for k in ks}
    step = _block_rows(n, block_elements)
    for start in range(0, n, step):
        stop = min(start + step, n)
        d = _squared_distances(x[start:stop], x, norms[start:stop], norms)
        rows = np.arange(stop - start)
        d[rows, start + rows] = 0.0  # the sample itself, exactly
        smallest = np.sort(np.partition(d, top, axis=1)[:, : top + 1], axis=1)
        for k in ks:
            radii[k][start:stop] = smallest[:, k]
    return radii


def nearest_neighbour_radii(features, k, block_elements=DEFAULT_BLOCK_ELEMENTS):
    """Distance of each sample to its k-th nearest neighbour in its own set.

    Args:
        features: ``(N, d)`` features, ``N > k``.
        k: the neighbour (the sample itself is not counted).
        block_elements: distances held in memory at once.

    Returns:
        float64 ``(N,)`` distances (not squared).
    """
    k = _check_k(k)
    x = check_feature_array(features, min_count=k + 1).astype(np.float64)
    x = x - x.mean(axis=0)
    return np.sqrt(_radii(x, [k], block_elements)[k])


def prdc_from_features(
    real, fake, pr_k=3, dc_k=5, dtype="float64", block_elements=DEFAULT_BLOCK_ELEMENTS
):
    """Precision, recall, density and coverage of two feature arrays, in one pass.

    Args:
        real: ``(N, d)`` real features.
        fake: ``(M, d)`` generated features.
        pr_k: k of precision and recall, or ``None`` to skip them.
        dc_k: k of density and coverage, or ``None`` to skip them.
        dtype: ``"float64"`` (default) or ``"float32"`` (about twice as fast,
            distances to about 1e-6 relative).
        block_elements: distances held in memory at once.

    Returns:
        dict with ``precision`` and ``recall`` (when ``pr_k``), ``density``
        and ``coverage`` (when ``dc_k``): Python floats.

    Raises:
        ValueError: for fewer samples than ``k + 1`` in either set,
            mismatched feature dimensions or NaN.
    """
    if pr_k is None and dc_k is None:
        raise ValueError("Pass pr_k, dc_k or both.")
    pr_k = None if pr_k is None else _check_k(pr_k, "pr_k")
    dc_k = None if dc_k is None else _check_k(dc_k, "dc_k")
    if dtype not in ("float64", "float32"):
        raise ValueError(f'dtype must be "float64" or "float32"; got {dtype!r}.')
    top = max(k for k in (pr_k, dc_k) if k is not None)
    r = check_feature_array(real, "the real features", min_count=top + 1)
    f = check_feature_array(fake, "the generated features", min_count=top + 1)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"The feature dimensions differ: {r.shape[1]} and {f.shape[1]}.")
    centre = r.mean(axis=0, dtype=np.float64)
    r = (r - centre).astype(dtype, copy=False)
    f = (f - centre).astype(dtype, copy=False)

    real_ks = sorted({k for k in (pr_k, dc_k) if k is not None})
    real_radii = _radii(r, real_ks, block_elements)
    fake_radii = _radii(f, [pr_k], block_elements)[pr_k] if pr_k is not None else None

    n, m = r.shape[0], f.shape[0]
    r_norms = np.einsum("ij,ij->i", r, r)
    f_norms = np.einsum("ij,ij->i", f, f)
    fake_in_real = np.zeros(m, bool)  # precision
    real_in_fake = np.zeros(n, bool)  # recall
    balls_holding = np.zeros(m, np.int64)  # density
    real_covered = np.zeros(n, bool)  # coverage
    step = _block_rows(m, block_elements)
    for start in range(0, n, step):
        stop = min(start + step, n)
        d = _squared_distances(r[start:stop], f, r_norms[start:stop], f_norms)
        if pr_k is not None:
            fake_in_real |= (d < real_radii[pr_k][start:stop, None]).any(axis=0)
            real_in_fake[start:stop] = (d < fake_radii[None, :]).any(axis=1)
        if dc_k is not None:
            radius = real_radii[dc_k][start:stop]
            balls_holding += (d < radius[:, None]).sum(axis=0)
            real_covered[start:stop] = d.min(axis=1) < radius
    out = {}
    if pr_k is not None:
        out["precision"] = float(fake_in_real.mean())
        out["recall"] = float(real_in_fake.mean())
    if dc_k is not None:
        out["density"] = float(balls_holding.mean() / dc_k)
        out["coverage"] = float(real_covered.mean())
    return out


def _prdc_of_sets(a, b, features, pr_k, dc_k, num_samples, batch_size, value_range, dtype):
    """`prdc_from_features` of two sets, extracting features where they are images.

    Checks that each set holds more than the largest k before any forward pass.
    """
    top = max(k for k in (pr_k, dc_k) if k is not None)
    real, fake = resolve_features(
        [a, b],
        features,
        min_count=top + 1,
        num_samples=num_samples,
        batch_size=batch_size,
        value_range=value_range,
    )
    return prdc_from_features(real, fake, pr_k=pr_k, dc_k=dc_k, dtype=dtype)


def precision_recall(
    a,
    b,
    features=None,
    *,
    k=3,
    num_samples=None,
    batch_size=None,
    value_range=None,
    dtype="float64",
):
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Args:
        a: the real set: images (array, iterable of batches or
            ``sample_fn`` with ``num_samples``) or ``(N, d)`` features.
        b: the generated set, likewise.
        features: the extractor for image sets (e.g.
            ``kmgan.metrics.inception_2015(path)``).
        k: the neighbour that sets the balls' radii (3 in the paper).
        num_samples: images to take from each image set.
        batch_size: images per forward pass.
        value_range: pixel range of the image sets.
        dtype: distance precision, ``"float64"`` or ``"float32"``.

    Returns:
        dict with ``precision`` and ``recall`` in [0, 1].

    Raises:
        ValueError: before any forward pass, for ``k + 1`` or fewer samples,
            mismatched feature dimensions or NaN features.
    """
    k = _check_k(k)
    return _prdc_of_sets(a, b, features, k, None, num_samples, batch_size, value_range, dtype)


def density_coverage(
    a,
    b,
    features=None,
    *,
    k=5,
    num_samples=None,
    batch_size=None,
    value_range=None,
    dtype="float64",
):
    """Density and coverage (Naeem et al. 2020).

    Args:
        a: the real set: images (array, iterable of batches or
            ``sample_fn`` with ``num_samples``) or ``(N, d)`` features.
        b: the generated set, likewise.
        features: the extractor for image sets.
        k: the neighbour that sets the real balls' radii (5 in the paper).
        num_samples: images to take from each image set.
        batch_size: images per forward pass.
        value_range: pixel range of the image sets.
        dtype: distance precision, ``"float64"`` or ``"float32"``.

    Returns:
        dict with ``density`` (>= 0, about 1 for matching sets) and
        ``coverage`` in [0, 1].

    Raises:
        ValueError: before any forward pass, for ``k + 1`` or fewer samples,
            mismatched feature dimensions or NaN features.
    """
    k = _check_k(k)
    return _prdc_of_sets(a, b, features, None, k, num_samples, batch_size, value_range, dtype)
