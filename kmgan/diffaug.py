"""Differentiable augmentation of a discriminator's inputs, for GANs on little data.

A discriminator trained on few images overfits them. Augmenting both the
real and the generated images it sees, with transforms differentiable in
the image so the generator's gradient flows through them, keeps it from
memorising the training set without the augmentations leaking into the
generated distribution. This module provides the two standard recipes:

* **DiffAugment** (Zhao et al. 2020, "Differentiable Augmentation for
  Data-Efficient GAN Training", NeurIPS; reference code ``DiffAugment_tf.py``
  of mit-han-lab/data-efficient-gans): the policies ``"color"`` (brightness,
  saturation, contrast), ``"translation"`` and ``"cutout"``
  (`diff_augment`, `rand_brightness`, `rand_saturation`, `rand_contrast`,
  `rand_color`, `rand_translation`, `rand_cutout`).
* **ADA** (Karras et al. 2020, "Training Generative Adversarial Networks
  with Limited Data", NeurIPS): a non-leaking pipeline of flips, 90-degree
  rotations, integer translations and brightness / contrast / saturation,
  each applied with a probability ``p`` (`ada_augment`) that a feedback loop
  tunes from the sign of the discriminator's logits on real images
  (`ada_statistic`, `ada_adjust`).

Every transform takes channels-last images ``(batch, H, W, C)`` in
``[-1, 1]`` with static H, W, C, a ``seed`` and a ``probability``: each
example is transformed with that probability, independently of the others
and of the other transforms, so ``probability=0`` returns the input
unchanged (bit for bit) and ``probability=1`` is the paper's DiffAugment.
All computation is in `keras.ops` / `keras.random`, so the transforms run
eagerly or inside a compiled train step (`tf.function(jit_compile=True)`,
`jax.jit`, `torch.compile`) on all three backends.

The ``seed`` is one of:

* a `keras.random.SeedGenerator`: each public call draws one seed from it
  (one state update). Under `jax.jit` that update needs a
  `keras.StatelessScope` holding the generator's state, as for any Keras
  random op on JAX;
* a Python int: a fixed seed, the same draws on every call;
* a seed tensor of shape ``(2,)`` (e.g. ``ops.array([1, 2], "uint32")`` or a
  `SeedGenerator`'s ``state.value``), which can be an argument of a
  compiled function on either backend.

An int or tensor seed gives the same draws eagerly and under `jax.jit`; on
TensorFlow, XLA (``jit_compile=True``) draws other numbers than eager or
graph mode for the same seed, as TensorFlow's stateless random ops do.

Example::

    seed = keras.random.SeedGenerator(0)
    d_real = discriminator(diff_augment(real_images, seed))
    d_fake = discriminator(diff_augment(fake_images, seed))
"""

import keras
from keras import ops

__all__ = [
    "ADA_TRANSLATION_RATIO",
    "POLICIES",
    "ada_adjust",
    "ada_augment",
    "ada_statistic",
    "diff_augment",
    "rand_brightness",
    "rand_color",
    "rand_contrast",
    "rand_cutout",
    "rand_saturation",
    "rand_translation",
]

#: Largest integer translation of `ada_augment`, as a fraction of the image size.
ADA_TRANSLATION_RATIO = 0.125

_LN2 = 0.6931471805599453
_SEED_MAX = 2**31 - 1


# --- seeds ---------------------------------------------------------------------------


def _seed_dtype():
    # What keras.random's backend expects of a seed tensor: JAX's raw PRNG
    # keys are uint32; TensorFlow's stateless ops want int32 under XLA.
    return "uint32" if keras.backend.backend() == "jax" else "int32"


class _FixedSeed(keras.random.SeedGenerator):
    """Hands one seed tensor to `keras.random`, which on TensorFlow takes
    only ints and `SeedGenerator`s. It holds no state variable, so it
    deliberately skips `SeedGenerator.__init__`."""

    def __init__(self, value):
        self.name = "diffaug_fixed_seed"
        self._value = value

    def next(self, ordered=True):
        return self._value


