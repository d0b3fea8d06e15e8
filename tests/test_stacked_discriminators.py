"""Stacked discriminators (kmgan.nets.stacked) and GMAN with one stacked model.

A stacked model holds N independent discriminators of one architecture; it
must compute exactly what the N plain models compute, and a GMAN holding it
must play exactly the game a GMAN holding the N plain models plays.
"""

import keras
import numpy as np
import pytest
from keras import ops

import kmgan
from kmgan import presets
from kmgan.nets import dcgan_discriminator
from kmgan.nets import mlp_discriminator
from kmgan.nets.stacked import StackedConv2D
from kmgan.nets.stacked import StackedDense
from kmgan.nets.stacked import num_stacked
from kmgan.nets.stacked import stack_discriminators
from kmgan.nets.stacked import stacked_dcgan_discriminator
from kmgan.nets.stacked import stacked_mlp_discriminator
from kmgan.nets.stacked import unstack_discriminator

SHAPE = (28, 28, 1)
BF = 4
IMPLEMENTATIONS = ("grouped", "im2col", "split")


def value(x):
    return np.asarray(ops.convert_to_numpy(x))


def images(n, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).uniform(-1, 1, (n,) + shape).astype("float32")


def points(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype("float32")


def copy_into(plain, stacked, i):
    """Slice i of `stacked`'s weights, copied into the plain model."""
    piece = unstack_discriminator(stacked, i)
    assert [l.name for l in piece.layers[1:]] == [l.name for l in plain.layers[1:]]
    plain.set_weights(piece.get_weights())
    return plain


# --------------------------------------------------------------------------
# The stacked networks compute the plain ones


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_stacked_dcgan_equals_plain_dcgan(implementation):
    n = 3
    stacked = stacked_dcgan_discriminator(
        n, SHAPE, base_filters=BF, implementation=implementation, seed=0
    )
    assert tuple(stacked.outputs[0].shape[1:]) == (n,)
    plains = [copy_into(dcgan_discriminator(SHAPE, base_filters=BF), stacked, i) for i in range(n)]
    x = images(6)
    # Inference (moving statistics), then training mode (batch statistics;
    # this call also moves both sides' statistics the same way).
    for training in (False, True):
        got = value(stacked(x, training=training))
        want = np.concatenate([value(p(x, training=training)) for p in plains], axis=1)
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    bn = stacked.get_layer("conv2_bn")
    for i, p in enumerate(plains):
        np.testing.assert_allclose(
            value(bn.moving_mean)[i * 2 * BF : (i + 1) * 2 * BF],
            value(p.get_layer("conv2_bn").moving_mean),
            atol=1e-6,
        )


@pytest.mark.parametrize(
    "kernel_size,strides,padding", [(3, 1, "valid"), (5, 2, "same"), (4, 3, "valid")]
)
def test_conv_implementations_agree(kernel_size, strides, padding):
    x = np.random.default_rng(0).normal(size=(2, 9, 9, 3 * 2)).astype("float32")
    outputs = []
    for implementation in IMPLEMENTATIONS:
        layer = StackedConv2D(
            3,
            4,
            kernel_size,
            strides=strides,
            padding=padding,
            implementation=implementation,
            kernel_initializer="glorot_uniform",
        )
        layer.build(x.shape)
        layer.kernel.assign(
            np.random.default_rng(1).normal(size=layer.kernel.shape).astype("float32")
        )
        layer.bias.assign(np.arange(12, dtype="float32"))
        outputs.append(value(layer(x)))
        assert outputs[-1].shape[1:] == layer.compute_output_shape(x.shape)[1:]
    # each discriminator's own plain convolution
    want = np.concatenate(
        [
            value(
                ops.conv(
                    x[..., 2 * i : 2 * i + 2],
                    value(layer.kernel)[..., 4 * i : 4 * i + 4],
                    strides=strides,
                    padding=padding,
                )
            )
            + np.arange(4 * i, 4 * i + 4)
            for i in range(3)
        ],
        axis=-1,
    )
    for got in outputs:
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-5)


def test_stacked_dcgan_other_shapes_and_dropout():
    shape = (32, 32, 3)
    stacked = stacked_dcgan_discriminator(
        2,
        shape,
        base_filters=BF,
        depth=2,
        kernel_size=3,
        dropout=0.3,
        implementation="im2col",
        seed=1,
    )
    plain = copy_into(
        dcgan_discriminator(shape, base_filters=BF, depth=2, kernel_size=3, dropout=0.3), stacked, 1
    )
    x = images(4, shape=shape)
    np.testing.assert_allclose(value(stacked(x))[:, 1:], value(plain(x)), atol=1e-5)


