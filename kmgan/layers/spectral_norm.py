"""Spectrally normalized `Conv2D` and `Dense` (Miyato et al. 2018).

`SpectralConv2D` and `SpectralDense` divide their kernel by its largest
singular value, estimated by one power iteration per training call. Why not
`keras.layers.SpectralNormalization`: that wrapper writes W / sigma back into
the wrapped layer's *trainable* kernel during the forward pass. Under kmgan's
JAX engine a write to a trainable variable inside a loss is discarded, under
TensorFlow it is kept (and the gradient then skips the 1/sigma factor), so
the two backends would train different discriminators, and at inference the
JAX kernel would not be normalized at all. Here the kernel variable is never
modified: the layer computes W / sigma(W) functionally, gradients flow
through sigma with the power-iteration vectors held constant (Miyato et
al.), and only the non-trainable vector `u` is updated, in training calls.
"""

import keras
from keras import layers
from keras import ops

from kmgan.checks import check_positive_int

__all__ = ["SpectralConv2D", "SpectralDense"]


def _l2_normalize(x, epsilon=1e-12):
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x)), epsilon))


class _SpectralNorm:
    """Power-iteration logic and config shared by the spectrally normalized
    layers (mixed in before the Keras layer class they normalize)."""

    def __init__(self, *args, power_iterations=1, sn_seed=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.power_iterations = check_positive_int(power_iterations, "power_iterations")
        self._sn_seed = sn_seed

    def build(self, input_shape):
        super().build(input_shape)
        self.power_iterations = int(self.power_iterations)
        self.sn_u = self.add_weight(
            shape=(1, self.kernel.shape[-1]),  # the filters or units
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self._sn_seed),
            trainable=False,
            name="sn_u",
        )

    def spectral_norm(self, kernel, training=False):
        """sigma(W) of `kernel` reshaped to (-1, units), and the new `u`.

        One (or `power_iterations`) power iteration from the stored u:
        v = normalize(u W^T), u' = normalize(v W), sigma = v W u'^T, with u'
        and v held constant for the gradient. The stored u is replaced by u'
        only when `training` is true.
        """
        w = ops.reshape(kernel, (-1, ops.shape(kernel)[-1]))
        u = ops.convert_to_tensor(self.sn_u)
        for _ in range(self.power_iterations):
            v = _l2_normalize(ops.matmul(u, ops.transpose(w)))
            u = _l2_normalize(ops.matmul(v, w))
        u = ops.stop_gradient(u)
        v = ops.stop_gradient(v)
        sigma = ops.reshape(ops.matmul(ops.matmul(v, w), ops.transpose(u)), ())
        if training:
            self.sn_u.assign(u)
        return sigma

    def normalized_kernel(self, training=False):
        """W / sigma(W), the kernel the layer actually applies."""
        kernel = ops.convert_to_tensor(self.kernel)
        return kernel / self.spectral_norm(kernel, training=training)

    def _linear(self, inputs, kernel):
        """The layer's product with `kernel` (Dense's; Conv2D overrides it)."""
        return ops.matmul(inputs, kernel)

    def _bias(self):
        return self.bias

    def call(self, inputs, training=None):
        outputs = self._linear(inputs, self.normalized_kernel(bool(training)))
        if self.use_bias:
            outputs = ops.add(outputs, self._bias())
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    # Conv2D / Dense save only kernel and bias; u is state too.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        if self.built:
            store["sn_u"] = self.sn_u

    def load_own_variables(self, store):
        super().load_own_variables(store)
        if self.built and "sn_u" in store.keys():
            self.sn_u.assign(store["sn_u"])

    def get_config(self):
        config = super().get_config()
        config.update(power_iterations=self.power_iterations, sn_seed=self._sn_seed)
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class SpectralConv2D(_SpectralNorm, layers.Conv2D):
    """`Conv2D` with a spectrally normalized kernel (Miyato et al. 2018).

    The kernel (kh, kw, in, out) is viewed as a (kh*kw*in, out) matrix W and
    divided by sigma(W), estimated by power iteration (see module docs).

    Args:
        power_iterations: power iterations per training call (1 in SNGAN).
        sn_seed: optional int seed of the initial power-iteration vector.
        *args, **kwargs: as `keras.layers.Conv2D`.
    """

    def _linear(self, inputs, kernel):
        return self.convolution_op(inputs, kernel)

    def _bias(self):
        return ops.reshape(self.bias, (1,) * (self.rank + 1) + (-1,))


@keras.saving.register_keras_serializable(package="kmgan")
class SpectralDense(_SpectralNorm, layers.Dense):
    """`Dense` with a spectrally normalized kernel (Miyato et al. 2018).

    The (in, out) kernel W is divided by sigma(W).

    Args:
        power_iterations: power iterations per training call (1 in SNGAN).
        sn_seed: optional int seed of the initial power-iteration vector.
        *args, **kwargs: as `keras.layers.Dense`.
    """
