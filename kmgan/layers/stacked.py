"""Layers of stacked discriminators: N discriminators' layers run as one.

The N discriminators' feature maps lie side by side on the channel axis,
discriminator i owning channels [i*c, (i+1)*c) of every convolution (c its
own width):

* `StackedConv2D`: N independent convolutions in one layer (kernel
  (kh, kw, c_in, N*filters), the layout of `Conv2D(N*filters, groups=N)`);
  with `shared_input=True` the N read one shared input (the image).
* `StackedFlatten`: (batch, h, w, N*c) -> (batch, N, h*w*c), each
  discriminator's own map flattened in the order `Flatten` uses.
* `StackedDense`: N dense layers in one (N, d, units) kernel.

Grouped convolutions and speed. XLA's CPU backend has no fast grouped
convolution: the gradient with respect to a grouped kernel runs as a generic
convolution far slower than N small ones, and TensorFlow's CPU kernels have
none at all (Keras sends grouped convolutions through XLA there; see the
README's stacked-discriminator section for the measurements).
`StackedConv2D` therefore has three implementations of the same layer (same
weights, same result):

* "grouped": one grouped convolution (`ops.conv` with N groups); GPUs run
  these natively (cuDNN), CPUs slowly;
* "im2col": the kh*kw strided slices of the input make every
  discriminator's patches at once, and one batched matrix product (batch
  axis: the N discriminators) applies the N kernels. Its graph does not grow
  with N; on a CPU a GMAN step with it runs about as fast as one with N
  separate models;
* "split": N convolutions on channel slices, concatenated: the fastest
  convolutions on a CPU, but the graph holds N of them per layer, so it
  compiles no faster than N models.

"auto", the default, picks "im2col" on a CPU and "grouped" on an
accelerator, when the layer is called (so a saved model follows the machine
it is loaded on).
"""

import math

import keras
import numpy as np
from keras import layers
from keras import ops

from kmgan.checks import check_positive_int
from kmgan.layers.dense_slices import GroupedDense
from kmgan.layers.slices import ConvSlices

__all__ = ["CONV_IMPLEMENTATIONS", "StackedConv2D", "StackedDense", "StackedFlatten"]

CONV_IMPLEMENTATIONS = ("auto", "grouped", "split", "im2col")


def _accelerator_present():
    from kmgan.engine.backend_step import accelerator_present

    return accelerator_present()


