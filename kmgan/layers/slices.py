"""Layers that hold several independent layers' kernels: initializers, bases.

A stacked kernel (K dense kernels in one (K, d, units) tensor, or N
convolution kernels side by side on the output channels) must start as K
independently drawn kernels: a Keras initializer with a fixed seed returns
the same values at every call, so each slice gets its own seed, and each is
drawn at one layer's shape so that fan-based initializers (Glorot, He) see
one layer's fans.

`SlicedLayer` is what every such layer shares (activation, bias,
initializers, config); `ConvSlices` adds the convolutions' arguments
(`kmgan.layers.StackedConv2D`, `kmgan.layers.GroupedConv2DTranspose`).
"""

import keras
from keras import layers
from keras import ops

from kmgan.checks import check_conv_args

__all__ = [
    "SLICE_SEED_STRIDE",
    "ConvSlices",
    "SlicedLayer",
    "conv_slices_initializer",
    "stacked_initializer",
]

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


class SlicedLayer(layers.Layer):
    """Base of the layers that hold several independent layers in one.

    Holds what they all share: an activation, an optional bias, the
    initializers of ONE slice's kernel and bias, and their config.
    Subclasses create their weights with `_add_kernel_and_bias` and end a
    call with `_add_bias_and_activate` (or `_activate`).

    Args:
        activation: Keras activation name, applied last.
        use_bias: whether each slice has a bias.
        kernel_initializer, bias_initializer: initializers of one slice's
            kernel and bias; every kernel slice is drawn independently.
        **kwargs: as `keras.layers.Layer` (name, dtype, ...).
    """

    def __init__(
        self,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _add_kernel_and_bias(self, kernel_shape, kernel_initializer, bias_shape):
        """Creates `kernel`, then `bias` when the layer has one."""
        self.kernel = self.add_weight(
            shape=kernel_shape, initializer=kernel_initializer, name="kernel"
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=bias_shape, initializer=self.bias_initializer, name="bias"
            )

    def _activate(self, y):
        return self.activation(y) if self.activation is not None else y

    def _add_bias_and_activate(self, y):
        if self.use_bias:
            y = y + self.bias
        return self._activate(y)

    def get_config(self):
        config = super().get_config()
        config.update(
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


class ConvSlices(SlicedLayer):
    """Base of the layers that hold N convolutions side by side on channels.

    Slice i reads input channels [i*c, (i+1)*c) (or the whole input, when
    shared) and writes output channels [i*filters, (i+1)*filters). The
    kernel holds the N slices' kernels, each drawn by
    `conv_slices_initializer`; the bias has N*filters entries. Subclasses
    name their implementations in `IMPLEMENTATIONS` and give one slice's
    output side in `_output_side`.

    Args:
        num_slices: N, a checked positive int.
        filters: output channels of one slice.
        kernel_size, strides, padding: of one slice's convolution.
        implementation: one of the subclass's `IMPLEMENTATIONS`.
        **kwargs: as `SlicedLayer`.
    """

    IMPLEMENTATIONS = ()

    def __init__(
        self,
        num_slices,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        implementation="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_slices = num_slices
        self.filters, self.kernel_size, self.strides, self.padding = check_conv_args(
            filters, kernel_size, strides, padding
        )
        if implementation not in self.IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {self.IMPLEMENTATIONS}, got {implementation!r}."
            )
        self.implementation = implementation

    def _slice_channels(self, channels):
        """c, the channels of one slice of an input of N*c `channels`."""
        if channels % self.num_slices:
            raise ValueError(
                f"{self.name}: the input has {self.num_slices} * c channels, c per slice; "
                f"got {channels}."
            )
        return channels // self.num_slices

    def _add_conv_weights(self, kernel_shape):
        """Creates the N slices' kernel of `kernel_shape`, then their bias."""
        self._add_kernel_and_bias(
            kernel_shape,
            conv_slices_initializer(self.kernel_initializer, self.num_slices),
            (self.num_slices * self.filters,),
        )

    def _output_side(self, size, kernel_size, stride):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        spatial = [
            None if size is None else self._output_side(size, k, s)
            for size, k, s in zip(input_shape[1:3], self.kernel_size, self.strides)
        ]
        return (input_shape[0], *spatial, self.num_slices * self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            implementation=self.implementation,
        )
        return config
