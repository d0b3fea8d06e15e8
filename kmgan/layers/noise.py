"""Noise layers for augmentation pipelines: Gaussian, speckle, salt and pepper.

Each draws its strength per image and applies to a random share `rate` of
the images; like the other `kmgan.layers.random_image` layers they run in a
`tf.data` pipeline on any Keras backend.
"""

import keras

from kmgan.layers.random_image import VALUE_RANGE
from kmgan.layers.random_image import RandomImageLayer

__all__ = ["RandomGaussianNoise", "RandomSaltAndPepper", "RandomSpeckleNoise"]


@keras.saving.register_keras_serializable(package="kmgan")
class RandomGaussianNoise(RandomImageLayer):
    """Additive Gaussian noise: ``x + sigma * (high - low) * N(0, 1)``, clipped.

    ``sigma`` is drawn per image from ``U(0, stddev)``. Unlike
    ``keras.layers.GaussianNoise`` (a regulariser active only in training
    mode inside a model) this is an augmentation layer for pipelines.

    Args:
        stddev: largest noise standard deviation, as a fraction of the value
            range (0.1 is 10 % of the range).
        rate, value_range, seed: see the base class (probability per image,
            pixel range, seed).
    """

    def __init__(self, stddev=0.1, rate=1.0, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(rate=rate, value_range=value_range, seed=seed, **kwargs)
        self.stddev = float(stddev)

    def _transform(self, x, shape, seed):
        B = self.backend
        span = self.value_range[1] - self.value_range[0]
        sigma = self._strength(shape, self.stddev * span, seed)
        return x + sigma * B.random.normal(shape, seed=seed)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="kmgan")
class RandomSpeckleNoise(RandomImageLayer):
    """Multiplicative (speckle) noise: ``u + u * sigma * N(0, 1)``.

    ``u`` is the intensity rescaled to ``[0, 1]``, so dark pixels (a digit's
    background) stay clean and bright ones get noise proportional to their
    value, like sensor speckle. ``sigma`` is drawn per image from
    ``U(0, stddev)``.

    Args:
        stddev: largest relative noise standard deviation.
        rate, value_range, seed: see the base class.
    """

    def __init__(self, stddev=0.3, rate=1.0, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(rate=rate, value_range=value_range, seed=seed, **kwargs)
        self.stddev = float(stddev)

    def _transform(self, x, shape, seed):
        B = self.backend
        lo, hi = self.value_range
        u = (x - lo) / (hi - lo)
        sigma = self._strength(shape, self.stddev, seed)
        u = u + u * sigma * B.random.normal(shape, seed=seed)
        return u * (hi - lo) + lo

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="kmgan")
class RandomSaltAndPepper(RandomImageLayer):
    """Salt-and-pepper noise: a random share of pixels set to low or high.

    The share ``a`` is drawn per image from ``U(0, amount)``; each pixel
    (all its channels together) becomes ``high`` (salt) with probability
    ``a / 2`` and ``low`` (pepper) with probability ``a / 2``.

    Args:
        amount: largest share of corrupted pixels, in ``[0, 1]``.
        rate, value_range, seed: see the base class.
    """

    def __init__(self, amount=0.05, rate=1.0, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(rate=rate, value_range=value_range, seed=seed, **kwargs)
        amount = float(amount)
        if not 0.0 <= amount <= 1.0:
            raise ValueError(f"amount must be in [0, 1], got {amount}.")
        self.amount = amount

    def _transform(self, x, shape, seed):
        B = self.backend
        lo, hi = self.value_range
        a = self._strength(shape, self.amount, seed)
        u = B.random.uniform((shape[0], shape[1], shape[2], 1), seed=seed)
        out = B.numpy.where(u < a / 2.0, hi, x)
        return B.numpy.where(u > 1.0 - a / 2.0, lo, out)

    def get_config(self):
        return {**super().get_config(), "amount": self.amount}
