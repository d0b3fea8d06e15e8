"""Synthetic 2-D Gaussian mixtures: the toy benchmarks for mode collapse.

Pure NumPy: `mixture_dataset` (in `kmgan.data.pipeline`) turns a sample into
a `tf.data` pipeline.
"""

import dataclasses

import numpy as np

from kmgan.data.checks import check_positive_int
from kmgan.data.checks import check_std

__all__ = [
    "MIXTURES",
    "Mixture",
    "get_mixture",
    "grid_centers",
    "grid_of_gaussians",
    "mixture_centers",
    "ring_centers",
    "ring_of_gaussians",
]

# Synthetic 2-D mixtures reachable through `load(name)` and `get_mixture`.
MIXTURES = ("ring", "grid")


@dataclasses.dataclass(frozen=True, eq=False)
class Mixture:
    """A mixture of equal-weight isotropic 2-D Gaussians.

    Attributes:
        kind: `"ring"` or `"grid"` (or any label you choose).
        centers: float32 array `(num_modes, 2)` of mode centres.
        std: Standard deviation of every mode, per coordinate.
    """

    kind: str
    centers: np.ndarray
    std: float

    @property
    def num_modes(self):
        """Number of modes."""
        return len(self.centers)

    def sample(self, num_samples, seed=None):
        """Draws points, each from a mode chosen uniformly at random.

        Args:
            num_samples: Number of points.
            seed: Optional integer seed (numpy `default_rng`).

        Returns:
            A tuple `(points, modes)`: float32 `(num_samples, 2)` and the
            int32 index `(num_samples,)` of the mode each point came from.
        """
        num_samples = check_positive_int(num_samples, "num_samples")
        rng = np.random.default_rng(seed)
        modes = rng.integers(0, self.num_modes, size=num_samples)
        noise = rng.standard_normal((num_samples, 2))
        points = self.centers[modes] + self.std * noise
        return points.astype("float32"), modes.astype("int32")


def ring_centers(num_modes=8, radius=1.0):
    """Centres of `num_modes` modes evenly spaced on a circle.

    Args:
        num_modes: Number of modes.
        radius: Radius of the circle.

    Returns:
        float32 array `(num_modes, 2)`; mode `k` sits at angle
        `2 * pi * k / num_modes`.
    """
    num_modes = check_positive_int(num_modes, "num_modes")
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centers.astype("float32")


def grid_centers(values=(-4, -2, 0, 2, 4)):
    """Centres of a square grid of modes.

    Args:
        values: Coordinates used on each axis (5 values give 25 modes).

    Returns:
        float32 array `(len(values) ** 2, 2)`, row-major: mode
        `i * len(values) + j` sits at `(values[i], values[j])`.
    """
    values = np.asarray(values, dtype="float32").reshape(-1)
    if values.size == 0:
        raise ValueError("grid_centers needs at least one value.")
    xs, ys = np.meshgrid(values, values, indexing="ij")
    return np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1)


def get_mixture(kind="ring", **kwargs):
    """Returns the `Mixture` (centres and std) for a synthetic benchmark.

    Args:
        kind: `"ring"` or `"grid"`, or a `Mixture` (returned unchanged).
        **kwargs: For `"ring"`: `num_modes=8`, `radius=1.0`, `std=0.01`
            (the PacGAN 2D-ring; the MGAN paper uses `radius=2.0`,
            `std=sqrt(0.02)`). For `"grid"`: `values=(-4, -2, 0, 2, 4)`,
            `std=0.05` (the PacGAN 25-mode 2D-grid).

    Returns:
        A `Mixture` with `.centers`, `.std`, `.num_modes` and `.sample()`.
    """
    if isinstance(kind, Mixture):
        if kwargs:
            raise ValueError("Pass either a Mixture or keyword arguments.")
        return kind
    key = str(kind).lower()
    if key == "ring":
        return _ring_mixture(**kwargs)
    if key == "grid":
        return _grid_mixture(**kwargs)
    raise ValueError(f"Unknown mixture kind '{kind}'; expected one of {list(MIXTURES)}.")


def mixture_centers(name_or_kind="ring", **kwargs):
    """Mode centres of a synthetic mixture.

    Args:
        name_or_kind: `"ring"` or `"grid"` (or a `Mixture`).
        **kwargs: Mixture parameters, see `get_mixture`.

    Returns:
        float32 array `(num_modes, 2)`.
    """
    return get_mixture(name_or_kind, **kwargs).centers


def ring_of_gaussians(num_samples, num_modes=8, radius=1.0, std=0.01, seed=None):
    """Samples the ring-of-Gaussians benchmark.

    The defaults follow PacGAN's 2D-ring (8 modes on the unit circle,
    variance 1e-4); the MGAN paper's variant is `radius=2.0`,
    `std=sqrt(0.02)`.

    Args:
        num_samples: Number of points.
        num_modes: Number of modes on the circle.
        radius: Radius of the circle.
        std: Standard deviation of each mode, per coordinate.
        seed: Optional integer seed.

    Returns:
        A tuple `(points, modes)`: float32 `(num_samples, 2)` and int32
        mode indices `(num_samples,)` into `ring_centers(num_modes, radius)`.
    """
    mixture = _ring_mixture(num_modes=num_modes, radius=radius, std=std)
    return mixture.sample(num_samples, seed=seed)


def grid_of_gaussians(num_samples, values=(-4, -2, 0, 2, 4), std=0.05, seed=None):
    """Samples the grid-of-Gaussians benchmark.

    The defaults follow PacGAN's 2D-grid: 25 modes at `(-4 + 2i, -4 + 2j)`
    with variance 0.0025.

    Args:
        num_samples: Number of points.
        values: Coordinates used on each axis.
        std: Standard deviation of each mode, per coordinate.
        seed: Optional integer seed.

    Returns:
        A tuple `(points, modes)`: float32 `(num_samples, 2)` and int32
        mode indices `(num_samples,)` into `grid_centers(values)`.
    """
    mixture = _grid_mixture(values=values, std=std)
    return mixture.sample(num_samples, seed=seed)


def _ring_mixture(num_modes=8, radius=1.0, std=0.01):
    return Mixture("ring", ring_centers(num_modes, radius), check_std(std))


def _grid_mixture(values=(-4, -2, 0, 2, 4), std=0.05):
    return Mixture("grid", grid_centers(values), check_std(std))
