"""Expert samplers: per-expert and mixture outputs, .keras round trips across
backends, whole-game saving, checkpoints, grids and specialization reports."""

import os

import keras
import numpy as np
import pytest
from keras import ops

from kmgan import nets
from kmgan.callbacks import GeneratorCheckpoint
from kmgan.games.madgan import MADGAN
from kmgan.games.megan import MEGAN
from kmgan.games.mgan import MGAN
from kmgan.games.multi import expert_grid
from kmgan.games.multi import sampler_num_generators
from kmgan.metrics import specialization
from kmgan.nets import megan as megan_nets
from kmgan.nets import multi
from tests.helpers import other_backends
from tests.helpers import run_under_backend

LATENT = 4

LOAD_AND_PREDICT = """
import sys
import numpy as np
import keras
import kmgan.nets.multi  # registers kmgan's layers
for stem in sys.argv[1:]:
    sampler = keras.saving.load_model(stem + ".keras", safe_mode=True)
    z = np.load(stem + "_z.npy")
    k = int(np.load(stem + "_k.npy"))
    out = [sampler.predict([z, np.full(len(z), i, "int32")], verbose=0) for i in range(k)]
    np.save(stem + "_other.npy", np.stack(out))
print(keras.backend.backend())
"""


def value(x):
    return np.asarray(ops.convert_to_numpy(x))


def scramble(model, seed=0):
    """Moves every weight and batch-norm statistic off its initial value."""
    rng = np.random.default_rng(seed)
    for v in model.variables:
        if "seed_generator" in v.path or "choice_noise" in v.path or v.dtype not in ("float32",):
            continue
        current = value(v)
        if "moving_variance" in v.path:
            v.assign(rng.uniform(0.5, 1.5, current.shape).astype("float32"))
        else:
            v.assign((current + 0.05 * rng.standard_normal(current.shape)).astype("float32"))


def make_games():
    """Three small games: shared image generators (MGAN), K independent 2-D
    generators (MAD-GAN), image experts with a gate (MEGAN)."""
    mgan = MGAN(
        multi.mgan_generator(3, latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=4, seed=1),
        multi.mgan_discriminator(3, image_shape=(28, 28, 1), base_filters=4, seed=2),
        seed=0,
    )
    madgan = MADGAN(
        [
            nets.mlp_generator(LATENT, hidden_units=(8,), name=f"g{i}", seed=10 + i)
            for i in range(3)
        ],
        multi.madgan_mlp_discriminator(3, hidden_units=(8,), seed=3),
        seed=0,
    )
    megan = MEGAN(
        megan_nets.megan_experts(
            2, latent_dim=LATENT, image_shape=(28, 28, 1), base_filters=4, seed=4
        ),
        nets.dcgan_discriminator(image_shape=(28, 28, 1), base_filters=4, seed=5),
        gate=megan_nets.megan_gate(
            2, LATENT, 14 * 14 * 4, encoding_dim=8, hidden_units=(8, 8), seed=6
        ),
        seed=0,
    )
    games = {"mgan": mgan, "madgan": madgan, "megan": megan}
    for game in games.values():
        scramble(game.export_sampler())
        scramble(game.discriminator, seed=1)
    return games


def direct_expert_outputs(game, z):
    """Each expert's samples computed without the sampler, (K, N, ...)."""
    k = game.num_generators
    if isinstance(game, MEGAN):
        samples, _ = game.experts(z, training=False)
        return np.moveaxis(value(samples), 1, 0)
    if game.generator is not None:
        eye = np.eye(k, dtype="float32")
        return np.stack(
            [
                value(game.generator([z, np.tile(eye[i], (len(z), 1))], training=False))
                for i in range(k)
            ]
        )
    return np.stack([value(g(z, training=False)) for g in game.generators])


@pytest.fixture(scope="module")
def games():
    return make_games()


def test_sampler_outputs_per_expert_and_mixture(games):
    z = np.random.default_rng(0).normal(size=(6, LATENT)).astype("float32")
    for name, game in games.items():
        sampler = game.export_sampler()
        assert sampler is game.export_sampler()  # built once, shares the game's layers
        assert sampler_num_generators(sampler) == game.num_generators
        want = direct_expert_outputs(game, z)
        k = game.num_generators
        for i in range(k):
            got = sampler.predict([z, np.full(6, i, "int32")], verbose=0)
            np.testing.assert_allclose(got, want[i], rtol=1e-5, atol=1e-5, err_msg=name)
        index = np.arange(6, dtype="int32") % k
        mixed = sampler.predict([z, index], verbose=0)
        np.testing.assert_allclose(mixed, want[index, np.arange(6)], rtol=1e-5, atol=1e-5)
        # The mixture: every row is one expert's sample of that z.
        for mixture in (sampler.predict([z, None], verbose=0), game.generate(z)):
            errors = np.abs(want - mixture[None]).reshape(k, 6, -1).max(axis=-1)
            assert (errors.min(axis=0) < 1e-4).all(), name
        assert game.sample(5, seed=0).shape == (5,) + game.data_shape
        assert game.sample_per_generator(2, seed=0).shape == (k, 2) + game.data_shape


