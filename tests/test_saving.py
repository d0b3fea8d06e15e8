"""Generators saved under one backend reload under the other (safe_mode on)."""

import keras
import numpy as np

import kmgan
from tests.helpers import other_backends
from tests.helpers import run_under_backend

LOAD_AND_PREDICT = """
import sys
import numpy as np
import keras, kmgan
for stem in sys.argv[1:]:
    g = keras.saving.load_model(stem + ".keras", safe_mode=True)
    np.save(stem + "_other.npy", g.predict(np.load(stem + "_z.npy"), verbose=0))
print(keras.backend.backend())
"""


def trained_gan(generator):
    """A GAN around `generator`, trained one epoch so its state is not initial."""
    shape = tuple(generator.outputs[0].shape[1:])
    rng = np.random.default_rng(0)
    if len(shape) == 1:
        d = kmgan.nets.mlp_discriminator(hidden_units=(16,))
        x = rng.normal(size=(32, 2)).astype("float32")
    else:
        d = kmgan.nets.dcgan_discriminator(image_shape=shape, base_filters=8)
        x = rng.uniform(-1, 1, (32,) + shape).astype("float32")
    gan = kmgan.GAN(generator, d, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    gan.fit(x, batch_size=16, epochs=1, verbose=0)
    return gan


def test_generators_reload_under_the_other_backend(tmp_path):
    generators = {
        "dcgan28": kmgan.nets.dcgan_generator(
            latent_dim=8, image_shape=(28, 28, 1), base_filters=8
        ),
        "conv_fc32": kmgan.nets.conv_fc_generator(
            latent_dim=8, image_shape=(32, 32, 3), base_filters=8
        ),
        "mlp": kmgan.nets.mlp_generator(latent_dim=2, hidden_units=(16,)),
    }
    expected = {}
    for key, generator in generators.items():
        gan = trained_gan(generator)
        stem = str(tmp_path / key)
        gan.generator.save(stem + ".keras")
        z = np.random.default_rng(1).normal(size=(4, gan.latent_dim)).astype("float32")
        np.save(stem + "_z.npy", z)
        expected[stem] = gan.generator.predict(z, verbose=0)
        same = keras.saving.load_model(stem + ".keras", safe_mode=True)
        np.testing.assert_allclose(same.predict(z, verbose=0), expected[stem], rtol=1e-5, atol=1e-5)

    assert other_backends(), "no other Keras backend is installed"
    for backend in other_backends():
        run_under_backend(backend, LOAD_AND_PREDICT, *expected)
        for stem, want in expected.items():
            np.testing.assert_allclose(
                np.load(stem + "_other.npy"), want, rtol=1e-4, atol=1e-4, err_msg=backend
            )


def test_whole_game_round_trip(tmp_path):
    from tests.test_engine import make_gman

    game = make_gman(2, aggregator="auto")
    game.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(0.05))
    game.fit(
        np.random.default_rng(0).normal(size=(64, 2)).astype("float32"), batch_size=16, verbose=0
    )
    game.save(tmp_path / "gman.keras")
    loaded = keras.saving.load_model(tmp_path / "gman.keras", safe_mode=True)
    assert isinstance(loaded, kmgan.GMAN) and loaded.aggregator == "auto"
    x = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
    np.testing.assert_allclose(loaded.discriminate(x), game.discriminate(x), rtol=1e-5)
    np.testing.assert_allclose(
        loaded.sample(8, seed=3), game.sample(8, seed=3), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.current_lambda()),
        keras.ops.convert_to_numpy(game.current_lambda()),
        rtol=1e-6,
    )