class _SeedStream:
    """Distinct seeds, one per random draw, split from a single seed tensor
    (as `jax.random.split` does), so that one int or tensor seed gives
    independent draws to every op of a pipeline."""

    def __init__(self, value):
        self._value = value

    def draw(self):
        pair = keras.random.randint(
            (2, 2), 0, _SEED_MAX, dtype="int32", seed=_FixedSeed(self._value)
        )
        pair = ops.cast(pair, _seed_dtype())
        self._value = pair[1]
        return _FixedSeed(pair[0])


def _stream(seed):
    if isinstance(seed, _SeedStream):
        return seed
    if isinstance(seed, keras.random.SeedGenerator):
        value = seed.next()
    elif isinstance(seed, bool):
        raise TypeError(f"seed must be a SeedGenerator, an int or a (2,) tensor, got {seed!r}.")
    elif isinstance(seed, int):
        value = [seed % 2**31, (seed // 2**31) % 2**31]
    else:
        value = ops.convert_to_tensor(seed)
        if tuple(value.shape) != (2,):
            raise ValueError(f"A seed tensor must have shape (2,), got {tuple(value.shape)}.")
    return _SeedStream(ops.cast(ops.convert_to_tensor(value), _seed_dtype()))


# --- helpers -------------------------------------------------------------------------


def _check_images(x):
    x = ops.convert_to_tensor(x)
    if len(x.shape) != 4 or None in tuple(x.shape[1:]):
        raise ValueError(f"Expected images (batch, H, W, C) with static H, W, C, got {x.shape}.")
    return x


def _check_probability(probability):
    if isinstance(probability, (int, float)) and not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}.")
    return ops.cast(probability, "float32")


def _uniform(x, stream, minval=0.0, maxval=1.0):
    """One draw per example, shape (batch, 1, 1, 1), in x's dtype."""
    u = keras.random.uniform(
        (ops.shape(x)[0], 1, 1, 1), minval, maxval, dtype="float32", seed=stream.draw()
    )
    return ops.cast(u, x.dtype)


def _normal(x, stream, stddev):
    n = keras.random.normal((ops.shape(x)[0], 1, 1, 1), 0.0, stddev, "float32", stream.draw())
    return ops.cast(n, x.dtype)


def _randint(x, stream, minval, maxval):
    """One integer per example in [minval, maxval), shape (batch,)."""
    return keras.random.randint((ops.shape(x)[0],), minval, maxval, "int32", stream.draw())


def _blend(x, transformed, stream, probability):
    """`transformed` where a per-example coin with P(heads) = probability
    comes up heads, else `x` unchanged."""
    u = keras.random.uniform((ops.shape(x)[0],), dtype="float32", seed=stream.draw())
    apply = ops.reshape(u < probability, (-1, 1, 1, 1))
    return ops.where(apply, transformed, x)


def _round_size(size, ratio):
    # The reference code's int(size * ratio + 0.5).
    return int(size * ratio + 0.5)


def _shift_axis(x, shift, axis):
    """out[..., i, ...] = x[..., i + shift, ...] along `axis` (1 or 2), zero
    where i + shift falls outside the image; `shift` is (batch,) int32."""
    size = x.shape[axis]
    index = ops.arange(size, dtype="int32")[None, :] + shift[:, None]
    inside = ops.logical_and(index >= 0, index < size)
    index = ops.clip(index, 0, size - 1)
    shape = (-1, size, 1, 1) if axis == 1 else (-1, 1, size, 1)
    index, inside = ops.reshape(index, shape), ops.reshape(inside, shape)
    return ops.where(inside, ops.take_along_axis(x, index, axis=axis), ops.zeros_like(x))


def _translate(x, stream, ratio):
    shift_h, shift_w = _round_size(x.shape[1], ratio), _round_size(x.shape[2], ratio)
    x = _shift_axis(x, _randint(x, stream, -shift_h, shift_h + 1), axis=1)
    return _shift_axis(x, _randint(x, stream, -shift_w, shift_w + 1), axis=2)


def _rotate90(x, k):
    """x rotated by k[i] * 90 degrees counter-clockwise (as `numpy.rot90` on
    the H, W axes); square images only. `k` is (batch,) int32 in 0..3."""
    transposed = ops.transpose(x, (0, 2, 1, 3))
    k = ops.reshape(k, (-1, 1, 1, 1))
    out = ops.where(k == 1, ops.flip(transposed, axis=1), x)
    out = ops.where(k == 2, ops.flip(ops.flip(x, axis=1), axis=2), out)
    return ops.where(k == 3, ops.flip(transposed, axis=2), out)


def _scale_around(x, mean, factor):
    return (x - mean) * factor + mean


# --- DiffAugment -----------------------------------------------------------------------


def rand_brightness(x, seed, probability=1.0):
    """Adds a random brightness offset, uniform in [-0.5, 0.5), to each image.

    Args:
        x: images ``(batch, H, W, C)`` in ``[-1, 1]``.
        seed: a `keras.random.SeedGenerator`, an int or a ``(2,)`` seed
            tensor (see the module docstring).
        probability: chance that each image is transformed, a float or a
            scalar tensor in ``[0, 1]``.

    Returns:
        The images, same shape and dtype.
    """
    x, stream, p = _check_images(x), _stream(seed), _check_probability(probability)
    return _blend(x, x + (_uniform(x, stream) - 0.5), stream, p)


def rand_saturation(x, seed, probability=1.0):
    """Scales each image's colours away from its per-pixel grey level (the
    mean over channels) by a random factor uniform in [0, 2).

    The identity on one-channel images.

    Args:
        x: images ``(batch, H, W, C)`` in ``[-1, 1]``.
        seed: a `keras.random.SeedGenerator`, an int or a ``(2,)`` seed
            tensor (see the module docstring).
        probability: chance that each image is transformed, a float or a
            scalar tensor in ``[0, 1]``.

    Returns:
        The images, same shape and dtype.
    """
    x, stream, p = _check_images(x), _stream(seed), _check_probability(probability)
    mean = ops.mean(x, axis=-1, keepdims=True)
    return _blend(x, _scale_around(x, mean, _uniform(x, stream, 0.0, 2.0)), stream, p)


def rand_contrast(x, seed, probability=1.0):
    """Scales each image around its mean (over H, W and C) by a random factor
    uniform in [0.5, 1.5).

    Args:
        x: images ``(batch, H, W, C)`` in ``[-1, 1]``.
        seed: a `keras.random.SeedGenerator`, an int or a ``(2,)`` seed
            tensor (see the module docstring).
        probability: chance that each image is transformed, a float or a
            scalar tensor in ``[0, 1]``.

    Returns:
        The images, same shape and dtype.
    """
    x, stream, p = _check_images(x), _stream(seed), _check_probability(probability)
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    return _blend(x, _scale_around(x, mean, _uniform(x, stream, 0.5, 1.5)), stream, p)


def rand_color(x, seed, probability=1.0):
    """DiffAugment's ``"color"`` policy: `rand_brightness`, then
    `rand_saturation`, then `rand_contrast`, each applied to each image with
    ``probability`` independently.

    Args:
        x: images ``(batch, H, W, C)`` in ``[-1, 1]``.
        seed: a `keras.random.SeedGenerator`, an int or a ``(2,)`` seed
            tensor (see the module docstring).
        probability: chance that each image gets each transform, a float or
            a scalar tensor in ``[0, 1]``.

    Returns:
        The images, same shape and dtype.
    """
    stream = _stream(seed)
    x = rand_brightness(x, stream, probability)
    x = rand_saturation(x, stream, probability)
    return rand_contrast(x, stream, probability)


def rand_translation(x, seed, ratio=0.125, probability=1.0):
    """Shifts each image by a random whole number of pixels, filling with zeros.

    The shifts along H and along W are uniform integers in
    ``[-round(H * ratio), round(H * ratio)]`` (and W), drawn independently.
    The image is gathered from shifted indices, so the gradient with respect
    to ``x`` flows to the pixels that stay in the frame.

    Args:
        x: images ``(batch, H, W, C)`` in ``[-1, 1]``.
        seed: a `keras.random.SeedGenerator`, an int or a ``(2,)`` seed
            tensor (see the module docstring).
        ratio: largest shift as a fraction of the image size.
        probability: chance that each image is transformed, a float or a
            scalar tensor in ``[0, 1]``.

    Returns:
        The images, same shape and dtype.
    """
    x, stream, p = _check_images(x), _stream(seed), _check_probability(probability)
    return _blend(x, _translate(x, stream, ratio), stream, p)


def rand_cutout(x, seed, ratio=0.5, probability=1.0):
    """Zeroes one random square of each image.

    The square is ``round(H * ratio)`` by ``round(W * ratio)`` pixels around a
    random centre, clipped at the border (so it can be smaller), as in the
    reference code.

    Args:
        x: images ``(batch, H, W, C)`` in ``[-1, 1]``.
        seed: a `keras.random.SeedGenerator`, an int or a ``(2,)`` seed
            tensor (see the module docstring).
        ratio: side of the square as a fraction of the image size.
        probability: chance that each image is transformed, a float or a
            scalar tensor in ``[0, 1]``.

    Returns:
        The images, same shape and dtype.
    """
    x, stream, p = _check_images(x), _stream(seed), _check_probability(probability)
    height, width = x.shape[1], x.shape[2]
    size_h, size_w = _round_size(height, ratio), _round_size(width, ratio)
    # Centres as in the reference: 0..H (even sides) or 0..H-1 (odd sides).
    top = _randint(x, stream, 0, height + 1 - size_h % 2) - size_h // 2
    left = _randint(x, stream, 0, width + 1 - size_w % 2) - size_w // 2
    rows = ops.arange(height, dtype="int32")[None, :] - top[:, None]
    cols = ops.arange(width, dtype="int32")[None, :] - left[:, None]
    in_rows = ops.reshape(ops.logical_and(rows >= 0, rows < size_h), (-1, height, 1, 1))
    in_cols = ops.reshape(ops.logical_and(cols >= 0, cols < size_w), (-1, 1, width, 1))
    cut = ops.where(ops.logical_and(in_rows, in_cols), ops.zeros_like(x), x)
    return _blend(x, cut, stream, p)


#: DiffAugment's policies by name: functions ``f(x, seed, probability)``.
POLICIES = {
    "color": rand_color,
    "translation": rand_translation,
    "cutout": rand_cutout,
}


def check_policy(policy):
    """The transform names of a DiffAugment policy, checked.

    Args:
        policy: comma-separated names from `POLICIES`, or a list of them.

    Returns:
        list of names, in order (empty for ``""``).

    Raises:
        ValueError: for a name not in `POLICIES`.
    """
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = [name.strip() for name in names if name.strip()]
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ValueError(
            f"Unknown DiffAugment policy {unknown}; known policies: {', '.join(POLICIES)}."
        )
    return names


def diff_augment(x, seed, policy="color,translation,cutout", probability=1.0):
    """DiffAugment: the named policies, in the order given.

    Apply it to every image the discriminator sees, real and generated, in
    the discriminator's and in the generator's step.

    Args:
        x: images ``(batch, H, W, C)`` in ``[-1, 1]``.
        seed: a `keras.random.SeedGenerator`, an int or a ``(2,)`` seed
            tensor (see the module docstring).
        policy: comma-separated names from `POLICIES` (``"color"``,
            ``"translation"``, ``"cutout"``), or a list of them; ``""`` is
            the identity.
        probability: chance that each image gets each transform, a float or
            a scalar tensor in ``[0, 1]``; 1 is the paper's DiffAugment.

    Returns:
        The augmented images, same shape and dtype.

    Raises:
        ValueError: for a policy name not in `POLICIES`.
    """
    names = check_policy(policy)
    x = _check_images(x)
    if not names:
        return x
    stream = _stream(seed)
    for name in names:
        x = POLICIES[name](x, stream, probability=probability)
    return x


# --- ADA -------------------------------------------------------------------------------


def ada_augment(x, seed, probability):
    """ADA's non-leaking augmentation: pixel blitting plus colour transforms.

    In order, each applied to each image with ``probability``, independently:

    * xflip: a horizontal flip with chance 1/2 (ADA draws ``i`` in {0, 1});
    * rotate90: rotation by a random multiple of 90 degrees (square images
      only; skipped when H != W);
    * integer translation: up to ``round(0.125 * size)`` pixels along each
      axis, zero padding (ADA pads by reflection; zeros as in DiffAugment);
    * brightness: adds ``b ~ N(0, 0.2)``;
    * contrast: scales around the image's mean by ``c ~ lognormal(0, 0.5 ln 2)``;
    * saturation: scales around the per-pixel grey level (the channel mean)
      by ``s ~ lognormal(0, ln 2)``; the identity on one-channel images.

    Args:
        x: images ``(batch, H, W, C)`` in ``[-1, 1]``.
        seed: a `keras.random.SeedGenerator`, an int or a ``(2,)`` seed
            tensor (see the module docstring).
        probability: ADA's ``p``, a float or a scalar tensor in ``[0, 1]``
            (typically a variable updated by `ada_adjust`).

    Returns:
        The augmented images, same shape and dtype; ``x`` itself, bit for
        bit, at ``probability=0``.
    """
    x, stream, p = _check_images(x), _stream(seed), _check_probability(probability)
    flip = ops.reshape(_randint(x, stream, 0, 2) == 1, (-1, 1, 1, 1))
    x = _blend(x, ops.where(flip, ops.flip(x, axis=2), x), stream, p)
    if x.shape[1] == x.shape[2]:
        x = _blend(x, _rotate90(x, _randint(x, stream, 0, 4)), stream, p)
    x = _blend(x, _translate(x, stream, ADA_TRANSLATION_RATIO), stream, p)
    x = _blend(x, x + _normal(x, stream, 0.2), stream, p)
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    x = _blend(x, _scale_around(x, mean, ops.exp(_normal(x, stream, 0.5 * _LN2))), stream, p)
    mean = ops.mean(x, axis=-1, keepdims=True)
    return _blend(x, _scale_around(x, mean, ops.exp(_normal(x, stream, _LN2))), stream, p)


def ada_statistic(real_logits):
    """ADA's overfitting heuristic ``r_t = E[sign(D(real))]``.

    Args:
        real_logits: the discriminator's logits on real images, any shape.

    Returns:
        A float32 scalar in ``[-1, 1]``: near 1 when the discriminator is
        confidently right on every real image (it overfits), near 0 when it
        cannot tell.
    """
    return ops.mean(ops.sign(ops.cast(real_logits, "float32")))


def ada_adjust(p, r_t, target=0.6, *, batch_size, interval=4, speed_kimg=500):
    """ADA's update of the augmentation probability ``p``.

    Every ``interval`` steps, ``p`` moves by
    ``sign(r_t - target) * batch_size * interval / (speed_kimg * 1000)``
    and is clipped to ``[0, 1]``, so it can go from 0 to 1 in
    ``speed_kimg`` thousand real images.

    Args:
        p: the current probability, a float or a scalar tensor.
        r_t: `ada_statistic` over the last ``interval`` steps.
        target: the ``r_t`` to hold (ADA's 0.6).
        batch_size: real images per step.
        interval: steps between adjustments.
        speed_kimg: thousands of images for ``p`` to go from 0 to 1.

    Returns:
        The new probability, a float32 scalar tensor.
    """
    step = batch_size * interval / (speed_kimg * 1000.0)
    direction = ops.sign(ops.cast(r_t, "float32") - target)
    return ops.clip(ops.cast(p, "float32") + direction * step, 0.0, 1.0)
