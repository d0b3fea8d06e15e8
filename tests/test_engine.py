"""The engine: every player's optimizer really advances under fit, seeds, jit."""

import keras
import numpy as np
import pytest

import kmgan
from kmgan.engine import PlayerOptimizers
from tests.helpers import make_gman
from tests.helpers import snapshot
from tests.helpers import tiny_mlp


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("game", ["gan", "gman"])
def test_every_optimizer_advances_under_fit(game, jit_compile):
    steps = 6
    if game == "gan":
        model = kmgan.GAN(tiny_mlp(4, 2, "g"), tiny_mlp(2, 1, "d"), seed=0)
    else:
        model = make_gman(3, aggregator="auto")
    model.compile(
        d_optimizer=keras.optimizers.Adam(1e-3),
        g_optimizer=keras.optimizers.Adam(1e-3),
        jit_compile=jit_compile,
    )
    x = np.random.default_rng(0).normal(size=(steps * 8, 2)).astype("float32")
    before = {p: snapshot(vs) for p, vs in model.player_variables().items()}
    history = model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)

    opt = model.optimizer
    assert isinstance(opt, PlayerOptimizers)
    assert int(opt.iterations.numpy()) == steps
    for player, variables in model.player_variables().items():
        inner = opt[player]
        assert int(inner.iterations.numpy()) == steps, player
        moments = [v for v in inner.variables if "momentum" in v.path]
        assert moments and all(np.abs(v.numpy()).sum() > 0 for v in moments), player
        after = snapshot(variables)
        changed = [not np.allclose(a, b) for a, b in zip(before[player], after)]
        assert all(changed), f"{player}: some variables did not move"
    assert "d_loss" in history.history and "g_loss" in history.history
    assert all(np.isfinite(history.history["g_loss"]))


def test_seeded_runs_are_reproducible():
    def run():
        keras.utils.set_random_seed(3)
        model = make_gman(2, seed=7)
        model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        x = np.random.default_rng(1).normal(size=(64, 2)).astype("float32")
        model.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
        return snapshot(model.generator.variables), model.seed_generator.state.numpy()

    (w1, s1), (w2, s2) = run(), run()
    np.testing.assert_array_equal(s1, s2)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_noise_state_advances_each_round():
    model = make_gman(2, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    start = model.seed_generator.state.numpy().copy()
    x = np.zeros((32, 2), "float32")
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    assert not np.array_equal(start, model.seed_generator.state.numpy())


def test_compile_errors():
    model = make_gman(2)
    adam = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="same optimizer instance"):
        PlayerOptimizers({"a": adam, "b": adam})
    with pytest.raises(ValueError, match="players"):
        kmgan.engine.GameModel.compile(model, {"generator": keras.optimizers.Adam()})


def test_container_refuses_learning_rate_and_apply():
    opt = PlayerOptimizers({"g": keras.optimizers.Adam(), "d": keras.optimizers.SGD()})
    with pytest.raises(AttributeError, match="per player"):
        opt.learning_rate
    with pytest.raises(RuntimeError):
        opt.apply([], [])
    clone = PlayerOptimizers.from_config(opt.get_config())
    assert clone.player_names == ["g", "d"]
    assert isinstance(clone["d"], keras.optimizers.SGD)


def test_bad_data_is_refused_before_training():
    model = make_gman(2)
    model.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((32, 3), "float32"), batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(np.zeros((0, 2), "float32"), batch_size=8, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0


def test_d_steps_per_generator_step():
    model = kmgan.GAN(tiny_mlp(4, 2, "g"), tiny_mlp(2, 1, "d"), d_steps=3, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    model.fit(np.zeros((32, 2), "float32"), batch_size=8, epochs=1, verbose=0)
    assert int(model.optimizer["discriminator"].iterations.numpy()) == 12
    assert int(model.optimizer["generator"].iterations.numpy()) == 4
    with pytest.raises(ValueError, match="d_steps"):
        kmgan.GAN(tiny_mlp(4, 2, "g2"), tiny_mlp(2, 1, "d2"), d_steps=0)


def test_images_outside_minus_one_one_are_refused():
    g = kmgan.nets.dcgan_generator(latent_dim=4, image_shape=(28, 28, 1), base_filters=4)
    d = kmgan.nets.dcgan_discriminator(image_shape=(28, 28, 1), base_filters=4)
    gan = kmgan.GAN(g, d)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        gan.fit(np.full((8, 28, 28, 1), 255.0, "float32"), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        gan.fit(np.zeros((8, 28, 28, 3), "float32"), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="shape"):
        gan.fit(np.zeros((8, 28, 28), "float32"), batch_size=4, verbose=0)


def test_compile_options_on_the_active_backend():
    from kmgan.engine import backend_step

    if keras.backend.backend() == "torch":
        # A torch round runs eagerly, one step per call; an explicit jit says so.
        with pytest.warns(UserWarning, match="ignored on the torch backend"):
            assert backend_step.resolve_compile_options(True, 50) == (False, 1)
        assert backend_step.resolve_compile_options("auto", 4) == (False, 1)
        model = kmgan.GAN(tiny_mlp(4, 2, "g"), tiny_mlp(2, 1, "d"), seed=0)
        model.compile(steps_per_execution=8)
        x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
        model.fit(x, batch_size=8, epochs=1, verbose=0)
        assert int(model.optimizer.iterations.numpy()) == 4
    else:
        assert backend_step.resolve_compile_options(True, 50) == (True, 50)
        assert backend_step.resolve_compile_options("auto", 1) == ("auto", 1)
