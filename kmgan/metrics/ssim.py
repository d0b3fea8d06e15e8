"""MS-SSIM (multi-scale structural similarity) and the MS-SSIM diversity score.

MS-SSIM (Wang, Simoncelli & Bovik 2003) compares two images at 5 scales:
contrast-structure ``cs_j`` at scales 0..M-2 and full SSIM at the coarsest
scale M-1, combined as ``prod_j cs_j^w_j * ssim_{M-1}^w_{M-1}`` with
``w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``, an 11x11 Gaussian window of
sigma 1.5, ``k1 = 0.01``, ``k2 = 0.03`` and 2x2 average pooling between
scales. This module follows ``tf.image.ssim_multiscale`` step by step (valid
Gaussian filtering, odd sizes padded by repeating the last row/column before
pooling, negative ``cs``/``ssim`` clipped to 0 before the powers, the score
computed per channel and averaged over channels), written with ``keras.ops``
so it runs on every backend. For images large enough for all scales
(``min(H, W) >= 11 * 2**4 = 176``) the results equal TensorFlow's.

Small images. At 28x28 or 32x32 the 11-px window no longer fits after 2-3
halvings; ``tf.image.ssim_multiscale`` then fails (it asserts every scale is
at least ``filter_size``). ``small_images`` chooses what to do:

* ``"shrink_window"`` (default): keep all scales and the paper's weights and,
  at each scale smaller than the window, use a window of the image's size
  with sigma scaled in proportion (``sigma * size / filter_size``). This is
  what the reference NumPy MS-SSIM of ``tensorflow/models``
  (``research/compression/image_encoder/msssim.py``) does; Google's
  ``compare_gan`` (the GAN-evaluation library behind Fedus et al.'s MS-SSIM
  numbers) shrinks the window the same way but keeps sigma = 1.5. GAN
  diversity numbers for 32x32 / 64x64 samples were therefore computed with all
  5 scales and shrunken windows, and this mode stays close to them. The two
  conventions agree wherever the window fits (min side >= 11 at that scale).
* ``"drop_scales"``: keep the 11-px window and use only the leading scales
  at which it fits (2 scales at 28x28 and 32x32, 3 at 64x64), with the
  remaining power weights renormalised to sum to 1.
* ``"error"``: raise, like TensorFlow.

MS-SSIM diversity (Odena et al. 2017; used by MEGAN, Park et al. 2018, over
2,000 generated samples): the mean MS-SSIM over pairs of distinct samples.
Lower means more diverse; identical samples give 1, unrelated noise gives
about 0. Compare a model's value with the same statistic of real data.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SMALL_IMAGE_MODES = ("shrink_window", "drop_scales", "error")


def gaussian_kernel_1d(size, sigma):
    """Normalised 1-D Gaussian of ``size`` taps centred on ``(size - 1) / 2``.

    The 2-D window used by SSIM is the outer product of this with itself
    (``fspecial('gaussian')`` in MATLAB).

    Args:
        size: number of taps.
        sigma: standard deviation in pixels.

    Returns:
        float32 NumPy array ``(size,)`` summing to 1.
    """
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(coords**2) / (2.0 * float(sigma) ** 2))
    return (g / g.sum()).astype(np.float32)


def scale_plan(
    height,
    width,
    filter_size=11,
    filter_sigma=1.5,
    power_factors=MSSSIM_WEIGHTS,
    small_images="shrink_window",
):
    """Windows and weights MS-SSIM uses at each scale for a given image size.

    Args:
        height: image height at scale 0.
        width: image width at scale 0.
        filter_size: Gaussian window size wanted (11).
        filter_sigma: Gaussian sigma wanted (1.5).
        power_factors: per-scale exponents; their number is the number of
            scales wanted.
        small_images: ``"shrink_window"``, ``"drop_scales"`` or ``"error"``
            (see the module docstring).

    Returns:
        list of ``(window_size, sigma, power)`` per scale used, finest first.

    Raises:
        ValueError: for an unknown mode, or with ``"error"`` when a scale is
            smaller than the window.
    """
    if small_images not in SMALL_IMAGE_MODES:
        raise ValueError(f"small_images must be one of {SMALL_IMAGE_MODES}; got {small_images!r}.")
    powers = [float(p) for p in power_factors]
    if not powers:
        raise ValueError("power_factors must not be empty.")
    sizes = []
    h, w = int(height), int(width)
    for _ in powers:
        sizes.append((h, w))
        h, w = (h + 1) // 2, (w + 1) // 2  # pad odd sizes, then 2x2 pool
    fits = [min(s) >= filter_size for s in sizes]
    if all(fits):
        return [(filter_size, filter_sigma, p) for p in powers]
    if small_images == "error":
        raise ValueError(
            f"Images of {height}x{width} are too small for {len(powers)} scales with an "
            f"{filter_size}-px window (need min side >= {filter_size * 2 ** (len(powers) - 1)}). "
            'Use small_images="shrink_window" or "drop_scales".'
        )
    if small_images == "shrink_window":
        plan = []
        for (h, w), p in zip(sizes, powers):
            size = min(filter_size, h, w)
            plan.append((size, filter_sigma * size / filter_size, p))
        return plan
    # drop_scales: leading scales where the window fits, weights renormalised.
    keep = 0
    while keep < len(fits) and fits[keep]:
        keep += 1
    if keep == 0:  # smaller than one window even at full resolution
        size = min(filter_size, *sizes[0])
        return [(size, filter_sigma * size / filter_size, 1.0)]
    total = sum(powers[:keep])
    return [(filter_size, filter_sigma, p / total) for p in powers[:keep]]


def _prepare(images_a, images_b):
    a = ops.convert_to_tensor(images_a)
    b = ops.convert_to_tensor(images_b)
    single = len(a.shape) == 3
    if single:
        a, b = a[None], b[None]
    if len(a.shape) != 4 or tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            "Expected two image batches of the same shape (N, H, W, C) (or single "
            f"(H, W, C) images); got {tuple(a.shape)} and {tuple(b.shape)}."
        )
    return ops.cast(a, "float32"), ops.cast(b, "float32"), single


def _gaussian_filter(x, size, sigma):
    """Valid separable Gaussian filtering of every channel of ``x`` (NHWC)."""
    if size == 1:
        return x
    channels = x.shape[-1]
    g = gaussian_kernel_1d(size, sigma)
    k_rows = np.tile(g.reshape(size, 1, 1, 1), (1, 1, channels, 1))
    k_cols = np.tile(g.reshape(1, size, 1, 1), (1, 1, channels, 1))
    x = ops.depthwise_conv(
        x, ops.convert_to_tensor(k_rows), strides=1, padding="valid", data_format="channels_last"
    )
    return ops.depthwise_conv(
        x, ops.convert_to_tensor(k_cols), strides=1, padding="valid", data_format="channels_last"
    )


def _ssim_and_cs(x, y, size, sigma, max_val, k1, k2):
    """Per-image, per-channel mean SSIM and contrast-structure, shape (N, C)."""
    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    channels = x.shape[-1]
    # One depthwise pass filters the four moments at once.
    stacked = ops.concatenate([x, y, x * y, x * x + y * y], axis=-1)
    f = _gaussian_filter(stacked, size, sigma)
    mu_x = f[..., :channels]
    mu_y = f[..., channels : 2 * channels]
    e_xy = f[..., 2 * channels : 3 * channels]
    e_sq = f[..., 3 * channels :]
    num0 = 2.0 * mu_x * mu_y
    den0 = mu_x * mu_x + mu_y * mu_y
    luminance = (num0 + c1) / (den0 + c1)
    cs_map = (2.0 * e_xy - num0 + c2) / (e_sq - den0 + c2)
    ssim = ops.mean(luminance * cs_map, axis=(1, 2))
    cs = ops.mean(cs_map, axis=(1, 2))
    return ssim, cs


def _downsample(x):
    """Pads odd sizes by repeating the last row/column, then 2x2 average-pools."""
    if x.shape[1] % 2:
        x = ops.concatenate([x, x[:, -1:, :, :]], axis=1)
    if x.shape[2] % 2:
        x = ops.concatenate([x, x[:, :, -1:, :]], axis=2)
    return ops.average_pool(x, pool_size=2, strides=2, padding="valid", data_format="channels_last")


class _PairFunction(keras.layers.Layer):
    """Layer form of a pairwise image function, so a Keras model can compile it."""

    def __init__(self, fn, settings, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn
        self.settings = dict(settings)

    def call(self, inputs):
        a, b = inputs
        return self.fn(a, b, **self.settings)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)


_COMPILED = {}


def _maybe_compiled(fn, images_a, images_b, settings):
    """Evaluates ``fn`` on NumPy inputs with a cached compiled model.

    Returns ``None`` (caller runs ``fn`` op by op) unless both inputs are
    NumPy arrays of rank 3 or 4 with the same shape.
    """
    if not (isinstance(images_a, np.ndarray) and isinstance(images_b, np.ndarray)):
        return None
    if images_a.shape != images_b.shape or images_a.ndim not in (3, 4):
        return None
    single = images_a.ndim == 3
    a = images_a[None] if single else images_a
    b = images_b[None] if single else images_b
    key = (fn.__name__, a.shape[1:], tuple(sorted(settings.items())))
    model = _COMPILED.get(key)
    if model is None:
        in_a, in_b = keras.Input(a.shape[1:]), keras.Input(a.shape[1:])
        model = keras.Model(
            [in_a, in_b], _PairFunction(fn, settings, dtype="float32")([in_a, in_b])
        )
        _COMPILED[key] = model
    out = np.asarray(model.predict_on_batch([a.astype(np.float32), b.astype(np.float32)]))
    return ops.convert_to_tensor(out[0] if single else out)


def ssim(images_a, images_b, max_val=2.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """Single-scale SSIM per image pair (as ``tf.image.ssim``).

    NumPy inputs run through a compiled model cached per image shape;
    backend tensors run op by op (usable inside traced functions).

    A window larger than the image is shrunk to the image size with sigma
    scaled in proportion.

    Args:
        images_a: ``(N, H, W, C)`` (or ``(H, W, C)``) images.
        images_b: images of the same shape.
        max_val: dynamic range of the pixel values: 2.0 for [-1, 1], 1.0 for
            [0, 1], 255 for uint8.
        filter_size: Gaussian window size.
        filter_sigma: Gaussian window sigma.
        k1: luminance stabiliser constant.
        k2: contrast stabiliser constant.

    Returns:
        Backend tensor ``(N,)`` (scalar for single images): SSIM averaged
        over pixels and channels.
    """
    settings = dict(
        max_val=float(max_val),
        filter_size=int(filter_size),
        filter_sigma=float(filter_sigma),
        k1=float(k1),
        k2=float(k2),
    )
    compiled = _maybe_compiled(_ssim_tensors, images_a, images_b, settings)
    if compiled is not None:
        return compiled
    return _ssim_tensors(images_a, images_b, **settings)


def _ssim_tensors(images_a, images_b, max_val, filter_size, filter_sigma, k1, k2):
    a, b, single = _prepare(images_a, images_b)
    size = min(filter_size, a.shape[1], a.shape[2])
    s, _ = _ssim_and_cs(a, b, size, filter_sigma * size / filter_size, float(max_val), k1, k2)
    out = ops.mean(s, axis=-1)
    return out[0] if single else out


def ms_ssim(
    images_a,
    images_b,
    max_val=2.0,
    power_factors=MSSSIM_WEIGHTS,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
    small_images="shrink_window",
):
    """MS-SSIM of each pair ``(images_a[i], images_b[i])``.

    Args:
        images_a: ``(N, H, W, C)`` (or ``(H, W, C)``) channels-last images,
            NumPy or backend tensors.
        images_b: images of the same shape.
        max_val: dynamic range of the pixel values: 2.0 for [-1, 1] (the GAN
            output range, default), 1.0 for [0, 1], 255 for uint8.
        power_factors: exponent per scale (Wang et al.'s 5 by default); the
            number of entries is the number of scales.
        filter_size: Gaussian window size (11).
        filter_sigma: Gaussian window sigma (1.5).
        k1: luminance stabiliser constant (0.01).
        k2: contrast stabiliser constant (0.03).
        small_images: how to treat images too small for all scales with
            this window: ``"shrink_window"`` (default), ``"drop_scales"`` or
            ``"error"``; see the module docstring.

    Returns:
        Backend tensor ``(N,)`` (scalar for single images) of MS-SSIM values
        in [0, 1]; 1 for identical images. NumPy inputs are evaluated by a
        compiled model (``jax.jit`` / ``tf.function`` through Keras) cached
        per image shape and settings; backend tensors run op by op, so the
        function also works inside a traced or differentiated computation.
    """
    settings = dict(
        max_val=float(max_val),
        power_factors=tuple(float(p) for p in power_factors),
        filter_size=int(filter_size),
        filter_sigma=float(filter_sigma),
        k1=float(k1),
        k2=float(k2),
        small_images=small_images,
    )
    # Validate the mode / sizes eagerly, with a clear error.
    try:
        shape = tuple(images_a.shape if hasattr(images_a, "shape") else np.shape(images_a))
    except (TypeError, ValueError):  # unknown rank in a graph
        shape = ()
    if len(shape) >= 3 and all(isinstance(d, (int, np.integer)) for d in shape[-3:-1]):
        scale_plan(shape[-3], shape[-2], filter_size, filter_sigma, power_factors, small_images)
    compiled = _maybe_compiled(_ms_ssim_tensors, images_a, images_b, settings)
    if compiled is not None:
        return compiled
    return _ms_ssim_tensors(images_a, images_b, **settings)


def _ms_ssim_tensors(
    images_a, images_b, max_val, power_factors, filter_size, filter_sigma, k1, k2, small_images
):
    a, b, single = _prepare(images_a, images_b)
    plan = scale_plan(
        a.shape[1], a.shape[2], filter_size, filter_sigma, power_factors, small_images
    )
    max_val = float(max_val)
    values = []
    for j, (size, sigma, _) in enumerate(plan):
        if j > 0:
            a, b = _downsample(a), _downsample(b)
        s, cs = _ssim_and_cs(a, b, size, sigma, max_val, k1, k2)
        values.append(s if j == len(plan) - 1 else cs)
    stacked = ops.relu(ops.stack(values, axis=-1))  # (N, C, scales)
    powers = ops.convert_to_tensor(np.asarray([p for _, _, p in plan], np.float32))
    per_channel = ops.prod(ops.power(stacked, powers), axis=-1)
    out = ops.mean(per_channel, axis=-1)
    return out[0] if single else out


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _pair_indices(n, num_pairs, rng):
    """Unordered pairs ``i < j`` of distinct indices: all, or a random subset."""
    total = n * (n - 1) // 2
    if num_pairs is None or num_pairs >= total:
        i, j = np.triu_indices(n, k=1)
        return i, j
    k = rng.choice(total, size=int(num_pairs), replace=False)
    # Row i of the upper triangle holds pairs (i, i+1..n-1) and starts at
    # linear index i * (2n - i - 1) / 2.
    rows = np.arange(n - 1)
    starts = rows * (2 * n - rows - 1) // 2
    i = np.searchsorted(starts, k, side="right") - 1
    j = k - starts[i] + i + 1
    return i, j


def ms_ssim_diversity(images, num_pairs=None, seed=0, batch_size=256, max_val=2.0, **kwargs):
    """Mean MS-SSIM over pairs of distinct samples (lower = more diverse).

    Args:
        images: ``(N, H, W, C)`` samples, N >= 2, e.g. 2,000 generated images
            as in MEGAN. NumPy or backend tensor (converted to NumPy).
        num_pairs: ``None`` uses all ``N (N - 1) / 2`` unordered pairs (exact;
            about 2M pairs for N = 2,000, which is quick on an accelerator
            but slow on CPU); an integer draws that many distinct pairs
            uniformly without replacement (a Monte-Carlo estimate).
        seed: seed of the pair sampling.
        batch_size: pairs per MS-SSIM evaluation.
        max_val: dynamic range of the pixel values (2.0 for [-1, 1]).
        **kwargs: passed to :func:`ms_ssim` (``small_images``,
            ``filter_size``, ...).

    Returns:
        Python float, the mean MS-SSIM over the pairs.
    """
    x = images if isinstance(images, np.ndarray) else np.asarray(ops.convert_to_numpy(images))
    if x.ndim != 4:
        raise ValueError(f"Expected images of shape (N, H, W, C); got {x.shape}.")
    n = x.shape[0]
    if n < 2:
        raise ValueError("MS-SSIM diversity needs at least 2 images.")
    if num_pairs is not None and int(num_pairs) < 1:
        raise ValueError(f"num_pairs must be positive; got {num_pairs}.")
    rng = np.random.default_rng(seed)
    i, j = _pair_indices(n, num_pairs, rng)
    x = x.astype(np.float32, copy=False)
    batch_size = int(batch_size)
    total, count = 0.0, 0
    for start in range(0, len(i), batch_size):
        bi, bj = i[start : start + batch_size], j[start : start + batch_size]
        m = len(bi)
        if m < batch_size and count:  # pad: keep one input shape for the backend
            bi = np.concatenate([bi, np.repeat(bi[:1], batch_size - m)])
            bj = np.concatenate([bj, np.repeat(bj[:1], batch_size - m)])
        values = _np(ms_ssim(x[bi], x[bj], max_val=max_val, **kwargs))
        total += float(np.sum(values[:m], dtype=np.float64))
        count += m
    return total / count


__all__ = [
    "MSSSIM_WEIGHTS",
    "gaussian_kernel_1d",
    "ms_ssim",
    "ms_ssim_diversity",
    "scale_plan",
    "ssim",
]
