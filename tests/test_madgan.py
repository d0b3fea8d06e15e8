"""MAD-GAN: (K+1)-way targets and objectives, sharing, training, ring coverage."""

import keras
import numpy as np
import pytest

from kmgan.engine import input_gradient
from kmgan.games.madgan import MADGAN
from kmgan.games.madgan import discriminator_loss
from kmgan.games.madgan import discriminator_targets
from kmgan.games.madgan import generator_loss
from kmgan.games.madgan import penultimate_features
from kmgan.games.madgan import similarity_loss
from kmgan.nets import multi
from tests.helpers import assert_every_player_advances
from tests.helpers import independent_generators
from tests.helpers import ring_coverage_before_after
from tests.helpers import value

K = 3
LATENT = 4


def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _fixed_logits(n_per=2, seed=0):
    rng = np.random.default_rng(seed)
    assignment = np.repeat(np.eye(K, dtype="float32"), n_per, axis=0)
    real = rng.normal(size=(4, K + 1)).astype("float32")
    fake = rng.normal(size=(K * n_per, K + 1)).astype("float32")
    return real, fake, assignment


def test_discriminator_targets():
    _, _, a = _fixed_logits()
    fake_targets = value(discriminator_targets(K, a))
    assert fake_targets.shape == (K * 2, K + 1)
    np.testing.assert_array_equal(fake_targets.argmax(1), a.argmax(1))  # "made by G_k"
    np.testing.assert_array_equal(fake_targets[:, K], 0)
    real_targets = value(discriminator_targets(K, batch_size=4))
    np.testing.assert_array_equal(real_targets, np.eye(K + 1)[[K] * 4])  # "real" = class K


def test_discriminator_objective_on_fixed_logits():
    real, fake, a = _fixed_logits()
    labels = a.argmax(1)
    # max_D E_data log D_K(x) + sum_k E_{G_k} log D_k(x), as a loss:
    want = -_log_softmax(real)[:, K].mean() - sum(
        _log_softmax(fake)[labels == k, k].mean() for k in range(K)
    )
    np.testing.assert_allclose(float(value(discriminator_loss(real, fake, a))), want, rtol=1e-5)


def test_generator_objective_on_fixed_logits():
    _, fake, a = _fixed_logits(seed=1)
    labels = a.argmax(1)
    p_real = np.exp(_log_softmax(fake))[:, K]
    ns = -sum(np.log(p_real[labels == k]).mean() for k in range(K))
    mm = sum(np.log(1 - p_real[labels == k]).mean() for k in range(K))
    np.testing.assert_allclose(float(value(generator_loss(fake, a))), ns, rtol=1e-5)
    np.testing.assert_allclose(float(value(generator_loss(fake, a, "minimax"))), mm, rtol=1e-5)
    # Generator k's gradient comes from its own samples only: its term does
    # not change when another generator's samples do.
    moved = fake.copy()
    moved[labels == 0] += 1.0
    per_k = lambda f, k: -np.log(np.exp(_log_softmax(f))[labels == k, K]).mean()  # noqa: E731
    assert per_k(moved, 1) == per_k(fake, 1)


def test_generators_share_all_but_their_last_layer():
    g = multi.madgan_generator(K, latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=4)
    heads = g.get_layer("image_logits")
    assert heads.kernel.shape[2] == K * 1  # K output layers in one conv: K * C filters
    assert g.get_layer("project").kernel.shape == (LATENT, 7 * 7 * 8)  # shared
    z = np.repeat(np.random.default_rng(0).normal(size=(1, LATENT)), K, 0).astype("float32")
    eye = np.eye(K, dtype="float32")
    before = value(g([z, eye], training=False))
    kernel = value(heads.kernel)
    kernel[:, :, 2, :] += 0.5  # generator 2's output filter (kernel: h, w, out, in)
    heads.kernel.assign(kernel)
    after = value(g([z, eye], training=False))
    np.testing.assert_allclose(after[:2], before[:2], atol=1e-6)
    assert not np.allclose(after[2], before[2])


