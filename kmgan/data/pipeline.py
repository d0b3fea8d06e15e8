"""`tf.data` pipelines of real data, ready for a kmgan game's `fit`.

Every pass of a shuffled pipeline is one epoch, ordered by `(seed, epoch)`
(`kmgan.data.order`), so a run resumed at any epoch boundary sees the
batches the uninterrupted run saw.
"""

import tensorflow as tf

from kmgan.data import checks
from kmgan.data import order
from kmgan.data import sources
from kmgan.data.mixtures import get_mixture

__all__ = ["from_arrays", "load", "mixture_dataset"]

_DEFAULT_MIXTURE_SAMPLES = 100_000
_MAX_SHUFFLE_BUFFER = 60_000


def load(
    name,
    split="train",
    batch_size=64,
    data_dir=None,
    shuffle=True,
    seed=None,
    image_size=None,
    labels=True,
    max_examples=None,
):
    """Loads a dataset as batches ready for a kmgan game's `fit`.

    Args:
        name: A TFDS dataset name (one of `TFDS_DATASETS`, e.g. `"mnist"`,
            `"fashion_mnist"`, `"cifar10"`, `"cifar100"`; any other TFDS
            image dataset as `"tfds:<name>"`), `"ring"` / `"grid"` for the
            synthetic 2-D mixtures, or a local path: a Keras-style `.npz`, a
            folder of MNIST idx files, or a CIFAR python folder / archive.
        split: Which split to read. `"train"` or `"test"` for local files
            and mixtures; any TFDS split string (e.g. `"train[:10%]"`) for
            TFDS datasets.
        batch_size: Examples per batch. Batches are built with
            `drop_remainder=True`.
        data_dir: TFDS data directory (where prepared datasets live or are
            downloaded to). Ignored for local paths and mixtures.
        shuffle: Whether to shuffle the examples: every pass (epoch) in
            a new order, a function of `(seed, epoch)`, so that a resumed
            run replays the uninterrupted run's batches (`kmgan.data.order`).
        seed: Optional integer seed for the shuffle (and for sampling a
            synthetic mixture). None draws one from Python's `random`,
            which `keras.utils.set_random_seed` seeds.
        image_size: Optional `(height, width)` (or one int for a square) to
            resize images to, e.g. `(32, 32)` for 28x28 MNIST.
        labels: If `True`, yield `(images, labels)` tuples; if `False`,
            yield images only.
        max_examples: Optional number of examples to keep (the first ones,
            before shuffling), for quick runs. For a mixture, the number of
            points sampled.

    Returns:
        A `tf.data.Dataset` of `(images, labels)` batches (or just images
        when `labels=False`): images float32 of shape
        `(batch_size, H, W, C)` in `[-1, 1]`, labels int32 of shape
        `(batch_size,)`. For a mixture, points float32 `(batch_size, 2)`
        and mode indices. Prefetched with `tf.data.AUTOTUNE`.

    Raises:
        ValueError: for an unknown name, a missing local file, an unknown
            split, bad arguments, or fewer examples than one batch.
        RuntimeError: when a TFDS dataset can be neither found in
            `data_dir` nor downloaded (e.g. no network).
    """
    batch_size = checks.check_batch_size(batch_size)
    image_size = checks.check_image_size(image_size)
    max_examples = checks.check_max_examples(max_examples)
    kind, target = sources.resolve_source(name)

    if kind == "mixture":
        checks.check_split(split, sources.LOCAL_SPLITS, f"the '{target}' mixture")
        if image_size is not None:
            raise ValueError(
                f"image_size={image_size} makes no sense for the 2-D "
                f"'{target}' mixture; leave it as None."
            )
        if seed is not None and split == "test":
            seed = seed + 1  # A different, still reproducible, draw.
        return mixture_dataset(
            target,
            num_samples=max_examples or _DEFAULT_MIXTURE_SAMPLES,
            batch_size=batch_size,
            seed=seed,
            shuffle=shuffle,
            labels=labels,
        )

    if kind == "local":
        x, y = sources.load_arrays(target, split=split)
        if y is None and labels:
            raise ValueError(
                f"The local dataset {target} has no labels for split "
                f"'{split}'; pass labels=False to load images only."
            )
        if max_examples is not None:
            x = x[:max_examples]
            y = None if y is None else y[:max_examples]
        return _from_arrays(
            x,
            y if labels else None,
            batch_size,
            shuffle,
            seed,
            image_size,
            what=f"Split '{split}' of {target}",
        )

    return _load_tfds(
        target,
        split=split,
        batch_size=batch_size,
        data_dir=data_dir,
        shuffle=shuffle,
        seed=seed,
        image_size=image_size,
        labels=labels,
        max_examples=max_examples,
    )


