"""Mode coverage on synthetic 2-D mixtures (the PacGAN/VEEGAN protocol).

A generated point is *high quality* when it lies within `num_std` standard
deviations (3 by default) of its nearest mode centre; a mode is *covered*
when it receives at least one high-quality point. PacGAN reports both over
2,500 samples, and the KL divergence of the high-quality points' mode
histogram from the uniform distribution over modes.
"""

import numpy as np


def mixture_coverage(samples, mixture="ring", num_std=3.0):
    """Measures how many modes of a Gaussian mixture the samples cover.

    Args:
        samples: (N, 2) generated points.
        mixture: a `kmgan.data.Mixture`, or "ring" / "grid" for the PacGAN
            mixtures (unit-circle ring of 8 with sigma 0.01; 5x5 grid with
            sigma 0.05).
        num_std: the high-quality radius in standard deviations.

    Returns:
        dict with `modes_covered` (int), `num_modes`, `high_quality_fraction`
        (in [0, 1]), `kl_to_uniform` (KL of the high-quality points' mode
        histogram from uniform; inf when no point is high quality), `counts`
        (high-quality points per mode) and `nearest_mode` (per sample).
    """
    from kmgan import data

    mixture = data.get_mixture(mixture)
    samples = np.asarray(samples, "float64")
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"Expected a non-empty (N, 2) array, got {samples.shape}.")
    centers = np.asarray(mixture.centers, "float64")
    distances = np.linalg.norm(samples[:, None, :] - centers[None], axis=-1)
    nearest = distances.argmin(axis=1)
    high_quality = distances[np.arange(len(samples)), nearest] <= num_std * mixture.std
    counts = np.bincount(nearest[high_quality], minlength=len(centers))
    return {
        "modes_covered": int((counts > 0).sum()),
        "num_modes": len(centers),
        "high_quality_fraction": float(high_quality.mean()),
        "kl_to_uniform": kl_to_uniform(counts),
        "counts": counts,
        "nearest_mode": nearest,
    }


def kl_to_uniform(counts):
    """KL(p || uniform) of the histogram `counts` (natural log).

    Args:
        counts: non-negative counts per mode.

    Returns:
        The divergence; 0 for a flat histogram, log(M) when one mode has all
        the mass, inf for an empty histogram.
    """
    counts = np.asarray(counts, "float64")
    total = counts.sum()
    if total <= 0:
        return float("inf")
    p = counts / total
    nonzero = p > 0
    return float(np.sum(p[nonzero] * np.log(p[nonzero] * len(counts))))


def mean_distance_to_modes(samples, mixture="ring"):
    """Mean Euclidean distance from each sample to its nearest mode centre."""
    from kmgan import data

    centers = np.asarray(data.get_mixture(mixture).centers, "float64")
    samples = np.asarray(samples, "float64")
    distances = np.linalg.norm(samples[:, None, :] - centers[None], axis=-1)
    return float(distances.min(axis=1).mean())
