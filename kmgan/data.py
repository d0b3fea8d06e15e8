"""Datasets for kmgan games, as `tf.data` pipelines ready for `model.fit`.

Every image pipeline yields batches of float32 NHWC images scaled to
`[-1, 1]` (the range of a `tanh` generator), optionally paired with int32
labels. Batches are built with `drop_remainder=True`: JAX retraces the train
step for every new batch shape, so a short last batch would cost a
recompilation (and some games need a fixed batch size anyway).

Sources:

- TFDS names (`"mnist"`, `"fashion_mnist"`, `"cifar10"`, `"cifar100"`, ...)
  go through `tfds.load`; any other TFDS image dataset with a supervised
  `(image, label)` view is reachable as `"tfds:<name>"`.
- Local files, for machines without network access: a Keras-style `.npz`
  (the layout of `keras.datasets.mnist`'s `mnist.npz`), a folder of
  MNIST / Fashion-MNIST idx files, or a CIFAR-10 / CIFAR-100 "python version"
  folder (or its `.tar.gz` archive).
- In-memory numpy arrays (`from_arrays`).
- Synthetic 2-D Gaussian mixtures (`ring_of_gaussians`,
  `grid_of_gaussians`, `mixture_dataset`, or `load("ring")` /
  `load("grid")`), the toy benchmarks for mode collapse.

Example:

```python
ds = kmgan.data.load("mnist", batch_size=64, image_size=(32, 32))
ds = kmgan.data.load("/data/mnist.npz", split="test", labels=False)
ds = kmgan.data.mixture_dataset("grid", num_samples=100_000, seed=0)
```

When a Keras model trains on JAX or PyTorch, TensorFlow is only used here,
for the input pipeline. On a GPU machine you may want to keep TensorFlow off
the accelerator (`tf.config.set_visible_devices([], "GPU")` before anything
else touches TensorFlow); this module does not do that for you.
"""

import dataclasses
import gzip
import io
import os
import pathlib
import pickle
import re
import struct
import tarfile

import numpy as np
import tensorflow as tf

__all__ = [
    "TFDS_DATASETS",
    "MIXTURES",
    "Mixture",
    "check_image_batch",
    "check_value_range",
    "from_arrays",
    "get_mixture",
    "grid_centers",
    "grid_of_gaussians",
    "load",
    "load_arrays",
    "mixture_centers",
    "mixture_dataset",
    "ring_centers",
    "ring_of_gaussians",
]

# TFDS image datasets known to work with `load(name)`, with their splits.
TFDS_DATASETS = {
    "mnist": ("train", "test"),
    "fashion_mnist": ("train", "test"),
    "kmnist": ("train", "test"),
    "cifar10": ("train", "test"),
    "cifar100": ("train", "test"),
    "svhn_cropped": ("train", "test", "extra"),
}

# Synthetic 2-D mixtures reachable through `load(name)` and `get_mixture`.
MIXTURES = ("ring", "grid")

_ALIASES = {
    "fashion-mnist": "fashion_mnist",
    "fashionmnist": "fashion_mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
    "cifar-100": "cifar100",
    "cifar_100": "cifar100",
    "svhn": "svhn_cropped",
}

_LOCAL_SPLITS = ("train", "test")
_TFDS_PREFIX = "tfds:"
_DEFAULT_MIXTURE_SAMPLES = 100_000
_MAX_SHUFFLE_BUFFER = 60_000
_RESCALE_HINT = (
    "Images given as floats must already be scaled to [-1, 1]: for 0..255 "
    "pixels divide by 127.5 and subtract 1 (x / 127.5 - 1), or pass the "
    "uint8 array unchanged and it will be scaled for you."
)
_LOCAL_FORMATS_HINT = (
    "a Keras-style .npz file (keys x_train, y_train, x_test, y_test, like "
    "keras.datasets.mnist's mnist.npz), a folder of MNIST/Fashion-MNIST idx "
    "files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; gzipped or not), "
    "or a CIFAR python folder (cifar-10-batches-py with data_batch_1..5 and "
    "test_batch, or cifar-100-python with train and test) or its .tar.gz"
)


