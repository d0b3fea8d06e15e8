"""Conditional batch normalization (Dumoulin et al. 2017; de Vries et al. 2017)."""

import keras
from keras import layers
from keras import ops

from kmgan.checks import check_positive_int

__all__ = ["CBN_EPSILON", "CBN_MOMENTUM", "ConditionalBatchNormalization"]

#: BatchNormalization settings of the reference ResNet GAN code (tflib:
#: decay 0.9, epsilon 1e-5).
CBN_MOMENTUM = 0.9
CBN_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="kmgan")
class ConditionalBatchNormalization(layers.Layer):
    """Batch normalization with a per-class scale and shift.

    Called as `layer([x, labels], training=...)` with `x` of shape
    (batch, ..., channels) and integer `labels` of shape (batch,) or
    (batch, 1):

        y = gamma[labels] * (x - mean) / sqrt(var + epsilon) + beta[labels]

    where mean/var are the batch statistics over all axes but the last in
    training, and moving averages (updated in training calls) otherwise.
    gamma starts at 1 and beta at 0 for every class.

    Args:
        num_classes: number of classes (rows of the gamma/beta embeddings).
        momentum: moving-average momentum (0.9 as the reference code).
        epsilon: variance epsilon.
    """

    def __init__(self, num_classes, momentum=CBN_MOMENTUM, epsilon=CBN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        x_shape = input_shape[0]
        channels = int(x_shape[-1])
        self.gamma = self.add_weight(
            shape=(self.num_classes, channels), initializer="ones", name="gamma"
        )
        self.beta = self.add_weight(
            shape=(self.num_classes, channels), initializer="zeros", name="beta"
        )
        self.moving_mean = self.add_weight(
            shape=(channels,), initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=(channels,), initializer="ones", trainable=False, name="moving_variance"
        )

    def call(self, inputs, training=None):
        x, labels = inputs
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        axes = list(range(len(x.shape) - 1))
        if training:
            mean, variance = ops.moments(x, axes=axes)
            m = self.momentum
            self.moving_mean.assign(m * self.moving_mean + (1.0 - m) * mean)
            self.moving_variance.assign(m * self.moving_variance + (1.0 - m) * variance)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        normalized = (x - mean) * ops.rsqrt(variance + self.epsilon)
        shape = (-1,) + (1,) * (len(x.shape) - 2) + (normalized.shape[-1],)
        gamma = ops.reshape(ops.take(self.gamma, labels, axis=0), shape)
        beta = ops.reshape(ops.take(self.beta, labels, axis=0), shape)
        return normalized * gamma + beta

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, momentum=self.momentum, epsilon=self.epsilon)
        return config
