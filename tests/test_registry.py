"""The registry, the one compile, the shared hooks, and `kmgan train` for every game."""

import os
import warnings

import keras
import numpy as np
import pytest
from keras import layers

import kmgan
from kmgan import cli
from kmgan import train_cli
from kmgan.games import builders
from kmgan.games import registry
from kmgan.games.hooks import HOOK_ARGS
from tests.helpers import tiny_point_game
from tests.helpers import train_quick

ALL_GAMES = (
    "gan",
    "dcgan",
    "gman",
    "dcgman",
    "mgan",
    "madgan",
    "megan",
    "cgan",
    "controlgan",
    "scoregan",
)
POINTS_GAMES = ("gan", "dcgan", "gman", "dcgman", "mgan", "madgan", "megan")


def random_evaluator(channels=1, classes=5, name="random_evaluator"):
    """RANDOM WEIGHTS, for tests only: a frozen stand-in for MobileNetV2."""
    x = inp = keras.Input((None, None, channels))
    x = layers.Conv2D(2, 3, strides=2, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return kmgan.evaluators.frozen(
        keras.Model(inp, layers.Dense(classes, activation="softmax")(x), name=name)
    )


def point_evaluator(dim=2, classes=4):
    """RANDOM WEIGHTS, for tests only: an evaluator of 2-D points."""
    x = inp = keras.Input((dim,))
    return kmgan.evaluators.frozen(
        keras.Model(inp, layers.Dense(classes, activation="softmax")(x), name="points_evaluator")
    )


#: A registry game on 2-D points with tiny nets.
tiny = tiny_point_game


def tiny_images(name, data_shape=(28, 28, 1), **overrides):
    """A registry game on images with tiny nets."""
    options = dict(latent_dim=4, base_filters=4)
    options.update(overrides)
    return registry.build(name, data_shape, **options)


def points(n=16):
    return np.random.default_rng(0).normal(size=(n, 2)).astype("float32")


# ----------------------------------------------------------------- registry


def test_every_game_is_registered():
    assert registry.names() == ALL_GAMES
    for name in ALL_GAMES:
        spec = registry.get(name)
        assert spec.name == name and spec.description
        assert issubclass(spec.game_class, kmgan.engine.GameModel)
        assert set(HOOK_ARGS[:-1]) <= set(spec.options())
    assert registry.get("scoregan").needs_evaluator
    assert registry.get("cgan").labels and registry.get("cgan").images_only
    assert registry.get("mgan").hyper_parameters["beta"] == 0.1
    assert registry.get("controlgan").hyper_parameters["d_steps"] == 5
    with pytest.raises(ValueError, match="choose one of"):
        registry.get("pacgan")


def test_build_refuses_unknown_options_and_shapes():
    with pytest.raises(ValueError, match="num_discriminators"):
        registry.build("mgan", (2,), num_discriminators=3)
    with pytest.raises(ValueError, match="images"):
        registry.build("cgan", (2,))
    with pytest.raises(ValueError, match="evaluator"):
        registry.build("scoregan", (28, 28, 1), base_filters=8)
    with pytest.raises(ValueError, match=r"\(d,\)"):
        registry.build("gan", (4, 4))


def test_builders_on_images():
    game = tiny_images("dcgman", num_discriminators=2, d_base_filters=8, seed=3)
    assert game.num_discriminators == 2 and game.data_shape == (28, 28, 1)
    assert game.loss.label_smoothing == 0.0  # the report: no soft labels for DCGAN
    gan = tiny_images("gan", (32, 32, 3))
    assert gan.loss.label_smoothing == 0.1  # the report's soft labels
    megan = tiny_images(
        "megan", (32, 32, 3), num_generators=2, gate_encoding_dim=2, gate_hidden_units=(4,)
    )
    assert megan.num_generators == 2 and megan.data_shape == (32, 32, 3)
    control = tiny_images("controlgan", base_filters=8, num_classes=3)
    assert control.num_classes == 3 and control.d_steps == 5 and control.gp_weight == 10.0


# ----------------------------------------------------------------- compile


def test_compile_without_optimizers_gives_paper_defaults():
    gman = tiny("gman")
    gman.compile()
    assert gman.optimizer.player_names == ["discriminator_0", "discriminator_1", "generator"]
    for player in gman.optimizer.player_names:  # the report's Adam(1e-4, 0.5)
        opt = gman.optimizer[player]
        assert isinstance(opt, keras.optimizers.Adam) and opt.get_config()["beta_1"] == 0.5
        np.testing.assert_allclose(float(opt.learning_rate), 1e-4)
    megan = tiny("megan", loss="wasserstein")
    megan.compile()
    assert set(megan.optimizer.player_names) == {"discriminator", "generator", "gate"}
    assert megan.optimizer["gate"].get_config()["beta_2"] == 0.9  # WGAN-GP's
    np.testing.assert_allclose(float(megan.optimizer["gate"].learning_rate), 2e-4)


def test_compile_by_name_position_and_legacy_keywords():
    sgd = keras.optimizers.SGD(0.5)
    mgan = tiny("mgan")
    mgan.compile(d_optimizer=sgd, g_optimizer=keras.optimizers.Adam())
    assert mgan.optimizer["discriminator"] is sgd
    clone = mgan.optimizer["classifier"]  # tied to D's: a clone of it
    assert isinstance(clone, keras.optimizers.SGD) and clone is not sgd
    mgan.compile(keras.optimizers.RMSprop(), keras.optimizers.Adam(), keras.optimizers.SGD())
    assert isinstance(mgan.optimizer["discriminator"], keras.optimizers.RMSprop)
    assert isinstance(mgan.optimizer["classifier"], keras.optimizers.SGD)
    megan = tiny("megan")
    megan.compile(
        generator=keras.optimizers.SGD(),
        discriminator=keras.optimizers.Adam(),
        gate_optimizer=keras.optimizers.RMSprop(),
    )
    assert isinstance(megan.optimizer["gate"], keras.optimizers.RMSprop)
    gman = tiny("gman")
    gman.compile(d_optimizer=keras.optimizers.SGD(), discriminator_1=keras.optimizers.RMSprop())
    assert isinstance(gman.optimizer["discriminator_0"], keras.optimizers.SGD)
    assert isinstance(gman.optimizer["discriminator_1"], keras.optimizers.RMSprop)
    assert isinstance(gman.optimizer["generator"], keras.optimizers.Adam)  # the default


def test_compile_errors_list_the_players():
    mgan = tiny("mgan")
    players = r"players are \['classifier', 'discriminator', 'generator'\]"
    with pytest.raises(ValueError, match=players):
        mgan.compile(gate_optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="given twice"):
        mgan.compile(keras.optimizers.Adam(), d_optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="at most 3"):
        mgan.compile(*[keras.optimizers.Adam() for _ in range(4)])
    control = tiny_images("controlgan", base_filters=8, num_classes=3)
    control.compile()  # Table 1: rates halve after 50k rounds
    assert isinstance(control.optimizer["discriminator"].get_config()["learning_rate"], dict)
    control.compile(halve_after=None)  # an option of ControlGAN's defaults: constant rates
    rate = control.optimizer["discriminator"].get_config()["learning_rate"]
    assert isinstance(rate, float) and np.isclose(rate, 4e-4)
    with pytest.raises(ValueError, match="halve_after"):
        tiny("gan").compile(halve_after=None)


# ------------------------------------------------------------------- hooks


@pytest.mark.parametrize("name", ["mgan", "madgan", "megan"])
def test_every_game_takes_the_evaluator_and_the_gradient_penalty(name):
    game = tiny(name, evaluator=point_evaluator(), score_weight=0.3, gp_weight=1.0)
    assert game.gp_weight == 1.0 and game.evaluator.weight == 0.3
    game.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    history = game.fit(points(), batch_size=8, verbose=0).history
    assert {"score", "real_score", "d_loss", "g_loss"} <= set(history)
    assert all(np.isfinite(v).all() for v in history.values())
    for variables in game.player_variables().values():  # the evaluator is no player
        assert not {id(v) for v in variables} & {id(v) for v in game.evaluator.variables}
    loaded = type(game).from_config(game.get_config())
    assert loaded.gp_weight == 1.0 and loaded.evaluator.weight == 0.3


def test_conditional_gan_takes_the_hooks():
    game = tiny_images("cgan", num_classes=3, evaluator=random_evaluator(), gp_weight=1.0)
    game.compile()
    x = np.random.default_rng(0).uniform(-1, 1, size=(8, 28, 28, 1)).astype("float32")
    y = np.arange(8, dtype="int32") % 3
    history = game.fit(x, y, batch_size=8, verbose=0).history
    assert np.isfinite(history["score"]).all() and np.isfinite(history["d_loss"]).all()


def test_gradient_penalty_has_one_name():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        game = builders.megan(
            (2,),
            num_generators=2,
            latent_dim=4,
            hidden_units=(8,),
            gate_encoding_dim=2,
            gate_hidden_units=(4,),
            gradient_penalty=3.0,
        )
    assert game.gp_weight == 3.0 and game.gradient_penalty == 3.0
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert "gradient_penalty" not in game.get_config() and game.get_config()["gp_weight"] == 3.0
    with pytest.raises(ValueError, match="gp_weight"):
        tiny("gan", gp_weight=-1.0)
    assert tiny("gan", loss="wasserstein").gp_weight == 10.0  # WGAN-GP's default
    assert tiny("gan").gp_weight == 0.0
    from kmgan.games import controlgan

    assert controlgan.gradient_penalty is kmgan.losses.gradient_penalty


@pytest.mark.parametrize("name", POINTS_GAMES)
def test_d_steps_is_checked_once_for_every_game(name):
    with pytest.raises(ValueError, match="d_steps must be an integer >= 1"):
        tiny(name, d_steps=0)
    with pytest.raises(ValueError, match="no option"):
        tiny(name, no_such_hook=1)


def test_a_game_refuses_unknown_hooks():
    g = kmgan.nets.mlp_generator(4, 2, (8,))
    with pytest.raises(TypeError, match="unexpected keyword"):
        kmgan.GAN(g, kmgan.nets.mlp_discriminator(2, (8,)), no_such_hook=1)


# --------------------------------------------------------------- bad data


def test_nan_or_inf_real_data_is_refused_before_any_step():
    game = tiny("gan")
    game.compile()
    x = points(32)
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        game.fit(x, batch_size=8, verbose=0)
    x = points(32)
    x[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        game.fit(kmgan.data.from_arrays(x, batch_size=8, shuffle=False), verbose=0)
    images = np.zeros((8, 28, 28, 1), "float32")
    images[2, 5, 5, 0] = -np.inf
    cgan = tiny_images("cgan", num_classes=2)
    cgan.compile()
    with pytest.raises(ValueError, match="NaN or inf"):
        cgan.fit(images, np.zeros(8, "int32"), batch_size=4, verbose=0)
    assert int(game.optimizer.iterations.numpy()) == 0
    assert int(cgan.optimizer.iterations.numpy()) == 0


# ------------------------------------------------------------ kmgan train


def _train(tmp_path, game, data, *extra):
    options = ["--max-examples", "32", "--batch-size", "16", "--latent-dim", "4", *extra]
    return train_quick(str(tmp_path / game), game, data, *options)


@pytest.mark.parametrize("game", POINTS_GAMES)
def test_train_quick_on_points(game, tmp_path):
    extra = {
        "gman": ["--discriminators", "2"],
        "dcgman": ["--discriminators", "2"],
        "mgan": ["--generators", "2"],
        "madgan": ["--generators", "2"],
        "megan": ["--generators", "2"],
    }.get(game, [])
    out = _train(tmp_path, game, "ring", *extra)
    loaded = keras.saving.load_model(os.path.join(out, "game.keras"))
    assert loaded.discriminate(np.zeros((3, 2), "float32")).shape == (3,)


@pytest.mark.parametrize("game", ["cgan", "controlgan", "scoregan"])
def test_train_quick_on_labelled_images(game, tmp_path, mnist_npz):
    # One round with one D step: the SNGAN games' graphs take minutes to trace
    # with Table 1's five (test_controlgan covers those).
    extra = ["--max-examples", "16", "--d-steps", "1"] if game != "cgan" else []
    if game == "scoregan":  # RANDOM-WEIGHTS evaluator: a stand-in, for this test only
        path = str(tmp_path / "random_evaluator.keras")
        random_evaluator(channels=1).save(path)
        extra += ["--evaluator", path]
    out = _train(tmp_path, game, str(mnist_npz), *extra)
    log = open(os.path.join(out, "log.csv")).read().splitlines()[0]
    assert ("score" in log) == (game == "scoregan")


def test_train_refuses_what_a_game_cannot_take(tmp_path, mnist_npz, capsys):
    with pytest.raises(ValueError, match="needs --evaluator"):
        cli.main(
            [
                "train",
                "--game",
                "scoregan",
                "--data",
                str(mnist_npz),
                "--quick",
                "--out",
                str(tmp_path / "s"),
            ]
        )
    args = cli.build_parser().parse_args(
        ["train", "--game", "mgan", "--data", "ring", "--discriminators", "3", "--generators", "2"]
    )
    options = train_cli.build_options(args, registry.get("mgan"), (2,))
    assert options["num_generators"] == 2 and "num_discriminators" not in options
    assert "--discriminators is an option of gman, dcgman; mgan has none" in capsys.readouterr().out
    with pytest.raises(ValueError, match="images"):
        cli.main(["train", "--game", "cgan", "--data", "ring", "--out", str(tmp_path / "c")])
