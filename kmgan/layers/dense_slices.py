"""Dense layers that hold K dense layers in one (K, d, units) kernel.

* `MultiDense`: each example goes through the layer of its own generator
  (a one-hot row per example), all K in one matrix product: the K first
  layers of MGAN's generators, or every layer of K independent MLP
  generators.
* `GroupedDense`: K groups of features, group k through its own layer, in
  one einsum: MEGAN's batched experts and its gate's per-expert encoders.
"""

import keras
from keras import ops

from kmgan.checks import check_positive_int
from kmgan.layers.slices import SlicedLayer
from kmgan.layers.slices import stacked_initializer

__all__ = ["GroupedDense", "MultiDense"]


class _DenseSlices(SlicedLayer):
    """What `MultiDense` and `GroupedDense` share: K kernels (K, d, units)
    and K biases (K, units), as `SlicedLayer`."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")

    def _build_slices(self, k, d):
        self._add_kernel_and_bias(
            (k, d, self.units), stacked_initializer(self.kernel_initializer), (k, self.units)
        )

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="kmgan")
class MultiDense(_DenseSlices):
    """K dense layers in one: each example goes through its own generator's.

    Called on `[x, generator]` with x of shape (batch, d) and `generator` a
    (batch, K) one-hot (or any weights: the output is then the weighted sum
    of the K layers' outputs). The kernel has shape (K, d, units) and the
    bias (K, units). The product is one matmul of the (batch, K*d) outer
    product of `generator` and x with the (K*d, units) kernel, so all K
    layers run in one batched pass.

    Args:
        num_generators: K.
        units: output width.
        activation: Keras activation name, applied after the selection.
        use_bias: whether each of the K layers has a bias.
        kernel_initializer, bias_initializer: initializers (of one layer's
            (d, units) kernel slice; each of the K slices is drawn apart).
    """

    def __init__(self, num_generators, units, **kwargs):
        num_generators = check_positive_int(num_generators, "num_generators")
        super().__init__(units, **kwargs)
        self.num_generators = num_generators

    def build(self, input_shape):
        self._build_slices(self.num_generators, int(input_shape[0][-1]))

    def call(self, inputs):
        x, gen = inputs
        gen = ops.cast(gen, x.dtype)
        k, d = self.num_generators, ops.shape(self.kernel)[1]
        outer = ops.reshape(ops.expand_dims(gen, -1) * ops.expand_dims(x, 1), (-1, k * d))
        y = ops.matmul(outer, ops.reshape(self.kernel, (k * d, self.units)))
        if self.use_bias:
            y = y + ops.matmul(gen, self.bias)
        return self._activate(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "num_generators": self.num_generators}


@keras.saving.register_keras_serializable(package="kmgan")
class GroupedDense(_DenseSlices):
    """K independent dense layers applied to K groups, in one einsum.

    Input (batch, K, d) -> output (batch, K, units), group k through its own
    (d, units) kernel; an input (batch, d) is shared by all K groups. Used by
    MEGAN's batched MLP experts and by the gating network's per-generator
    feature encoders.

    Args:
        num_groups: K.
        units: output width per group.
        activation: Keras activation name.
        use_bias: whether each group's layer has a bias.
        kernel_initializer, bias_initializer: initializers of one group's
            (d, units) kernel.
    """

    def __init__(self, num_groups, units, **kwargs):
        num_groups = check_positive_int(num_groups, "num_groups")
        super().__init__(units, **kwargs)
        self.num_groups = num_groups

    def build(self, input_shape):
        self._build_slices(self.num_groups, int(input_shape[-1]))

    def call(self, x):
        if len(x.shape) == 2:
            y = ops.einsum("bd,kdu->bku", x, self.kernel)
        else:
            y = ops.einsum("bkd,kdu->bku", x, self.kernel)
        return self._add_bias_and_activate(y)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_groups, self.units)

    def get_config(self):
        return {**super().get_config(), "num_groups": self.num_groups}