@keras.saving.register_keras_serializable(package="kmgan")
class StackedConv2D(ConvSlices):
    """N independent 2-D convolutions, the N inputs and outputs side by side on channels.

    Discriminator i reads input channels [i*c_in, (i+1)*c_in) and writes
    output channels [i*filters, (i+1)*filters) with its own kernel
    `kernel[..., i*filters:(i+1)*filters]` (the kernel layout of
    `keras.layers.Conv2D(N*filters, groups=N)`). With `shared_input=True`
    all N read the same input (the image): that is one ordinary convolution
    with N*filters outputs.

    Args:
        num_discriminators: N.
        filters: output channels of one discriminator.
        kernel_size, strides, padding: as `keras.layers.Conv2D`.
        shared_input: the N convolutions read one shared input (keyword
            only, as the rest).
        implementation: "grouped" (one grouped convolution), "im2col"
            (patches and one batched matrix product), "split" (N
            convolutions on channel slices) or "auto" ("im2col" on a CPU,
            "grouped" on an accelerator); see the module docstring.
        use_bias, activation, kernel_initializer, bias_initializer: as
            `kmgan.layers.slices.SlicedLayer` (for ONE discriminator's
            kernel (kh, kw, c_in, filters) and bias; the N kernel slices
            are drawn independently).
    """

    IMPLEMENTATIONS = CONV_IMPLEMENTATIONS

    def __init__(
        self,
        num_discriminators,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        *,
        shared_input=False,
        **kwargs,
    ):
        num_discriminators = check_positive_int(num_discriminators, "num_discriminators")
        super().__init__(num_discriminators, filters, kernel_size, strides, padding, **kwargs)
        self.shared_input = bool(shared_input)

    @property
    def num_discriminators(self):
        return self.num_slices

    def build(self, input_shape):
        channels = int(input_shape[-1])
        c_in = channels if self.shared_input else self._slice_channels(channels)
        self._add_conv_weights(self.kernel_size + (c_in, self.num_slices * self.filters))

    def resolved_implementation(self):
        """The implementation a call uses now ("grouped", "im2col" or "split")."""
        if self.implementation != "auto":
            return self.implementation
        return "grouped" if _accelerator_present() else "im2col"

    def call(self, x):
        n = self.num_discriminators

        def conv(inputs, kernel):
            return ops.conv(inputs, kernel, strides=self.strides, padding=self.padding)

        implementation = self.resolved_implementation()
        if self.shared_input or n == 1 or implementation == "grouped":
            y = conv(x, self.kernel)  # ops.conv infers N groups from the kernel
        elif implementation == "im2col":
            y = self._im2col_conv(x)
        else:
            c_in, f = self.kernel.shape[-2], self.filters
            y = ops.concatenate(
                [
                    conv(x[..., i * c_in : (i + 1) * c_in], self.kernel[..., i * f : (i + 1) * f])
                    for i in range(n)
                ],
                axis=-1,
            )
        return self._add_bias_and_activate(y)

    def _im2col_conv(self, x):
        """The grouped convolution as patches times kernels: kh*kw strided
        slices of the (padded) input make the patches of all N at once, and
        one batched matrix product (batch axis: the N discriminators)
        applies each discriminator's kernel to its own patches."""
        n, f = self.num_discriminators, self.filters
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        _, h, w, channels = x.shape
        c = channels // n
        if self.padding == "same":
            ho, wo = -(-h // sh), -(-w // sw)
            ph, pw = max((ho - 1) * sh + kh - h, 0), max((wo - 1) * sw + kw - w, 0)
            x = ops.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
        else:
            ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
        cols = [
            ops.reshape(
                x[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw, :],
                (-1, n, 1, c),
            )
            for i in range(kh)
            for j in range(kw)
        ]
        # (N, pixels, kh*kw*c): the discriminators' axis leading, as the
        # batched matrix product wants it (faster than an einsum with the
        # batch axis in the middle, on XLA's CPU backend)
        patches = ops.transpose(
            ops.reshape(ops.concatenate(cols, axis=2), (-1, n, kh * kw * c)), (1, 0, 2)
        )
        # kernel (kh, kw, c, N*f) -> (N, kh*kw*c, f), rows in the patches' (i, j, c) order
        kernel = ops.transpose(ops.reshape(self.kernel, (kh * kw * c, n, f)), (1, 0, 2))
        y = ops.transpose(ops.matmul(patches, kernel), (1, 0, 2))  # (pixels, N, f)
        return ops.reshape(y, (-1, ho, wo, n * f))

    def _output_side(self, size, kernel_size, stride):
        if self.padding == "same":
            return math.ceil(size / stride)
        return (size - kernel_size) // stride + 1

    def get_config(self):
        return {
            **super().get_config(),
            "num_discriminators": self.num_discriminators,
            "shared_input": self.shared_input,
        }


@keras.saving.register_keras_serializable(package="kmgan")
class StackedDense(GroupedDense):
    """N independent dense layers, one per discriminator, in one einsum.

    Input (batch, N, d) -> output (batch, N, units): row i of the input goes
    through discriminator i's own (d, units) kernel `kernel[i]` and bias
    `bias[i]`. An input (batch, d) is shared by the N (the first layer of a
    stacked MLP). The kernel has shape (N, d, units), the bias (N, units);
    each of the N kernel slices is drawn independently by
    `kmgan.layers.stacked_initializer` (this is `GroupedDense` with the
    discriminators as the groups).

    Args:
        num_discriminators: N.
        units: output width of one discriminator's layer.
        activation, use_bias, kernel_initializer, bias_initializer: as
            `keras.layers.Dense`, for one discriminator's layer.
    """

    def __init__(self, num_discriminators, units, **kwargs):
        super().__init__(num_discriminators, units, **kwargs)

    @property
    def num_discriminators(self):
        return self.num_groups

    def build(self, input_shape):
        if len(input_shape) == 3 and input_shape[1] not in (None, self.num_groups):
            raise ValueError(
                f"{self.name}: expected inputs (batch, {self.num_groups}, d) or "
                f"(batch, d), got {tuple(input_shape)}."
            )
        if len(input_shape) not in (2, 3):
            raise ValueError(
                f"{self.name}: expected inputs (batch, N, d) or (batch, d), got "
                f"{tuple(input_shape)}."
            )
        super().build(input_shape)

    def get_config(self):
        config = super().get_config()
        config["num_discriminators"] = config.pop("num_groups")
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class StackedFlatten(layers.Layer):
    """Flattens each discriminator's own feature map.

    (batch, h, w, N*c) -> (batch, N, h*w*c): row i is discriminator i's
    channels [i*c, (i+1)*c), flattened in the order `keras.layers.Flatten`
    flattens a (batch, h, w, c) map.

    Args:
        num_discriminators: N.
    """

    def __init__(self, num_discriminators, **kwargs):
        super().__init__(**kwargs)
        self.num_discriminators = check_positive_int(num_discriminators, "num_discriminators")

    def call(self, x):
        n = self.num_discriminators
        spatial = int(np.prod(x.shape[1:-1]))
        c = int(x.shape[-1]) // n
        x = ops.reshape(x, (-1, spatial, n, c))
        x = ops.transpose(x, (0, 2, 1, 3))
        return ops.reshape(x, (-1, n, spatial * c))

    def compute_output_shape(self, input_shape):
        n = self.num_discriminators
        size = int(np.prod(input_shape[1:-1])) * (int(input_shape[-1]) // n)
        return (input_shape[0], n, size)

    def get_config(self):
        config = super().get_config()
        config.update(num_discriminators=self.num_discriminators)
        return config
