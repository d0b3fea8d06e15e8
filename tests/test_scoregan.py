"""ScoreGAN and the evaluator player: the score on fixed probability tables,
its cap, where its gradient goes, the frozen evaluator under fit, MobileNetV2
without downloads, and the evaluator in another game (GAN)."""

import keras
import numpy as np
import pytest
from keras import layers
from keras import ops

import kmgan
from kmgan import evaluators
from kmgan.engine import GameModel
from kmgan.engine import input_gradient
from kmgan.evaluators import EvaluatorGuidance
from kmgan.evaluators import batch_inception_score
from kmgan.evaluators import guidance_log_names
from kmgan.evaluators import guided_loss
from kmgan.evaluators import regularized_score
from kmgan.games.base import real_data
from kmgan.games.scoregan import ScoreGAN
from tests.helpers import SHAPE
from tests.helpers import adam
from tests.helpers import snapshot
from tests.helpers import tiny_mlp
from tests.helpers import tiny_players
from tests.helpers import toy_data


def value(x):
    return np.asarray(ops.convert_to_numpy(x))


def np_score(p):
    p = np.asarray(p, np.float64)
    marginal = p.mean(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0).sum(axis=1)
    return float(np.exp(kl.mean()))


def tiny_evaluator(channels=SHAPE[-1], classes=5):
    """A frozen stand-in for MobileNetV2: conv + batch norm + softmax."""
    x = inp = keras.Input((None, None, channels))
    x = layers.Conv2D(4, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, layers.Dense(classes, activation="softmax")(x), name="tiny_evaluator")
    # Non-trivial batch-norm statistics, so that a change would show.
    bn = model.layers[2]
    bn.moving_mean.assign(np.full((4,), 0.3, "float32"))
    bn.moving_variance.assign(np.full((4,), 2.0, "float32"))
    return model


ONE_HOT_4 = np.eye(4, dtype="float32")  # 4 classes, equally likely: score 4
HALF_2 = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]], "float32")  # score 2


# ----------------------------------------------------- the score on tables


def test_batch_score_on_fixed_tables(rng):
    np.testing.assert_allclose(value(batch_inception_score(ONE_HOT_4)), 4.0, rtol=1e-5)
    np.testing.assert_allclose(value(batch_inception_score(HALF_2)), 2.0, rtol=1e-5)
    same = np.tile([[0.2, 0.5, 0.3]], (6, 1)).astype("float32")
    np.testing.assert_allclose(value(batch_inception_score(same)), 1.0, rtol=1e-6)
    table = rng.dirichlet(np.ones(7) * 0.3, size=9).astype("float32")
    np.testing.assert_allclose(value(batch_inception_score(table)), np_score(table), rtol=1e-4)


def score_gradient(fake, real, cap):
    return value(input_gradient(lambda p: regularized_score(p, real, cap)[0], fake))


def test_score_cap_value_and_gradient(rng):
    fake = rng.dirichlet(np.ones(4), size=4).astype("float32")
    s_fake = np_score(fake)
    assert 1.0 < s_fake < 2.0
    # Below the real data's score: L_score is the fake score, with a gradient.
    l_score, got_fake, got_real = regularized_score(fake, ONE_HOT_4, "real")
    np.testing.assert_allclose(value(l_score), s_fake, rtol=1e-4)
    np.testing.assert_allclose(value(got_fake), s_fake, rtol=1e-4)
    np.testing.assert_allclose(value(got_real), 4.0, rtol=1e-5)
    assert np.abs(score_gradient(fake, ONE_HOT_4, "real")).sum() > 1e-3
    # Above it: L_score is the real score, constant, no gradient.
    same = np.tile([[0.97, 0.01, 0.01, 0.01]], (4, 1)).astype("float32")
    l_score, got_fake, _ = regularized_score(ONE_HOT_4, same, "real")
    np.testing.assert_allclose(value(l_score), np_score(same), rtol=1e-4)
    np.testing.assert_allclose(value(got_fake), 4.0, rtol=1e-5)
    np.testing.assert_array_equal(score_gradient(ONE_HOT_4 * 0.9 + 0.025, same, "real"), 0.0)
    # A fixed cap, and no cap.
    np.testing.assert_allclose(value(regularized_score(ONE_HOT_4, None, 3.0)[0]), 3.0)
    np.testing.assert_allclose(value(regularized_score(ONE_HOT_4, None, None)[0]), 4.0, rtol=1e-5)
    assert np.abs(score_gradient(fake, None, None)).sum() > 1e-3
    with pytest.raises(ValueError, match="cap"):
        regularized_score(fake, None, "fake")