def test_megan_sampler_follows_the_gate(games):
    game = games["megan"]
    z = np.random.default_rng(1).normal(size=(400, LATENT)).astype("float32")
    logits = value(game.gate_logits(z))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want = direct_expert_outputs(game, z)
    out = game.generate(z)
    chosen = np.abs(want - out[None]).reshape(2, 400, -1).max(-1).argmin(0)
    # Gumbel-max draws expert 1 with probability p_1 (loose binomial bound).
    assert abs(chosen.mean() - p[:, 1].mean()) < 0.1


def test_samplers_round_trip_across_backends(games, tmp_path):
    z = np.random.default_rng(2).normal(size=(5, LATENT)).astype("float32")
    expected = {}
    for name, game in games.items():
        stem = str(tmp_path / name)
        sampler = game.export_sampler()
        sampler.save(stem + ".keras")
        np.save(stem + "_z.npy", z)
        np.save(stem + "_k.npy", np.array(game.num_generators))
        expected[stem] = direct_expert_outputs(game, z)
        same = keras.saving.load_model(stem + ".keras", safe_mode=True)
        for i in range(game.num_generators):
            got = same.predict([z, np.full(5, i, "int32")], verbose=0)
            np.testing.assert_allclose(got, expected[stem][i], rtol=1e-5, atol=1e-5)

    assert other_backends(), "no other Keras backend is installed"
    for backend in other_backends():
        run_under_backend(backend, LOAD_AND_PREDICT, *expected)
        for stem, want in expected.items():
            np.testing.assert_allclose(
                np.load(stem + "_other.npy"),
                want,
                rtol=1e-4,
                atol=1e-4,
                err_msg=f"{os.path.basename(stem)} under {backend}",
            )


def test_whole_games_save_and_reload(games, tmp_path):
    z = np.random.default_rng(3).normal(size=(3, LATENT)).astype("float32")
    for name, game in games.items():
        path = str(tmp_path / f"{name}_game.keras")
        game.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        assert type(loaded) is type(game) and loaded.num_generators == game.num_generators
        np.testing.assert_allclose(
            loaded.generate(z, generator=1), game.generate(z, generator=1), rtol=1e-5, atol=1e-5
        )
        x = game.generate(z, generator=0)
        np.testing.assert_allclose(
            loaded.discriminate(x), game.discriminate(x), rtol=1e-5, atol=1e-5
        )


def test_checkpoint_and_expert_grid(games, tmp_path):
    game = games["mgan"]
    callback = GeneratorCheckpoint(str(tmp_path / "ckpt_{epoch}.keras"))
    callback.set_model(game)
    callback.on_epoch_end(0, {"loss": 1.0})
    sampler = keras.saving.load_model(str(tmp_path / "ckpt_1.keras"), safe_mode=True)
    assert len(sampler.inputs) == 2
    grid, k = expert_grid(sampler, num_per_generator=4, seed=0)
    assert k == 3 and grid.shape == (12, 28, 28, 1)
    per = game.sample_per_generator(4, seed=0)
    np.testing.assert_allclose(grid, per.reshape(grid.shape), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------- specialization


def test_mixture_specialization_table_and_png(tmp_path):
    from kmgan import data

    mixture = data.get_mixture("ring")
    rng = np.random.default_rng(0)
    # Generator k makes modes k and k + 4, and some junk at the origin.
    per_gen = []
    for k in range(4):
        modes = rng.choice([k, k + 4], size=200)
        points = mixture.centers[modes] + 0.005 * rng.standard_normal((200, 2))
        per_gen.append(np.concatenate([points, np.zeros((50, 2))]))
    report = specialization.mixture_specialization(np.stack(per_gen), mixture)
    for k in range(4):
        assert report.modes_of(k) == [k, k + 4]
    np.testing.assert_allclose(report.quality(), 0.8)
    assert report.covered_modes() == list(range(8))
    table = report.table()
    assert table.count("\n") == 4 + 2 and "8 / 8" in table
    png = report.save_png(str(tmp_path / "spec.png"))
    assert os.path.getsize(png) > 1000


def test_class_specialization_and_report_from_a_sampler(games, tmp_path):
    # A "classifier" that reads the class off the image's mean brightness.
    def classifier(x):
        level = np.clip(((np.asarray(x).mean(axis=(1, 2, 3)) + 1) * 5).astype(int), 0, 9)
        return np.eye(10)[level]

    per_gen = np.stack([np.full((20, 28, 28, 1), -1 + 0.2 * c + 0.05, "float32") for c in (1, 7)])
    report = specialization.class_specialization(per_gen, classifier)
    assert report.modes_of(0) == [1] and report.modes_of(1) == [7]
    png = report.save_png(str(tmp_path / "classes.png"))
    assert os.path.getsize(png) > 1000

    sampler = games["mgan"].export_sampler()
    report = specialization.specialization_report(
        sampler, num_per_generator=8, classifier=classifier
    )
    assert report.counts.shape == (3, 10) and (report.counts.sum(1) == 8).all()
    mixture_report = specialization.specialization_report(
        games["madgan"], num_per_generator=50, mixture="ring"
    )
    assert mixture_report.counts.shape == (3, 8)