def from_arrays(x, y=None, batch_size=64, shuffle=True, seed=None, image_size=None):
    """Builds a batched `tf.data.Dataset` from numpy arrays.

    Images are validated and scaled here, so a wrong array fails now rather
    than at the first training step:

    - uint8 (or integer 0..255) images are scaled to `[-1, 1]`;
    - float images must already lie in `[-1, 1]`;
    - `(N, H, W)` images get a trailing channel axis;
    - 2-D float data `(N, D)` (points of a toy mixture) is passed through
      unscaled.

    Args:
        x: Array of images `(N, H, W)` / `(N, H, W, C)`, or of float points
            `(N, D)`.
        y: Optional integer labels of shape `(N,)`.
        batch_size: Examples per batch (`drop_remainder=True`).
        shuffle: Whether to shuffle the examples: every pass (epoch) in
            a new order, a function of `(seed, epoch)` (`kmgan.data.order`).
        seed: Optional integer seed for the shuffle; None draws one from
            Python's `random`.
        image_size: Optional `(height, width)` to resize images to.

    Returns:
        A `tf.data.Dataset` of `(x, y)` batches, or of `x` batches when `y`
        is `None`: float32 `x` and int32 `y`, prefetched.

    Raises:
        ValueError: if the arrays have the wrong rank, dtype or range, if
            `x` and `y` disagree in length, or if there are fewer examples
            than `batch_size`.
    """
    return _from_arrays(x, y, batch_size, shuffle, seed, image_size)


def _from_arrays(x, y, batch_size, shuffle, seed, image_size, what="The array dataset"):
    """`from_arrays`, naming the data source `what` in error messages."""
    batch_size = checks.check_batch_size(batch_size)
    image_size = checks.check_image_size(image_size)
    x, is_image = checks.standardize_x(x)
    if not is_image and image_size is not None:
        raise ValueError(
            f"image_size={image_size} was given but x has shape {x.shape}: "
            "2-D data (N, D) is treated as points, not images."
        )
    if y is not None:
        y = checks.standardize_labels(y, len(x))
    num_examples = len(x)
    checks.check_enough_examples(num_examples, batch_size, what)

    with tf.device("/CPU:0"):
        x_tensor = tf.constant(x)
        y_tensor = None if y is None else tf.constant(y)

    def gather(indices):
        images = tf.gather(x_tensor, indices)
        if is_image:
            images = _to_model_range(images, image_size)
        if y_tensor is None:
            return images
        return images, tf.gather(y_tensor, indices)

    if shuffle:
        ds = order.shuffled_indices(num_examples, seed)
    else:
        ds = tf.data.Dataset.range(num_examples)
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def mixture_dataset(
    kind="ring",
    num_samples=_DEFAULT_MIXTURE_SAMPLES,
    batch_size=64,
    seed=None,
    shuffle=True,
    labels=True,
    **kwargs,
):
    """Samples a synthetic mixture into a batched `tf.data.Dataset`.

    Args:
        kind: `"ring"` or `"grid"` (or a `Mixture`).
        num_samples: Number of points to sample (one epoch).
        batch_size: Points per batch (`drop_remainder=True`).
        seed: Optional integer seed for sampling and shuffling; None draws
            one from Python's `random` (seeded by
            `keras.utils.set_random_seed`), so a restarted script draws the
            same points.
        shuffle: Whether to shuffle the points: every pass (epoch) in a new
            order, a function of `(seed, epoch)` (`kmgan.data.order`).
        labels: If `True`, yield `(points, mode_index)`; else points only.
        **kwargs: Mixture parameters, see `get_mixture`.

    Returns:
        A `tf.data.Dataset` of float32 `(batch_size, 2)` points (and int32
        `(batch_size,)` mode indices).
    """
    mixture = get_mixture(kind, **kwargs)
    seed = order.resolve_seed(seed)
    points, modes = mixture.sample(num_samples, seed=seed)
    return _from_arrays(
        points,
        modes if labels else None,
        batch_size,
        shuffle,
        seed,
        None,
        what=f"The '{mixture.kind}' mixture sample",
    )


def _to_model_range(images, image_size):
    """Casts images (uint8 or float in [-1, 1]) to float32 in [-1, 1]."""
    if images.dtype == tf.uint8:
        images = tf.cast(images, "float32") / 127.5 - 1.0
    else:
        images = tf.cast(images, "float32")
    if image_size is not None:
        images = tf.image.resize(images, image_size, method="bilinear")
        images = tf.clip_by_value(images, -1.0, 1.0)
    return images


def _load_tfds(name, split, batch_size, data_dir, shuffle, seed, image_size, labels, max_examples):
    # Files in their stored order: the shuffle below is then the whole
    # order of a pass, and a function of (seed, epoch).
    ds = sources.tfds_load(name, split, data_dir, shuffle_files=False)
    image_spec = ds.element_spec[0]
    if image_spec.shape.rank != 3:
        raise ValueError(
            f"TFDS dataset '{name}' yields images of shape {image_spec.shape}; expected (H, W, C)."
        )
    if image_spec.dtype != tf.uint8:
        raise ValueError(
            f"TFDS dataset '{name}' yields {image_spec.dtype.name} images; "
            "only uint8 image datasets are supported."
        )
    if max_examples is not None:
        ds = ds.take(max_examples)
    num_examples = int(ds.cardinality())
    if num_examples >= 0:
        checks.check_enough_examples(num_examples, batch_size, f"Split {split!r} of '{name}'")
    if shuffle:
        buffer = num_examples if num_examples > 0 else _MAX_SHUFFLE_BUFFER
        ds = order.shuffle_by_epoch(ds, min(buffer, _MAX_SHUFFLE_BUFFER), seed)

    def preprocess(image, label):
        image = _to_model_range(image, image_size)
        if not labels:
            return image
        return image, tf.cast(label, "int32")

    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)
