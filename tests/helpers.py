"""Helpers shared by several test modules (tests import them from here, never
from one another)."""

import importlib
import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
from keras import layers
from keras import ops

import kmgan
from kmgan.engine import PlayerOptimizers
from kmgan.layers import ConditionalBatchNormalization
from kmgan.layers import SpectralConv2D
from kmgan.layers import SpectralDense


def load_recipe(name):
    """The recipe `recipes/<name>.py`, imported as the module `recipes.<name>`."""
    return importlib.import_module(f"recipes.{name}")


#: The Keras backends kmgan supports (each is also the module it needs).
BACKENDS = ("tensorflow", "jax", "torch")


def other_backends():
    """The installed backends other than the active one: a saved file is
    reloaded under each (CI runs every backend, so every pair is covered)."""
    active = keras.backend.backend()
    return [b for b in BACKENDS if b != active and importlib.util.find_spec(b) is not None]


def run_under_backend(backend, script, *args):
    """Runs a Python script under KERAS_BACKEND=`backend`.

    The script must succeed and print the backend's name last.
    """
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == backend


def train_quick(out, game, data, *options):
    """Runs `kmgan train --game <game> --data <data> --quick <options> --out
    <out>` and checks it wrote the game, the generator, the log, the
    arguments and samples. Returns `out`."""
    from kmgan import cli

    cli.main(["train", "--game", game, "--data", data, "--quick", *options, "--out", out])
    for name in ("game.keras", "generator.keras", "log.csv", "args.json"):
        assert os.path.exists(os.path.join(out, name)), name
    assert os.listdir(os.path.join(out, "samples"))
    return out


def value(x):
    """A backend tensor or variable as a NumPy array."""
    return np.asarray(ops.convert_to_numpy(x))


def snapshot(variables):
    """Copies of the variables' current values."""
    return [np.array(ops.convert_to_numpy(v)) for v in variables]


# ---------------------------------------------------------------- GAN / GMAN


def tiny_point_game(name, **overrides):
    """A registry game on 2-D points with tiny nets (K = N = 2)."""
    from kmgan.games import registry

    options = dict(latent_dim=4, hidden_units=(8,), d_hidden_units=(8,), seed=0)
    spec = registry.get(name)
    for key, value in dict(
        num_generators=2, num_discriminators=2, gate_encoding_dim=2, gate_hidden_units=(4,)
    ).items():
        if key in spec.options():
            options[key] = value
    options.update(overrides)
    return registry.build(name, (2,), **options)


def tiny_mlp(inputs, outputs, name, batch_norm=True):
    x = inp = keras.Input((inputs,))
    x = layers.Dense(16, activation="relu")(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    return keras.Model(inp, layers.Dense(outputs)(x), name=name)


def make_gman(n=3, aggregator="mean", seed=1):
    g = tiny_mlp(4, 2, "g")
    ds = [tiny_mlp(2, 1, f"d{i}") for i in range(n)]
    return kmgan.GMAN(g, ds, aggregator=aggregator, seed=seed)


# ---------------------------------------------------------------- multi-generator games

# The MGAN paper's ring (radius 2, covariance 0.02 I): a short run shows
# progress there; PacGAN's sigma-0.01 ring needs thousands of steps.
RING = dict(radius=2.0, std=float(np.sqrt(0.02)))


def independent_generators(k, latent_dim):
    """K independent small MLP generators z -> (2,), named g0 ... g{K-1}."""
    return [
        keras.Sequential(
            [keras.Input((latent_dim,)), layers.Dense(8, activation="relu"), layers.Dense(2)],
            name=f"g{i}",
        )
        for i in range(k)
    ]


def assert_every_player_advances(model, x, steps, batch_size):
    before = {p: snapshot(vs) for p, vs in model.player_variables().items()}
    model.fit(x, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    opt = model.optimizer
    assert isinstance(opt, PlayerOptimizers)
    assert int(value(opt.iterations)) == steps
    for player, variables in model.player_variables().items():
        inner = opt[player]
        assert int(value(inner.iterations)) == steps, player
        moments = [v for v in inner.variables if "momentum" in v.path]
        assert moments and all(np.abs(value(v)).sum() > 0 for v in moments), player
        changed = [not np.allclose(a, b) for a, b in zip(before[player], snapshot(variables))]
        assert variables and all(changed), f"{player}: some variables did not move"


def ring_coverage_before_after(model, steps=800, batch_size=64, lr=2e-3, seed=0):
    """Trains `model` on the MGAN ring for `steps`; modes covered before/after."""
    from kmgan import data
    from kmgan.metrics.mode_coverage import mixture_coverage

    mixture = data.get_mixture("ring", **RING)
    x, _ = mixture.sample(batch_size * steps, seed=seed)
    model.compile(keras.optimizers.Adam(lr, beta_1=0.5), keras.optimizers.Adam(lr, beta_1=0.5))
    before = mixture_coverage(model.sample(2500, seed=seed), mixture)["modes_covered"]
    model.fit(x, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    after = mixture_coverage(model.sample(2500, seed=seed), mixture)
    return before, after


# ---------------------------------------------------------------- ControlGAN / ScoreGAN

NUM_CLASSES = 3
LATENT = 4
SHAPE = (8, 8, 3)


def tiny_generator(seed=0):
    z = keras.Input((LATENT,), name="z")
    y = keras.Input((), dtype="int32", name="labels")
    init = keras.initializers.GlorotUniform(seed=seed)
    h = layers.Dense(4 * 4 * 2, kernel_initializer=init)(z)
    h = layers.Reshape((4, 4, 2))(h)
    h = ConditionalBatchNormalization(NUM_CLASSES)([h, y])
    h = layers.ReLU()(h)
    h = layers.UpSampling2D(2)(h)
    h = layers.Conv2D(
        3,
        3,
        padding="same",
        activation="tanh",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1),
    )(h)
    return keras.Model([z, y], h, name="g")


def tiny_discriminator():
    x = inp = keras.Input(SHAPE)
    x = SpectralConv2D(4, 3, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    # No output bias: while every logit lies in (-1, 1) the hinge loss does not
    # depend on it (zero gradient), which would fail the "every variable moves" check.
    return keras.Model(inp, SpectralDense(1, use_bias=False)(x), name="d")


def tiny_classifier(seed=5):
    x = inp = keras.Input(SHAPE)
    init = keras.initializers.GlorotUniform(seed=seed)
    x = layers.Conv2D(4, 3, strides=2, kernel_initializer=init)(x)
    x = layers.GroupNormalization(groups=1)(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    init = keras.initializers.GlorotUniform(seed=seed + 1)
    out = layers.Dense(NUM_CLASSES, kernel_initializer=init)(x)
    return keras.Model(inp, out, name="c")


def tiny_players(g_seed=0):
    return tiny_generator(g_seed), tiny_discriminator(), tiny_classifier()


def toy_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n,) + SHAPE).astype("float32")
    y = (np.arange(n) % NUM_CLASSES).astype("int32")
    return x, y


def adam():
    return keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9)
