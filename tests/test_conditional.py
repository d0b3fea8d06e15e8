"""ConditionalGAN: training moves every player, conditional sampling, saving."""

import keras
import numpy as np
import pytest
from keras import layers
from keras import ops

import kmgan
from kmgan.games.conditional import ConditionalGAN
from kmgan.nets.conditional import conditional_discriminator
from kmgan.nets.conditional import conditional_generator

NUM_CLASSES = 3
LATENT = 4
SHAPE = (8, 8, 1)


def tiny_conditional_generator(num_classes=NUM_CLASSES, latent_dim=LATENT, shape=SHAPE):
    z = keras.Input((latent_dim,), name="z")
    y = keras.Input((), dtype="int32", name="labels")
    e = layers.Embedding(num_classes, 4, name="label_embedding")(y)
    h = layers.Concatenate()([z, e])
    h = layers.Dense(16, activation="relu")(h)
    h = layers.BatchNormalization()(h)
    h = layers.Dense(int(np.prod(shape)), activation="tanh")(h)
    return keras.Model([z, y], layers.Reshape(shape)(h), name="g")


def tiny_conditional_discriminator(num_classes=NUM_CLASSES, shape=SHAPE):
    x = keras.Input(shape, name="image")
    y = keras.Input((), dtype="int32", name="labels")
    e = layers.Embedding(num_classes, 4, name="label_embedding")(y)
    h = layers.Concatenate()([layers.Flatten()(x), e])
    h = layers.Dense(16)(h)
    h = layers.LeakyReLU(0.2)(h)
    return keras.Model([x, y], layers.Dense(1)(h), name="d")


def snapshot(variables):
    return [np.array(ops.convert_to_numpy(v)) for v in variables]


def toy_data(n=32, shape=SHAPE, num_classes=NUM_CLASSES, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n,) + shape).astype("float32")
    y = (np.arange(n) % num_classes).astype("int32")
    return x, y


def test_every_optimizer_advances_under_fit():
    steps = 4
    model = ConditionalGAN(tiny_conditional_generator(), tiny_conditional_discriminator(), seed=0)
    assert model.num_classes == NUM_CLASSES  # read from the label embedding
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    x, y = toy_data(steps * 8)
    before = {p: snapshot(vs) for p, vs in model.player_variables().items()}
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

    assert int(model.optimizer.iterations.numpy()) == steps
    for player, variables in model.player_variables().items():
        inner = model.optimizer[player]
        assert int(inner.iterations.numpy()) == steps, player
        moments = [v for v in inner.variables if "momentum" in v.path]
        assert moments and all(np.abs(v.numpy()).sum() > 0 for v in moments), player
        moved = [not np.allclose(a, b) for a, b in zip(before[player], snapshot(variables))]
        assert all(moved), player
    assert np.all(np.isfinite(history.history["g_loss"]))


def test_trains_from_a_labelled_dataset():
    x, y = toy_data(16)
    dataset = kmgan.data.from_arrays(x, y, batch_size=8, shuffle=False)
    model = ConditionalGAN(
        tiny_conditional_generator(), tiny_conditional_discriminator(), fake_labels="uniform"
    )
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    model.fit(dataset, epochs=1, verbose=0)
    assert int(model.optimizer["generator"].iterations.numpy()) == 2


def test_labels_are_required_and_checked():
    model = ConditionalGAN(tiny_conditional_generator(), tiny_conditional_discriminator())
    model.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    x, y = toy_data(16)
    with pytest.raises(ValueError, match="labels"):
        model.fit(x, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model.fit(x, y + 5, batch_size=8, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0
    with pytest.raises(ValueError, match="two inputs"):
        ConditionalGAN(
            keras.Sequential([keras.Input((4,)), layers.Dense(64)]),
            tiny_conditional_discriminator(),
        )


def test_sample_z_labels():
    model = ConditionalGAN(tiny_conditional_generator(), tiny_conditional_discriminator(), seed=0)
    z = np.random.default_rng(0).normal(size=(5, LATENT)).astype("float32")
    images = model.sample(z, [0, 1, 2, 2, 1])
    assert images.shape == (5,) + SHAPE
    assert np.all(np.abs(images) <= 1.0)
    # One label for all samples; labels matter; n samples with a seed.
    all_two = model.sample(z, 2)
    np.testing.assert_allclose(all_two[2:4], images[2:4], rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.sample(z, 0), all_two)
    assert model.sample(6, labels=1, seed=3).shape == (6,) + SHAPE
    # Without labels the classes cycle (what kmgan.callbacks.SampleGrid gets).
    np.testing.assert_allclose(
        model.generate(z[:4]), model.generate(z[:4], [0, 1, 2, 0]), rtol=1e-6
    )
    np.testing.assert_allclose(model.sample(6, seed=3), model.sample(6, seed=3))
    with pytest.raises(ValueError, match="Labels must be in"):
        model.sample(z, 3)
    with pytest.raises(ValueError, match="labels for 5"):
        model.sample(z, [0, 1])
    # P(real | x), with and without labels.
    p = ops.convert_to_numpy(model.real_probability(images))
    q = ops.convert_to_numpy(model.real_probability(images, np.array([0, 1, 2, 2, 1], "int32")))
    assert p.shape == q.shape == (5,) and np.all((p >= 0) & (p <= 1))


def test_dcgan_conditional_nets_and_safe_reload(tmp_path):
    g = conditional_generator(10, latent_dim=8, image_shape=(28, 28, 1), base_filters=4, seed=0)
    d = conditional_discriminator(10, image_shape=(28, 28, 1), base_filters=4, seed=1)
    z = np.random.default_rng(1).normal(size=(4, 8)).astype("float32")
    labels = np.array([0, 3, 9, 3], "int32")
    images = ops.convert_to_numpy(g([z, labels], training=False))
    assert images.shape == (4, 28, 28, 1)
    assert ops.convert_to_numpy(d([images, labels])).shape == (4, 1)
    model = ConditionalGAN(g, d)
    assert model.num_classes == 10 and model.latent_dim == 8

    path = tmp_path / "cgan_generator.keras"
    g.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        ops.convert_to_numpy(again.predict([z, labels], verbose=0)), images, rtol=1e-5, atol=1e-5
    )
    # The reloaded generator samples inside a fresh game, conditioned on labels.
    game = ConditionalGAN(again, d)
    np.testing.assert_allclose(game.sample(z, labels), images, rtol=1e-5, atol=1e-5)


def test_whole_game_round_trip(tmp_path):
    model = ConditionalGAN(
        tiny_conditional_generator(),
        tiny_conditional_discriminator(),
        d_steps=2,
        fake_labels="uniform",
        seed=0,
    )
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    x, y = toy_data(16)
    model.fit(x, y, batch_size=8, verbose=0)
    model.save(tmp_path / "cgan.keras")
    loaded = keras.saving.load_model(tmp_path / "cgan.keras", safe_mode=True)
    assert isinstance(loaded, ConditionalGAN)
    assert (loaded.num_classes, loaded.d_steps, loaded.fake_labels) == (3, 2, "uniform")
    np.testing.assert_allclose(
        loaded.sample(6, seed=1), model.sample(6, seed=1), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(loaded.discriminate(x[:4]), model.discriminate(x[:4]), rtol=1e-5)
