"""Image shapes: which ones the builders support, and reading them back from models."""

__all__ = [
    "SUPPORTED_CHANNELS",
    "SUPPORTED_SPATIAL",
    "check_image_shape",
    "image_shape_of",
    "latent_dim_of",
    "supported_shapes_text",
]

#: Image shapes (height, width) the convolutional builders support, mapped to
#: the spatial size of the generator's first feature map (the DCGAN layouts
#: 7->14->28, 4->8->16->32 and 4->8->16->32->64).
SUPPORTED_SPATIAL = {28: 7, 32: 4, 64: 4}

#: Channel counts the convolutional builders support (grey and RGB).
SUPPORTED_CHANNELS = (1, 3)


def supported_shapes_text(sizes=None):
    """Human-readable list of supported image shapes for error messages.

    Args:
        sizes: Iterable of supported square sizes; all DCGAN sizes when None.

    Returns:
        A string such as "(28, 28, C), (32, 32, C) with C in (1, 3)".
    """
    sizes = sorted(SUPPORTED_SPATIAL if sizes is None else sizes)
    shapes = ", ".join(f"({s}, {s}, C)" for s in sizes)
    return f"{shapes} with C in {SUPPORTED_CHANNELS}"


def check_image_shape(image_shape, sizes=None):
    """Validate and normalise an image shape.

    Args:
        image_shape: `(height, width, channels)`, a tuple or list of ints.
        sizes: Allowed square sizes (defaults to the keys of
            `SUPPORTED_SPATIAL`).

    Returns:
        The shape as a tuple of three Python ints.

    Raises:
        ValueError: If the shape is not one of the supported shapes.
    """
    sizes = tuple(SUPPORTED_SPATIAL if sizes is None else sizes)
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or shape[0] != shape[1]
        or shape[0] not in sizes
        or shape[2] not in SUPPORTED_CHANNELS
    ):
        raise ValueError(
            f"Unsupported image_shape {image_shape!r}. Supported shapes: "
            f"{supported_shapes_text(sizes)}."
        )
    return shape


def _static_shape(tensor):
    return tuple(None if d is None else int(d) for d in tensor.shape)


def latent_dim_of(generator):
    """The size of a generator's latent vector z, read from its input shape.

    The input named "z" is used when the model has several inputs (e.g. a
    conditional generator G(z, y)); otherwise the first input.

    Args:
        generator: A built `keras.Model` whose z input has shape
            (batch, latent_dim).

    Returns:
        latent_dim, an int.

    Raises:
        ValueError: If the model has no input of shape (batch, d) with d
            known.
    """
    inputs = list(getattr(generator, "inputs", None) or [])
    if not inputs:
        raise ValueError(
            f"Model {getattr(generator, 'name', generator)!r} has no known "
            "inputs; build it (functional API) before asking its latent size."
        )
    named = [t for t in inputs if getattr(t, "name", "").split(":")[0] == "z"]
    z = (named or inputs)[0]
    shape = _static_shape(z)
    if len(shape) != 2 or shape[-1] is None:
        raise ValueError(
            f"Cannot read a latent size from input shape {shape} of model "
            f"{generator.name!r}; expected (batch, latent_dim)."
        )
    return shape[-1]


def image_shape_of(model):
    """The image shape a model produces (generator) or consumes (discriminator).

    Looks first at the model's outputs, then its inputs, for the first tensor
    of rank 4 (batch, height, width, channels): a generator's image output,
    or a discriminator's image input.

    Args:
        model: A built `keras.Model`.

    Returns:
        `(height, width, channels)`, a tuple of ints.

    Raises:
        ValueError: If neither outputs nor inputs hold a fully known rank-4
            tensor.
    """
    candidates = list(getattr(model, "outputs", None) or []) + list(
        getattr(model, "inputs", None) or []
    )
    for tensor in candidates:
        shape = _static_shape(tensor)
        if len(shape) == 4 and None not in shape[1:]:
            return shape[1:]
    raise ValueError(
        f"Model {getattr(model, 'name', model)!r} has no image-shaped "
        "(batch, height, width, channels) output or input."
    )
