"""Helpers shared by the metric tests: shared data files and extractor wrappers."""

import pytest

from tests.conftest import SHARED_DATA


def shared_file(name):
    """The path of `name` under the shared data folder; skips the test when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (set KMGAN_SHARED_DATA to its folder)")
    return path


class FirstDims:
    """Keeps the first `dim` pool3 features, so FID's matrix square root stays
    cheap in tests (scipy's sqrtm at d = 2048 takes ~20 s on a small CPU)."""

    def __init__(self, inner, dim=64):
        self.inner, self.dim = inner, dim

    def __call__(self, images, value_range=None):
        pool, probs = self.inner(images, value_range=value_range)
        return pool[:, : self.dim], probs

    def __getattr__(self, name):
        return getattr(self.inner, name)
