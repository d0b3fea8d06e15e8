"""Checks of the arguments and arrays a kmgan pipeline is built from.

Each check returns the value normalised or raises a `ValueError` that says
what was expected, before any pipeline is built.
"""

import numpy as np

__all__ = ["check_value_range"]

_RESCALE_HINT = (
    "Images given as floats must already be scaled to [-1, 1]: for 0..255 "
    "pixels divide by 127.5 and subtract 1 (x / 127.5 - 1), or pass the "
    "uint8 array unchanged and it will be scaled for you."
)


def check_value_range(x, low=-1.0, high=1.0):
    """Checks that all values of an array lie in `[low, high]`.

    Args:
        x: A numpy array (or anything `np.asarray` accepts).
        low: Smallest allowed value.
        high: Largest allowed value.

    Raises:
        ValueError: if a value is outside `[low, high]` or not finite.
    """
    x = np.asarray(x)
    if x.size == 0:
        return
    if not np.all(np.isfinite(x)):
        raise ValueError("The data contains NaN or infinite values.")
    x_min, x_max = float(np.min(x)), float(np.max(x))
    if x_min >= low and x_max <= high:
        return
    hint = ""
    if (low, high) == (-1.0, 1.0):
        hint = " " + _RESCALE_HINT
    raise ValueError(
        f"Expected values in [{low}, {high}], got values in [{x_min:g}, {x_max:g}].{hint}"
    )


_INTEGER_KINDS = {0: "a non-negative integer", 1: "a positive integer"}


def _check_integer(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be {_INTEGER_KINDS[minimum]}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be {_INTEGER_KINDS[minimum]}, got {value}.")
    return int(value)


def check_positive_int(value, name):
    """Returns `value` as an int, or raises unless it is an integer >= 1."""
    return _check_integer(value, name, 1)


def check_non_negative_int(value, name):
    """Returns `value` as an int, or raises unless it is an integer >= 0."""
    return _check_integer(value, name, 0)


def check_batch_size(batch_size):
    return check_positive_int(batch_size, "batch_size")


def check_max_examples(max_examples):
    if max_examples is None:
        return None
    return check_positive_int(max_examples, "max_examples")


def check_std(std):
    std = float(std)
    if not std >= 0:
        raise ValueError(f"std must be a non-negative number, got {std}.")
    return std


def check_image_size(image_size):
    """Returns `(height, width)` (or None) from a pair or one int."""
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise ValueError(
            f"image_size must be (height, width) or one int, got {image_size!r}."
        ) from None
    height = check_positive_int(height, "image_size height")
    width = check_positive_int(width, "image_size width")
    return (height, width)


def check_split(split, allowed, where):
    if split not in allowed:
        raise ValueError(f"Unknown split {split!r} for {where}; expected one of {list(allowed)}.")


def check_enough_examples(num_examples, batch_size, what):
    if num_examples >= batch_size:
        return
    state = "is empty" if num_examples == 0 else f"has only {num_examples} examples"
    raise ValueError(
        f"{what} {state}, fewer than one batch of batch_size={batch_size}. "
        "Batches are built with drop_remainder=True (so that JAX compiles "
        "the step once), so this would yield no batches at all. Pass a "
        "smaller batch_size or more data."
    )


def standardize_x(x):
    """Validates `x`; returns `(array, is_image)` with images NHWC.

    uint8 images stay uint8 (scaled in the pipeline), integer 0..255 images
    become uint8, float images must lie in [-1, 1], and 2-D float data
    `(N, D)` are points, passed through unscaled.
    """
    x = np.asarray(x)
    if x.ndim == 2:
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"2-D data of shape {x.shape} is treated as (N, D) points and "
                f"must be float, got dtype {x.dtype}. Images need shape "
                "(N, H, W) or (N, H, W, C)."
            )
        return x.astype("float32", copy=False), False
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4:
        raise ValueError(
            f"Expected images of shape (N, H, W) or (N, H, W, C) (channels "
            f"last), or 2-D points (N, D); got an array of shape {x.shape} "
            f"(rank {x.ndim})."
        )
    if x.dtype == np.uint8:
        return x, True
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ValueError(
                f"Integer images must hold 0..255 pixel values, got values "
                f"in [{x.min()}, {x.max()}]."
            )
        return x.astype("uint8"), True
    if np.issubdtype(x.dtype, np.floating):
        check_value_range(x, -1.0, 1.0)
        return x.astype("float32", copy=False), True
    raise ValueError(f"Images must be uint8 (0..255) or float in [-1, 1], got dtype {x.dtype}.")


def standardize_labels(y, num_examples):
    """Validates integer class labels `(N,)` (or `(N, 1)`); returns int32."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"Expected integer class labels of shape (N,), got shape {y.shape}."
            " (One-hot labels are not accepted: pass np.argmax(y, axis=-1).)"
        )
    if len(y) != num_examples:
        raise ValueError(
            f"x has {num_examples} examples but y has {len(y)} labels; they "
            "must have the same length."
        )
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("Labels must be integer class ids, got fractions.")
    elif not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
        raise ValueError(f"Labels must be integers, got dtype {y.dtype}.")
    return y.astype("int32")
