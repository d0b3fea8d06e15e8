"""Spectral norm, conditional batch norm, hinge loss and gradient penalty
against hand-computed values; the SNGAN builders (Table 1) and their saving."""

import inspect

import keras
import numpy as np
import pytest
from keras import layers
from keras import ops

from kmgan import losses
from kmgan.games.controlgan import gradient_penalty
from kmgan.nets import sngan
from kmgan.nets.sngan import ConditionalBatchNormalization
from kmgan.nets.sngan import SpectralConv2D
from kmgan.nets.sngan import SpectralDense


def value(x):
    return np.asarray(ops.convert_to_numpy(x))


def np_normalize(a):
    return a / np.sqrt(np.sum(a**2))


def np_power_iteration(w2d, u):
    v = np_normalize(u @ w2d.T)
    u_new = np_normalize(v @ w2d)
    return float((v @ w2d @ u_new.T).item()), u_new


# ------------------------------------------------------------ spectral norm


def test_spectral_dense_matches_one_power_iteration(rng):
    w = rng.normal(size=(5, 3)).astype("float32")
    b = rng.normal(size=(3,)).astype("float32")
    u0 = rng.normal(size=(1, 3)).astype("float32")
    x = rng.normal(size=(4, 5)).astype("float32")
    layer = SpectralDense(3)
    layer.build((None, 5))
    layer.kernel.assign(w)
    layer.bias.assign(b)
    layer.sn_u.assign(u0)

    sigma, u1 = np_power_iteration(w, u0)
    out = value(layer(x, training=True))
    np.testing.assert_allclose(out, x @ (w / sigma) + b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(value(layer.sn_u), u1, rtol=1e-4, atol=1e-6)
    # The trainable kernel itself is never rewritten.
    np.testing.assert_array_equal(value(layer.kernel), w)

    # Inference: one iteration from the stored u, which stays put.
    stored = value(layer.sn_u)
    sigma2, _ = np_power_iteration(w, stored)
    out = value(layer(x, training=False))
    np.testing.assert_allclose(out, x @ (w / sigma2) + b, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(value(layer.sn_u), stored)


def test_spectral_norm_converges_to_largest_singular_value(rng):
    w = rng.normal(size=(6, 4)).astype("float32")
    layer = SpectralDense(4, use_bias=False)
    layer.build((None, 6))
    layer.kernel.assign(w)
    for _ in range(60):
        layer(np.zeros((1, 6), "float32"), training=True)
    top = np.linalg.svd(w, compute_uv=False)[0]
    np.testing.assert_allclose(value(layer.spectral_norm(layer.kernel)), top, rtol=1e-4)
    normalized = value(layer.normalized_kernel())
    np.testing.assert_allclose(np.linalg.svd(normalized, compute_uv=False)[0], 1.0, rtol=1e-4)


def test_spectral_conv_equals_conv_with_normalized_kernel(rng):
    x = rng.normal(size=(2, 6, 6, 2)).astype("float32")
    layer = SpectralConv2D(3, 3, padding="same")
    layer.build((None, 6, 6, 2))
    w = rng.normal(size=(3, 3, 2, 3)).astype("float32")
    u0 = rng.normal(size=(1, 3)).astype("float32")
    layer.kernel.assign(w)
    layer.sn_u.assign(u0)
    sigma, _ = np_power_iteration(w.reshape(-1, 3), u0)

    plain = layers.Conv2D(3, 3, padding="same")
    plain.build((None, 6, 6, 2))
    plain.kernel.assign(w / sigma)
    plain.bias.assign(value(layer.bias))
    np.testing.assert_allclose(
        value(layer(x, training=True)), value(plain(x)), rtol=1e-4, atol=1e-5
    )


# ---------------------------------------------------- conditional batch norm


def test_conditional_batch_norm_hand_computed(rng):
    x = rng.normal(1.0, 2.0, size=(6, 3, 3, 4)).astype("float32")
    y = np.array([0, 1, 2, 1, 0, 2], "int32")
    layer = ConditionalBatchNormalization(3, momentum=0.9, epsilon=1e-5)
    layer.build([(None, 3, 3, 4), (None,)])
    gamma = rng.normal(size=(3, 4)).astype("float32")
    beta = rng.normal(size=(3, 4)).astype("float32")
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)

    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    expected = (x - mean) / np.sqrt(var + 1e-5) * gamma[y][:, None, None] + beta[y][:, None, None]
    np.testing.assert_allclose(value(layer([x, y], training=True)), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(value(layer.moving_mean), 0.1 * mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(value(layer.moving_variance), 0.9 + 0.1 * var, rtol=1e-4)

    mm, mv = value(layer.moving_mean), value(layer.moving_variance)
    expected = (x - mm) / np.sqrt(mv + 1e-5) * gamma[y][:, None, None] + beta[y][:, None, None]
    np.testing.assert_allclose(value(layer([x, y], training=False)), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(value(layer.moving_mean), mm)  # inference leaves them


# ------------------------------------------------------- losses and penalty


def test_hinge_loss_hand_computed():
    real = np.array([2.0, -1.0, 0.5], "float32")
    fake = np.array([-2.0, 0.3, 1.5], "float32")
    hinge = losses.get("hinge")
    # mean(relu(1 - r)) = (0 + 2 + 0.5) / 3, mean(relu(1 + f)) = (0 + 1.3 + 2.5) / 3
    np.testing.assert_allclose(value(hinge.discriminator(real, fake)), 6.3 / 3, rtol=1e-5)
    np.testing.assert_allclose(value(hinge.generator(fake)), 0.2 / 3, rtol=1e-5)


def linear_critic(w, b=0.3):
    x = inp = keras.Input((len(w),))
    dense = layers.Dense(1)
    out = dense(x)
    dense.kernel.assign(np.asarray(w, "float32")[:, None])
    dense.bias.assign([b])
    return keras.Model(inp, out)


@pytest.mark.parametrize("penalty", [gradient_penalty, losses.gradient_penalty])
def test_gradient_penalty_of_a_linear_critic(penalty, rng):
    w = np.array([0.6, -1.2, 2.0, 0.1], "float32")
    real = rng.normal(size=(5, 4)).astype("float32")
    fake = rng.normal(size=(5, 4)).astype("float32")
    got = penalty(linear_critic(w), real, fake, keras.random.SeedGenerator(0))
    # grad_x D = w everywhere, whatever the interpolation.
    np.testing.assert_allclose(value(got), (np.linalg.norm(w) - 1.0) ** 2, rtol=1e-5)


def test_gradient_penalty_of_a_quadratic_critic(rng):
    # D(x) = |x|^2 / 2, so grad_x D(x_hat) = x_hat.
    x = inp = keras.Input((3,))
    critic = keras.Model(inp, layers.Lambda(lambda t: 0.5 * ops.sum(t * t, axis=-1))(x))
    real = rng.normal(size=(6, 3)).astype("float32")
    fake = rng.normal(size=(6, 3)).astype("float32")
    got = value(gradient_penalty(critic, real, fake, keras.random.SeedGenerator(7)))
    eps = value(keras.random.uniform((6, 1), seed=keras.random.SeedGenerator(7)))
    x_hat = real + eps * (fake - real)
    expected = np.mean((np.linalg.norm(x_hat, axis=1) - 1.0) ** 2)
    np.testing.assert_allclose(got, expected, rtol=1e-4)


# -------------------------------------------------------------- builders


def count(model, cls):
    return sum(isinstance(layer, cls) for layer in model.layers)


def defaults(fn):
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()}


def test_table1_networks():
    # Table 1's sizes are the builders' defaults; the structure is checked on
    # narrow copies (building 256-wide networks is slow on eager JAX).
    assert defaults(sngan.sngan_generator)["latent_dim"] == 128
    assert defaults(sngan.sngan_generator)["width"] == 256
    assert defaults(sngan.sngan_discriminator)["width"] == 256
    assert defaults(sngan.sngan_classifier)["widths"] == (32, 64, 128, 128)
    assert defaults(sngan.sngan_classifier)["blocks_per_stage"] == 3
    g = sngan.sngan_generator(num_classes=10, latent_dim=16, width=8)
    d = sngan.sngan_discriminator(width=8)
    c = sngan.sngan_classifier(num_classes=10, widths=(4, 4, 4, 4))
    assert [tuple(t.shape) for t in g.inputs] == [(None, 16), (None,)]
    assert tuple(g.outputs[0].shape) == (None, 32, 32, 3)
    assert tuple(d.outputs[0].shape) == (None, 1)
    assert tuple(c.outputs[0].shape) == (None, 10)
    # G: Dense(4x4xwidth), 3 up blocks (2 cBN each) + the output cBN.
    assert g.get_layer("project").units == 4 * 4 * 8
    assert count(g, ConditionalBatchNormalization) == 7
    assert count(g, layers.UpSampling2D) == 2 * 3
    # D: 4 blocks (2 downsampling); every conv and the output dense spectrally normalized.
    assert count(d, SpectralConv2D) == 4 * 2 + 2 and count(d, SpectralDense) == 1
    assert count(d, layers.Conv2D) == count(d, SpectralConv2D)
    assert count(d, layers.AveragePooling2D) == 2 * 2
    # C: 15 ResBlocks (3 per stage + 3 downsampling) with layer norm; 32 -> 4.
    convs = [layer for layer in c.layers if isinstance(layer, layers.Conv2D)]
    assert sum("shortcut" not in layer.name for layer in convs) == 2 * 15
    assert count(c, layers.GroupNormalization) == 2 * 14 + 1
    assert tuple(c.get_layer("out_ln").output.shape) == (None, 4, 4, 4)
    assert c.get_layer("logits").kernel.shape == (4, 10)


def test_sngan_players_save_and_reload_with_safe_mode(tmp_path, rng):
    g = sngan.sngan_generator(
        num_classes=3, latent_dim=4, image_shape=(8, 8, 3), width=4, num_blocks=1, seed=1
    )
    d = sngan.sngan_discriminator(image_shape=(8, 8, 3), width=4, seed=2)
    z = rng.normal(size=(4, 4)).astype("float32")
    y = np.array([0, 1, 2, 1], "int32")
    images = value(g([z, y], training=True))  # also moves the cBN statistics
    d(images, training=True)  # and the power-iteration vectors
    for model, inputs in ((g, [z, y]), (d, images)):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        again = keras.saving.load_model(path, safe_mode=True)
        # A conditional generator reloads and takes labels.
        np.testing.assert_allclose(
            again.predict(inputs, verbose=0),
            model.predict(inputs, verbose=0),
            rtol=1e-5,
            atol=1e-5,
        )
