"""MEGAN: straight-through Gumbel-softmax, load balancing, the gate, WGAN-GP, ring."""

import keras
import numpy as np
import pytest
from keras import ops

from kmgan.engine import input_gradient
from kmgan.games.gumbel import gumbel_noise
from kmgan.games.gumbel import gumbel_softmax
from kmgan.games.gumbel import load_balancing_loss
from kmgan.games.gumbel import megan_temperature
from kmgan.games.gumbel import straight_through_gumbel_softmax
from kmgan.games.megan import MEGAN
from kmgan.nets import megan as nets
from tests.test_mgan import assert_every_player_advances
from tests.test_mgan import ring_coverage_before_after
from tests.test_mgan import value

N = 3
LATENT = 4


def toy_megan(loss="non_saturating", d_steps=1, lam=100.0, seed=0, n=N, hidden=16, latent=LATENT,
              gate_units=(8, 16)):
    experts = nets.megan_mlp_experts(n, latent_dim=latent, hidden_units=(hidden, hidden), seed=seed)
    m, h = gate_units
    gate = nets.megan_gate(n, latent, hidden, encoding_dim=m, hidden_units=(h, h), seed=seed + 5)
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(hidden),
                          keras.layers.LeakyReLU(0.2), keras.layers.Dense(1)], name="d")
    return MEGAN(experts, d, gate=gate, lam=lam, loss=loss, d_steps=d_steps, seed=seed)


# --------------------------------------------------------- Gumbel-softmax


def test_straight_through_forward_is_exactly_one_hot():
    logits = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    y = value(straight_through_gumbel_softmax(logits, 0.7, seed=keras.random.SeedGenerator(1)))
    assert set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y.sum(axis=1), np.ones(64, "float32"))


def test_gradients_reach_the_logits():
    logits = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    noise = value(gumbel_noise((8, 4), keras.random.SeedGenerator(2)))
    weights = np.arange(4, dtype="float32")

    def f(l):
        return ops.sum(straight_through_gumbel_softmax(l, 0.5, noise) * weights)

    grad = value(input_gradient(f, ops.convert_to_tensor(logits)))
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 1e-3
    # ...and equal the soft Gumbel-softmax's gradient.
    soft_grad = value(input_gradient(
        lambda l: ops.sum(gumbel_softmax(l, 0.5, noise) * weights), ops.convert_to_tensor(logits)))
    np.testing.assert_allclose(grad, soft_grad, rtol=1e-5, atol=1e-6)


def test_low_temperature_sample_is_gumbel_max():
    logits = np.random.default_rng(2).normal(size=(200, 6)).astype("float32")
    noise = value(gumbel_noise((200, 6), keras.random.SeedGenerator(7)))
    y = value(straight_through_gumbel_softmax(logits, 1e-3, seed=keras.random.SeedGenerator(7)))
    np.testing.assert_array_equal(y.argmax(1), (logits + noise).argmax(1))
    soft = value(gumbel_softmax(logits, 1e-3, noise))
    assert np.abs(soft - y).mean() < 1e-2


def test_samples_follow_softmax_of_the_logits():
    logits = np.tile(np.array([[0.0, 1.0, 2.0]], "float32"), (6000, 1))
    y = value(straight_through_gumbel_softmax(logits, 0.5, seed=keras.random.SeedGenerator(3)))
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    np.testing.assert_allclose(y.mean(0), p, atol=0.03)


def test_load_balancing_loss():
    g = np.eye(3, dtype="float32")[[0, 0, 1, 2]]  # p = (1/2, 1/4, 1/4)
    want = (0.5 - 1 / 3) ** 2 + 2 * (0.25 - 1 / 3) ** 2
    np.testing.assert_allclose(float(value(load_balancing_loss(g))), want, rtol=1e-6)
    balanced = np.eye(3, dtype="float32")[[0, 1, 2, 2, 1, 0]]
    assert float(value(load_balancing_loss(balanced))) == 0.0
    one = np.eye(4, dtype="float32")[[2] * 8]
    want_one = (3 / 4) ** 2 + 3 * (1 / 4) ** 2
    np.testing.assert_allclose(float(value(load_balancing_loss(one))), want_one, rtol=1e-6)


