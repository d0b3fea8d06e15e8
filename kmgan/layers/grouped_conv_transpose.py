"""Grouped transposed convolutions: K experts' upsampling layers run as one.

`GroupedConv2DTranspose` holds K independent `Conv2DTranspose` layers whose
inputs and outputs lie side by side on the channel axis (MEGAN's batched
experts, `kmgan.nets.megan_experts`).
"""

import keras
from keras import ops

from kmgan.checks import check_positive_int
from kmgan.layers.slices import ConvSlices

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
class GroupedConv2DTranspose(ConvSlices):
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
    * "split": the input and kernel split into K channel groups
      (`ops.split`), K `ops.conv_transpose` calls, one concatenation (any
      padding; a graph K layers long). One split, not K slices: the
      gradient of K slices is K zero-padded full-size tensors summed.
    * "auto": "split". The backends' own transposed convolutions beat the
      sub-pixel matrix products on a CPU (measured on a loaded 2-core x86
      CPU, K = 10 groups 7x7x64 -> 14x14x32, batch 64, forward and
      backward: TensorFlow 0.3-1.5 s "split" against 0.6-5 s "matmul",
      with or without XLA; JAX about even). With K slices instead of one
      split, MEGAN's 10 batched experts (width 32, 28x28, batch 64,
      forward and backward, TensorFlow) took 760 ms; with the split 395
      ms, against 340 ms for 10 chains of stock layers and 5.2 s for
      "matmul". No accelerator was measured.

    Args:
        num_groups: K.
        filters: output channels of one group.
        kernel_size, strides, padding: as `keras.layers.Conv2DTranspose`
            ("same" or "valid").
        implementation: "auto", "matmul" or "split" (keyword only).
        use_bias, activation, kernel_initializer, bias_initializer: keyword
            only, as `kmgan.layers.slices.SlicedLayer` (for ONE group's
            kernel (kh, kw, filters, c) and bias; the K kernel slices are
            drawn independently).
    """

    IMPLEMENTATIONS = CONV_TRANSPOSE_IMPLEMENTATIONS

    def __init__(self, num_groups, filters, kernel_size, strides=1, padding="valid", **kwargs):
        num_groups = check_positive_int(num_groups, "num_groups")
        super().__init__(num_groups, filters, kernel_size, strides, padding, **kwargs)
        if self.implementation == "matmul" and not self._matmul_applies():
            raise ValueError(
                "implementation='matmul' needs padding='same' and kernel_size >= strides; "
                f"got padding={self.padding!r}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}. Use 'split'."
            )

    def _matmul_applies(self):
        return self.padding == "same" and all(
            k >= s for k, s in zip(self.kernel_size, self.strides)
        )

    def resolved_implementation(self):
        """The implementation a call uses ("matmul" or "split")."""
        return "split" if self.implementation == "auto" else self.implementation

    @property
    def num_groups(self):
        return self.num_slices

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self._slice_channels(channels)
        self._add_conv_weights(self.kernel_size + (self.filters, channels))

    def call(self, x):
        if self.resolved_implementation() == "matmul":
            y = self._matmul(x)
        else:
            # `split`, not K slices: the gradient of K slices is K full-size
            # tensors summed, that of a split one concatenation.
            n = self.num_groups
            inputs = ops.split(x, n, axis=-1) if n > 1 else [x]
            kernels = ops.split(self.kernel, n, axis=-1) if n > 1 else [self.kernel]
            y = ops.concatenate(
                [
                    ops.conv_transpose(xi, ki, strides=self.strides, padding=self.padding)
                    for xi, ki in zip(inputs, kernels)
                ],
                axis=-1,
            )
        return self._add_bias_and_activate(y)

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

    def _output_side(self, size, kernel_size, stride):
        if self.padding == "same":
            return size * stride
        return (size - 1) * stride + max(kernel_size, stride)

    def get_config(self):
        return {**super().get_config(), "num_groups": self.num_groups}
