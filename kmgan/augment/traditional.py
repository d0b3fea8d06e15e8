"""Traditional augmentation: the thesis's geometric, photometric and noise families.

Built from Keras preprocessing layers plus kmgan's own (`kmgan.layers`:
`RandomBlur`, `RandomShear`, `RandomGaussianNoise`, `RandomSpeckleNoise`,
`RandomSaltAndPepper`) that, like Keras' own, run inside a ``tf.data``
pipeline whatever the Keras backend.
"""

import keras

from kmgan.layers.noise import RandomGaussianNoise
from kmgan.layers.noise import RandomSaltAndPepper
from kmgan.layers.noise import RandomSpeckleNoise
from kmgan.layers.random_image import VALUE_RANGE
from kmgan.layers.random_image import RandomBlur
from kmgan.layers.random_image import RandomShear

__all__ = [
    "FAMILIES",
    "FAMILY_CHOICES",
    "traditional_augmentation",
]


FAMILIES = ("geometric", "photometric", "noise")
FAMILY_CHOICES = FAMILIES + ("all",)


def _keras_cv_layers(family, value_range, seed):  # pragma: no cover - optional extra
    """Extra layers from keras-cv (the `cv` extra) when it is installed."""
    try:
        import keras_cv  # noqa: F401
    except Exception:
        return []
    out = []
    if family == "photometric" and hasattr(keras_cv.layers, "RandomSharpness"):
        out.append(keras_cv.layers.RandomSharpness(0.2, value_range=value_range, seed=seed))
    return out


def traditional_augmentation(
    family="all",
    image_shape=(28, 28, 1),
    allow_flip=None,
    seed=None,
    value_range=VALUE_RANGE,
    strength=1.0,
    use_keras_cv=False,
):
    """The thesis's traditional augmentation families as one Keras layer.

    ====================  =====================================================
    family                layers (maximum strength at ``strength=1``)
    ====================  =====================================================
    ``"geometric"``       ``RandomRotation`` (±15°), ``RandomZoom`` (scaling,
                          ±10 %), ``RandomFlip("horizontal")`` where allowed,
                          crop as ``RandomTranslation`` (±10 %: a random crop
                          of a padded image, keeping the size),
                          :class:`RandomShear` (0.1; Keras' layer with a
                          config that round-trips)
    ``"photometric"``     ``RandomBrightness`` (±0.2 of the range),
                          ``RandomContrast`` (±30 %), ``RandomHue`` (0.1, RGB
                          only), :class:`RandomBlur` (sigma up to 1 px)
    ``"noise"``           :class:`RandomGaussianNoise` (sigma up to 8 % of the
                          range), :class:`RandomSpeckleNoise` (up to 0.3),
                          :class:`RandomSaltAndPepper` (up to 4 % of pixels),
                          each applied to half the images
    ``"all"``             the three in this order
    ====================  =====================================================

    Geometric transforms fill uncovered pixels with the low value for
    grayscale images (a digit's background) and by reflection for RGB.

    Args:
        family: ``"geometric"``, ``"photometric"``, ``"noise"``, ``"all"``,
            or a list of those.
        image_shape: ``(H, W, C)`` of the images.
        allow_flip: whether horizontal flips are label-preserving. ``None``
            (default) allows them for RGB images only: grayscale images are
            taken to be digit-like (MNIST), where a flipped 2 or 9 is no
            digit. Pass ``True`` for e.g. Fashion-MNIST.
        seed: integer seed; layer ``i`` uses ``seed + i``.
        value_range: ``(low, high)`` of the pixel values.
        strength: multiplies every layer's maximum strength.
        use_keras_cv: also add keras-cv layers when keras-cv is installed
            (the `cv` extra); never required.

    Returns:
        A ``keras.layers.Pipeline`` (a layer usable both in ``tf.data`` ``map``
        on any backend and inside a model; a ``keras.Sequential`` would
        convert its inputs to backend tensors and break ``tf.data`` on JAX).
    """
    families = [family] if isinstance(family, str) else list(family)
    expanded = []
    for fam in families:
        if fam not in FAMILY_CHOICES:
            raise ValueError(f"Unknown augmentation family {fam!r}; choose from {FAMILY_CHOICES}.")
        for f in FAMILIES if fam == "all" else (fam,):
            if f not in expanded:
                expanded.append(f)
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (H, W, C), got {image_shape}.")
    channels = image_shape[-1]
    if allow_flip is None:
        allow_flip = channels == 3
    lo, hi = (float(v) for v in value_range)
    s = float(strength)
    if s < 0:
        raise ValueError(f"strength must be >= 0, got {strength}.")
    counter = [0]

    def next_seed():
        counter[0] += 1
        return None if seed is None else int(seed) + counter[0] - 1

    fill = dict(fill_mode="constant", fill_value=lo) if channels == 1 else dict(fill_mode="reflect")
    layers_out = []
    for fam in expanded:
        if fam == "geometric":
            layers_out += [
                keras.layers.RandomRotation(15.0 / 360.0 * s, seed=next_seed(), **fill),
                keras.layers.RandomZoom(0.1 * s, 0.1 * s, seed=next_seed(), **fill),
            ]
            if allow_flip:
                layers_out.append(keras.layers.RandomFlip("horizontal", seed=next_seed()))
            layers_out += [
                keras.layers.RandomTranslation(0.1 * s, 0.1 * s, seed=next_seed(), **fill),
                RandomShear(0.1 * s, 0.1 * s, seed=next_seed(), **fill),
            ]
        elif fam == "photometric":
            layers_out += [
                keras.layers.RandomBrightness(0.2 * s, value_range=(lo, hi), seed=next_seed()),
                keras.layers.RandomContrast(0.3 * s, value_range=(lo, hi), seed=next_seed()),
            ]
            if channels == 3:
                layers_out.append(
                    keras.layers.RandomHue(
                        min(0.1 * s, 1.0), value_range=(lo, hi), seed=next_seed()
                    )
                )
            layers_out.append(
                RandomBlur(1.0 * s, kernel_size=5, value_range=(lo, hi), seed=next_seed())
            )
            if use_keras_cv:
                layers_out += _keras_cv_layers(fam, (lo, hi), next_seed())
        else:
            layers_out += [
                RandomGaussianNoise(0.08 * s, rate=0.5, value_range=(lo, hi), seed=next_seed()),
                RandomSpeckleNoise(0.3 * s, rate=0.5, value_range=(lo, hi), seed=next_seed()),
                RandomSaltAndPepper(
                    min(0.04 * s, 1.0), rate=0.5, value_range=(lo, hi), seed=next_seed()
                ),
            ]
    name = "_".join(expanded) + "_augmentation"
    return keras.layers.Pipeline(layers_out, name=name)
