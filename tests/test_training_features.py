"""The training options every game takes: generator EMA, R1, gradient
accumulation (one mechanism each, in the hooks or the engine)."""

import keras
import numpy as np
import pytest
from keras import layers

import kmgan
from kmgan.games import registry
from tests.helpers import snapshot
from tests.helpers import tiny_point_game
from tests.helpers import value

POINT_GAMES = ["gan", "gman", "mgan", "madgan", "megan"]


#: A registry game on 2-D points with tiny nets.
tiny = tiny_point_game


def points(n=16, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype("float32")


def sgd(rate):
    return keras.optimizers.SGD(rate)


# ------------------------------------------------------------------- EMA


def test_ema_follows_the_weights_then_averages_them():
    game = tiny("gan", ema_decay=0.9, ema_start=2)
    game.compile(sgd(0.05), sgd(0.05))
    x = points()
    sources = game.generator.trainable_weights
    assert len(game.ema_weights) == len(sources)
    history = []
    for _ in range(4):  # rounds 0..3, one batch each
        game.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
        history.append(snapshot(sources))
    # Rounds 0 and 1 (< ema_start): the average is the weights.
    # Rounds 2 and 3: avg <- 0.9 avg + 0.1 w.
    expected = history[1]
    for w in history[2:]:
        expected = [0.9 * a + 0.1 * b for a, b in zip(expected, w)]
    for average, want in zip(game.ema_weights, expected):
        np.testing.assert_allclose(value(average), want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(value(game.ema_weights[0]), history[-1][0])


def test_use_ema_swaps_the_generator_weights_in_and_back():
    game = tiny("gan", ema_decay=0.5)
    game.compile(sgd(0.2), sgd(0.2))
    x = points()
    game.fit(x, batch_size=8, epochs=2, verbose=0)
    live = snapshot(game.generator.trainable_weights)
    z = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    before = game.generate(z)
    with game.use_ema():
        for weight, average in zip(game.generator.trainable_weights, game.ema_weights):
            np.testing.assert_array_equal(value(weight), value(average))
        averaged = game.generate(z)
    assert not np.allclose(before, averaged)
    for weight, want in zip(game.generator.trainable_weights, live):
        np.testing.assert_array_equal(value(weight), want)
    with pytest.raises(ValueError, match="ema_decay"):
        with tiny("gan").use_ema():
            pass


def test_use_ema_recomputes_batch_norm_statistics_under_the_average():
    # The training weights' moving statistics do not fit the averaged weights.
    nets = kmgan.nets
    shape = (28, 28, 1)
    game = kmgan.GAN(
        nets.dcgan_generator(8, shape, base_filters=4, seed=0),
        nets.dcgan_discriminator(shape, base_filters=4, seed=1),
        ema_decay=0.5,
        seed=0,
    )
    game.compile(sgd(0.5), sgd(0.5))
    x = np.random.default_rng(0).uniform(-1, 1, (32,) + shape).astype("float32")
    game.fit(x, batch_size=16, epochs=2, verbose=0)
    norm = game.generator.get_layer("project_bn")
    live = snapshot(norm.non_trainable_weights)
    noise = snapshot([game.seed_generator.state])
    rng = np.random.default_rng(0)  # the noise `use_ema` draws for its statistics
    z = rng.standard_normal((20 * 256, 8)).astype("float32")
    with game.use_ema():
        projection = keras.Model(game.generator.inputs, norm.input)
        want = value(projection(z)).reshape(-1, norm.input.shape[-1]).mean(axis=0)
        np.testing.assert_allclose(value(norm.moving_mean), want, rtol=1e-4, atol=1e-5)
        assert not np.allclose(value(norm.moving_mean), live[0])
    for variable, before in zip(norm.non_trainable_weights, live):
        np.testing.assert_array_equal(value(variable), before)
    np.testing.assert_array_equal(value(game.seed_generator.state), noise[0])


@pytest.mark.parametrize("game_class", ["MGAN", "MADGAN"])
def test_use_ema_recomputes_the_statistics_of_multi_generator_images(game_class):
    # A multi-generator call pairs z with a one-hot tensor: the statistics
    # pass must hand it tensors (it once failed there after a whole run).
    nets = kmgan.nets
    shape, k = (28, 28, 1), 2
    if game_class == "MGAN":
        generator = nets.mgan_generator(k, 8, shape, base_filters=4, seed=0)
        discriminator = nets.mgan_discriminator(k, shape, base_filters=4, seed=1)
    else:
        generator = nets.madgan_generator(k, 8, shape, base_filters=4, seed=0)
        discriminator = nets.madgan_discriminator(k, shape, base_filters=4, seed=1)
    game = getattr(kmgan, game_class)(generator, discriminator, ema_decay=0.5, seed=0)
    game.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (16,) + shape).astype("float32")
    game.fit(x, batch_size=8, epochs=1, verbose=0)
    norms = [
        layer
        for layer in game.generator._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms
    live = snapshot([layer.moving_mean for layer in norms])
    with game.use_ema():
        under_average = snapshot([layer.moving_mean for layer in norms])
        images = game.generate(np.zeros((2, 8), "float32"), generator=1)
    assert any(not np.allclose(a, b) for a, b in zip(live, under_average))
    assert images.shape == (2,) + shape and np.all(np.isfinite(images))
    for layer, before in zip(norms, live):
        np.testing.assert_array_equal(value(layer.moving_mean), before)


@pytest.mark.parametrize("name", POINT_GAMES)
def test_every_game_keeps_an_average_that_saves_and_restores(name, tmp_path):
    game = tiny(name, ema_decay=0.8)
    game.compile()
    sources = [v for net in game.generator_networks() for v in net.trainable_weights]
    assert len(game.ema_weights) == len(sources) > 0
    if name == "megan":  # the gate shapes a sample too
        assert len(sources) > len(game.experts.trainable_weights)
    start = snapshot(game.ema_weights)
    game.fit(points(), batch_size=8, epochs=1, verbose=0)
    moved = snapshot(game.ema_weights)
    assert any(not np.allclose(a, b) for a, b in zip(start, moved))
    path = str(tmp_path / "game.weights.h5")
    game.save_weights(path)
    again = type(game).from_config(game.get_config())
    assert again.ema_decay == 0.8
    again.load_weights(path)
    for a, b in zip(again.ema_weights, moved):
        np.testing.assert_array_equal(value(a), b)


def test_ema_options_are_checked():
    with pytest.raises(ValueError, match="ema_decay"):
        tiny("gan", ema_decay=1.0)
    with pytest.raises(ValueError, match="ema_start"):
        tiny("gan", ema_decay=0.9, ema_start=-1)


# -------------------------------------------------------------------- R1


def linear_critic(weights):
    x = inp = keras.Input((len(weights),))
    dense = layers.Dense(1)
    out = dense(x)
    model = keras.Model(inp, out)
    dense.kernel.assign(np.asarray(weights, "float32").reshape(-1, 1))
    return model


def test_r1_penalty_of_a_linear_critic_is_its_squared_norm():
    critic = linear_critic([3.0, -4.0])
    r1 = kmgan.losses.r1_penalty(critic, points(6))
    np.testing.assert_allclose(value(r1), 25.0, rtol=1e-6)


def test_lazy_r1_is_weighted_by_its_interval_on_due_rounds_only():
    game = tiny("gan", r1_weight=2.0, r1_interval=4)
    game.compile()
    critic = linear_critic([3.0, -4.0])
    x = points(6)
    # gamma / 2 * k * ||w||^2 on round 0, nothing on round 1.
    np.testing.assert_allclose(value(game.r1_penalty(critic, x)), 0.5 * 2.0 * 4 * 25.0, rtol=1e-6)
    game.optimizer.iterations.assign(1)
    assert value(game.r1_penalty(critic, x)) == 0.0
    assert value(tiny("gan").r1_penalty(critic, x)) == 0.0
    with pytest.raises(ValueError, match="r1_weight"):
        tiny("gan", r1_weight=-1.0)


@pytest.mark.parametrize("name", POINT_GAMES)
def test_r1_changes_every_games_discriminator_step(name):
    def d_after_one_round(**hooks):
        game = tiny(name, **hooks)
        game.compile(sgd(0.1), sgd(0.1))
        game.fit(points(), batch_size=16, epochs=1, shuffle=False, verbose=0)
        players = game.player_variables()
        return snapshot(players[min(p for p in players if p.startswith("discriminator"))])

    plain, regularized = d_after_one_round(), d_after_one_round(r1_weight=10.0)
    assert all(np.isfinite(v).all() for v in regularized)
    assert any(not np.allclose(a, b) for a, b in zip(plain, regularized))
    assert tiny(name, r1_weight=3.0).get_config()["r1_weight"] == 3.0


# ---------------------------------------------------------- accumulation


def constant_generator():
    """G(z) = bias: fakes that do not depend on the noise."""
    z = keras.Input((4,))
    return keras.Model(z, layers.Dense(2, kernel_initializer="zeros", bias_initializer="ones")(z))


def mlp_critic():
    x = inp = keras.Input((2,))
    init = keras.initializers.GlorotUniform
    x = layers.Dense(8, activation="tanh", kernel_initializer=init(3))(x)
    return keras.Model(inp, layers.Dense(1, kernel_initializer=init(4))(x))


def test_accumulated_steps_equal_one_step_on_the_larger_batch():
    x = points(16)

    def discriminator_after(batch_size, steps, accumulation):
        game = kmgan.GAN(constant_generator(), mlp_critic(), seed=0)
        game.compile(sgd(0.5), sgd(0.5), accumulation_steps=accumulation)
        game.fit(x, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        assert int(value(game.optimizer.iterations)) == steps
        return snapshot(game.discriminator.trainable_weights)

    large = discriminator_after(16, 1, None)
    # D moves first; G accumulating too holds still until D has applied.
    accumulated = discriminator_after(8, 2, 2)
    single_small = discriminator_after(8, 2, None)
    for a, b in zip(accumulated, large):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b, atol=1e-6) for a, b in zip(single_small, large))


def test_accumulation_steps_are_checked():
    game = tiny("gan")
    with pytest.raises(ValueError, match="no player"):
        game.compile(accumulation_steps={"critic": 2})
    with pytest.raises(ValueError, match=">= 2"):
        game.compile(accumulation_steps=0)
    game.compile(accumulation_steps=3)
    assert game.optimizer["generator"].gradient_accumulation_steps == 3


# ---------------------------------------------------- DiffAugment and ADA

IMAGE_GAMES = ["dcgan", "dcgman", "mgan", "madgan", "megan", "cgan"]


def tiny_images(name, **overrides):
    options = dict(latent_dim=4, base_filters=4, seed=0)
    spec = registry.get(name)
    for key, val in dict(num_generators=2, num_discriminators=2, num_classes=10).items():
        if key in spec.options():
            options[key] = val
    options.update(overrides)
    return registry.build(name, (28, 28, 1), **options)


def digits(n=8):
    x = np.random.default_rng(0).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")
    return x, (np.arange(n) % 10).astype("int32")


def fit_data(name, n=8):
    x, y = digits(n)
    return (x, y) if registry.get(name).labels else (x,)


def test_diffaugment_changes_what_the_discriminator_learns_from():
    def d_after_one_round(**hooks):
        keras.utils.set_random_seed(0)
        game = tiny_images("dcgan", **hooks)
        game.compile(sgd(0.1), sgd(0.1))
        game.fit(digits()[0], batch_size=8, epochs=1, shuffle=False, verbose=0)
        return game, snapshot(game.discriminator.trainable_weights)

    _, plain = d_after_one_round()
    game, augmented = d_after_one_round(augment="diffaugment")
    assert game.augment_policy == "color,translation,cutout"
    assert any(not np.allclose(a, b) for a, b in zip(plain, augmented))
    # Inference sees the images as they are.
    x = digits(4)[0]
    judge = game.judged(game.discriminator)
    np.testing.assert_array_equal(
        value(judge(x, training=False)), value(game.discriminator(x, training=False))
    )
    assert game.judged(game.discriminator) is not game.discriminator
    assert tiny_images("dcgan").judged(game.discriminator) is game.discriminator


@pytest.mark.parametrize("name", IMAGE_GAMES)
def test_ada_steers_p_by_its_rule_in_every_game(name, tmp_path):
    kimg = 0.01  # p moves by 8 / 10 = 0.8 per round of 8 reals, so a move shows
    game = tiny_images(name, augment="ada", ada_interval=1, ada_kimg=kimg, ada_target=0.5)
    game.compile()
    data = fit_data(name)
    p = 0.0
    for _ in range(2):
        logs = game.fit(*data, batch_size=8, epochs=1, shuffle=False, verbose=0).history
        r_t = logs["ada_rt"][-1]
        assert -1.0 <= r_t <= 1.0
        p = float(np.clip(p + np.sign(r_t - 0.5) * 8 / (kimg * 1000), 0.0, 1.0))
        np.testing.assert_allclose(value(game.ada_p), p, atol=1e-6)
        np.testing.assert_allclose(logs["ada_p"][-1], p, atol=1e-6)
    game.ada_p.assign(0.25)
    path = str(tmp_path / "game.weights.h5")
    game.save_weights(path)
    again = type(game).from_config(game.get_config())
    assert again.augment_policy == "ada" and again.ada_kimg == kimg
    again.load_weights(path)
    assert float(value(again.ada_p)) == 0.25


def test_augment_options_are_checked():
    with pytest.raises(ValueError, match="images"):
        tiny("gan", augment="diffaugment")
    with pytest.raises(ValueError, match="zoom"):
        tiny_images("dcgan", augment="color,zoom")
    with pytest.raises(ValueError, match="ada_target"):
        tiny_images("dcgan", augment="ada", ada_target=1.5)


# ----------------------------------------------------------------- LeCam


def test_lecam_penalty_and_anchors_by_hand():
    game = tiny("gan", lecam_weight=0.5, lecam_decay=0.9)
    game.compile()
    critic = linear_critic([1.0, 0.0])  # D(x) = x_0
    real = np.array([[2.0, 0.0], [4.0, 0.0]], "float32")  # D: 2, 4 (mean 3)
    fake = np.array([[-1.0, 0.0], [1.0, 0.0]], "float32")  # D: -1, 1 (mean 0)
    # Round 0: the anchors are the means, a_R = 3, a_F = 0.
    # relu(D(x) - a_F)^2 = 4, 16 -> 10; relu(a_R - D(G(z)))^2 = 16, 4 -> 10.
    np.testing.assert_allclose(value(game.lecam_penalty(critic, real, fake)), 0.5 * 20, rtol=1e-6)
    np.testing.assert_allclose(value(game.lecam_anchors)[:, 0], [3.0, 0.0], rtol=1e-6)
    game.optimizer.iterations.assign(1)
    shifted = real + np.array([[2.0, 0.0]], "float32")  # mean 5
    # a_R = 0.9 * 3 + 0.1 * 5 = 3.2, a_F = 0: relu(D(x))^2 = 16, 36 -> 26;
    # relu(3.2 - D(G(z)))^2 = 4.2^2, 2.2^2.
    want = 0.5 * (26.0 + (4.2**2 + 2.2**2) / 2)
    np.testing.assert_allclose(value(game.lecam_penalty(critic, shifted, fake)), want, rtol=1e-5)
    np.testing.assert_allclose(value(game.lecam_anchors)[:, 0], [3.2, 0.0], rtol=1e-6)
    assert value(tiny("gan").lecam_penalty(critic, real, fake)) == 0.0


@pytest.mark.parametrize("name", POINT_GAMES)
def test_every_game_trains_with_lecam(name):
    game = tiny(name, lecam_weight=0.3)
    game.compile()
    history = game.fit(points(), batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    anchors = value(game.lecam_anchors)
    assert anchors.shape == (2, getattr(game, "num_discriminators", 1))
    assert np.abs(anchors).sum() > 0
    assert type(game).from_config(game.get_config()).lecam_weight == 0.3


# ------------------------------------------------------- mixed precision


def example_inputs(network, n=4):
    """A batch for each of the network's inputs: noise, or index 0."""
    rng = np.random.default_rng(0)
    batch = []
    for tensor in network.inputs:
        shape = (n,) + tuple(tensor.shape[1:])
        if "int" in str(tensor.dtype):
            batch.append(np.zeros(shape, "int32"))
        else:
            batch.append(rng.normal(size=shape).astype("float32"))
    return batch if len(batch) > 1 else batch[0]


@pytest.fixture
def policy():
    def set_policy(name):
        keras.config.set_dtype_policy(name)

    yield set_policy
    keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("game_name", ["dcgan", "mgan", "megan"])
def test_games_train_and_save_under_mixed_precision(policy, name, game_name, tmp_path):
    policy(name)
    game = tiny_images(game_name, ema_decay=0.9)
    game.compile()
    scaled = isinstance(game.optimizer["generator"], keras.optimizers.LossScaleOptimizer)
    assert scaled == (name == "mixed_float16")  # loss scaling for float16 only
    history = game.fit(digits(16)[0], batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    # The game's own state is float32, the networks compute in half precision.
    assert {str(v.dtype) for v in game.ema_weights} == {"float32"}
    network = game.generator_networks()[0]
    assert str(network.outputs[0].dtype) == name.split("_")[1]
    if scaled:  # the scale is the players' state, moved by the steps
        assert int(value(game.optimizer["discriminator"].step_counter)) == 2
    inputs = example_inputs(network)
    policy("float32")
    copy = kmgan.saving.float32_copy(network)
    assert str(copy.outputs[0].dtype) == "float32"
    half = value(keras.tree.flatten(network(inputs, training=False))[0]).astype("float32")
    full = value(keras.tree.flatten(copy(inputs, training=False))[0])
    np.testing.assert_allclose(full, half, atol=0.05)
    copy.save(str(tmp_path / "g.keras"))
    again = kmgan.saving.load_model(str(tmp_path / "g.keras"))
    assert str(again.outputs[0].dtype) == "float32"


# ------------------------------------------------------------------- CLI


def test_kmgan_train_takes_the_training_options(tmp_path):
    from tests.helpers import train_quick

    out = str(tmp_path / "run")
    options = ("--ema", "0.9", "--r1", "1", "--lecam", "0.1", "--distribute")
    if keras.backend.backend() == "torch":
        with pytest.raises(SystemExit, match="--distribute needs the tensorflow or jax"):
            train_quick(out, "gan", "ring", *options)
        options = options[:-1]
    try:
        train_quick(out, "gan", "ring", *options)
    finally:
        if keras.backend.backend() == "jax":
            keras.distribution.set_distribution(None)
    config = kmgan.saving.load_model(f"{out}/game.keras").get_config()
    assert (config["ema_decay"], config["r1_weight"], config["lecam_weight"]) == (0.9, 1.0, 0.1)
    sampler = kmgan.saving.load_model(f"{out}/generator_ema.keras")
    assert sampler.outputs[0].shape[-1] == 2
    # Accumulation: through the CLI, and refused under a tf.distribute strategy.
    train_quick(str(tmp_path / "acc"), "gan", "ring", "--accumulation-steps", "2")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
            with pytest.raises(ValueError, match="tf.distribute"):
                tiny("gan").compile(accumulation_steps=2)


def test_evaluate_every_can_score_the_average():
    game = tiny("gan", ema_decay=0.5)
    game.compile(sgd(0.2), sgd(0.2))
    seen = []

    def first_weight(model):
        seen.append((value(model.generator.trainable_weights[0]), value(model.ema_weights[0])))
        return 0.0

    evaluate = kmgan.callbacks.EvaluateEvery({"w": first_weight}, use_ema=True)
    game.fit(points(), batch_size=8, epochs=2, verbose=0, callbacks=[evaluate])
    for weight, average in seen:  # the metric saw the average in place
        np.testing.assert_array_equal(weight, average)
    live = value(game.generator.trainable_weights[0])
    assert not np.allclose(live, seen[-1][1])  # and the training weights came back


@pytest.mark.parametrize("augment_classifier", [False, True])
def test_mgan_classifier_judges_the_fakes_as_they_are_by_default(augment_classifier):
    game = tiny_images("mgan", augment="translation", augment_classifier=augment_classifier)
    x = digits(4)[0]
    d_fake, c_fake = (value(t) for t in game.judge_fakes(x))
    plain_d, plain_c = (value(t) for t in game.discriminator(x, training=True))
    assert not np.allclose(d_fake, plain_d)  # D's head: augmented fakes
    assert np.allclose(c_fake, plain_c, atol=1e-6) != augment_classifier
    assert game.get_config()["augment_classifier"] is augment_classifier
    # Without augmentation both heads read one pass.
    plain = tiny_images("mgan")
    for got, want in zip(plain.judge_fakes(x), plain.discriminator(x, training=True)):
        np.testing.assert_allclose(value(got), value(want), atol=1e-6)