def test_stacked_mlp_equals_plain_mlp():
    n = 4
    for hidden in ((8, 6), ()):
        stacked = stacked_mlp_discriminator(n, 2, hidden, seed=3)
        x = points(7)
        got = value(stacked(x, training=True))
        for i in range(n):
            plain = copy_into(mlp_discriminator(2, hidden), stacked, i)
            np.testing.assert_allclose(got[:, i : i + 1], value(plain(x)), atol=1e-6)


def test_every_slice_drawn_independently():
    stacked = stacked_dcgan_discriminator(3, SHAPE, base_filters=BF, seed=5)
    again = stacked_dcgan_discriminator(3, SHAPE, base_filters=BF, seed=5)
    for a, b in zip(stacked.weights, again.weights):
        np.testing.assert_array_equal(value(a), value(b))  # a seed reproduces the model
    f = BF
    kernel = value(stacked.get_layer("conv1").kernel)  # (4, 4, 1, 3 * f)
    dense = value(stacked.get_layer("logits").kernel)  # (3, d, 1)
    for i in range(3):
        for j in range(i):
            assert not np.allclose(
                kernel[..., i * f : (i + 1) * f], kernel[..., j * f : (j + 1) * f]
            )
            assert not np.allclose(dense[i], dense[j])
    # Each slice has one DCGAN kernel's distribution, N(0, 0.02).
    assert abs(dense.std() - 0.02) < 0.004
    mlp = stacked_mlp_discriminator(3, 2, (64,), seed=0)
    k = value(mlp.get_layer("dense1").kernel)  # Glorot over one (2, 64) kernel each
    limit = np.sqrt(6 / (2 + 64))
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit
    assert not np.allclose(k[0], k[1])


def test_stack_and_unstack_round_trip():
    plains = [dcgan_discriminator(SHAPE, base_filters=BF, seed=10 * i) for i in range(3)]
    stacked = stack_discriminators(plains)
    x = images(5)
    want = np.concatenate([value(p(x)) for p in plains], axis=1)
    np.testing.assert_allclose(value(stacked(x)), want, atol=1e-5)
    for i, p in enumerate(plains):
        back = unstack_discriminator(stacked, i)
        for a, b in zip(back.get_weights(), p.get_weights()):
            np.testing.assert_array_equal(a, b)
    mlps = [mlp_discriminator(2, (5,), seed=i) for i in range(2)]
    np.testing.assert_allclose(
        value(stack_discriminators(mlps)(points(3))),
        np.concatenate([value(m(points(3))) for m in mlps], axis=1),
        atol=1e-6,
    )


def test_stacked_model_saves_and_reloads(tmp_path):
    stacked = stacked_dcgan_discriminator(2, SHAPE, base_filters=BF, seed=0)
    path = str(tmp_path / "d.keras")
    stacked.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = images(3)
    np.testing.assert_allclose(value(loaded(x)), value(stacked(x)), atol=1e-6)
    assert isinstance(loaded.get_layer("conv2"), StackedConv2D)
    assert isinstance(loaded.get_layer("logits"), StackedDense)
    for a, b in zip(
        unstack_discriminator(loaded, 1).get_weights(),
        unstack_discriminator(stacked, 1).get_weights(),
    ):
        np.testing.assert_array_equal(a, b)


def test_stacked_errors():
    with pytest.raises(ValueError, match="index must be in"):
        unstack_discriminator(stacked_mlp_discriminator(2, 2, (4,)), 2)
    with pytest.raises(ValueError, match="differ in architecture"):
        stack_discriminators([mlp_discriminator(2, (4,)), mlp_discriminator(2, (5,))])
    with pytest.raises(ValueError, match="implementation"):
        StackedConv2D(2, 4, 3, implementation="fast")
    with pytest.raises(ValueError, match="no stacked counterpart"):
        stack_discriminators([kmgan.nets.conv_fc_discriminator(SHAPE, base_filters=BF)])
    bad = keras.Model(
        inp := keras.Input((2,)), keras.layers.Reshape((2, 1))(keras.layers.Dense(2)(inp))
    )
    with pytest.raises(ValueError, match=r"shape \(batch, N\)"):
        num_stacked(bad)