# ---------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------


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
        shuffle: Whether to shuffle the examples (reshuffled every epoch).
        seed: Optional integer seed for the shuffle (and for sampling a
            synthetic mixture).
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
    batch_size = _check_batch_size(batch_size)
    image_size = _check_image_size(image_size)
    max_examples = _check_max_examples(max_examples)
    kind, target = _resolve_source(name)

    if kind == "mixture":
        _check_split(split, _LOCAL_SPLITS, f"the '{target}' mixture")
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
        x, y = load_arrays(target, split=split)
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
        shuffle: Whether to shuffle the examples (reshuffled every epoch).
        seed: Optional integer seed for the shuffle.
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


def _from_arrays(
    x, y, batch_size, shuffle, seed, image_size, what="The array dataset"
):
    """`from_arrays`, naming the data source `what` in error messages."""
    batch_size = _check_batch_size(batch_size)
    image_size = _check_image_size(image_size)
    x, is_image = _standardize_x(x)
    if not is_image and image_size is not None:
        raise ValueError(
            f"image_size={image_size} was given but x has shape {x.shape}: "
            "2-D data (N, D) is treated as points, not images."
        )
    if y is not None:
        y = _standardize_labels(y, len(x))
    num_examples = len(x)
    _check_enough_examples(num_examples, batch_size, what)

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

    ds = tf.data.Dataset.range(num_examples)
    if shuffle:
        ds = ds.shuffle(num_examples, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_arrays(name_or_path, split="train"):
    """Reads a dataset into raw numpy arrays.

    Local formats are parsed here with numpy, gzip and pickle (no network):
    a Keras-style `.npz` (`x_train`, `y_train`, `x_test`, `y_test`), a
    folder of MNIST / Fashion-MNIST idx files, a CIFAR-10 / CIFAR-100
    python folder or its `.tar.gz` archive. A TFDS name from
    `TFDS_DATASETS` is read whole through `tfds` (needs the data prepared in
    the default TFDS directory, or a network).

    Args:
        name_or_path: A local path, or a name from `TFDS_DATASETS`.
        split: `"train"` or `"test"`.

    Returns:
        A tuple `(x, y)`: uint8 images `(N, H, W)` (grayscale idx/npz data)
        or `(N, H, W, C)`, and int64 labels `(N,)` (or `None` when an
        `.npz` has no labels for the split).

    Raises:
        ValueError: for a missing path, an unrecognised file or folder
            layout, a malformed file, or an unknown split.
    """
    if isinstance(name_or_path, str):
        key = _canonical_name(name_or_path)
        if key in TFDS_DATASETS:
            return _tfds_arrays(key, split)
        if key in MIXTURES:
            raise ValueError(
                f"'{name_or_path}' is a synthetic mixture, not an image "
                "dataset; use kmgan.data.ring_of_gaussians / "
                "grid_of_gaussians (or get_mixture) to sample its points."
            )
    path = _check_local_path(name_or_path)
    _check_split(split, _LOCAL_SPLITS, f"the local dataset {path}")
    if path.is_dir():
        return _load_folder(path, split)
    lower = path.name.lower()
    if lower.endswith(".npz"):
        return _load_npz(path, split)
    if lower.endswith((".tar.gz", ".tgz", ".tar")):
        return _load_cifar_archive(path, split)
    raise ValueError(
        f"Unsupported local dataset file {path}. Expected {_LOCAL_FORMATS_HINT}."
    )


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------


def check_image_batch(x, image_shape):
    """Checks that a batch of images matches the shape a model expects.

    Games call this on the first batch, so a dataset of the wrong shape
    fails with a readable message before any training step.

    Args:
        x: A batch of images (numpy array or backend tensor) of shape
            `(batch, H, W, C)`, or an `(images, labels)` tuple.
        image_shape: The expected per-example shape `(H, W, C)`; `None`
            entries match any size.

    Raises:
        ValueError: if the rank, spatial size or channel count differ.
    """
    if isinstance(x, (tuple, list)):
        if not x:
            raise ValueError("check_image_batch got an empty tuple/list.")
        x = x[0]
    expected = tuple(image_shape)
    if len(expected) != 3:
        raise ValueError(
            f"image_shape must be (height, width, channels), got {image_shape}."
        )
    shape = tuple(x.shape)
    per_example = shape[1:]
    wanted = f"(batch, {expected[0]}, {expected[1]}, {expected[2]})"
    if len(per_example) != 3:
        hint = ""
        if len(shape) == 3:
            hint = (
                " A grayscale batch of shape (batch, H, W) needs a channel "
                "axis: use x[..., None] (kmgan.data.from_arrays adds it)."
            )
        raise ValueError(
            f"Expected a batch of images of shape {wanted} (rank 4, "
            f"channels last), got shape {shape} (rank {len(shape)}).{hint}"
        )
    height, width, channels = per_example
    if not _dims_match(channels, expected[2]):
        hint = " Images must be channels-last (NHWC)."
        if per_example[0] == expected[2]:
            hint += " This batch looks channels-first: transpose to NHWC."
        elif channels == 1 and expected[2] == 3:
            hint += " To use grayscale data, use tf.image.grayscale_to_rgb."
        raise ValueError(
            f"Expected images with {expected[2]} channel(s), shape {wanted}, "
            f"got shape {shape} with {channels} channel(s).{hint}"
        )
    if not (_dims_match(height, expected[0]) and _dims_match(width, expected[1])):
        raise ValueError(
            f"Expected images of size {expected[0]}x{expected[1]}, shape "
            f"{wanted}, got shape {shape}. Pass image_size=({expected[0]}, "
            f"{expected[1]}) to kmgan.data.load / from_arrays to resize."
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
        f"Expected values in [{low}, {high}], got values in "
        f"[{x_min:g}, {x_max:g}].{hint}"
    )


# ---------------------------------------------------------------------------
# Synthetic 2-D mixtures
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Mixture:
    """A mixture of equal-weight isotropic 2-D Gaussians.

    Attributes:
        kind: `"ring"` or `"grid"` (or any label you choose).
        centers: float32 array `(num_modes, 2)` of mode centres.
        std: Standard deviation of every mode, per coordinate.
    """

    kind: str
    centers: np.ndarray
    std: float

    @property
    def num_modes(self):
        """Number of modes."""
        return len(self.centers)

    def sample(self, num_samples, seed=None):
        """Draws points, each from a mode chosen uniformly at random.

        Args:
            num_samples: Number of points.
            seed: Optional integer seed (numpy `default_rng`).

        Returns:
            A tuple `(points, modes)`: float32 `(num_samples, 2)` and the
            int32 index `(num_samples,)` of the mode each point came from.
        """
        num_samples = _check_positive_int(num_samples, "num_samples")
        rng = np.random.default_rng(seed)
        modes = rng.integers(0, self.num_modes, size=num_samples)
        noise = rng.standard_normal((num_samples, 2))
        points = self.centers[modes] + self.std * noise
        return points.astype("float32"), modes.astype("int32")


def ring_centers(num_modes=8, radius=1.0):
    """Centres of `num_modes` modes evenly spaced on a circle.

    Args:
        num_modes: Number of modes.
        radius: Radius of the circle.

    Returns:
        float32 array `(num_modes, 2)`; mode `k` sits at angle
        `2 * pi * k / num_modes`.
    """
    num_modes = _check_positive_int(num_modes, "num_modes")
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centers.astype("float32")


def grid_centers(values=(-4, -2, 0, 2, 4)):
    """Centres of a square grid of modes.

    Args:
        values: Coordinates used on each axis (5 values give 25 modes).

    Returns:
        float32 array `(len(values) ** 2, 2)`, row-major: mode
        `i * len(values) + j` sits at `(values[i], values[j])`.
    """
    values = np.asarray(values, dtype="float32").reshape(-1)
    if values.size == 0:
        raise ValueError("grid_centers needs at least one value.")
    xs, ys = np.meshgrid(values, values, indexing="ij")
    return np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1)


