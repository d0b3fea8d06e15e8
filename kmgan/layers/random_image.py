"""Random image layers for augmentation pipelines, on any Keras backend.

Built, like `keras.layers.RandomFlip` and friends, on Keras' `DataLayer`:
inside a `tf.data` pipeline they compute with TensorFlow whatever the Keras
backend, elsewhere with the backend's ops, and they draw their randomness
from a `keras.random.SeedGenerator`.

* `RandomImageLayer`: the base (per-image rate, value range, clipping).
* `RandomBlur`: Gaussian blur with a random sigma per image.
* `RandomShear`: `keras.layers.RandomShear` whose config round-trips.

The noise layers are in `kmgan.layers.noise`.
"""

import keras

__all__ = ["VALUE_RANGE", "RandomBlur", "RandomImageLayer", "RandomShear"]

#: Pixel range of kmgan's images (the tanh range of its generators).
VALUE_RANGE = (-1.0, 1.0)

try:  # Keras >= 3.11: the base of its tf.data-safe preprocessing layers.
    from keras.src.layers.preprocessing.data_layer import DataLayer as _DataLayer
except ImportError:  # pragma: no cover - older Keras 3
    try:
        from keras.src.layers.preprocessing.tf_data_layer import TFDataLayer as _DataLayer
    except ImportError:
        _DataLayer = None


class _OpsBackend:
    """Stand-in for Keras' dynamic backend when its DataLayer is unavailable."""

    numpy = keras.ops
    random = keras.random
    cast = staticmethod(keras.ops.cast)
    shape = staticmethod(keras.ops.shape)

    @property
    def _backend(self):
        return keras.backend.backend()


if _DataLayer is None:  # pragma: no cover - only without keras.src's DataLayer

    class _DataLayer(keras.layers.Layer):
        """Plain-layer fallback: works in models and on the TensorFlow backend's
        tf.data; on other backends use the layers inside a model instead."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.backend = _OpsBackend()

        def _get_seed_generator(self, backend=None):
            return self.generator


class RandomImageLayer(_DataLayer):
    """Base of kmgan's random image layers.

    Built on Keras' ``DataLayer`` (the base of ``keras.layers.RandomFlip`` and
    friends): inside a ``tf.data`` pipeline it computes with TensorFlow
    whatever the Keras backend, elsewhere with the backend's ops, and it
    draws its randomness from a ``keras.random.SeedGenerator``.

    Args:
        rate: probability that an image is changed at all (per image).
        value_range: ``(low, high)`` of the pixel values; outputs are clipped
            to it.
        seed: integer seed.
    """

    def __init__(self, rate=1.0, value_range=VALUE_RANGE, seed=None, **kwargs):
        super().__init__(**kwargs)
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}.")
        lo, hi = (float(v) for v in value_range)
        if not hi > lo:
            raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}.")
        self.rate = rate
        self.value_range = (lo, hi)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        B = self.backend
        unbatched = len(images.shape) == 3
        if unbatched:
            images = B.numpy.expand_dims(images, 0)
        dtype = images.dtype
        x = B.cast(images, "float32")
        seed = self._get_seed_generator(B._backend)
        shape = B.shape(x)
        out = self._transform(x, shape, seed)
        if self.rate < 1.0:
            apply = B.random.uniform((shape[0], 1, 1, 1), seed=seed) < self.rate
            out = B.numpy.where(apply, out, x)
        out = B.numpy.clip(out, self.value_range[0], self.value_range[1])
        out = B.cast(out, dtype)
        if unbatched:
            out = B.numpy.squeeze(out, axis=0)
        return out

    def _strength(self, shape, maximum, seed):
        """Per-image strength ~ U(0, maximum), shape (B, 1, 1, 1)."""
        return self.backend.random.uniform((shape[0], 1, 1, 1), 0.0, float(maximum), seed=seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "value_range": list(self.value_range), "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class RandomBlur(RandomImageLayer):
    """Gaussian blur with a random standard deviation per image.

    A separable depthwise convolution written with ``keras.ops``: the image
    (reflect-padded) is convolved along height, then width, with a
    ``kernel_size``-tap Gaussian whose sigma is drawn per image from
    ``U(0, sigma)`` (a tiny sigma leaves the image unchanged). Each image's
    kernel is its own, which a single ``depthwise_conv`` kernel could not
    give, so the taps are applied as a weighted sum of shifted copies.

    Args:
        sigma: largest standard deviation, in pixels.
        kernel_size: odd number of taps.
        rate, value_range, seed: see the base class.
    """

    def __init__(
        self, sigma=1.0, kernel_size=5, rate=1.0, value_range=VALUE_RANGE, seed=None, **kwargs
    ):
        super().__init__(rate=rate, value_range=value_range, seed=seed, **kwargs)
        kernel_size = int(kernel_size)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}.")
        self.sigma = float(sigma)
        self.kernel_size = kernel_size

    def _transform(self, x, shape, seed):
        B = self.backend
        r = self.kernel_size // 2
        if r == 0:
            return x
        height, width = x.shape[1], x.shape[2]
        if height is None or width is None:
            raise ValueError("RandomBlur needs images with a known height and width.")
        if min(height, width) <= r:
            raise ValueError(
                f"RandomBlur: kernel_size {self.kernel_size} is too big for "
                f"{height}x{width} images."
            )
        sigma = B.random.uniform((shape[0], 1), 1e-3, max(self.sigma, 1e-3), seed=seed)
        taps = B.cast(B.numpy.arange(-r, r + 1), "float32")[None, :]
        weights = B.numpy.exp(-(taps**2) / (2.0 * sigma**2))
        weights = weights / B.numpy.sum(weights, axis=1, keepdims=True)  # (B, k)
        padded = B.numpy.pad(x, [[0, 0], [r, r], [0, 0], [0, 0]], mode="reflect")
        out = 0.0
        for i in range(self.kernel_size):
            w = B.numpy.reshape(weights[:, i], (-1, 1, 1, 1))
            out = out + w * padded[:, i : i + height]
        padded = B.numpy.pad(out, [[0, 0], [0, 0], [r, r], [0, 0]], mode="reflect")
        out = 0.0
        for i in range(self.kernel_size):
            w = B.numpy.reshape(weights[:, i], (-1, 1, 1, 1))
            out = out + w * padded[:, :, i : i + width]
        return out

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="kmgan")
class RandomShear(keras.layers.RandomShear):
    """``keras.layers.RandomShear`` whose config round-trips.

    Keras 3.15's ``RandomShear.get_config`` stores a symmetric factor as
    ``(-f, f)``, which its own constructor then rejects (factors must lie in
    ``[0, 1]``), so a pipeline holding it cannot be saved and reloaded. This
    subclass stores ``f`` instead; it shears exactly like the Keras layer.
    """

    def get_config(self):
        config = super().get_config()
        for key in ("x_factor", "y_factor"):
            lower, upper = config[key]
            config[key] = float(upper) if lower == -upper else [float(lower), float(upper)]
        return config