@pytest.mark.parametrize("name", kmgan.losses.LOSSES)
def test_losses_per_column(name):
    loss = kmgan.losses.get(name, 0.1 if name in ("minimax", "least_squares") else 0.0)
    rng = np.random.default_rng(0)
    real, fake = (
        rng.normal(size=(6, 3)).astype("float32"),
        rng.normal(size=(6, 3)).astype("float32"),
    )
    d = value(loss.discriminator(real, fake, axis=0))
    g = value(loss.generator(fake, axis=0))
    assert d.shape == g.shape == (3,)
    for i in range(3):
        np.testing.assert_allclose(
            d[i], value(loss.discriminator(real[:, i : i + 1], fake[:, i : i + 1])), rtol=1e-6
        )
        np.testing.assert_allclose(g[i], value(loss.generator(fake[:, i])), rtol=1e-6)


# --------------------------------------------------------------------------
# GMAN with one stacked model plays the game of GMAN with N models


def _generator(data):
    if data == "images":
        # A small dense generator: the tests are about the discriminators,
        # and a DCGAN generator would triple their XLA compile time.
        z = keras.Input((8,), name="z")
        x = keras.layers.Dense(
            int(np.prod(SHAPE)),
            activation="tanh",
            kernel_initializer=keras.initializers.GlorotUniform(seed=0),
        )(z)
        return keras.Model(z, keras.layers.Reshape(SHAPE)(x), name="generator")
    return kmgan.nets.mlp_generator(4, 2, (8,), seed=0)


def _stacked(data, n, implementation="auto"):
    if data == "images":
        return stacked_dcgan_discriminator(
            n, SHAPE, base_filters=BF, seed=1, implementation=implementation
        )
    return stacked_mlp_discriminator(n, 2, (8,), seed=1)


def _adam():
    # epsilon 1e-3: Adam's first steps are about lr * sign(gradient), so an
    # entry whose gradient is float noise (~1e-9) would move by up to lr on
    # either side; a larger epsilon keeps the comparison about the game,
    # not about rounding.
    return keras.optimizers.Adam(1e-3, beta_1=0.5, epsilon=1e-3)


def _play(data, form, n=3, steps=2, jit_compile=False, implementation="auto", **game_kwargs):
    keras.utils.set_random_seed(0)
    if game_kwargs.pop("evaluator", False):
        from tests.test_scoregan import tiny_evaluator

        game_kwargs["evaluator"] = tiny_evaluator(channels=SHAPE[-1])
    g = _generator(data)
    stacked = _stacked(data, n, implementation)
    ds = stacked if form == "stacked" else [unstack_discriminator(stacked, i) for i in range(n)]
    game = kmgan.GMAN(g, ds, seed=7, **game_kwargs)
    game.compile(_adam(), _adam(), jit_compile=jit_compile)
    x = images(8 * steps) if data == "images" else points(8 * steps)
    history = game.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    d_weights = [game.get_discriminator(i).get_weights() for i in range(n)]
    return game, history.history, d_weights, g.get_weights()


# Each backend's fast path: XLA on JAX (without jit Keras' JAX trainer runs
# op by op), a tf.function graph on TensorFlow (XLA compilation costs ~10 s
# a game on a small CPU).
FAST = keras.backend.backend() == "jax"


# Every grouped-convolution implementation, every aggregator, label
# smoothing, d_steps, another loss and an evaluator player; jit_compile on and off on both
# backends for the default CPU implementation (im2col) and for the grouped
# convolution, which TensorFlow's CPU graph runs through Keras' XLA fallback.
@pytest.mark.parametrize(
    "data,jit_compile,kwargs",
    [
        ("images", True, dict(implementation="im2col", aggregator="auto", label_smoothing=0.1)),
        ("images", False, dict(implementation="grouped", aggregator="max")),
        ("images", FAST, dict(implementation="im2col", aggregator="mean")),
        ("images", FAST, dict(implementation="grouped", aggregator="soft", lam=2.0)),
        ("images", FAST, dict(implementation="split", aggregator="mean", d_steps=2)),
        (
            "images",
            FAST,
            dict(implementation="im2col", aggregator="mean", evaluator=True, score_weight=0.3),
        ),
        ("points", FAST, dict(aggregator="max", d_steps=2)),
        ("points", FAST, dict(aggregator="soft", lam=2.0, loss="least_squares")),
    ],
)
def test_stacked_gman_plays_the_list_gman_game(data, jit_compile, kwargs):
    n = 3
    steps = 2 if jit_compile else 1
    game_s, logs_s, d_s, g_s = _play(data, "stacked", n, steps, jit_compile, **kwargs)
    game_l, logs_l, d_l, g_l = _play(data, "list", n, steps, jit_compile, **kwargs)
    assert game_s.stacked and not game_l.stacked
    assert game_s.num_discriminators == game_l.num_discriminators == n
    assert set(logs_s) == set(logs_l) >= {"d_loss", "g_loss"} | {f"d_loss_{i}" for i in range(n)}
    if "evaluator" in kwargs:
        assert "score" in logs_s
    for key in logs_l:
        np.testing.assert_allclose(logs_s[key], logs_l[key], rtol=1e-5, atol=1e-5, err_msg=key)
    for i in range(n):
        for a, b in zip(d_s[i], d_l[i]):  # BN statistics included
            np.testing.assert_allclose(a, b, atol=1e-5)
    for a, b in zip(g_s, g_l):
        np.testing.assert_allclose(a, b, atol=1e-5)
    x = images(5, seed=3) if data == "images" else points(5, seed=3)
    np.testing.assert_allclose(game_s.discriminate(x), game_l.discriminate(x), atol=1e-5)