def test_guidance_term_is_minus_delta_times_the_capped_score():
    # An "evaluator" that reads probabilities straight off its input.
    inp = keras.Input((4,))
    identity = keras.Model(inp, layers.Activation("linear")(inp))
    guidance = EvaluatorGuidance(identity, weight=0.5)
    term, logs = guidance.score_loss(ONE_HOT_4, HALF_2)
    np.testing.assert_allclose(value(term), -0.5 * 2.0, rtol=1e-5)
    np.testing.assert_allclose(value(logs["score"]), 4.0, rtol=1e-5)
    np.testing.assert_allclose(value(logs["real_score"]), 2.0, rtol=1e-5)
    term, _ = guidance.score_loss(HALF_2, ONE_HOT_4)
    np.testing.assert_allclose(value(term), -0.5 * 2.0, rtol=1e-5)
    logits = EvaluatorGuidance(identity, from_logits=True, cap=None)
    np.testing.assert_allclose(value(logits.score(np.log(ONE_HOT_4 + 1e-9))), 4.0, rtol=1e-4)
    assert guidance_log_names(None) == () and guided_loss(None, 1.0, None)[1] == {}
    assert not guidance.trainable_variables and not identity.trainable


# ------------------------------------------- gradients go to the generator


class ScoreMove(GameModel):
    """One move in which two players descend the evaluator's term alone."""

    log_names = ("term",)

    def __init__(self, cap):
        super().__init__(seed=0)
        self.generator = tiny_mlp(2, 4, "g", batch_norm=False)
        self.discriminator = tiny_mlp(4, 1, "d", batch_norm=False)
        inp = keras.Input((4,))
        self.evaluator = EvaluatorGuidance(
            keras.Model(inp, layers.Dense(3, activation="softmax")(inp)), cap=cap
        )

    @property
    def data_shape(self):
        return (4,)

    def player_variables(self):
        return {
            "generator": self.generator.trainable_variables,
            "discriminator": self.discriminator.trainable_variables,
        }

    def play(self, data):
        real = real_data(data)
        z = keras.random.normal((ops.shape(real)[0], 2), seed=self.seed_generator)

        def loss():
            fake = self.generator(z)
            # D enters with weight 0 (connected, so every backend hands it a
            # gradient, which must be zero): only the evaluator's term counts.
            untouched = 0.0 * ops.sum(self.discriminator(fake))
            return self.evaluator.score_loss(fake, real)[0] + untouched

        term = self.minimize(["generator", "discriminator"], loss)
        return {"term": term}


