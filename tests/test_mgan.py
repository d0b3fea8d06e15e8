"""MGAN: parameter sharing, the paper's losses, every player moves, ring coverage."""

import itertools

import keras
import numpy as np
import pytest

from kmgan.games.mgan import MGAN
from kmgan.games.mgan import classifier_loss
from kmgan.games.mgan import mgan_losses
from kmgan.nets import multi
from tests.helpers import assert_every_player_advances
from tests.helpers import independent_generators
from tests.helpers import ring_coverage_before_after
from tests.helpers import value

K = 3
LATENT = 4


def toy_mgan(variant="general", k=K, beta=0.5, seed=0):
    g = multi.mgan_mlp_generator(k, latent_dim=LATENT, hidden_units=(16, 16), seed=seed)
    d = multi.mgan_mlp_discriminator(k, hidden_units=(16,), variant=variant, seed=seed + 10)
    return MGAN(g, d, beta=beta, variant=variant, seed=seed)


# ----------------------------------------------------------------- sharing


def test_generators_differ_only_in_their_first_layer():
    g = multi.mgan_generator(K, latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=4, seed=0)
    # One set of shared variables (those of one DCGAN generator without
    # batch-norm offsets: center=False), the first layer K-fold.
    names = sorted(v.path.split("/")[0] + "/" + v.name for v in g.trainable_variables)
    assert names == sorted(
        [
            "project/kernel",
            "project_bn/gamma",
            "up1/kernel",
            "up1_bn/gamma",
            "image_logits/kernel",
            "image_logits/bias",
        ]
    )
    first = g.get_layer("project").kernel
    assert tuple(first.shape) == (K, LATENT, 7 * 7 * 8)
    slices = value(first)
    for i, j in itertools.combinations(range(K), 2):
        assert not np.allclose(slices[i], slices[j]), "first layers start identical"
    for layer in ("up1", "image_logits"):
        assert len(g.get_layer(layer).trainable_variables) >= 1
        assert g.get_layer(layer).kernel.shape[0] == 4  # a plain conv kernel, no K axis

    # Changing generator 1's first layer changes generator 1's samples only
    # (one batched call: row k of the batch is generator k on the same z).
    z = np.repeat(np.random.default_rng(0).normal(size=(1, LATENT)), K, axis=0)
    eye = np.eye(K, dtype="float32")
    before = value(g([z.astype("float32"), eye], training=False))
    first.assign(value(first) + eye[1][:, None, None] * 0.5)
    after = value(g([z.astype("float32"), eye], training=False))
    np.testing.assert_allclose(after[0], before[0], atol=1e-6)
    np.testing.assert_allclose(after[2], before[2], atol=1e-6)
    assert not np.allclose(after[1], before[1])


def test_all_generators_run_in_one_batched_pass():
    g = multi.mgan_mlp_generator(K, latent_dim=LATENT, hidden_units=(8, 8), seed=0)
    z = np.random.default_rng(1).normal(size=(6, LATENT)).astype("float32")
    index = np.array([0, 2, 1, 1, 0, 2])
    mixed = value(g([z, np.eye(K, dtype="float32")[index]], training=False))
    for k in range(K):
        alone = value(g([z, np.tile(np.eye(K, dtype="float32")[k], (6, 1))], training=False))
        np.testing.assert_allclose(mixed[index == k], alone[index == k], rtol=1e-5, atol=1e-6)


def test_classifier_and_discriminator_share_their_trunk():
    model = toy_mgan()
    players = model.player_variables()
    head = model.discriminator.get_layer("classifier")
    assert [id(v) for v in players["classifier"]] == [id(v) for v in head.trainable_variables]
    trunk = model.discriminator.get_layer("dense1")
    assert all(any(v is t for t in players["discriminator"]) for v in trunk.trainable_variables)
    # The trunk feeds both heads; the classifier head feeds only C.
    x = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    d0, c0 = (value(t) for t in model.discriminator(x))
    trunk.kernel.assign(value(trunk.kernel) * 1.5)
    d1, c1 = (value(t) for t in model.discriminator(x))
    assert not np.allclose(d0, d1) and not np.allclose(c0, c1)
    head.kernel.assign(value(head.kernel) + 0.3)
    d2, c2 = (value(t) for t in model.discriminator(x))
    np.testing.assert_allclose(d2, d1, atol=1e-6)
    assert not np.allclose(c2, c1)


# ------------------------------------------------------------------ losses


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _fixed_outputs(m, n_per=3, seed=0):
    rng = np.random.default_rng(seed)
    assignment = np.repeat(np.eye(K, dtype="float32"), n_per, axis=0)
    d_real = rng.normal(size=(5, 1)).astype("float32")
    d_fake = rng.normal(size=(K * n_per, 1)).astype("float32")
    c_fake = rng.normal(size=(K * n_per, m)).astype("float32")
    return d_real, d_fake, c_fake, assignment


