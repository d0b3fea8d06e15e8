"""Building blocks shared by the architecture builders.

Nothing here is a custom layer: every helper returns stock Keras layers or
initializers, so every network built with them serializes with plain
`keras.saving` and reloads with `safe_mode=True` without any registration.
"""

import keras
from keras import layers

#: Image shapes (height, width) the convolutional builders support, mapped to
#: the spatial size of the generator's first feature map (the DCGAN layouts
#: 7->14->28, 4->8->16->32 and 4->8->16->32->64).
SUPPORTED_SPATIAL = {28: 7, 32: 4, 64: 4}

#: Channel counts the convolutional builders support (grey and RGB).
SUPPORTED_CHANNELS = (1, 3)

#: Leaky ReLU slope used throughout (Radford et al. 2015; the GMAN report).
LEAKY_SLOPE = 0.2

#: BatchNormalization settings of the reference DCGAN implementations
#: (TensorFlow DCGAN: decay 0.9, epsilon 1e-5; PyTorch: momentum 0.1 which is
#: Keras momentum 0.9). Keras' own default momentum of 0.99 makes the moving
#: statistics lag far behind a generator that changes every step.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def supported_shapes_text(sizes=None):
    """Human-readable list of supported image shapes for error messages.

    Args:
        sizes: Iterable of supported square sizes; all DCGAN sizes when None.

    Returns:
        A string such as "(28, 28, C), (32, 32, C) with C in (1, 3)".
    """
    sizes = sorted(SUPPORTED_SPATIAL if sizes is None else sizes)
    shapes = ", ".join(f"({s}, {s}, C)" for s in sizes)
    return f"{shapes} with C in {SUPPORTED_CHANNELS}"


def check_image_shape(image_shape, sizes=None):
    """Validate and normalise an image shape.

    Args:
        image_shape: `(height, width, channels)`, a tuple or list of ints.
        sizes: Allowed square sizes (defaults to the keys of
            `SUPPORTED_SPATIAL`).

    Returns:
        The shape as a tuple of three Python ints.

    Raises:
        ValueError: If the shape is not one of the supported shapes.
    """
    sizes = tuple(SUPPORTED_SPATIAL if sizes is None else sizes)
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or shape[0] != shape[1]
        or shape[0] not in sizes
        or shape[2] not in SUPPORTED_CHANNELS
    ):
        raise ValueError(
            f"Unsupported image_shape {image_shape!r}. Supported shapes: "
            f"{supported_shapes_text(sizes)}."
        )
    return shape


class SeedStream:
    """Hands out initializer seeds: `None` forever, or `base`, `base+1`, ...

    A Keras initializer built with an integer seed returns the same values on
    every call, so each layer needs its own seed; an unseeded initializer
    draws its seed from Keras' global RNG (`keras.utils.set_random_seed`).

    Args:
        base: Integer base seed, or None for unseeded initializers.
    """

    def __init__(self, base=None):
        self._next = None if base is None else int(base)

    def __call__(self):
        """Return the next seed (None when unseeded)."""
        if self._next is None:
            return None
        seed = self._next
        self._next += 1
        return seed


def dcgan_kernel_init(seeds):
    """A fresh N(0, 0.02) initializer (Radford et al. 2015, section 4).

    Args:
        seeds: A `SeedStream`.

    Returns:
        A new `keras.initializers.RandomNormal` instance.
    """
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02, seed=seeds())


def dcgan_batch_norm(seeds, name):
    """BatchNormalization with gamma ~ N(1, 0.02), the DCGAN reference init.

    Args:
        seeds: A `SeedStream`.
        name: Layer name.

    Returns:
        A `keras.layers.BatchNormalization` layer.
    """
    return layers.BatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_initializer=keras.initializers.RandomNormal(
            mean=1.0, stddev=0.02, seed=seeds()
        ),
        name=name,
    )


def leaky_relu(name):
    """LeakyReLU with the slope used throughout kmgan (0.2).

    Args:
        name: Layer name.

    Returns:
        A `keras.layers.LeakyReLU` layer.
    """
    return layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=name)


def check_positive_int(value, what):
    """Validate a positive integer argument.

    Args:
        value: The value to check.
        what: Argument name for the error message.

    Returns:
        `value` as an int.

    Raises:
        ValueError: If `value` is not an integer >= 1.
    """
    try:
        ok = not isinstance(value, bool) and int(value) == value and value >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"`{what}` must be a positive integer, got {value!r}.")
    return int(value)


def check_dropout(rate):
    """Validate a dropout rate in [0, 1).

    Args:
        rate: The dropout rate.

    Returns:
        The rate as a float.

    Raises:
        ValueError: If the rate is outside [0, 1).
    """
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1), got {rate!r}.")
    return rate


def check_units(hidden_units):
    """Validate hidden-layer widths.

    Args:
        hidden_units: An int, a sequence of ints, or None (no hidden layer).

    Returns:
        A tuple of positive ints (possibly empty).

    Raises:
        ValueError: If a width is not a positive integer.
    """
    if hidden_units is None:
        return ()
    if isinstance(hidden_units, int):
        hidden_units = (hidden_units,)
    return tuple(check_positive_int(u, "hidden_units") for u in hidden_units)


# --------------------------------------------------------------------------
# Model introspection, for the games.


def _static_shape(tensor):
    return tuple(None if d is None else int(d) for d in tensor.shape)


def latent_dim_of(generator):
    """The size of a generator's latent vector z, read from its input shape.

    The input named "z" is used when the model has several inputs (e.g. a
    conditional generator G(z, y)); otherwise the first input.

    Args:
        generator: A built `keras.Model` whose z input has shape
            (batch, latent_dim).

    Returns:
        latent_dim, an int.

    Raises:
        ValueError: If the model has no input of shape (batch, d) with d
            known.
    """
    inputs = list(getattr(generator, "inputs", None) or [])
    if not inputs:
        raise ValueError(
            f"Model {getattr(generator, 'name', generator)!r} has no known "
            "inputs; build it (functional API) before asking its latent size."
        )
    named = [t for t in inputs if getattr(t, "name", "").split(":")[0] == "z"]
    z = (named or inputs)[0]
    shape = _static_shape(z)
    if len(shape) != 2 or shape[-1] is None:
        raise ValueError(
            f"Cannot read a latent size from input shape {shape} of model "
            f"{generator.name!r}; expected (batch, latent_dim)."
        )
    return shape[-1]


def image_shape_of(model):
    """The image shape a model produces (generator) or consumes (discriminator).

    Looks first at the model's outputs, then its inputs, for the first tensor
    of rank 4 (batch, height, width, channels): a generator's image output,
    or a discriminator's image input.

    Args:
        model: A built `keras.Model`.

    Returns:
        `(height, width, channels)`, a tuple of ints.

    Raises:
        ValueError: If neither outputs nor inputs hold a fully known rank-4
            tensor.
    """
    candidates = list(getattr(model, "outputs", None) or []) + list(
        getattr(model, "inputs", None) or []
    )
    for tensor in candidates:
        shape = _static_shape(tensor)
        if len(shape) == 4 and None not in shape[1:]:
            return shape[1:]
    raise ValueError(
        f"Model {getattr(model, 'name', model)!r} has no image-shaped "
        "(batch, height, width, channels) output or input."
    )
