"""Initializers of kernels that hold several independent layers' kernels.

A stacked kernel (K dense kernels in one (K, d, units) tensor, or N
convolution kernels side by side on the output channels) must start as K
independently drawn kernels: a Keras initializer with a fixed seed returns
the same values at every call, so each slice gets its own seed, and each is
drawn at one layer's shape so that fan-based initializers (Glorot, He) see
one layer's fans.
"""

import keras
from keras import ops

__all__ = ["SLICE_SEED_STRIDE", "conv_slices_initializer", "stacked_initializer"]

#: Seed offset between the slices of a seeded initializer: slice i of an
#: initializer seeded s is drawn with seed s + i * SLICE_SEED_STRIDE.
SLICE_SEED_STRIDE = 104729


def _slice_drawer(initializer):
    """A function (n, shape, dtype) -> n independently drawn slices."""
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()

    def draw(n, shape, dtype):
        if "seed" not in config:
            return [initializer(shape, dtype=dtype) for _ in range(n)]
        base = config["seed"]
        slices = []
        for i in range(n):
            c = dict(config)
            if isinstance(base, int):
                c["seed"] = base + SLICE_SEED_STRIDE * i
            slices.append(type(initializer).from_config(c)(shape, dtype=dtype))
        return slices

    return draw


def stacked_initializer(initializer):
    """Initializer of a (K, d, units) stack of K distinct (d, units) kernels.

    Each slice is drawn as a (d, units) Dense kernel with its own seed.

    Args:
        initializer: a Keras initializer (or its name) for one slice.

    Returns:
        A callable `(shape, dtype=None) -> tensor` for `add_weight`.
    """
    draw = _slice_drawer(initializer)

    def init(shape, dtype=None):
        k, d, units = shape
        return ops.stack(draw(k, (d, units), dtype))

    return init


def conv_slices_initializer(initializer, n):
    """Initializer of a (kh, kw, c_in, N*filters) kernel, slice by slice.

    Each of the N (kh, kw, c_in, filters) slices is drawn as a plain `Conv2D`
    kernel with its own seed; the slices are concatenated on the last axis.

    Args:
        initializer: a Keras initializer (or its name) for one slice.
        n: N, the number of slices.

    Returns:
        A callable `(shape, dtype=None) -> tensor` for `add_weight`.
    """
    draw = _slice_drawer(initializer)

    def init(shape, dtype=None):
        *rest, total = shape
        return ops.concatenate(draw(n, tuple(rest) + (total // n,), dtype), axis=-1)

    return init
