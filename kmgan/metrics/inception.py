"""Inception Score, Fréchet Inception Distance and the InceptionV3 feature extractor.

One forward pass of InceptionV3 gives both quantities the two metrics need:

* the 2048-d ``pool3`` activations (the global average pool before the
  classifier, layer ``avg_pool`` in ``keras.applications.InceptionV3``), whose
  Gaussian statistics (mean, covariance) enter the FID (Heusel et al. 2017);
* the 1000-way softmax ``p(y|x)``, from which the Inception Score
  ``exp(E_x KL(p(y|x) || p(y)))`` is computed (Salimans et al. 2016).

Everything streams: the functions below accept an in-memory array, an iterable
of batches (a Python generator, a ``tf.data.Dataset``, a list of arrays) or a
``sample_fn(n) -> images`` callable with ``num_samples``, so 50,000 generated
images never need to be held in memory at once. FID keeps running first and
second moments (merged batch by batch, Chan et al.'s parallel algorithm, in
float64); IS keeps only the 1000-d probabilities.

Images are channels-last, ``(N, H, W, C)`` with ``C`` in {1, 3}, or
``(N, H, W)`` for grayscale, at any size (bilinearly resized to the network's
input size, 299 by default) and in any value range (see ``value_range`` in
:func:`preprocess_images`).

Comparability: ``keras.applications.InceptionV3`` ImageNet weights are not the
2015 TensorFlow graph that the official IS (OpenAI) and FID (TTUR) code uses
(and that ``pytorch-fid`` ports), so absolute numbers computed here are not
directly comparable with numbers printed in papers. They are consistent across
kmgan runs and backends, which is what the comparisons between games need.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings

import keras
import numpy as np
from scipy import linalg
from scipy import special

from kmgan import pretrained

INCEPTION_V3_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_V3_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_v3/" + INCEPTION_V3_WEIGHTS_FILE
)
# MD5 that keras.applications.InceptionV3 checks for the file above.
INCEPTION_V3_WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"

DEFAULT_INPUT_SIZE = 299
MIN_INPUT_SIZE = 75  # smallest input keras.applications.InceptionV3 accepts
POOL_DIM = 2048
NUM_CLASSES = 1000
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "kmgan", "fid")

# A float image whose values lie further than this fraction of the declared
# range outside it was almost certainly given with the wrong `value_range`
# (e.g. floats in [0, 255] read as [-1, 1]); such input raises.
_RANGE_SLACK = 0.25


# ---------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------


def _to_numpy(x):
    """Converts a backend tensor, tf.Tensor or array-like to a NumPy array."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy"):
        try:
            return np.asarray(x.numpy())
        except Exception:  # pragma: no cover - e.g. symbolic tensors
            pass
    return np.asarray(keras.ops.convert_to_numpy(x))