def test_temperature_schedule():
    np.testing.assert_allclose(float(value(megan_temperature(0))), 0.5)
    np.testing.assert_allclose(float(value(megan_temperature(1000))), 0.5 * np.exp(-1.0), rtol=1e-6)
    # Floored: the paper's schedule underflows float32 in long runs.
    assert float(value(megan_temperature(10**6))) == pytest.approx(1e-3)


# ---------------------------------------------------------------- networks


def test_experts_return_images_and_feature_maps():
    experts = nets.megan_experts(2, latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=4)
    images, features = experts.outputs
    assert tuple(images.shape[1:]) == (2, 28, 28, 1)
    # The ReLU map after the paper's second transposed convolution (our first
    # Conv2DTranspose block): 14x14x4 here; 8x8x128 = 8192 for CIFAR-10 with
    # the default width (the paper's k).
    assert tuple(features.shape[1:]) == (2, 14 * 14 * 4)
    assert experts.get_layer("e1_up1_relu").output.shape[1:] == (14, 14, 4)
    gate = nets.megan_gate(2, LATENT, 16)
    assert tuple(gate.outputs[0].shape[1:]) == (2,)
    assert gate.get_layer("encoders").kernel.shape == (2, 16, 100)  # m = 100


def test_list_of_experts_is_accepted():
    def expert(i):
        z = keras.Input((LATENT,))
        h = keras.layers.Dense(8, activation="relu")(z)
        return keras.Model(z, [keras.layers.Dense(2)(h), h], name=f"expert{i}")

    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    model = MEGAN([expert(i) for i in range(N)], d, seed=0)
    assert model.num_generators == N and model.feature_dim == 8
    assert len(model.generator_variables()) == 4 * N
    assert model.sample_per_generator(2, seed=0).shape == (N, 2, 2)


# ---------------------------------------------------------------- training


def test_every_optimizer_advances_under_fit_gate_included():
    model = toy_megan()
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    assert set(model.player_variables()) == {"discriminator", "generator", "gate"}
    steps, batch = 5, 16
    x = np.random.default_rng(0).normal(size=(steps * batch, 2)).astype("float32")
    assert_every_player_advances(model, x, steps, batch)
    # The schedule follows the round counter.
    np.testing.assert_allclose(float(value(model.temperature())), 0.5 * np.exp(-0.001 * steps),
                               rtol=1e-5)


def test_wgan_gp_and_logs():
    model = toy_megan(loss="wasserstein", d_steps=2)
    assert model.gradient_penalty == 10.0
    model.compile(keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
                  keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9))
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    history = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    for name in ["d_loss", "g_loss", "lb_loss", "temperature"] + [f"usage_{i}" for i in range(N)]:
        assert np.isfinite(history[name]).all(), name
    np.testing.assert_allclose(sum(history[f"usage_{i}"][-1] for i in range(N)), 1.0, rtol=1e-5)


def test_construction_errors():
    experts = nets.megan_mlp_experts(N, latent_dim=LATENT, hidden_units=(8,))
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="gate"):
        MEGAN(experts, d, gate=nets.megan_gate(N + 1, LATENT, 8))
    with pytest.raises(ValueError, match="experts"):
        MEGAN(keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(2)]), d)
    with pytest.raises(ValueError, match="min_temperature"):
        MEGAN(experts, d, min_temperature=0.0)


def test_ring_of_8_coverage_improves_with_4_generators():
    model = toy_megan(n=4, hidden=128, latent=8, seed=1, gate_units=(16, 32))
    before, after = ring_coverage_before_after(model, steps=800)
    assert after["modes_covered"] > before, (before, after["modes_covered"])
    assert after["modes_covered"] >= 3
