"""Choosing one of K generators per example: the layers of a multi-generator sampler.

* `SelectGenerator`: keeps each example's own generator's slice of the K
  generators' stacked outputs.
* `UniformChoice`: the one-hot choice of MGAN's and MAD-GAN's samplers, a
  given index or uniform at random.
* `GumbelChoice`: the one-hot choice of MEGAN's sampler, a given index or a
  Gumbel-max sample from the gate's logits.
"""

import keras
from keras import layers
from keras import ops

from kmgan.checks import check_positive_int

__all__ = ["GumbelChoice", "SelectGenerator", "UniformChoice"]


@keras.saving.register_keras_serializable(package="kmgan")
class SelectGenerator(layers.Layer):
    """Keeps each example's own generator's slice of a stacked output.

    Called on `[stacked, generator]`: `stacked` has the K generators' outputs
    along `axis` (e.g. (batch, K, ...) with axis=1, or (batch, ..., K, C)
    with axis=-2), `generator` is a (batch, K) one-hot. Returns the sum over
    `axis` of the outputs weighted by `generator` (exactly the chosen slice
    for a one-hot; gradients reach the chosen slice and the weights).

    Args:
        axis: the generator axis of `stacked` (not the batch axis).
    """

    def __init__(self, axis=1, **kwargs):
        super().__init__(**kwargs)
        if axis == 0:
            raise ValueError("The generator axis cannot be the batch axis.")
        self.axis = int(axis)

    def call(self, inputs):
        stacked, gen = inputs
        rank = len(stacked.shape)
        axis = self.axis % rank
        gen = ops.cast(gen, stacked.dtype)
        shape = [1] * rank
        shape[0] = -1
        shape[axis] = ops.shape(gen)[-1]
        return ops.sum(stacked * ops.reshape(gen, shape), axis=axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape[0])
        del shape[self.axis % len(shape)]
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis)
        return config


class _Choice(layers.Layer):
    """What both choice layers share: K, their own noise, their config."""

    def __init__(self, num_generators, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_generators = check_positive_int(num_generators, "num_generators")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="choice_noise")

    def get_config(self):
        config = super().get_config()
        config.update(num_generators=self.num_generators, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class UniformChoice(_Choice):
    """One-hot generator choice: the given index, or uniform at random.

    Called as `layer(z, index)` with z any (batch, ...) tensor (only its
    batch size is used) and `index` None or int (batch,): entries in
    [0, K) pick that generator; negative entries, or `index=None`, draw a
    generator uniformly at random (the mixture of MGAN and MAD-GAN).

    Args:
        num_generators: K.
        seed: seed of the layer's own noise (the random choice).
    """

    def call(self, z, index=None):
        batch = ops.shape(z)[:1]
        random = keras.random.randint(
            batch, 0, self.num_generators, seed=self.seed_generator, dtype="int32"
        )
        return _one_hot_choice(index, random, self.num_generators)

    def compute_output_shape(self, z_shape, index_shape=None):
        return (z_shape[0], self.num_generators)


@keras.saving.register_keras_serializable(package="kmgan")
class GumbelChoice(_Choice):
    """One-hot generator choice: the given index, or Gumbel-max on logits.

    Called as `layer(logits, index)` with logits (batch, K). Entries of
    `index` in [0, K) pick that generator; negative entries, or
    `index=None`, pick argmax(logits + Gumbel noise): a sample from
    softmax(logits), which is what MEGAN's straight-through Gumbel-softmax
    selects in its forward pass at any temperature.

    Args:
        num_generators: K.
        seed: seed of the layer's own noise.
    """

    def call(self, logits, index=None):
        u = keras.random.uniform(
            ops.shape(logits), minval=1e-7, maxval=1.0, seed=self.seed_generator
        )
        gumbel = -ops.log(-ops.log(u))
        random = ops.cast(ops.argmax(logits + gumbel, axis=-1), "int32")
        return _one_hot_choice(index, random, self.num_generators)

    def compute_output_shape(self, logits_shape, index_shape=None):
        return (logits_shape[0], self.num_generators)


def _one_hot_choice(index, random, k):
    if index is None:
        chosen = random
    else:
        index = ops.cast(ops.reshape(index, (-1,)), "int32")
        chosen = ops.where(index >= 0, index, random)
    return ops.one_hot(chosen, k, dtype="float32")