def preprocess_images(images, value_range=None):
    """Brings images to the range and layout InceptionV3 expects.

    The spatial resize to the network's input size is done inside
    :class:`InceptionFeatures`' model (bilinear, like the reference
    implementations), not here.

    Args:
        images: array of shape ``(N, H, W)``, ``(N, H, W, 1)`` or
            ``(N, H, W, 3)``, channels-last.
        value_range: ``(low, high)`` that the pixel values span, e.g.
            ``(-1, 1)`` for ``tanh`` generator outputs, ``(0, 1)`` for
            float images, ``(0, 255)`` for 8-bit images. ``None`` (default)
            infers it from the dtype only, never from the values: integer
            dtypes (uint8) mean ``(0, 255)``, floating dtypes mean ``(-1, 1)``,
            the GAN output range. Pass it explicitly for floats in [0, 1].

    Returns:
        float32 array ``(N, H, W, 3)`` with values in ``[-1, 1]``
        (``keras.applications.inception_v3.preprocess_input`` convention).

    Raises:
        ValueError: for a wrong rank or channel count, or float values lying
            far outside ``value_range`` (a sign of a wrong range).
    """
    x = _to_numpy(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(
            "Expected images of shape (N, H, W), (N, H, W, 1) or (N, H, W, 3); "
            f"got shape {x.shape}."
        )
    if x.shape[-1] not in (1, 3):
        raise ValueError(f"Expected 1 or 3 channels (channels-last); got shape {x.shape}.")
    if value_range is None:
        value_range = (0.0, 255.0) if np.issubdtype(x.dtype, np.integer) else (-1.0, 1.0)
    low, high = float(value_range[0]), float(value_range[1])
    if not high > low:
        raise ValueError(f"value_range must be (low, high) with high > low; got {value_range}.")
    is_float = np.issubdtype(x.dtype, np.floating)
    x = x.astype(np.float32)
    if x.size and is_float:
        slack = _RANGE_SLACK * (high - low)
        lo_seen, hi_seen = float(np.min(x)), float(np.max(x))
        if lo_seen < low - slack or hi_seen > high + slack:
            raise ValueError(
                f"Image values span [{lo_seen:.4g}, {hi_seen:.4g}], far outside "
                f"value_range={tuple(value_range)}. Pass the range the images "
                "are really in, e.g. value_range=(0, 1) or (0, 255)."
            )
    x = (x - low) * np.float32(2.0 / (high - low)) - np.float32(1.0)
    np.clip(x, -1.0, 1.0, out=x)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x


# ---------------------------------------------------------------------------
# The feature extractor
# ---------------------------------------------------------------------------


def _file_digest(path, algorithm, chunk=1 << 20):
    """Hex digest of a file's bytes by `hashlib` algorithm `algorithm`, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_imagenet_weights():
    """Returns a local path to the ImageNet InceptionV3 weights, downloading once.

    Uses Keras' own cache (``~/.keras/models``), so a file already fetched by
    ``keras.applications.InceptionV3(weights="imagenet")`` is reused offline.

    Returns:
        The path of the ``.h5`` file.

    Raises:
        RuntimeError: when the file is not cached and cannot be downloaded.
    """
    return pretrained.fetch_keras_weights(
        INCEPTION_V3_WEIGHTS_FILE,
        INCEPTION_V3_WEIGHTS_URL,
        "ImageNet InceptionV3 weights needed for IS/FID",
        f'InceptionFeatures(weights="/path/to/{INCEPTION_V3_WEIGHTS_FILE}")',
        file_hash=INCEPTION_V3_WEIGHTS_MD5,
    )


def weights_file_tag(path):
    """Short name of a local weights file for cache keys.

    Args:
        path: path of an InceptionV3 weights file.

    Returns:
        ``"imagenet"`` when the file is the official Keras ImageNet file
        (recognised by its MD5), else ``"<file stem>-<first 8 hex of MD5>"``,
        so different weights never share cached statistics.
    """
    md5 = _file_digest(path, "md5")
    if md5 == INCEPTION_V3_WEIGHTS_MD5:
        return "imagenet"
    stem = os.path.basename(os.fspath(path)).split(".")[0]
    return f"{_sanitize(stem)}-{md5[:8]}"


class InceptionFeatures:
    """InceptionV3 giving pool3 features and class probabilities in one pass.

    The wrapped ``model`` takes channels-last images already scaled to
    ``[-1, 1]``, of any spatial size, resizes them bilinearly to
    ``input_size`` and returns ``[pool3 (N, 2048), softmax (N, 1000)]``.
    Calling the object does the rest of the preprocessing
    (:func:`preprocess_images`) and batching.

    Args:
        weights: ``"imagenet"`` (downloaded once into Keras' cache; raises a
            ``RuntimeError`` naming the file when that is impossible, never
            falls back to random weights), ``None`` (random initialisation,
            for tests only: the numbers mean nothing), or a local path to a
            ``.h5`` / ``.weights.h5`` file holding InceptionV3 weights with
            the classifier top (e.g. a copy of
            ``inception_v3_weights_tf_dim_ordering_tf_kernels.h5``).
        batch_size: images per forward pass. The last partial batch is padded
            to this size so compiled functions are traced once.
        input_size: side of the square network input. 299 is the standard
            (and what published numbers use); ``MIN_INPUT_SIZE`` (75) keeps
            tests fast with ``weights=None``.

    Attributes:
        model: the ``keras.Model`` described above.
        inception: the underlying ``keras.applications.InceptionV3`` model.
        weights_tag: short string naming the weights, used in cache file
            names: ``"imagenet"`` (also for a local copy of the official
            file, recognised by its MD5), ``"random"``, or
            ``"<file stem>-<md5 prefix>"``.
        feature_dim: 2048, the size of the pool3 features.
        comparable_to_papers: ``False``: these ImageNet weights are not the
            2015 graph of published FIDs (use
            :func:`kmgan.metrics.inception_2015` for those).
        has_classifier: ``True``: it also gives class probabilities (IS).
        name: a human-readable name.
    """

    feature_dim = POOL_DIM
    comparable_to_papers = False
    has_classifier = True
    name = "keras.applications InceptionV3"

    def __init__(self, weights="imagenet", batch_size=50, input_size=DEFAULT_INPUT_SIZE):
        input_size = int(input_size)
        if input_size < MIN_INPUT_SIZE:
            raise ValueError(
                f"input_size must be at least {MIN_INPUT_SIZE} for InceptionV3; got {input_size}."
            )
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be positive; got {batch_size}.")
        self.batch_size = int(batch_size)
        self.input_size = input_size
        self.weights = weights

        if weights is None:
            weights_path, self.weights_tag = None, "random"
        elif isinstance(weights, str) and weights == "imagenet":
            weights_path, self.weights_tag = _fetch_imagenet_weights(), "imagenet"
        else:
            weights_path = os.path.abspath(os.path.expanduser(os.fspath(weights)))
            if not os.path.isfile(weights_path):
                raise FileNotFoundError(
                    f"InceptionV3 weights file not found: {weights_path}. Pass "
                    'weights="imagenet", None, or the path of an existing .h5 file '
                    f"(e.g. {INCEPTION_V3_WEIGHTS_FILE} from {INCEPTION_V3_WEIGHTS_URL})."
                )
            self.weights_tag = weights_file_tag(weights_path)

        channels_first = keras.config.image_data_format() == "channels_first"
        self._channels_first = channels_first
        size = (input_size, input_size)
        base = keras.applications.InceptionV3(
            include_top=True,
            weights=weights_path,
            input_shape=(3,) + size if channels_first else size + (3,),
            classifier_activation="softmax",
        )
        self.inception = base
        pool = base.get_layer("avg_pool").output
        trunk = keras.Model(base.inputs, [pool, base.outputs[0]], name="inception_v3_pool3_softmax")
        inputs = keras.Input((3, None, None) if channels_first else (None, None, 3))
        resized = keras.layers.Resizing(input_size, input_size, interpolation="bilinear")(inputs)
        self.model = keras.Model(inputs, trunk(resized), name="inception_features")

    def __call__(self, images, value_range=None):
        """Computes pool3 features and class probabilities of a batch of images.

        Args:
            images: ``(N, H, W[, C])`` images (see :func:`preprocess_images`).
            value_range: range of the pixel values; ``None`` infers it from
                the dtype (uint8 -> (0, 255), float -> (-1, 1)).

        Returns:
            ``(pool3, probs)``: float32 arrays of shapes ``(N, 2048)`` and
            ``(N, 1000)``.
        """
        x = preprocess_images(images, value_range)
        if self._channels_first:
            x = np.transpose(x, (0, 3, 1, 2))
        n = x.shape[0]
        pools, probs = [], []
        for start in range(0, n, self.batch_size):
            chunk = x[start : start + self.batch_size]
            m = chunk.shape[0]
            if m < self.batch_size:  # pad: one traced shape for the whole run
                pad = np.zeros((self.batch_size - m,) + chunk.shape[1:], chunk.dtype)
                chunk = np.concatenate([chunk, pad], axis=0)
            pool, prob = self.model.predict_on_batch(chunk)
            pools.append(_to_numpy(pool)[:m])
            probs.append(_to_numpy(prob)[:m])
        if not pools:
            return (np.zeros((0, POOL_DIM), np.float32), np.zeros((0, NUM_CLASSES), np.float32))
        return np.concatenate(pools).astype(np.float32), np.concatenate(probs).astype(np.float32)

    def __repr__(self):
        return (
            f"InceptionFeatures(weights_tag={self.weights_tag!r}, "
            f"input_size={self.input_size}, batch_size={self.batch_size})"
        )


_DEFAULT_FEATURES = None


def default_features():
    """Returns a shared ``InceptionFeatures("imagenet")``, built on first use.

    Returns:
        The module-wide :class:`InceptionFeatures` with ImageNet weights.

    Raises:
        RuntimeError: when the ImageNet weights cannot be obtained.
    """
    global _DEFAULT_FEATURES
    if _DEFAULT_FEATURES is None:
        _DEFAULT_FEATURES = InceptionFeatures("imagenet")
    return _DEFAULT_FEATURES


# ---------------------------------------------------------------------------
# Streaming over images
# ---------------------------------------------------------------------------


def _is_array(x):
    return isinstance(x, np.ndarray) or (
        hasattr(x, "shape")
        and hasattr(x, "dtype")
        and hasattr(x, "__getitem__")
        and not isinstance(x, (list, tuple, dict))
    )


def _unpack_batch(batch):
    """Takes the images out of a dataset element: ``(x, y)`` -> x, dict -> ['image']."""
    if isinstance(batch, dict):
        for key in ("image", "images", "x"):
            if key in batch:
                return batch[key]
        raise ValueError(f"Cannot find images in a batch with keys {sorted(batch)}.")
    if isinstance(batch, (tuple, list)):
        return batch[0]
    return batch


def iterate_batches(images_or_batches, batch_size=50, num_samples=None):
    """Yields NumPy image batches from an array, an iterable or a sampler.

    Args:
        images_or_batches: one of
            * an array (NumPy or backend tensor) of images ``(N, H, W[, C])``,
              sliced into batches of ``batch_size``;
            * an iterable of batches: a generator, a list of arrays, a
              batched ``tf.data.Dataset``; an element ``(images, labels)``
              or a dict with key ``"image"`` gives its images. Each batch
              must be rank 3 ``(B, H, W)`` or rank 4 ``(B, H, W, C)``;
            * a callable ``sample_fn(n) -> images`` (e.g. a closure drawing
              ``n`` samples from a generator); needs ``num_samples``.
        batch_size: batch size for slicing arrays and calling ``sample_fn``.
        num_samples: total number of images to take. ``None`` takes the
            whole array / iterable. An array or iterable with fewer images
            raises ``ValueError``.

    Yields:
        NumPy arrays of images, in order, ``num_samples`` images in total.
    """
    batch_size = int(batch_size)
    if num_samples is not None:
        num_samples = int(num_samples)
        if num_samples < 1:
            raise ValueError(f"num_samples must be positive; got {num_samples}.")
    source = images_or_batches
    if _is_array(source):
        total = int(source.shape[0])
        if num_samples is not None:
            if num_samples > total:
                raise ValueError(f"num_samples={num_samples} but only {total} images were given.")
            total = num_samples
        for start in range(0, total, batch_size):
            yield _to_numpy(source[start : min(start + batch_size, total)])
        return
    if callable(source) and not hasattr(source, "__iter__"):
        if num_samples is None:
            raise ValueError("A sample_fn(n) callable needs num_samples.")
        done = 0
        while done < num_samples:
            n = min(batch_size, num_samples - done)
            batch = _to_numpy(_unpack_batch(source(n)))
            if batch.shape[0] != n:
                raise ValueError(f"sample_fn({n}) returned {batch.shape[0]} images.")
            done += n
            yield batch
        return
    if not hasattr(source, "__iter__"):
        raise TypeError(
            "Expected an array of images, an iterable of batches or a "
            f"sample_fn(n) callable; got {type(source).__name__}."
        )
    done = 0
    for batch in source:
        batch = _to_numpy(_unpack_batch(batch))
        if batch.ndim not in (3, 4):
            raise ValueError(
                f"Each batch must have shape (B, H, W) or (B, H, W, C); got {batch.shape}. "
                "Batch un-batched datasets first."
            )
        if num_samples is not None:
            batch = batch[: num_samples - done]
        done += batch.shape[0]
        if batch.shape[0]:
            yield batch
        if num_samples is not None and done >= num_samples:
            return
    if num_samples is not None and done < num_samples:
        raise ValueError(f"num_samples={num_samples} but the iterable gave only {done} images.")


def _rebatch(batches, size):
    """Regroups preprocessed batches into batches of exactly ``size`` (last may be short)."""
    buf, count, shape = [], 0, None
    for b in batches:
        if shape is not None and b.shape[1:] != shape:
            if count:
                yield np.concatenate(buf)
            buf, count = [], 0
        shape = b.shape[1:]
        buf.append(b)
        count += b.shape[0]
        if count >= size:
            merged = np.concatenate(buf)
            full = (count // size) * size
            for start in range(0, full, size):
                yield merged[start : start + size]
            rest = merged[full:]
            buf, count = ([rest], rest.shape[0]) if rest.shape[0] else ([], 0)
    if count:
        yield np.concatenate(buf)


def _iter_outputs(images_or_batches, features, num_samples=None, batch_size=None, value_range=None):
    """Yields ``(pool3, probs)`` per forward pass over the given images."""
    if features is None:
        features = default_features()
    size = int(batch_size or getattr(features, "batch_size", None) or 50)
    batches = iterate_batches(images_or_batches, size, num_samples)
    # Per-batch range handling happens before regrouping so that batches of
    # different dtypes / channel counts can be mixed.
    prepared = (preprocess_images(b, value_range) for b in batches)
    for batch in _rebatch(prepared, size):
        # Already in [-1, 1]: pass the identity range through.
        yield features(batch, value_range=(-1.0, 1.0))


# ---------------------------------------------------------------------------
# FID
# ---------------------------------------------------------------------------


class RunningStatistics:
    """Streaming mean and covariance of feature vectors (float64).

    Batches are merged with Chan et al.'s pairwise update, which is
    numerically stable (no ``E[xx^T] - mu mu^T`` cancellation) and gives the
    same result as ``np.mean`` / ``np.cov(rowvar=False)`` on the
    concatenation.

    Args:
        dim: feature dimension, or ``None`` to take it from the first batch.
    """

    def __init__(self, dim=None):
        self.dim = dim
        self.count = 0
        self._mean = None
        self._m2 = None

    def update(self, features):
        """Adds a batch of feature vectors.

        Args:
            features: array ``(B, dim)``.

        Returns:
            ``self``, for chaining.
        """
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"Expected features of shape (B, dim); got {x.shape}.")
        n_b = x.shape[0]
        if n_b == 0:
            return self
        if self.dim is None:
            self.dim = x.shape[1]
        if x.shape[1] != self.dim:
            raise ValueError(f"Expected {self.dim}-d features; got {x.shape[1]}.")
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        m2_b = centred.T @ centred
        if self.count == 0:
            self.count, self._mean, self._m2 = n_b, mean_b, m2_b
            return self
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + np.outer(delta, delta) * (n_a * n_b / n)
        self.count = n
        return self

    @property
    def mean(self):
        """Mean vector ``(dim,)``."""
        if self.count == 0:
            raise ValueError("No features were added.")
        return self._mean.copy()

    @property
    def covariance(self):
        """Unbiased covariance ``(dim, dim)`` (``ddof=1``, like ``np.cov``)."""
        if self.count < 2:
            raise ValueError("A covariance needs at least 2 samples.")
        return self._m2 / (self.count - 1)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6, method="sqrtm"):
    """Fréchet distance between two Gaussians ``N(mu1, sigma1)``, ``N(mu2, sigma2)``.

    ``d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``,
    computed by default as in the reference TTUR implementation (Heusel et
    al.): the matrix square root comes from ``scipy.linalg.sqrtm``; if it is
    not finite (singular product) it is retried with ``eps * I`` added to both
    covariances; a numerically small imaginary part is discarded.

    ``method="eigh"`` computes the same trace as
    ``sum(sqrt(eigvalsh(sqrt(sigma1) sigma2 sqrt(sigma1))))`` (the eigenvalues
    of ``sigma1 sigma2``, which are real and non-negative for covariances)
    with two symmetric eigendecompositions. It agrees with ``"sqrtm"`` to
    rounding for well-conditioned inputs and is several times faster at
    d = 2048 on CPU (``sqrtm`` takes tens of seconds there); published FID
    numbers use ``"sqrtm"``.

    Args:
        mu1: mean vector of the first distribution ``(d,)``.
        sigma1: covariance of the first distribution ``(d, d)``.
        mu2: mean vector of the second distribution ``(d,)``.
        sigma2: covariance of the second distribution ``(d, d)``.
        eps: diagonal offset used for the retry (``"sqrtm"`` only).
        method: ``"sqrtm"`` (reference, default) or ``"eigh"``.

    Returns:
        The squared Fréchet distance, a Python float (what is called "FID").

    Raises:
        ValueError: for mismatched shapes, or when the square root keeps an
            imaginary part larger than 1e-3 on its diagonal.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape:
        raise ValueError(f"Mean vectors have different shapes: {mu1.shape} vs {mu2.shape}.")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"Covariances must be ({d}, {d}); got {sigma1.shape} and {sigma2.shape}.")
    diff = mu1 - mu2
    if method == "eigh":
        w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2.0)
        sqrt_s1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        m = sqrt_s1 @ sigma2 @ sqrt_s1
        tr_covmean = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2.0), 0.0, None)))
        return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    if method != "sqrtm":
        raise ValueError(f'method must be "sqrtm" or "eigh"; got {method!r}.')

    def _sqrtm(a):
        with warnings.catch_warnings():
            # scipy warns on singular input; finiteness is checked below.
            warnings.simplefilter("ignore")
            return linalg.sqrtm(a)

    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        warnings.warn(
            "FID: the product of covariances is singular; adding "
            f"{eps} to the diagonal of both covariance estimates.",
            RuntimeWarning,
            stacklevel=2,
        )
        offset = np.eye(d) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
        if not np.isfinite(covmean).all():
            raise ValueError("FID: matrix square root is not finite even with the eps offset.")
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = np.max(np.abs(covmean.imag))
            raise ValueError(f"FID: matrix square root has a large imaginary component ({m:.3g}).")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def activation_statistics(
    images_or_batches, features=None, *, num_samples=None, batch_size=None, value_range=None
):
    """Mean and covariance of the pool3 features of some images, streamed.

    Args:
        images_or_batches: array, iterable of batches or ``sample_fn`` (see
            :func:`iterate_batches`).
        features: an :class:`InceptionFeatures` (or any callable
            ``f(images, value_range=...) -> (pool3, probs)``); ``None`` uses
            the shared ImageNet extractor.
        num_samples: number of images to use (required for a ``sample_fn``).
        batch_size: images per forward pass; defaults to
            ``features.batch_size``.
        value_range: range of the pixel values, see :func:`preprocess_images`.

    Returns:
        ``(mu, sigma)``: float64 arrays ``(2048,)`` and ``(2048, 2048)``.
    """
    stats = RunningStatistics()
    for pool, _ in _iter_outputs(images_or_batches, features, num_samples, batch_size, value_range):
        stats.update(pool)
    return stats.mean, stats.covariance


