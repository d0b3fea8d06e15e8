"""Argument checks shared by kmgan's layers and network builders.

Each check returns the value normalised (an int, a float, a tuple) or raises
a `ValueError` that names the argument and what was expected, before any
layer or model is built.
"""

__all__ = ["check_conv_args", "check_dropout", "check_pair", "check_positive_int", "check_units"]


def check_positive_int(value, what):
    """Validate a positive integer argument.

    Args:
        value: The value to check.
        what: Argument name for the error message.

    Returns:
        `value` as an int.

    Raises:
        ValueError: If `value` is not an integer >= 1.
    """
    try:
        ok = not isinstance(value, bool) and int(value) == value and value >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"`{what}` must be a positive integer, got {value!r}.")
    return int(value)


def check_dropout(rate):
    """Validate a dropout rate in [0, 1).

    Args:
        rate: The dropout rate.

    Returns:
        The rate as a float.

    Raises:
        ValueError: If the rate is outside [0, 1).
    """
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1), got {rate!r}.")
    return rate


def check_units(hidden_units):
    """Validate hidden-layer widths.

    Args:
        hidden_units: An int, a sequence of ints, or None (no hidden layer).

    Returns:
        A tuple of positive ints (possibly empty).

    Raises:
        ValueError: If a width is not a positive integer.
    """
    if hidden_units is None:
        return ()
    if isinstance(hidden_units, int):
        hidden_units = (hidden_units,)
    return tuple(check_positive_int(u, "hidden_units") for u in hidden_units)


def check_pair(value, what):
    """Validate a positive int or a pair of them (a kernel size, strides).

    Args:
        value: An int or a sequence of two ints.
        what: Argument name for the error message.

    Returns:
        A tuple of two ints.

    Raises:
        ValueError: If the value is not a positive int or two of them.
    """
    if isinstance(value, int):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"`{what}` must be a positive int or a pair of them, got {value!r}.")
    return value


def check_conv_args(filters, kernel_size, strides, padding):
    """Validate a convolution layer's filters, kernel size, strides and padding.

    Args:
        filters: output channels (a positive int).
        kernel_size, strides: a positive int or a pair of them.
        padding: "valid" or "same" (any case).

    Returns:
        `(filters, kernel_size, strides, padding)`: an int, two pairs of
        ints and the lower-case padding.

    Raises:
        ValueError: for a value outside those.
    """
    filters = check_positive_int(filters, "filters")
    kernel_size = check_pair(kernel_size, "kernel_size")
    strides = check_pair(strides, "strides")
    lowered = str(padding).lower()
    if lowered not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
    return filters, kernel_size, strides, lowered
