"""GMAN's aggregators, GMAN*'s learned lambda, and its checks."""

import keras
import numpy as np
import pytest
from keras import ops

import kmgan
from kmgan.games.gman import aggregate
from tests.test_engine import make_gman
from tests.test_engine import tiny_mlp

V = np.array([0.2, 1.5, 0.7], "float32")


def value(x):
    return ops.convert_to_numpy(x)


def test_aggregators_hand_computed():
    np.testing.assert_allclose(value(aggregate(V, "mean")), 0.8, rtol=1e-6)
    np.testing.assert_allclose(value(aggregate(V, "max")), 1.5, rtol=1e-6)
    w = np.exp(2.0 * V) / np.exp(2.0 * V).sum()
    np.testing.assert_allclose(value(aggregate(V, "soft", 2.0)), (w * V).sum(), rtol=1e-5)
    # lambda = 0 is the mean; a large lambda approaches the max.
    np.testing.assert_allclose(value(aggregate(V, "soft", 0.0)), V.mean(), rtol=1e-6)
    np.testing.assert_allclose(value(aggregate(V, "soft", 200.0)), V.max(), rtol=1e-4)
    with pytest.raises(ValueError, match="Unknown aggregator"):
        aggregate(V, "median")


def test_aggregate_over_batches_axis():
    values = np.stack([V, V[::-1]], axis=1)  # (N, 2)
    np.testing.assert_allclose(value(aggregate(values, "max", axis=0)), [1.5, 1.5])


def test_gman_star_learns_lambda():
    model = make_gman(3, aggregator="auto")
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(0.05))
    start = float(value(model.current_lambda()))
    x = np.random.default_rng(0).normal(size=(160, 2)).astype("float32")
    history = model.fit(x, batch_size=16, epochs=2, verbose=0)
    end = float(value(model.current_lambda()))
    np.testing.assert_allclose(start, 1.0, rtol=1e-5)
    assert abs(end - start) > 1e-2
    assert end > 0
    assert "lambda" in history.history


def test_gman_construction_errors():
    g = tiny_mlp(4, 2, "g")
    with pytest.raises(ValueError, match="N >= 1"):
        kmgan.GMAN(g, [])
    with pytest.raises(ValueError, match="Unknown aggregator"):
        kmgan.GMAN(g, [tiny_mlp(2, 1, "d")], aggregator="median")
    with pytest.raises(ValueError, match="shape"):
        kmgan.GMAN(g, [tiny_mlp(3, 1, "d")])


def test_aggregate_discriminator_probability():
    model = make_gman(2, aggregator="max")
    x = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    probs = np.stack([1 / (1 + np.exp(-value(d(x)).reshape(-1))) for d in model.discriminators])
    np.testing.assert_allclose(model.discriminate(x), probs.min(axis=0), rtol=1e-5)
    model.aggregator = "mean"
    np.testing.assert_allclose(model.discriminate(x), probs.mean(axis=0), rtol=1e-5)