def _as_statistics(x):
    """Returns ``(mu, sigma)`` if ``x`` already is such a pair, else ``None``."""
    if isinstance(x, (tuple, list)) and len(x) == 2:
        a, b = x
        if _is_array(a) and _is_array(b) and np.ndim(a) == 1 and np.ndim(b) == 2:
            return np.asarray(a, np.float64), np.asarray(b, np.float64)
    return None


def fid(
    images_a,
    images_b,
    features=None,
    *,
    num_samples=None,
    batch_size=None,
    value_range=None,
    method="sqrtm",
):
    """Fréchet Inception Distance between two sets of images.

    Args:
        images_a: images (array, iterable of batches or ``sample_fn``; see
            :func:`iterate_batches`) or precomputed ``(mu, sigma)``, e.g.
            from :func:`real_statistics`.
        images_b: the same for the other set.
        features: :class:`InceptionFeatures`; ``None`` uses ImageNet weights.
        num_samples: images to take from each set (required for a
            ``sample_fn``); 50,000 is the usual choice for reported numbers.
        batch_size: images per forward pass.
        value_range: pixel range of both sets (see :func:`preprocess_images`).
            When the two sets differ, compute each with
            :func:`activation_statistics` and call :func:`frechet_distance`.
        method: matrix square-root method of :func:`frechet_distance`.

    Returns:
        The FID, a Python float.
    """
    stats = []
    for images in (images_a, images_b):
        pair = _as_statistics(images)
        if pair is None:
            pair = activation_statistics(
                images,
                features,
                num_samples=num_samples,
                batch_size=batch_size,
                value_range=value_range,
            )
        stats.append(pair)
    (mu1, s1), (mu2, s2) = stats
    return frechet_distance(mu1, s1, mu2, s2, method=method)


