"""Images and labels in the form every step of `kmgan.augment` takes: float32
channels-last images in ``[-1, 1]``, integer class ids, batched inference."""

import numpy as np

from kmgan.layers.random_image import VALUE_RANGE
from kmgan.metrics.inception import _to_numpy as as_numpy  # a backend tensor to NumPy

__all__ = [
    "VALUE_RANGE",
    "as_numpy",
    "check_labels",
    "count_classes",
    "padded_predict",
    "to_model_range",
]


def to_model_range(images):
    """Brings images to float32 channels-last ``[-1, 1]``.

    Args:
        images: array ``(N, H, W)`` or ``(N, H, W, C)``: uint8 / integer
            pixels in 0..255 (scaled by ``x / 127.5 - 1``), or floats already
            in ``[-1, 1]`` (a small overshoot is clipped). A backend tensor is
            converted to NumPy.

    Returns:
        float32 array ``(N, H, W, C)`` in ``[-1, 1]``.

    Raises:
        ValueError: for a wrong rank, or floats far outside ``[-1, 1]``
            (e.g. 0..255 floats).
    """
    x = as_numpy(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"Expected images (N, H, W) or (N, H, W, C), got shape {x.shape}.")
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        return (x.astype(np.float32) / np.float32(127.5)) - np.float32(1.0)
    x = x.astype(np.float32, copy=False)
    if x.size:
        lo, hi = float(np.min(x)), float(np.max(x))
        if lo < -1.5 or hi > 1.5:
            raise ValueError(
                f"Float images span [{lo:.3g}, {hi:.3g}]; kmgan.augment expects "
                "floats in [-1, 1] (x / 127.5 - 1 for 0..255 pixels) or uint8."
            )
        if lo < -1.0 or hi > 1.0:
            x = np.clip(x, -1.0, 1.0)
    return x


def check_labels(y, n=None, what="labels"):
    y = as_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{what} must be integer class ids of shape (N,), got {y.shape}.")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"{what} must be integer class ids.")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"{what} must be non-negative class ids, got {y.min()}.")
    if n is not None and len(y) != n:
        raise ValueError(f"{len(y)} {what} for {n} images.")
    return y


def count_classes(*label_arrays, num_classes=None):
    if num_classes is not None:
        return int(num_classes)
    top = -1
    for y in label_arrays:
        if y is not None and len(y):
            top = max(top, int(np.max(y)))
    return top + 1


def padded_predict(model, inputs, batch_size):
    """``model.predict_on_batch`` over full batches only (zero-padded, then cut back).

    Every call then has the same batch shape, so the predict function is
    traced once however many images are asked for (JAX and TensorFlow
    retrace for each new shape).
    """
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    n = len(inputs[0])
    size = int(batch_size)
    padded_n = -(-n // size) * size
    padded = [
        np.concatenate([a, np.zeros((padded_n - n,) + a.shape[1:], a.dtype)]) if padded_n > n else a
        for a in inputs
    ]
    outs = []
    for start in range(0, padded_n, size):
        chunk = [a[start : start + size] for a in padded]
        outs.append(as_numpy(model.predict_on_batch(chunk if len(chunk) > 1 else chunk[0])))
    return np.concatenate(outs)[:n]
