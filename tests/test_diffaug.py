"""DiffAugment and ADA transforms: identities, hand-checked values, gradients, jit."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from kmgan import diffaug
from kmgan.engine.backend_step import input_gradient

POLICY_STRINGS = ["color", "translation", "cutout", "color,translation,cutout", ""]


def to_np(x):
    return ops.convert_to_numpy(x)


def images(shape=(4, 8, 8, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def distinct_images(batch=8, h=8, w=8, c=1):
    """Images whose pixels are distinct and non-zero, so zeros mark padding."""
    one = (np.arange(h * w * c, dtype="float32") + 1) / (h * w * c + 1)
    return np.broadcast_to(one.reshape(1, h, w, c), (batch, h, w, c)).copy()


def shifted(img, dy, dx):
    """out[i, j] = img[i + dy, j + dx], zero outside (the module's convention)."""
    h, w = img.shape[:2]
    out = np.zeros_like(img)
    for i, j in itertools.product(range(h), range(w)):
        if 0 <= i + dy < h and 0 <= j + dx < w:
            out[i, j] = img[i + dy, j + dx]
    return out


# --- identity, shape, dtype -----------------------------------------------------------


@pytest.mark.parametrize("policy", POLICY_STRINGS)
def test_probability_zero_is_bit_exact_identity(policy):
    x = images((4, 8, 8, 3))
    for p in (0.0, ops.convert_to_tensor(0.0)):
        out = to_np(diffaug.diff_augment(x, 1, policy=policy, probability=p))
        np.testing.assert_array_equal(out, x)


def test_ada_probability_zero_is_bit_exact_identity():
    x = images((4, 8, 8, 3))
    np.testing.assert_array_equal(to_np(diffaug.ada_augment(x, 1, 0.0)), x)
    np.testing.assert_array_equal(to_np(diffaug.ada_augment(x[:, :, :6], 1, 0.0)), x[:, :, :6])


@pytest.mark.parametrize("shape", [(4, 8, 8, 1), (4, 8, 6, 3)])
def test_shape_dtype_finite_and_changed(shape):
    x = images(shape)
    outs = [diffaug.diff_augment(x, keras.random.SeedGenerator(2))]
    outs.append(diffaug.ada_augment(x, 3, 1.0))
    for out in outs:
        assert tuple(out.shape) == shape
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        out = to_np(out)
        assert np.all(np.isfinite(out))
        assert not np.allclose(out, x)


# --- seeds ----------------------------------------------------------------------------


def test_seeds_int_tensor_and_generator():
    x = images()
    a = to_np(diffaug.diff_augment(x, 5))
    np.testing.assert_array_equal(a, to_np(diffaug.diff_augment(x, 5)))
    assert not np.array_equal(a, to_np(diffaug.diff_augment(x, 6)))
    t = ops.array([1, 2], "uint32")
    np.testing.assert_array_equal(
        to_np(diffaug.diff_augment(x, t)), to_np(diffaug.diff_augment(x, t))
    )
    gen = keras.random.SeedGenerator(7)
    assert not np.array_equal(
        to_np(diffaug.diff_augment(x, gen)), to_np(diffaug.diff_augment(x, gen))
    )


def test_bad_arguments_raise():
    x = images()
    with pytest.raises(ValueError, match="known policies: color, translation, cutout"):
        diffaug.diff_augment(x, 0, policy="color,zoom")
    with pytest.raises(ValueError, match="shape"):
        diffaug.rand_brightness(x, ops.array([1, 2, 3], "uint32"))
    with pytest.raises(ValueError, match="probability"):
        diffaug.rand_cutout(x, 0, probability=1.5)
    with pytest.raises(TypeError):
        diffaug.rand_cutout(x, True)


# --- hand checks ----------------------------------------------------------------------


def test_translation_is_an_integer_shift_with_zero_fill():
    x = distinct_images(batch=8, c=2)
    ratio = 0.25  # shifts in [-2, 2]
    out = to_np(diffaug.rand_translation(x, 4, ratio=ratio))
    found = []
    for img, res in zip(x, out):
        shifts = [
            (dy, dx)
            for dy, dx in itertools.product(range(-2, 3), repeat=2)
            if np.array_equal(shifted(img, dy, dx), res)
        ]
        assert shifts, "no shift within range reproduces the output"
        found.append(shifts[0])
    assert any(s != (0, 0) for s in found)


@pytest.mark.parametrize("ratio,side", [(0.5, 4), (0.375, 3)])
def test_cutout_zeroes_one_clipped_square(ratio, side):
    x = distinct_images(batch=16, c=2)
    out = to_np(diffaug.rand_cutout(x, 3, ratio=ratio))
    full = 0
    for img, res in zip(x, out):
        zero = res == 0
        np.testing.assert_array_equal(zero[..., 0], zero[..., 1])  # same mask on all channels
        np.testing.assert_array_equal(res[~zero], img[~zero])
        rows, cols = np.nonzero(zero[..., 0])
        assert rows.size > 0
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        assert zero[r0:r1, c0:c1].all() and zero.sum() == (r1 - r0) * (c1 - c0) * 2
        for lo, hi in ((r0, r1), (c0, c1)):
            assert hi - lo == side or (hi - lo < side and (lo == 0 or hi == 8))
        full += (r1 - r0) * (c1 - c0) == side * side
    assert full > 0


def test_brightness_adds_one_offset_per_image():
    x = images((64, 2, 2, 3))
    diff = to_np(diffaug.rand_brightness(x, 1)) - x
    offset = diff[:, :1, :1, :1]
    np.testing.assert_allclose(diff, np.broadcast_to(offset, diff.shape), atol=1e-6)
    assert np.all(np.abs(offset) <= 0.5) and np.ptp(offset) > 0.5
    assert abs(offset.mean()) < 0.15  # uniform in [-0.5, 0.5): mean 0, std 0.29 / 8


def test_contrast_keeps_the_mean_and_scales_around_it():
    x = images((8, 4, 4, 3))
    out = to_np(diffaug.rand_contrast(x, 2))
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3), keepdims=True), mean, atol=1e-5)
    factor = ((out - mean) * (x - mean)).sum(axis=(1, 2, 3)) / ((x - mean) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(out, (x - mean) * factor[:, None, None, None] + mean, atol=1e-5)
    assert np.all((factor >= 0.5 - 1e-5) & (factor < 1.5 + 1e-5)) and np.ptp(factor) > 0


def test_saturation_keeps_the_grey_level_and_is_identity_on_grey():
    x = images((8, 4, 4, 3))
    out = to_np(diffaug.rand_saturation(x, 3))
    grey = x.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(out.mean(axis=-1, keepdims=True), grey, atol=1e-5)
    factor = ((out - grey) * (x - grey)).sum(axis=(1, 2, 3)) / ((x - grey) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(out, (x - grey) * factor[:, None, None, None] + grey, atol=1e-5)
    assert np.all((factor >= -1e-5) & (factor < 2 + 1e-5)) and np.ptp(factor) > 0
    np.testing.assert_array_equal(to_np(diffaug.rand_saturation(x[..., :1], 3)), x[..., :1])


def test_probability_selects_whole_images():
    x = images((32, 2, 2, 1))
    out = to_np(diffaug.rand_brightness(x, 4, probability=0.5))
    same = np.all(out == x, axis=(1, 2, 3))
    assert 0 < same.sum() < 32


def test_rotate90_matches_numpy():
    x = images((4, 5, 5, 2))
    out = to_np(diffaug._rotate90(x, ops.array([0, 1, 2, 3], "int32")))
    for k in range(4):
        np.testing.assert_array_equal(out[k], np.rot90(x[k], k, axes=(0, 1)))


# --- gradients and jit ----------------------------------------------------------------


@pytest.mark.parametrize("augment", ["diff", "ada"])
def test_gradient_flows_to_the_images(augment):
    x = images((4, 8, 8, 3))
    w = ops.convert_to_tensor(images((4, 8, 8, 3), seed=1))

    def fn(v):
        y = diffaug.diff_augment(v, 3) if augment == "diff" else diffaug.ada_augment(v, 3, 1.0)
        return ops.sum(y * w)

    grad = to_np(input_gradient(fn, ops.convert_to_tensor(x)))
    assert grad.shape == x.shape and np.all(np.isfinite(grad)) and np.any(grad != 0)


def both(x, seed, p):
    return diffaug.diff_augment(x, seed, probability=p), diffaug.ada_augment(x, seed, p)


def test_jit_with_seed_tensor():
    x = images((4, 8, 8, 3))
    seed = ops.array([1, 2], "uint32")
    p = ops.convert_to_tensor(0.8)
    if keras.backend.backend() == "jax":
        import jax

        jitted, reference = jax.jit(both), both
    elif keras.backend.backend() == "torch":
        import torch

        jitted, reference = torch.compile(both), both
    else:
        import tensorflow as tf

        # XLA draws TF's stateless random numbers with another algorithm than
        # TF's own kernels, so only the uncompiled graph matches eager.
        jitted, reference = tf.function(both, jit_compile=True), tf.function(both)
        for got, want in zip(reference(x, seed, p), both(x, seed, p)):
            np.testing.assert_array_equal(to_np(got), to_np(want))
    out = jitted(x, seed, p)
    for got, again, want in zip(out, jitted(x, seed, p), reference(x, seed, p)):
        assert got.shape == x.shape and np.all(np.isfinite(to_np(got)))
        np.testing.assert_array_equal(to_np(got), to_np(again))
        if keras.backend.backend() in ("jax", "torch"):
            np.testing.assert_allclose(to_np(got), to_np(want), atol=1e-5)
    other = jitted(x, ops.array([1, 3], "uint32"), p)
    for got, changed in zip(out, other):
        assert not np.allclose(to_np(got), to_np(changed))


def test_jit_with_seed_generator():
    x = ops.convert_to_tensor(images((4, 8, 8, 3)))
    gen = keras.random.SeedGenerator(11)
    if keras.backend.backend() == "jax":
        import jax

        @jax.jit
        def step(x, state):
            with keras.StatelessScope(state_mapping=[(gen.state, state)]) as scope:
                out = both(x, gen, 1.0)
                return out, scope.get_current_value(gen.state)

        first, state = step(x, gen.state.value)
        second, _ = step(x, state)
    elif keras.backend.backend() == "torch":
        import torch

        step = torch.compile(lambda x: both(x, gen, 1.0))
        first, second = step(x), step(x)
    else:
        import tensorflow as tf

        step = tf.function(lambda x: both(x, gen, 1.0), jit_compile=True)
        first, second = step(x), step(x)
    for a, b in zip(first, second):
        assert np.all(np.isfinite(to_np(a)))
        assert not np.allclose(to_np(a), to_np(b))  # the generator advanced


# --- ADA feedback ---------------------------------------------------------------------


def test_ada_statistic():
    for logits, want in (([-1.0, 2.0, 3.0, -4.0], 0.0), ([1.0, 2.0, 3.0, -4.0], 0.5)):
        r_t = diffaug.ada_statistic(ops.convert_to_tensor(logits))
        assert keras.backend.standardize_dtype(r_t.dtype) == "float32"
        assert float(to_np(r_t)) == want


def test_ada_adjust():
    def adjust(p, r_t, **kw):
        out = diffaug.ada_adjust(p, r_t, 0.6, batch_size=64, interval=4, speed_kimg=500, **kw)
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        return float(to_np(out))

    np.testing.assert_allclose(adjust(0.5, 0.9), 0.5 + 256 / 500_000, rtol=1e-6)
    np.testing.assert_allclose(adjust(0.5, 0.3), 0.5 - 256 / 500_000, rtol=1e-6)
    np.testing.assert_allclose(adjust(ops.convert_to_tensor(0.5), 0.6), 0.5, rtol=1e-6)
    assert adjust(0.0001, 0.1) == 0.0
    assert adjust(0.9999, 0.9) == 1.0