def test_stacked_gman_trains_every_slice():
    n = 3
    keras.utils.set_random_seed(0)
    d = stacked_dcgan_discriminator(n, SHAPE, base_filters=BF, seed=1)
    game = kmgan.GMAN(_generator("images"), d, seed=0)
    game.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    assert game.optimizer.player_names == ["discriminator", "generator"]
    before = [unstack_discriminator(d, i).get_weights() for i in range(n)]
    game.fit(images(24), batch_size=8, epochs=1, verbose=0)
    assert int(value(game.optimizer["discriminator"].iterations)) == 3
    for i in range(n):
        after = unstack_discriminator(d, i).get_weights()
        for w0, w1 in zip(before[i], after):  # kernels, biases, BN parameters and statistics
            assert not np.allclose(w0, w1), f"a weight of discriminator {i} did not move"


def test_stacked_gman_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    game = kmgan.GMAN(
        _generator("images"), _stacked("images", 2), aggregator="auto", lam=0.5, d_steps=2, seed=3
    )
    path = str(tmp_path / "gman.keras")
    game.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, kmgan.GMAN) and loaded.stacked and loaded.num_discriminators == 2
    assert loaded.get_config()["aggregator"] == "auto" and loaded.d_steps == 2
    x = images(4, seed=1)
    np.testing.assert_allclose(loaded.discriminate(x), game.discriminate(x), atol=1e-6)
    np.testing.assert_allclose(
        value(loaded.current_lambda()), value(game.current_lambda()), atol=1e-7
    )
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    np.testing.assert_allclose(loaded.generate(z), game.generate(z), atol=1e-6)
    loaded.compile(_adam(), _adam(), jit_compile=FAST)  # and it trains on
    logs = loaded.fit(images(8), batch_size=8, epochs=1, verbose=0).history
    assert {"d_loss_0", "d_loss_1", "lambda"} <= set(logs)


def test_gman_rejects_models_without_n_logits():
    g = _generator("points")
    inp = keras.Input((2,))
    two_outputs = keras.Model(inp, [keras.layers.Dense(2)(inp), keras.layers.Dense(1)(inp)])
    with pytest.raises(ValueError, match="one output"):
        kmgan.GMAN(g, two_outputs)
    column = keras.Model(inp, keras.layers.Reshape((3, 1))(keras.layers.Dense(3)(inp)))
    with pytest.raises(ValueError, match=r"shape \(batch, N\)"):
        kmgan.GMAN(g, column)
    wrong_input = stacked_mlp_discriminator(2, input_dim=3)
    with pytest.raises(ValueError, match="generator produces"):
        kmgan.GMAN(g, wrong_input)
    with pytest.raises(ValueError, match="one logit"):  # a list still takes (1,)-logit models
        kmgan.GMAN(g, [stacked_mlp_discriminator(2)])
    with pytest.raises(TypeError, match="discriminators must be"):
        kmgan.GMAN(g, "discriminator")


def test_presets_build_stacked_gman():
    game = presets.build_game(
        "dcgman", SHAPE, latent_dim=8, num_discriminators=3, base_filters=BF, stacked=True
    )
    assert game.stacked and game.num_discriminators == 3
    toy = presets.build_game(
        "gman", (2,), latent_dim=4, num_discriminators=2, hidden_units=(8,), stacked=True
    )
    assert toy.stacked and toy.num_discriminators == 2
    with pytest.raises(ValueError, match="dcgman"):
        presets.build_game("gman", SHAPE, stacked=True)
    with pytest.raises(ValueError, match="varied"):
        presets.build_game("dcgman", SHAPE, varied=True, stacked=True)