def test_losses_match_equation_2():
    beta = 0.3
    d_real, d_fake, c_fake, a = _fixed_outputs(K)
    labels = a.argmax(1)
    D_real, D_fake = _sigmoid(d_real[:, 0]), _sigmoid(d_fake[:, 0])
    C = np.exp(c_fake) / np.exp(c_fake).sum(1, keepdims=True)
    # J = E_data log D + E_model log(1 - D) - beta/K sum_k E_{G_k} log C_k
    gan_part = np.log(D_real).mean() + np.log(1 - D_fake).mean()
    c_term = np.mean([np.log(C[labels == k, k]).mean() for k in range(K)])
    J = gan_part - beta * c_term

    out = {
        k: float(value(v))
        for k, v in mgan_losses(d_real, d_fake, c_fake, a, beta, "general", "minimax").items()
    }
    np.testing.assert_allclose(out["d_loss"], -gan_part, rtol=1e-5)  # D maximises J
    np.testing.assert_allclose(out["c_loss"], -c_term, rtol=1e-5)  # C minimises J
    # G (minimax) minimises J minus the term it does not touch.
    np.testing.assert_allclose(out["g_loss"], J - np.log(D_real).mean(), rtol=1e-5)
    ns = mgan_losses(d_real, d_fake, c_fake, a, beta, "general", "non_saturating")
    np.testing.assert_allclose(
        float(value(ns["g_loss"])), -np.log(D_fake).mean() - beta * c_term, rtol=1e-5
    )


def test_one_vs_all_matches_equation_3():
    d_real, d_fake, c_fake, a = _fixed_outputs(K, seed=1)
    labels = a.argmax(1)
    C = _sigmoid(c_fake)
    want = 0.0
    for k in range(K):
        want -= np.log(C[labels == k, k]).mean()
        others = [j for j in range(K) if j != k]
        # p_G-k is the equal mixture of the other generators.
        want -= np.mean([np.log(1 - C[labels == j, k]).mean() for j in others])
    got = float(value(classifier_loss(c_fake, a, "one_vs_all")))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_pairwise_matches_equation_4():
    m = K * (K - 1) // 2
    d_real, d_fake, c_fake, a = _fixed_outputs(m, seed=2)
    labels = a.argmax(1)
    C = _sigmoid(c_fake)
    want = 0.0
    for p, (i, j) in enumerate(itertools.combinations(range(K), 2)):
        want -= np.log(C[labels == i, p]).mean() + np.log(1 - C[labels == j, p]).mean()
    got = float(value(classifier_loss(c_fake, a, "pairwise")))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_classifier_loss_checks_its_outputs():
    _, _, c_fake, a = _fixed_outputs(K)
    with pytest.raises(ValueError, match="variant"):
        classifier_loss(c_fake, a, "one_vs_one")
    with pytest.raises(ValueError, match="outputs"):
        classifier_loss(c_fake[:, :2], a, "general")


# ------------------------------------------------------------------ training


def test_every_optimizer_advances_under_fit():
    model = toy_mgan("general")
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    assert set(model.player_variables()) == {"discriminator", "classifier", "generator"}
    steps, batch = 4, 8
    x = np.random.default_rng(0).normal(size=(steps * batch, 2)).astype("float32")
    assert_every_player_advances(model, x, steps, batch)


def test_independent_generators_and_pairwise_classifiers():
    gens = independent_generators(K, LATENT)
    d = multi.mgan_mlp_discriminator(K, hidden_units=(8,), variant="pairwise")
    model = MGAN(
        gens,
        d,
        variant="pairwise",
        samples_per_generator=2,
        same_noise=True,
        classifier_weight=1.0,
        seed=0,
    )
    z = value(model.block_noise(2))  # the authors' same_input: one z block for all K
    assert z.shape == (2 * K, LATENT)
    np.testing.assert_array_equal(z[:2], z[2:4])
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).normal(size=(24, 2)).astype("float32")
    history = model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["c_loss"]).all()


def test_construction_errors():
    g = multi.mgan_mlp_generator(K, latent_dim=LATENT, hidden_units=(8,))
    with pytest.raises(ValueError, match="c_logits"):
        MGAN(g, multi.mgan_mlp_discriminator(K + 1, hidden_units=(8,)))
    with pytest.raises(ValueError, match="variant"):
        MGAN(g, multi.mgan_mlp_discriminator(K, hidden_units=(8,)), variant="median")
    with pytest.raises(ValueError, match="K >= 2"):
        multi.mgan_mlp_discriminator(1, variant="pairwise")
    with pytest.raises(ValueError, match="inputs"):
        MGAN(
            keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]),
            multi.mgan_mlp_discriminator(K, hidden_units=(8,)),
        )


def test_ring_of_8_coverage_improves_with_4_generators():
    g = multi.mgan_mlp_generator(4, latent_dim=8, hidden_units=(128, 128), seed=1)
    d = multi.mgan_mlp_discriminator(4, hidden_units=(128,), seed=2)
    model = MGAN(g, d, beta=1.0, seed=0)
    before, after = ring_coverage_before_after(model, steps=800)
    assert after["modes_covered"] > before, (before, after["modes_covered"])
    assert after["modes_covered"] >= 3