def test_every_optimizer_advances_under_fit():
    g = multi.madgan_mlp_generator(K, latent_dim=LATENT, hidden_units=(16, 16), seed=0)
    d = multi.madgan_mlp_discriminator(K, hidden_units=(16,), seed=1)
    model = MADGAN(g, d, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    steps, batch = 4, 9
    x = np.random.default_rng(0).normal(size=(steps * batch, 2)).astype("float32")
    assert_every_player_advances(model, x, steps, batch)
    probs = value(model.attribute(x[:5]))
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(model.discriminate(x[:5]), probs[:, K], rtol=1e-5)


def test_unshared_all_builds_independent_generators():
    g = multi.multi_mlp_generator(K, latent_dim=LATENT, hidden_units=(8,), unshared="all")
    assert all(v.shape[0] == K for v in g.trainable_variables)  # every layer K-fold
    z = np.repeat(np.random.default_rng(0).normal(size=(1, LATENT)), K, 0).astype("float32")
    out = value(g([z, np.eye(K, dtype="float32")], training=False))
    assert not np.allclose(out[0], out[1]) and not np.allclose(out[1], out[2])


def test_independent_generators_train():
    g = independent_generators(K, LATENT)
    model = MADGAN(g, multi.madgan_mlp_discriminator(K, hidden_units=(8,)), loss="minimax", seed=0)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).normal(size=(24, 2)).astype("float32")
    before = [value(v).copy() for v in model.generator_variables()]
    history = model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"]).all()
    moved = [not np.allclose(b, value(v)) for b, v in zip(before, model.generator_variables())]
    assert all(moved)


def test_construction_errors():
    g = multi.madgan_mlp_generator(K, latent_dim=LATENT, hidden_units=(8,))
    d = multi.madgan_mlp_discriminator(K, hidden_units=(8,))
    with pytest.raises(ValueError, match="loss"):
        MADGAN(g, d, loss="hinge")
    with pytest.raises(ValueError, match="K\\+1"):
        MADGAN(g, multi.madgan_mlp_discriminator(K + 1, hidden_units=(8,)))


def test_ring_of_8_coverage_improves_with_4_generators():
    g = multi.madgan_mlp_generator(4, latent_dim=8, hidden_units=(128, 128), seed=1)
    d = multi.madgan_mlp_discriminator(4, hidden_units=(128, 128), seed=2)
    before, after = ring_coverage_before_after(MADGAN(g, d, seed=0), steps=1000)
    assert after["modes_covered"] > before, (before, after["modes_covered"])
    assert after["modes_covered"] >= 3


# ------------------------------------------------------------------ MAD-GAN-Sim


