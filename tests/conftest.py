"""Shared fixtures. Tests run under whatever KERAS_BACKEND is set (CI runs both)."""

import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(os.environ.get("KMGAN_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def mnist_npz():
    """Path to the real 5,000-digit MNIST subset in Keras `mnist.npz` layout."""
    path = SHARED_DATA / "mnist_5k.npz"
    if not path.exists():
        pytest.skip(f"{path} is absent (set KMGAN_SHARED_DATA to its folder)")
    return path


@pytest.fixture
def backend():
    return keras.backend.backend()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def captured(monkeypatch):
    """Replaces `augment.run_sweep`'s runner by one that records the config it got."""
    from kmgan.augment import sweep

    seen = []

    class Recorder:
        def __init__(self, config, real, test):
            seen.append(config)

        def run(self):
            return []

    monkeypatch.setattr(sweep, "_Sweep", Recorder)
    return seen