# ---------------------------------------------------------------------------
# Inception Score
# ---------------------------------------------------------------------------


def _require_probs(probs, features):
    """Returns ``probs``; raises when the extractor gives none (``has_classifier`` False)."""
    if probs is None or getattr(features, "has_classifier", True) is False:
        raise ValueError(
            f"The feature extractor {getattr(features, 'name', type(features).__name__)} gives "
            "no class probabilities: the 2015 FID network has no classifier head; IS needs "
            "an ImageNet classifier (InceptionFeatures with weights='imagenet' or a local .h5)."
        )
    return probs


def inception_score_from_probs(probs, num_splits=10):
    """Inception Score of precomputed class probabilities (Salimans et al. 2016).

    The samples are cut into ``num_splits`` consecutive, nearly equal parts;
    for each part ``exp(mean_x KL(p(y|x) || p(y)))`` with ``p(y)`` the part's
    mean prediction; the result is the mean and (population) standard
    deviation over parts, as in the reference OpenAI code. ``0 log 0`` counts
    as 0, so one-hot predictions are allowed.

    Args:
        probs: array ``(N, num_classes)`` of probabilities (rows sum to 1).
        num_splits: number of parts, ``1 <= num_splits <= N``.

    Returns:
        ``(mean, std)`` Python floats. N equally frequent one-hot classes in a
        part give N; identical predictions give 1.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"Expected probabilities of shape (N, classes); got {p.shape}.")
    n = p.shape[0]
    num_splits = int(num_splits)
    if not 1 <= num_splits <= n:
        raise ValueError(f"num_splits must be in [1, {n}] for {n} samples; got {num_splits}.")
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise ValueError("Probabilities must be finite and non-negative.")
    scores = []
    for k in range(num_splits):
        part = p[k * n // num_splits : (k + 1) * n // num_splits]
        marginal = part.mean(axis=0, keepdims=True)
        kl = special.rel_entr(part, marginal).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def inception_score(
    images_or_batches,
    num_splits=10,
    features=None,
    *,
    num_samples=None,
    batch_size=None,
    value_range=None,
):
    """Inception Score of images, streamed through InceptionV3.

    Args:
        images_or_batches: array, iterable of batches or ``sample_fn`` (see
            :func:`iterate_batches`).
        num_splits: number of splits for mean and std (10 in the reference).
        features: :class:`InceptionFeatures`; ``None`` uses ImageNet weights.
        num_samples: number of images (required for a ``sample_fn``); 50,000
            is the usual choice for reported numbers.
        batch_size: images per forward pass.
        value_range: pixel range, see :func:`preprocess_images`.

    Returns:
        ``(mean, std)`` over the splits.
    """
    _require_probs((), features)  # before any forward pass
    outputs = _iter_outputs(images_or_batches, features, num_samples, batch_size, value_range)
    probs = [_require_probs(prob, features) for _, prob in outputs]
    if not probs:
        raise ValueError("No images were given.")
    return inception_score_from_probs(np.concatenate(probs), num_splits)


def inception_metrics(
    images_or_batches,
    real_stats=None,
    features=None,
    *,
    num_splits=10,
    num_samples=None,
    batch_size=None,
    value_range=None,
    fid_method="sqrtm",
):
    """IS and (optionally) FID of the same images from a single pass.

    Args:
        images_or_batches: array, iterable of batches or ``sample_fn``.
        real_stats: ``(mu, sigma)`` of the real data (see
            :func:`real_statistics`), or ``None`` to skip FID.
        features: :class:`InceptionFeatures`; ``None`` uses ImageNet weights.
        num_splits: Inception Score splits.
        num_samples: number of images (required for a ``sample_fn``).
        batch_size: images per forward pass.
        value_range: pixel range, see :func:`preprocess_images`.
        fid_method: matrix square-root method of :func:`frechet_distance`.

    Returns:
        dict with ``"inception_score"``, ``"inception_score_std"`` and, when
        ``real_stats`` is given, ``"fid"``.
    """
    _require_probs((), features)  # before any forward pass
    stats = RunningStatistics()
    probs = []
    for pool, prob in _iter_outputs(
        images_or_batches, features, num_samples, batch_size, value_range
    ):
        stats.update(pool)
        probs.append(_require_probs(prob, features))
    if not probs:
        raise ValueError("No images were given.")
    mean, std = inception_score_from_probs(np.concatenate(probs), num_splits)
    result = {"inception_score": mean, "inception_score_std": std}
    if real_stats is not None:
        mu_r, sigma_r = real_stats
        result["fid"] = frechet_distance(
            stats.mean, stats.covariance, mu_r, sigma_r, method=fid_method
        )
    return result


# ---------------------------------------------------------------------------
# Real-data statistics cache
# ---------------------------------------------------------------------------


def _sanitize(text):
    return re.sub(r"[^A-Za-z0-9.\-]+", "-", str(text)).strip("-") or "x"


def real_statistics_path(dataset_name, split, features=None, cache_dir=DEFAULT_CACHE_DIR):
    """Cache file that :func:`real_statistics` uses for these arguments.

    Args:
        dataset_name: e.g. ``"cifar10"``.
        split: e.g. ``"train"``.
        features: the extractor (its ``weights_tag``, ``input_size`` and,
            when it has one, ``preprocessing_tag`` (e.g. the resize mode of
            :class:`~kmgan.metrics.inception_2015.Inception2015Features`)
            enter the key); ``None`` means ImageNet weights at 299 px.
        cache_dir: folder of the cache (``~`` is expanded).

    Returns:
        Path ``{cache_dir}/{dataset}_{split}_{weights-tag}_{input_size}.npz``,
        with ``_{preprocessing_tag}`` before ``.npz`` when the extractor has one.
    """
    if features is None:
        tag, size = "imagenet", DEFAULT_INPUT_SIZE
    else:
        tag = getattr(features, "weights_tag", "custom")
        size = getattr(features, "input_size", "na")
    parts = [dataset_name, split, tag, size]
    preprocessing = getattr(features, "preprocessing_tag", None)
    if preprocessing:
        parts.append(preprocessing)
    name = "_".join(_sanitize(s) for s in parts) + ".npz"
    return os.path.join(os.path.expanduser(os.fspath(cache_dir)), name)


def real_statistics(
    dataset_name,
    split,
    images_or_batches,
    features=None,
    cache_dir=DEFAULT_CACHE_DIR,
    *,
    num_samples=None,
    batch_size=None,
    value_range=None,
    recompute=False,
):
    """FID statistics of a real dataset, computed once and cached on disk.

    The first call streams the images through the extractor and writes
    ``{dataset}_{split}_{weights-tag}_{input_size}.npz`` (atomically) under
    ``cache_dir``; later calls with the same key load it and never touch the
    images or the network (with ``features=None`` the ImageNet extractor is
    only built on a cache miss). The key does not include ``num_samples`` or
    the preprocessing: use a different ``split`` name (e.g. ``"train-10k"``)
    for a different subset.

    Args:
        dataset_name: name of the dataset, e.g. ``"cifar10"``.
        split: name of the split, e.g. ``"train"``.
        images_or_batches: the real images (array, iterable of batches or
            ``sample_fn``); only read on a cache miss.
        features: :class:`InceptionFeatures`; ``None`` uses ImageNet weights.
        cache_dir: cache folder, ``~/.cache/kmgan/fid`` by default.
        num_samples: number of images to use (``None``: all).
        batch_size: images per forward pass.
        value_range: pixel range, see :func:`preprocess_images` (uint8 data
            is read as (0, 255) by default).
        recompute: ignore and overwrite an existing cache file.

    Returns:
        ``(mu, sigma)`` float64 arrays.
    """
    path = real_statistics_path(dataset_name, split, features, cache_dir)
    if not recompute and os.path.isfile(path):
        cached = _read_cached_statistics(path)
        if cached is not None:
            return cached
    stats = RunningStatistics()
    for pool, _ in _iter_outputs(images_or_batches, features, num_samples, batch_size, value_range):
        stats.update(pool)
    mu, sigma = stats.mean, stats.covariance
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        np.savez(
            f,
            mu=mu,
            sigma=sigma,
            num_samples=stats.count,
            dataset=str(dataset_name),
            split=str(split),
            weights_tag=str(getattr(features, "weights_tag", "imagenet")),
        )
    os.replace(tmp, path)
    return mu, sigma


def _read_cached_statistics(path):
    """`(mu, sigma)` from a cache file, or None (with a warning) when the
    file is damaged: it is then rebuilt."""
    try:
        with np.load(path) as data:
            mu = np.asarray(data["mu"], np.float64)
            sigma = np.asarray(data["sigma"], np.float64)
        if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
            raise ValueError(f"mu has shape {mu.shape} and sigma {sigma.shape}")
        if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
            raise ValueError("it holds NaN or inf")
    except Exception as e:  # a truncated zip, a bad CRC, a missing array, ...
        warnings.warn(
            f"The FID statistics cache {path} is damaged ({type(e).__name__}: {e}); "
            "recomputing it from the real images.",
            stacklevel=3,
        )
        return None
    return mu, sigma


__all__ = [
    "DEFAULT_CACHE_DIR",
    "INCEPTION_V3_WEIGHTS_FILE",
    "INCEPTION_V3_WEIGHTS_URL",
    "InceptionFeatures",
    "RunningStatistics",
    "activation_statistics",
    "default_features",
    "fid",
    "frechet_distance",
    "inception_metrics",
    "inception_score",
    "inception_score_from_probs",
    "iterate_batches",
    "preprocess_images",
    "real_statistics",
    "real_statistics_path",
    "weights_file_tag",
]
