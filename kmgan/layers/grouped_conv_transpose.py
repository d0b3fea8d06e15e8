"""Grouped transposed convolutions: K experts' upsampling layers run as one.

`GroupedConv2DTranspose` holds K independent `Conv2DTranspose` layers whose
inputs and outputs lie side by side on the channel axis (MEGAN's batched
experts, `kmgan.nets.megan_experts`).
"""

import keras
from keras import layers
from keras import ops

from kmgan.checks import check_conv_args
from kmgan.checks import check_positive_int
from kmgan.layers.slices import conv_slices_initializer

__all__ = ["CONV_TRANSPOSE_IMPLEMENTATIONS", "GroupedConv2DTranspose"]

CONV_TRANSPOSE_IMPLEMENTATIONS = ("auto", "matmul", "split")


def _phase_taps(kernel_size, stride, pad_before):
    """The sub-pixel form of a transposed convolution along one axis.

    A stride-s transposed convolution writes x[j] * w[t] to output
    o = s * j + t - pad_before. Output o = s * i + a (phase a) thus reads
    x[i + r] * w[t] for each (t, r) this returns in entry a: every phase is
    an ordinary stride-1 convolution of x with a few taps of w.
    """
    taps = []
    for a in range(stride):
        first, shift = (a + pad_before) % stride, (a + pad_before) // stride
        taps.append([(t, shift - m) for m, t in enumerate(range(first, kernel_size, stride))])
    return taps


@keras.saving.register_keras_serializable(package="kmgan")
class GroupedConv2DTranspose(layers.Layer):
    """K independent 2-D transposed convolutions, inputs and outputs side by side on channels.

    Group i reads input channels [i*c, (i+1)*c) and writes output channels
    [i*filters, (i+1)*filters) with its own kernel `kernel[..., i*c:(i+1)*c]`
    of shape (kh, kw, filters, c), the kernel of one
    `keras.layers.Conv2DTranspose(filters, kernel_size, strides, padding)`.
    MEGAN's n experts run their transposed convolutions through one such
    layer.

    Implementations (same weights, same result):

    * "matmul": the sub-pixel form. For each of the s*s output phases the
      few kernel taps that reach it make an ordinary stride-1 convolution;
      its patches (a handful of shifted slices of the input) go through one
      batched matrix product over the K groups. As many FLOPs as K separate
      layers, and a graph whose size does not grow with K. "same" padding
      with kernel_size >= strides only.
    * "split": K `ops.conv_transpose` calls on channel slices, concatenated
      (any padding; a graph K layers long).
    * "auto": "split". The backends' own transposed convolutions beat the
      sub-pixel matrix products on a CPU (measured on a loaded 2-core x86
      CPU, K = 10 groups 7x7x64 -> 14x14x32, batch 64, forward and
      backward: TensorFlow 0.3-1.5 s "split" against 0.6-5 s "matmul",
      with or without XLA; JAX about even). No accelerator was measured.

    Args:
        num_groups: K.
        filters: output channels of one group.
        kernel_size, strides, padding: as `keras.layers.Conv2DTranspose`
            ("same" or "valid").
        use_bias: whether each group has a bias.
        activation: Keras activation name.
        implementation: "auto", "matmul" or "split".
        kernel_initializer, bias_initializer: initializers of ONE group's
            kernel (kh, kw, filters, c) and bias; the K kernel slices are
            drawn independently.
    """

    def __init__(
        self,
        num_groups,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        use_bias=True,
        activation=None,
        implementation="auto",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_groups = check_positive_int(num_groups, "num_groups")
        self.filters, self.kernel_size, self.strides, self.padding = check_conv_args(
            filters, kernel_size, strides, padding
        )
        if implementation not in CONV_TRANSPOSE_IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {CONV_TRANSPOSE_IMPLEMENTATIONS}, "
                f"got {implementation!r}."
            )
        if implementation == "matmul" and not self._matmul_applies():
            raise ValueError(
                "implementation='matmul' needs padding='same' and kernel_size >= strides; "
                f"got padding={self.padding!r}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}. Use 'split'."
            )
        self.implementation = implementation
        self.use_bias = bool(use_bias)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _matmul_applies(self):
        return self.padding == "same" and all(
            k >= s for k, s in zip(self.kernel_size, self.strides)
        )

    def resolved_implementation(self):
        """The implementation a call uses ("matmul" or "split")."""
        return "split" if self.implementation == "auto" else self.implementation

    def build(self, input_shape):
        channels = int(input_shape[-1])
        n = self.num_groups
        if channels % n:
            raise ValueError(
                f"{self.name}: the input has K * c channels; got {channels} channels for K = {n}."
            )
        self.kernel = self.add_weight(
            shape=self.kernel_size + (self.filters, channels),
            initializer=conv_slices_initializer(self.kernel_initializer, n),
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(n * self.filters,), initializer=self.bias_initializer, name="bias"
            )

    def call(self, x):
        if self.resolved_implementation() == "matmul":
            y = self._matmul(x)
        else:
            c = self.kernel.shape[-1] // self.num_groups
            y = ops.concatenate(
                [
                    ops.conv_transpose(
                        x[..., i * c : (i + 1) * c],
                        self.kernel[..., i * c : (i + 1) * c],
                        strides=self.strides,
                        padding=self.padding,
                    )
                    for i in range(self.num_groups)
                ],
                axis=-1,
            )
        if self.use_bias:
            y = y + self.bias
        return self.activation(y) if self.activation is not None else y

    def _matmul(self, x):
        n, f = self.num_groups, self.filters
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        _, h, w, channels = x.shape
        c = channels // n
        taps_h = _phase_taps(kh, sh, (kh - sh) // 2)
        taps_w = _phase_taps(kw, sw, (kw - sw) // 2)
        rows = [r for phase in taps_h for _, r in phase]
        cols = [q for phase in taps_w for _, q in phase]
        top, left = max(0, -min(rows)), max(0, -min(cols))
        x = ops.pad(x, ((0, 0), (top, max(0, max(rows))), (left, max(0, max(cols))), (0, 0)))
        x = ops.reshape(x, (-1, x.shape[1], x.shape[2], n, c))
        kernel = ops.reshape(self.kernel, (kh, kw, f, n, c))
        phase_rows = []
        for phase_h in taps_h:
            row = []
            for phase_w in taps_w:
                taps = [(t, r, u, q) for t, r in phase_h for u, q in phase_w]
                patches = ops.concatenate(
                    [x[:, top + r : top + r + h, left + q : left + q + w] for _, r, _, q in taps],
                    axis=-1,
                )  # (batch, h, w, K, taps * c)
                weights = ops.concatenate(
                    [ops.transpose(kernel[t, u], (1, 2, 0)) for t, _, u, _ in taps], axis=1
                )  # (K, taps * c, f)
                row.append(ops.einsum("bhwkc,kcf->bhwkf", patches, weights))
            phase_rows.append(ops.stack(row, axis=3))  # (batch, h, w, sw, K, f)
        y = ops.stack(phase_rows, axis=2)  # (batch, h, sh, w, sw, K, f)
        return ops.reshape(y, (-1, h * sh, w * sw, n * f))

    def compute_output_shape(self, input_shape):
        spatial = []
        for size, k, s in zip(input_shape[1:3], self.kernel_size, self.strides):
            if size is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(size * s)
            else:
                spatial.append((size - 1) * s + max(k, s))
        return (input_shape[0], *spatial, self.num_groups * self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_groups=self.num_groups,
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            use_bias=self.use_bias,
            activation=keras.activations.serialize(self.activation),
            implementation=self.implementation,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config