@pytest.mark.parametrize("cap", [None, 0.5])
def test_score_gradient_reaches_the_generator_only(cap):
    model = ScoreMove(cap)
    model.compile(
        {"generator": keras.optimizers.SGD(1.0), "discriminator": keras.optimizers.SGD(1.0)}
    )
    players = {p: snapshot(vs) for p, vs in model.player_variables().items()}
    frozen = snapshot(model.evaluator.variables)
    model.fit(
        np.random.default_rng(0).normal(size=(16, 4)).astype("float32"), batch_size=8, verbose=0
    )
    g_moved = any(
        not np.allclose(a, b)
        for a, b in zip(players["generator"], snapshot(model.generator.trainable_variables))
    )
    # Uncapped the score pulls the generator; above a cap (0.5 < any score)
    # the term is constant and nothing moves.
    assert g_moved == (cap is None)
    for a, b in zip(players["discriminator"], snapshot(model.discriminator.trainable_variables)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(frozen, snapshot(model.evaluator.variables)):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ ScoreGAN


def test_scoregan_fit_keeps_the_evaluator_frozen_and_out_of_every_optimizer():
    steps = 3
    evaluator = tiny_evaluator()
    model = ScoreGAN(*tiny_players(), evaluator=evaluator, d_steps=2, seed=0)
    assert model.evaluator.weight == 0.5 and model.evaluator.cap == "real"
    model.compile(adam(), adam(), adam())
    x, y = toy_data(steps * 8)
    frozen = snapshot(evaluator.variables)
    before = {p: snapshot(vs) for p, vs in model.player_variables().items()}
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

    # Identical evaluator weights (kernels and batch-norm statistics).
    assert len(frozen) == 8
    for a, b in zip(frozen, snapshot(evaluator.variables)):
        np.testing.assert_array_equal(a, b)
    # In no player's variables and no optimizer.
    evaluator_ids = {id(v) for v in evaluator.variables}
    for player, variables in model.player_variables().items():
        assert not evaluator_ids & {id(v) for v in variables}, player
    for player, variables in model.player_variables().items():
        inner = model.optimizer[player]
        # Each optimizer was built for exactly its player's variables ...
        assert [id(v) for v in inner._trainable_variables] == [id(v) for v in variables]
        # ... and holds no slot named after an evaluator variable.
        slots = {v.path.split("/", 1)[-1] for v in inner.variables}
        for v in evaluator.variables:
            name = v.path.replace("/", "_")
            assert not {f"{name}_momentum", f"{name}_velocity"} & slots, v.path
    assert not evaluator.trainable_variables
    # Every player moved, each with its own optimizer.
    for player, variables in model.player_variables().items():
        assert int(model.optimizer[player].iterations.numpy()) == steps * (
            2 if player == "discriminator" else 1
        )
        assert any(not np.allclose(a, b) for a, b in zip(before[player], snapshot(variables)))
    logs = history.history
    assert {"score", "real_score", "g_class", "gamma"} <= set(logs)
    assert all(1.0 <= logs[n][-1] <= 5.0 for n in ("score", "real_score"))


def test_scoregan_whole_game_round_trip(tmp_path):
    model = ScoreGAN(
        *tiny_players(),
        evaluator=tiny_evaluator(),
        d_steps=1,
        score_cap=3.0,
        gamma_rate=1.0,
        gamma_alpha=0.0,
        seed=0,
    )
    model.compile(adam(), adam(), adam())
    x, y = toy_data(16)
    model.fit(x, y, batch_size=8, verbose=0)
    model.save(tmp_path / "scoregan.keras")
    loaded = keras.saving.load_model(tmp_path / "scoregan.keras", safe_mode=True)
    assert isinstance(loaded, ScoreGAN) and loaded.d_steps == 1
    assert loaded.evaluator.cap == 3.0 and loaded.evaluator.weight == 0.5
    assert not loaded.evaluator.trainable_variables
    np.testing.assert_allclose(value(loaded.gamma), value(model.gamma))
    np.testing.assert_allclose(
        loaded.sample(6, seed=1), model.sample(6, seed=1), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(loaded.discriminate(x[:4]), model.discriminate(x[:4]), rtol=1e-5)
    for a, b in zip(snapshot(loaded.evaluator.variables), snapshot(model.evaluator.variables)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        snapshot(loaded.augmentation.variables), snapshot(model.augmentation.variables)
    ):
        np.testing.assert_array_equal(a, b)
    # A loaded game trains on after compile().
    loaded.compile(adam(), adam(), adam())
    loaded.fit(x, y, batch_size=8, verbose=0)


def test_scoregan_needs_an_evaluator():
    with pytest.raises(ValueError, match="evaluator"):
        ScoreGAN(*tiny_players(), evaluator=None)
    with pytest.raises(ValueError, match="channels=1"):
        ScoreGAN(*tiny_players(), evaluator=tiny_evaluator(channels=1))


# -------------------------------------------------- the evaluator in GAN


def test_any_game_can_take_the_evaluator():
    g = tiny_mlp(4, 8 * 8 * 3, "g", batch_norm=True)
    g = keras.Sequential([g, layers.Activation("tanh"), layers.Reshape(SHAPE)], name="g_img")
    g.build((None, 4))
    g = keras.Model(g.inputs, g.outputs)
    d = keras.Sequential([keras.Input(SHAPE), layers.Flatten(), layers.Dense(1)], name="d")
    evaluator = tiny_evaluator()
    model = kmgan.GAN(g, d, evaluator=evaluator, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    frozen = snapshot(evaluator.variables)
    x, _ = toy_data(16)
    history = model.fit(x, batch_size=8, verbose=0)
    assert np.isfinite(history.history["score"][-1])
    for a, b in zip(frozen, snapshot(evaluator.variables)):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer["generator"].iterations.numpy()) == 2
    # Without an evaluator the same code is plain GAN (an empty aux, no score logs).
    plain = kmgan.GAN(g, d, seed=0)
    plain.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    assert "score" not in plain.fit(x, batch_size=8, verbose=0).history
    # GMAN takes the same player; it survives a whole-game round trip.
    ds = [
        keras.Sequential([keras.Input(SHAPE), layers.Flatten(), layers.Dense(1)], name=f"d{i}")
        for i in range(2)
    ]
    gman = kmgan.GMAN(g, ds, evaluator=evaluator, score_weight=0.3, seed=0)
    gman.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    assert "score" in gman.fit(x, batch_size=8, verbose=0).history
    for player, variables in gman.player_variables().items():
        assert not {id(v) for v in variables} & {id(v) for v in evaluator.variables}, player


# ---------------------------------------------------------- MobileNetV2


def test_mobilenet_v2_evaluator_without_download():
    model = evaluators.mobilenet_v2(weights=None, input_size=32, channels=1, alpha=0.35)
    assert not model.trainable and not model.trainable_variables
    images = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype("float32")
    probs = model.predict(images, verbose=0)
    assert probs.shape == (3, 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
    assert 1.0 <= value(batch_inception_score(probs)) <= 3.0 + 1e-4
    assert EvaluatorGuidance(model).evaluator is model


def test_imagenet_weights_unavailable_raise_a_clear_error(monkeypatch, tmp_path):
    def no_network(fname, origin=None, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: no network")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    with pytest.raises(evaluators.PretrainedWeightsError) as info:
        evaluators.mobilenet_v2(weights="imagenet", input_size=96)
    message = str(info.value)
    fname = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96.h5"
    assert fname in message and evaluators.MOBILENET_V2_WEIGHTS_URL + fname in message
    assert 'weights="/path/to/' in message and "never falls back" in message
    assert evaluators.mobilenet_v2_weights_file(0.35, 32).endswith("_0.35_224.h5")
    with pytest.raises(FileNotFoundError, match="not found"):
        evaluators.mobilenet_v2(weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="alpha"):
        evaluators.mobilenet_v2(weights="imagenet", alpha=0.6)
