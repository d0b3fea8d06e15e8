"""Building blocks shared by the architecture builders.

Nothing here is a custom layer: every helper returns stock Keras layers or
initializers, so every network built with them serializes with plain
`keras.saving` and reloads with `safe_mode=True` without any registration.
kmgan's own layers are in `kmgan.layers`.
"""

import keras
from keras import layers

__all__ = [
    "BN_EPSILON",
    "BN_MOMENTUM",
    "LEAKY_SLOPE",
    "SeedStream",
    "dcgan_batch_norm",
    "dcgan_kernel_init",
    "leaky_block",
    "leaky_relu",
    "relu_block",
]

#: Leaky ReLU slope used throughout (Radford et al. 2015; the GMAN report).
LEAKY_SLOPE = 0.2

#: BatchNormalization settings of the reference DCGAN implementations
#: (TensorFlow DCGAN: decay 0.9, epsilon 1e-5; PyTorch: momentum 0.1 which is
#: Keras momentum 0.9). Keras' own default momentum of 0.99 makes the moving
#: statistics lag far behind a generator that changes every step.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


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


def dcgan_batch_norm(seeds, name, center=True):
    """BatchNormalization with gamma ~ N(1, 0.02), the DCGAN reference init.

    Args:
        seeds: A `SeedStream`.
        name: Layer name.
        center: Whether the layer has an offset beta (MGAN's generators
            fix it at zero: False).

    Returns:
        A `keras.layers.BatchNormalization` layer.
    """
    return layers.BatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        center=center,
        gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02, seed=seeds()),
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


def relu_block(x, layer, seeds, center=True):
    """`layer`, then DCGAN batch norm and ReLU: a generator block.

    The batch norm is "<name>_bn" and the ReLU "<name>_relu", after the
    layer's name. Build `layer` (and so draw its initializer's seed) before
    calling: the batch norm's seed is drawn here, after it.

    Args:
        x: Input tensor.
        layer: The block's Dense or (transposed) convolution layer.
        seeds: A `SeedStream`.
        center: The batch norm's offset (see `dcgan_batch_norm`).

    Returns:
        The block's output tensor.
    """
    x = layer(x)
    x = dcgan_batch_norm(seeds, name=f"{layer.name}_bn", center=center)(x)
    return layers.ReLU(name=f"{layer.name}_relu")(x)


def leaky_block(x, layer, seeds, batch_norm=True, dropout=0.0, seed_dropout=False):
    """`layer`, then optional batch norm, LeakyReLU(0.2), optional dropout.

    The layers after `layer` are named after it: "<name>_bn",
    "<name>_lrelu", "<name>_dropout". Build `layer` before calling: the
    seeds of the batch norm (and dropout) are drawn here, after its own.

    Args:
        x: Input tensor.
        layer: The block's Dense or convolution layer.
        seeds: A `SeedStream`.
        batch_norm: Whether a DCGAN batch norm follows the layer.
        dropout: Dropout rate in [0, 1); 0 adds no Dropout layer.
        seed_dropout: Whether the Dropout layer's seed is drawn from
            `seeds` (else it draws from Keras' global RNG).

    Returns:
        The block's output tensor.
    """
    x = layer(x)
    if batch_norm:
        x = dcgan_batch_norm(seeds, name=f"{layer.name}_bn")(x)
    x = leaky_relu(name=f"{layer.name}_lrelu")(x)
    if dropout > 0:
        seed = seeds() if seed_dropout else None
        x = layers.Dropout(dropout, seed=seed, name=f"{layer.name}_dropout")(x)
    return x