def _sim_inputs(n=2, f=4, seed=3):
    """Real probabilities and features of K blocks of n fakes (the same z per column)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, size=(K * n,)).astype("float32")
    feats = rng.normal(size=(K * n, f)).astype("float32")
    feats[n] = feats[0] * 2.0  # G_1(z_0) has G_0(z_0)'s features: cosine 1
    return p, feats


def _sim_by_hand(p, feats, n, margin):
    """sum_i mean_m 1/(K-1) sum_{j != i} max(0, margin * cos_ijm - (p_im - p_jm)), loops."""
    p, f = p.reshape(K, n), feats.reshape(K, n, -1)
    total = 0.0
    for i in range(K):
        per_z = []
        for m in range(n):
            terms = []
            for j in range(K):
                if j == i:
                    continue
                cos = f[i, m] @ f[j, m] / (np.linalg.norm(f[i, m]) * np.linalg.norm(f[j, m]))
                terms.append(max(0.0, margin * cos - (p[i, m] - p[j, m])))
            per_z.append(sum(terms) / (K - 1))
        total += np.mean(per_z)
    return total


@pytest.mark.parametrize("margin", [0.0, 0.5, 2.0])
def test_similarity_term_on_hand_computed_values(margin):
    n = 2
    p, feats = _sim_inputs(n)
    got = float(value(similarity_loss(p, feats, K, margin)))
    np.testing.assert_allclose(got, _sim_by_hand(p, feats, n, margin), rtol=1e-5, atol=1e-6)
    # Identical features for the same z and equal realness: each pair costs
    # exactly the margin, so every generator pays `margin`.
    same = np.tile(feats[:n], (K, 1))
    flat = np.full((K * n,), 0.5, "float32")
    np.testing.assert_allclose(
        float(value(similarity_loss(flat, same, K, margin))), K * margin, rtol=1e-5
    )


def test_similarity_gradient_reaches_generator_i_only_through_its_own_term():
    n, margin = 2, 2.0
    p, feats = _sim_inputs(n)
    grad = value(input_gradient(lambda q: similarity_loss(q, feats, K, margin), p)).reshape(K, n)
    pp, f = p.reshape(K, n), feats.reshape(K, n, -1)
    unit = f / np.linalg.norm(f, axis=-1, keepdims=True)
    want = np.zeros((K, n))
    for i in range(K):
        for m in range(n):
            active = [
                margin * unit[i, m] @ unit[j, m] - (pp[i, m] - pp[j, m]) > 0
                for j in range(K)
                if j != i
            ]
            # d/dp_im of generator i's own hinges; p_jm is fixed in them (stop-gradient)
            want[i, m] = -sum(active) / ((K - 1) * n)
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-7)


def test_madgan_sim_trains_and_saves_its_options():
    g = multi.madgan_mlp_generator(K, latent_dim=LATENT, hidden_units=(16, 16), seed=0)
    d = multi.madgan_mlp_discriminator(K, hidden_units=(16,), seed=1)
    model = MADGAN(g, d, similarity=0.5, margin=0.8, seed=0)
    assert model.log_names == ("d_loss", "g_loss", "g_sim")
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    steps, batch = 3, 9
    x = np.random.default_rng(0).normal(size=(steps * batch, 2)).astype("float32")
    assert_every_player_advances(model, x, steps, batch)
    g_sim = {t.name: float(value(t.result())) for t in model.loss_trackers}["g_sim"]
    assert np.isfinite(g_sim) and g_sim >= 0
    config = model.get_config()
    assert (config["similarity"], config["margin"]) == (0.5, 0.8)
    again = MADGAN.from_config(config)
    assert (again.similarity, again.margin, again.log_names) == (0.5, 0.8, model.log_names)


def test_similarity_reads_the_input_of_ds_output_layer():
    d = multi.madgan_discriminator(K, (28, 28, 1), base_filters=4, seed=0)
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, 28, 28, 1)).astype("float32")
    logits, feats = penultimate_features(d)(x, training=False)
    np.testing.assert_allclose(value(logits), value(d(x, training=False)), rtol=1e-5, atol=1e-6)
    assert value(feats).shape == (2, 7 * 7 * 8)  # the flattened last block


def test_similarity_errors():
    g = multi.madgan_mlp_generator(K, latent_dim=LATENT, hidden_units=(8,))
    d = multi.madgan_mlp_discriminator(K, hidden_units=(8,))
    with pytest.raises(ValueError, match=">= 0"):
        MADGAN(g, d, similarity=-1.0)
    with pytest.raises(ValueError, match=">= 0"):
        MADGAN(g, d, similarity=1.0, margin=-0.1)
    one = multi.madgan_mlp_generator(1, latent_dim=LATENT, hidden_units=(8,))
    with pytest.raises(ValueError, match="K >= 2"):
        MADGAN(one, multi.madgan_mlp_discriminator(1, hidden_units=(8,)), similarity=1.0)


def test_generators_can_own_their_last_two_layers():
    g = multi.madgan_generator(
        K, latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=4, seed=0, unshared_layers=2
    )
    assert g.get_layer("project").kernel.shape == (LATENT, 7 * 7 * 8)  # shared
    z = np.repeat(np.random.default_rng(0).normal(size=(1, LATENT)), K, 0).astype("float32")
    eye = np.eye(K, dtype="float32")
    before = value(g([z, eye], training=False))
    assert not np.allclose(before[0], before[1])  # distinct branches from the start
    up = g.get_layer("g1_up1")  # generator 1's own 7x7 -> 14x14 block
    up.kernel.assign(value(up.kernel) + 0.5)
    after = value(g([z, eye], training=False))
    np.testing.assert_allclose(after[[0, 2]], before[[0, 2]], atol=1e-6)
    assert not np.allclose(after[1], before[1])
    with pytest.raises(ValueError, match="between 1 and 2"):
        multi.madgan_generator(K, LATENT, (28, 28, 1), 4, unshared_layers=3)
    with pytest.raises(ValueError, match="unshared='last'"):
        multi.multi_dcgan_generator(K, LATENT, (28, 28, 1), 4, unshared_layers=2)


@pytest.mark.parametrize("generators", ["first", "independent"])
def test_registry_builds_generators_that_share_fewer_layers(generators):
    from kmgan.games import registry

    game = registry.build(
        "madgan",
        (28, 28, 1),
        num_generators=K,
        generators=generators,
        latent_dim=LATENT,
        base_filters=4,
    )
    if generators == "independent":
        assert len(game.generators) == K
        kernels = [value(g.get_layer("project").kernel) for g in game.generators]
        assert not np.allclose(kernels[0], kernels[1])  # seeded apart
    else:  # K projections of z, every later layer shared
        assert game.generator.get_layer("project").kernel.shape == (K, LATENT, 7 * 7 * 8)
        assert game.generator.get_layer("image_logits").kernel.shape == (4, 4, 1, 4)
    z = np.repeat(np.random.default_rng(0).normal(size=(1, LATENT)), K, 0).astype("float32")
    images = np.stack([game.generate(z[:1], generator=i)[0] for i in range(K)])
    assert images.shape == (K, 28, 28, 1)
    assert not np.allclose(images[0], images[1]) and not np.allclose(images[1], images[2])


def test_registry_refuses_unknown_or_point_generator_layouts():
    from kmgan.games import registry

    with pytest.raises(ValueError, match="generators must be one of"):
        registry.build("madgan", (28, 28, 1), num_generators=K, generators="last")
    with pytest.raises(ValueError, match="is for images"):
        registry.build("madgan", (2,), num_generators=K, generators="independent")
    with pytest.raises(ValueError, match="unshared_layers is an option"):
        registry.build("madgan", (28, 28, 1), generators="first", unshared_layers=2)