def get_mixture(kind="ring", **kwargs):
    """Returns the `Mixture` (centres and std) for a synthetic benchmark.

    Args:
        kind: `"ring"` or `"grid"`, or a `Mixture` (returned unchanged).
        **kwargs: For `"ring"`: `num_modes=8`, `radius=1.0`, `std=0.01`
            (the PacGAN 2D-ring; the MGAN paper uses `radius=2.0`,
            `std=sqrt(0.02)`). For `"grid"`: `values=(-4, -2, 0, 2, 4)`,
            `std=0.05` (the PacGAN 25-mode 2D-grid).

    Returns:
        A `Mixture` with `.centers`, `.std`, `.num_modes` and `.sample()`.
    """
    if isinstance(kind, Mixture):
        if kwargs:
            raise ValueError("Pass either a Mixture or keyword arguments.")
        return kind
    key = str(kind).lower()
    if key == "ring":
        return _ring_mixture(**kwargs)
    if key == "grid":
        return _grid_mixture(**kwargs)
    raise ValueError(
        f"Unknown mixture kind '{kind}'; expected one of {list(MIXTURES)}."
    )


def mixture_centers(name_or_kind="ring", **kwargs):
    """Mode centres of a synthetic mixture.

    Args:
        name_or_kind: `"ring"` or `"grid"` (or a `Mixture`).
        **kwargs: Mixture parameters, see `get_mixture`.

    Returns:
        float32 array `(num_modes, 2)`.
    """
    return get_mixture(name_or_kind, **kwargs).centers


