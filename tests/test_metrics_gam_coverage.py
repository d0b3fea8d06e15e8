"""GAM battles and 2-D mode coverage."""

import keras
import numpy as np
import pytest

import kmgan
from kmgan import data
from kmgan.metrics import battle
from kmgan.metrics import kl_to_uniform
from kmgan.metrics import mixture_coverage
from kmgan.metrics.gam import winner_of


class FixedGame:
    """A stand-in game: samples are constant, D thresholds the first value."""

    def __init__(self, sample_value, threshold):
        self.sample_value = sample_value
        self.threshold = threshold

    def sample(self, n, seed=None):
        return np.full((n, 1), self.sample_value, "float32")

    def discriminate(self, x):
        return (np.asarray(x)[:, 0] > self.threshold).astype("float32")


def test_battle_hand_computed():
    # Real test data: values 0..9. D1 calls x > 2.5 real, D2 calls x > 4.5 real.
    x_test = np.arange(10, dtype="float32")[:, None]
    m1 = FixedGame(sample_value=4.0, threshold=2.5)  # G1 fools D1, not D2
    m2 = FixedGame(sample_value=3.0, threshold=4.5)  # G2 fools D1 too
    result = battle(m1, m2, x_test, num_samples=20)
    # eps(D1(x_test)) = 3/10 (0, 1, 2); eps(D2(x_test)) = 5/10 (0..4).
    assert result.table[0][1]["real"] == pytest.approx(0.3)
    assert result.table[1][0]["real"] == pytest.approx(0.5)
    assert result.r_test == pytest.approx(0.6)
    # eps(D1(G2 = 3.0)) = 1 (called real); eps(D2(G1 = 4.0)) = 0.
    assert result.r_samples == float("inf")
    assert result.winner == "tie"  # r_test too far from 1
    assert battle(m1, m2, x_test, tolerance=0.5).winner == "M2"
    assert result.table[0][0]["samples"] == 1.0 and result.table[0][0]["real"] is None


def test_winner_rule():
    assert winner_of(1.0, 0.5) == "M1"
    assert winner_of(1.1, 2.0) == "M2"
    assert winner_of(1.5, 0.5) == "tie"
    assert winner_of(1.5, 0.5, tolerance=0.6) == "M1"
    assert winner_of(1.0, 1.0) == "tie"


def test_battle_between_gan_and_gman():
    g1 = kmgan.nets.mlp_generator(latent_dim=4, hidden_units=(16,), seed=1)
    g2 = kmgan.nets.mlp_generator(latent_dim=4, hidden_units=(16,), seed=2)
    gan = kmgan.GAN(g1, kmgan.nets.mlp_discriminator(hidden_units=(16,), seed=3))
    gman = kmgan.GMAN(g2, kmgan.nets.varied_discriminators(3, input_dim=2, seed=4))
    x_test, _ = data.ring_of_gaussians(200, seed=0)
    result = battle(gan, gman, x_test, x_train=x_test[:50], num_samples=100)
    assert result.winner in ("M1", "M2", "tie")
    for i in (0, 1):
        for j in (0, 1):
            assert 0.0 <= result.table[i][j]["samples"] <= 1.0


def test_mixture_coverage_protocol():
    points, modes = data.ring_of_gaussians(2500, seed=0)
    full = mixture_coverage(points, "ring")
    assert full["modes_covered"] == 8
    assert full["high_quality_fraction"] > 0.98
    assert full["kl_to_uniform"] < 0.01
    # Only the first three modes, plus far-away junk.
    centers = data.ring_centers()
    some = np.concatenate([centers[:3].repeat(10, axis=0), np.full((30, 2), 5.0, "float32")])
    partial = mixture_coverage(some, "ring")
    assert partial["modes_covered"] == 3
    assert partial["high_quality_fraction"] == pytest.approx(0.5)
    assert partial["kl_to_uniform"] == pytest.approx(np.log(8 / 3))
    grid_points, _ = data.grid_of_gaussians(2500, seed=1)
    assert mixture_coverage(grid_points, "grid")["modes_covered"] == 25


def test_kl_to_uniform():
    assert kl_to_uniform([5, 5, 5, 5]) == pytest.approx(0.0)
    assert kl_to_uniform([4, 0, 0, 0]) == pytest.approx(np.log(4))
    assert kl_to_uniform([0, 0]) == float("inf")


@pytest.mark.parametrize("game", ["gan", "gman"])
def test_short_ring_training_moves_samples_toward_the_data(game):
    keras.utils.set_random_seed(0)
    g = kmgan.nets.mlp_generator(latent_dim=2, hidden_units=(64, 64), seed=0)
    if game == "gan":
        model = kmgan.GAN(g, kmgan.nets.mlp_discriminator(hidden_units=(64, 64), seed=1), seed=0)
    else:
        model = kmgan.GMAN(g, kmgan.nets.varied_discriminators(3, input_dim=2, seed=1), seed=0)
    model.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    x, _ = data.ring_of_gaussians(6400, seed=0)
    before = kmgan.metrics.mean_distance_to_modes(model.sample(1000, seed=0), "ring")
    model.fit(x, batch_size=64, epochs=4, verbose=0)
    after = kmgan.metrics.mean_distance_to_modes(model.sample(1000, seed=0), "ring")
    assert after < 0.75 * before, (before, after)