def ring_of_gaussians(num_samples, num_modes=8, radius=1.0, std=0.01, seed=None):
    """Samples the ring-of-Gaussians benchmark.

    The defaults follow PacGAN's 2D-ring (8 modes on the unit circle,
    variance 1e-4); the MGAN paper's variant is `radius=2.0`,
    `std=sqrt(0.02)`.

    Args:
        num_samples: Number of points.
        num_modes: Number of modes on the circle.
        radius: Radius of the circle.
        std: Standard deviation of each mode, per coordinate.
        seed: Optional integer seed.

    Returns:
        A tuple `(points, modes)`: float32 `(num_samples, 2)` and int32
        mode indices `(num_samples,)` into `ring_centers(num_modes, radius)`.
    """
    mixture = _ring_mixture(num_modes=num_modes, radius=radius, std=std)
    return mixture.sample(num_samples, seed=seed)


def grid_of_gaussians(num_samples, values=(-4, -2, 0, 2, 4), std=0.05, seed=None):
    """Samples the grid-of-Gaussians benchmark.

    The defaults follow PacGAN's 2D-grid: 25 modes at `(-4 + 2i, -4 + 2j)`
    with variance 0.0025.

    Args:
        num_samples: Number of points.
        values: Coordinates used on each axis.
        std: Standard deviation of each mode, per coordinate.
        seed: Optional integer seed.

    Returns:
        A tuple `(points, modes)`: float32 `(num_samples, 2)` and int32
        mode indices `(num_samples,)` into `grid_centers(values)`.
    """
    mixture = _grid_mixture(values=values, std=std)
    return mixture.sample(num_samples, seed=seed)


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
        seed: Optional integer seed for sampling and shuffling.
        shuffle: Whether to reshuffle the points every epoch.
        labels: If `True`, yield `(points, mode_index)`; else points only.
        **kwargs: Mixture parameters, see `get_mixture`.

    Returns:
        A `tf.data.Dataset` of float32 `(batch_size, 2)` points (and int32
        `(batch_size,)` mode indices).
    """
    mixture = get_mixture(kind, **kwargs)
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


# ---------------------------------------------------------------------------
# Private helpers: arguments and sources
# ---------------------------------------------------------------------------


def _ring_mixture(num_modes=8, radius=1.0, std=0.01):
    return Mixture("ring", ring_centers(num_modes, radius), _check_std(std))


def _grid_mixture(values=(-4, -2, 0, 2, 4), std=0.05):
    return Mixture("grid", grid_centers(values), _check_std(std))


def _check_std(std):
    std = float(std)
    if not std >= 0:
        raise ValueError(f"std must be a non-negative number, got {std}.")
    return std


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}.")
    return int(value)


def _check_batch_size(batch_size):
    return _check_positive_int(batch_size, "batch_size")


def _check_max_examples(max_examples):
    if max_examples is None:
        return None
    return _check_positive_int(max_examples, "max_examples")


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(
        image_size, bool
    ):
        image_size = (image_size, image_size)
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise ValueError(
            f"image_size must be (height, width) or one int, got {image_size!r}."
        ) from None
    height = _check_positive_int(height, "image_size height")
    width = _check_positive_int(width, "image_size width")
    return (height, width)


def _check_split(split, allowed, where):
    if split not in allowed:
        raise ValueError(
            f"Unknown split {split!r} for {where}; expected one of "
            f"{list(allowed)}."
        )


def _check_enough_examples(num_examples, batch_size, what):
    if num_examples >= batch_size:
        return
    state = "is empty" if num_examples == 0 else f"has only {num_examples} examples"
    raise ValueError(
        f"{what} {state}, fewer than one batch of batch_size={batch_size}. "
        "Batches are built with drop_remainder=True (so that JAX compiles "
        "the step once), so this would yield no batches at all. Pass a "
        "smaller batch_size or more data."
    )


def _dims_match(actual, expected):
    return actual is None or expected is None or int(actual) == int(expected)


def _canonical_name(name):
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def _known_names_message():
    return (
        f"Known dataset names: {sorted(TFDS_DATASETS)} (TFDS; other TFDS "
        f"image datasets as 'tfds:<name>') and {list(MIXTURES)} (synthetic "
        f"2-D mixtures). A local path is also accepted: {_LOCAL_FORMATS_HINT}."
    )


def _resolve_source(name):
    """Returns `(kind, target)` with kind in {"tfds", "mixture", "local"}."""
    if isinstance(name, os.PathLike):
        return "local", name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(
            f"Expected a dataset name or a path, got {name!r}. "
            + _known_names_message()
        )
    key = _canonical_name(name)
    if key in MIXTURES:
        return "mixture", key
    if key in TFDS_DATASETS:
        return "tfds", key
    if key.startswith(_TFDS_PREFIX):
        tfds_name = name.strip()[len(_TFDS_PREFIX) :].strip()
        if not tfds_name:
            raise ValueError(f"Missing dataset name after '{_TFDS_PREFIX}'.")
        return "tfds", tfds_name
    if _looks_like_path(name):
        return "local", name
    raise ValueError(f"Unknown dataset '{name}'. " + _known_names_message())


def _looks_like_path(name):
    if os.path.exists(os.path.expanduser(name)):
        return True
    if "/" in name or "\\" in name or name.startswith(("~", ".")):
        return True
    return name.lower().endswith((".npz", ".gz", ".tgz", ".tar"))


def _check_local_path(path):
    path = pathlib.Path(os.path.expanduser(os.fspath(path)))
    if not path.exists():
        raise ValueError(
            f"Local dataset path {path} does not exist. Expected "
            f"{_LOCAL_FORMATS_HINT}."
        )
    return path


# ---------------------------------------------------------------------------
# Private helpers: arrays and tensors
# ---------------------------------------------------------------------------


def _standardize_x(x):
    """Validates `x`; returns `(array, is_image)` with images NHWC."""
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
    raise ValueError(
        f"Images must be uint8 (0..255) or float in [-1, 1], got dtype {x.dtype}."
    )


def _standardize_labels(y, num_examples):
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


# ---------------------------------------------------------------------------
# Private helpers: TFDS
# ---------------------------------------------------------------------------


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise RuntimeError(
            "Loading a dataset by name needs tensorflow-datasets "
            "(pip install tensorflow-datasets). Without it, pass a local "
            f"path instead: {_LOCAL_FORMATS_HINT}."
        ) from e
    return tfds


def _no_data_error(name, split, error):
    return RuntimeError(
        f"Could not load the TFDS dataset '{name}' (split {split!r}): it is "
        "not prepared in data_dir and no network or dataset server was "
        f"reachable to download it ({type(error).__name__}: {error}). "
        "Pass a local file instead, e.g. kmgan.data.load('/path/to/mnist.npz')"
        f"; accepted local formats: {_LOCAL_FORMATS_HINT}. Or pass data_dir= "
        "pointing at a directory where TFDS already prepared the dataset."
    )


def _check_tfds_split(name, split):
    if name not in TFDS_DATASETS or not isinstance(split, str):
        return
    allowed = TFDS_DATASETS[name]
    for part in split.split("+"):
        base = re.sub(r"\[.*\]$", "", part.strip()).strip()
        if base not in allowed:
            raise ValueError(
                f"Unknown split {split!r} for '{name}'; expected one of "
                f"{list(allowed)} (TFDS slicing such as 'train[:10%]' or "
                "'train+test' is accepted)."
            )


def _tfds_load(name, split, data_dir, **kwargs):
    _check_tfds_split(name, split)
    tfds = _import_tfds()
    try:
        return tfds.load(
            name, split=split, data_dir=data_dir, as_supervised=True, **kwargs
        )
    except ValueError:
        # Unknown names / splits: TFDS's own message is the clearest.
        raise
    except Exception as e:
        raise _no_data_error(name, split, e) from e


def _load_tfds(
    name, split, batch_size, data_dir, shuffle, seed, image_size, labels, max_examples
):
    ds = _tfds_load(name, split, data_dir, shuffle_files=bool(shuffle))
    image_spec = ds.element_spec[0]
    if image_spec.shape.rank != 3:
        raise ValueError(
            f"TFDS dataset '{name}' yields images of shape {image_spec.shape}; "
            "expected (H, W, C)."
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
        _check_enough_examples(
            num_examples, batch_size, f"Split {split!r} of '{name}'"
        )
    if shuffle:
        buffer = num_examples if num_examples > 0 else _MAX_SHUFFLE_BUFFER
        ds = ds.shuffle(
            min(buffer, _MAX_SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True
        )

    def preprocess(image, label):
        image = _to_model_range(image, image_size)
        if not labels:
            return image
        return image, tf.cast(label, "int32")

    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def _tfds_arrays(name, split):
    tfds = _import_tfds()
    ds = _tfds_load(name, split, None, batch_size=-1)
    x, y = tfds.as_numpy(ds)
    return np.asarray(x), np.asarray(y).astype("int64")


# ---------------------------------------------------------------------------
# Private helpers: local formats
# ---------------------------------------------------------------------------


def _load_npz(path, split):
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"Could not read {path} as a .npz file: {e}") from e
    with archive:
        keys = list(archive.keys())
        x_key, y_key = f"x_{split}", f"y_{split}"
        if x_key not in keys:
            raise ValueError(
                f"{path} has no '{x_key}' array (it has {keys}). Expected a "
                "Keras-style .npz with keys x_train, y_train, x_test, y_test."
            )
        x = archive[x_key]
        y = archive[y_key] if y_key in keys else None
    return _finish_arrays(x, y, path)


def _finish_arrays(x, y, source):
    if x.ndim not in (3, 4):
        raise ValueError(
            f"Images in {source} have shape {x.shape}; expected (N, H, W) or "
            "(N, H, W, C)."
        )
    if y is not None:
        y = np.asarray(y).reshape(-1).astype("int64")
        if len(y) != len(x):
            raise ValueError(
                f"{source} has {len(x)} images but {len(y)} labels."
            )
    return x, y


_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_maybe_gzip(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path} is a corrupt gzip file: {e}") from e
    return data


def _read_idx(path):
    """Parses one idx file (the MNIST format) into a numpy array."""
    data = _read_maybe_gzip(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an idx file (bad magic number).")
    dtype = _IDX_DTYPES.get(data[2])
    if dtype is None:
        raise ValueError(f"{path}: unknown idx data type code {data[2]:#04x}.")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path} is truncated (incomplete idx header).")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    count = int(np.prod(dims)) if dims else 1
    if len(data) - header < count * dtype.itemsize:
        raise ValueError(
            f"{path} is truncated: the header announces shape {dims} but "
            "the file is too short."
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header)
    return array.reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx_file(folder, split, kind):
    prefixes = "train" if split == "train" else "t10k|test"
    rank = "3" if kind == "images" else "1"
    pattern = re.compile(
        rf"^(?:.*-)?(?:{prefixes})-{kind}[-.]idx{rank}-ubyte(?:\.gz)?$", re.I
    )
    matches = sorted(p for p in folder.iterdir() if pattern.match(p.name))
    return matches[0] if matches else None


def _load_idx_folder(folder, split):
    images_path = _find_idx_file(folder, split, "images")
    labels_path = _find_idx_file(folder, split, "labels")
    if images_path is None or labels_path is None:
        prefix = "train" if split == "train" else "t10k"
        raise ValueError(
            f"The idx folder {folder} has no {split} split: expected "
            f"{prefix}-images-idx3-ubyte(.gz) and {prefix}-labels-idx1-ubyte(.gz)."
        )
    x = _read_idx(images_path)
    y = _read_idx(labels_path)
    if x.ndim != 3:
        raise ValueError(f"{images_path} holds shape {x.shape}, expected (N, H, W).")
    if x.dtype != np.uint8:
        raise ValueError(f"{images_path} holds {x.dtype} data, expected uint8.")
    return _finish_arrays(x, y, folder)


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that only builds the numpy arrays a CIFAR batch holds."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR batch only holds "
                "numpy arrays, lists and strings"
            )
        return super().find_class(module, name)


def _unpickle_cifar(data, source):
    try:
        batch = _CifarUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:
        raise ValueError(f"Could not read {source} as a CIFAR batch: {e}") from e
    if not isinstance(batch, dict):
        raise ValueError(f"{source} is not a CIFAR batch (expected a dict).")
    return {
        k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()
    }


def _cifar_arrays(names, read, split, source):
    """Builds CIFAR arrays from files `names` (basenames) read by `read`."""
    names = set(names)
    if "data_batch_1" in names or "test_batch" in names:
        if split == "train":
            files = sorted(
                (n for n in names if re.fullmatch(r"data_batch_\d+", n)),
                key=lambda n: int(n.rsplit("_", 1)[1]),
            )
        else:
            files = ["test_batch"] if "test_batch" in names else []
        label_key = "labels"
    else:
        files = [split] if split in names else []
        label_key = "fine_labels"
    if not files:
        raise ValueError(f"The CIFAR data in {source} has no {split} split.")
    xs, ys = [], []
    for file_name in files:
        batch = _unpickle_cifar(read(file_name), f"{source}/{file_name}")
        if "data" not in batch or label_key not in batch:
            raise ValueError(
                f"{source}/{file_name} lacks 'data' or '{label_key}' "
                f"(it has {sorted(batch)})."
            )
        data = np.asarray(batch["data"], dtype="uint8")
        if data.ndim != 2 or data.shape[1] % 3:
            raise ValueError(
                f"{source}/{file_name}: 'data' has shape {data.shape}, "
                "expected (N, 3 * H * W)."
            )
        side = int(round((data.shape[1] // 3) ** 0.5))
        if 3 * side * side != data.shape[1]:
            raise ValueError(
                f"{source}/{file_name}: rows of {data.shape[1]} values are "
                "not square 3-channel images."
            )
        xs.append(data.reshape(-1, 3, side, side).transpose(0, 2, 3, 1))
        ys.append(np.asarray(batch[label_key]).reshape(-1))
    return _finish_arrays(np.concatenate(xs), np.concatenate(ys), source)


def _is_cifar_folder(names):
    return bool(
        {"data_batch_1", "test_batch"} & names
        or ({"train", "test"} & names and "meta" in names)
    )


def _load_folder(folder, split):
    for sub in ("cifar-10-batches-py", "cifar-100-python"):
        if (folder / sub).is_dir():
            folder = folder / sub
            break
    names = {p.name for p in folder.iterdir() if p.is_file()}
    if _is_cifar_folder(names):
        return _cifar_arrays(
            names, lambda n: (folder / n).read_bytes(), split, folder
        )
    if any(re.search(r"idx\d-ubyte", n, re.I) for n in names):
        return _load_idx_folder(folder, split)
    npz_files = sorted(n for n in names if n.lower().endswith(".npz"))
    if len(npz_files) == 1:
        return _load_npz(folder / npz_files[0], split)
    raise ValueError(
        f"Could not recognise the dataset layout in folder {folder}. "
        f"Expected {_LOCAL_FORMATS_HINT}."
    )


def _load_cifar_archive(path, split):
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {
                os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()
            }
            if not _is_cifar_folder(set(members)):
                raise ValueError(
                    f"The archive {path} is not a CIFAR-10/100 python archive."
                    f" Expected {_LOCAL_FORMATS_HINT}."
                )
            return _cifar_arrays(
                members,
                lambda n: tar.extractfile(members[n]).read(),
                split,
                path,
            )
    except tarfile.TarError as e:
        raise ValueError(f"Could not read the archive {path}: {e}") from e
