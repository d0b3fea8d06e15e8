"""Where a kmgan dataset comes from: TFDS names and local files.

Local formats are parsed here with numpy, gzip and pickle (no network): a
Keras-style `.npz`, a folder of MNIST / Fashion-MNIST idx files, a CIFAR-10 /
CIFAR-100 python folder or its `.tar.gz` archive. TFDS datasets go through
`tfds.load`, imported only when one is asked for.
"""

import gzip
import io
import os
import pathlib
import pickle
import re
import struct
import tarfile

import numpy as np

from kmgan.data.checks import check_split
from kmgan.data.mixtures import MIXTURES

__all__ = ["TFDS_DATASETS", "load_arrays"]

# TFDS image datasets known to work with `load(name)`, with their splits.
TFDS_DATASETS = {
    "mnist": ("train", "test"),
    "fashion_mnist": ("train", "test"),
    "kmnist": ("train", "test"),
    "cifar10": ("train", "test"),
    "cifar100": ("train", "test"),
    "svhn_cropped": ("train", "test", "extra"),
}

_ALIASES = {
    "fashion-mnist": "fashion_mnist",
    "fashionmnist": "fashion_mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
    "cifar-100": "cifar100",
    "cifar_100": "cifar100",
    "svhn": "svhn_cropped",
}

LOCAL_SPLITS = ("train", "test")
TFDS_PREFIX = "tfds:"
LOCAL_FORMATS_HINT = (
    "a Keras-style .npz file (keys x_train, y_train, x_test, y_test, like "
    "keras.datasets.mnist's mnist.npz), a folder of MNIST/Fashion-MNIST idx "
    "files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; gzipped or not), "
    "or a CIFAR python folder (cifar-10-batches-py with data_batch_1..5 and "
    "test_batch, or cifar-100-python with train and test) or its .tar.gz"
)


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
        key = canonical_name(name_or_path)
        if key in TFDS_DATASETS:
            return _tfds_arrays(key, split)
        if key in MIXTURES:
            raise ValueError(
                f"'{name_or_path}' is a synthetic mixture, not an image "
                "dataset; use kmgan.data.ring_of_gaussians / "
                "grid_of_gaussians (or get_mixture) to sample its points."
            )
    path = check_local_path(name_or_path)
    check_split(split, LOCAL_SPLITS, f"the local dataset {path}")
    if path.is_dir():
        return _load_folder(path, split)
    lower = path.name.lower()
    if lower.endswith(".npz"):
        return _load_npz(path, split)
    if lower.endswith((".tar.gz", ".tgz", ".tar")):
        return _load_cifar_archive(path, split)
    raise ValueError(f"Unsupported local dataset file {path}. Expected {LOCAL_FORMATS_HINT}.")


def canonical_name(name):
    """The TFDS name an alias stands for (`"fashion-mnist"` -> `"fashion_mnist"`)."""
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def _known_names_message():
    return (
        f"Known dataset names: {sorted(TFDS_DATASETS)} (TFDS; other TFDS "
        f"image datasets as 'tfds:<name>') and {list(MIXTURES)} (synthetic "
        f"2-D mixtures). A local path is also accepted: {LOCAL_FORMATS_HINT}."
    )


def resolve_source(name):
    """Returns `(kind, target)` with kind in {"tfds", "mixture", "local"}."""
    if isinstance(name, os.PathLike):
        return "local", name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(
            f"Expected a dataset name or a path, got {name!r}. " + _known_names_message()
        )
    key = canonical_name(name)
    if key in MIXTURES:
        return "mixture", key
    if key in TFDS_DATASETS:
        return "tfds", key
    if key.startswith(TFDS_PREFIX):
        tfds_name = name.strip()[len(TFDS_PREFIX) :].strip()
        if not tfds_name:
            raise ValueError(f"Missing dataset name after '{TFDS_PREFIX}'.")
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


def check_local_path(path):
    """Returns `path` as an expanded `pathlib.Path`, or raises if it is absent."""
    path = pathlib.Path(os.path.expanduser(os.fspath(path)))
    if not path.exists():
        raise ValueError(
            f"Local dataset path {path} does not exist. Expected {LOCAL_FORMATS_HINT}."
        )
    return path


# ---------------------------------------------------------------------------
# TFDS
# ---------------------------------------------------------------------------


def import_tfds():
    """Returns the `tensorflow_datasets` module, or raises a RuntimeError
    naming the local formats to use without it."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise RuntimeError(
            "Loading a dataset by name needs tensorflow-datasets "
            "(pip install tensorflow-datasets). Without it, pass a local "
            f"path instead: {LOCAL_FORMATS_HINT}."
        ) from e
    return tfds


def _no_data_error(name, split, error):
    return RuntimeError(
        f"Could not load the TFDS dataset '{name}' (split {split!r}): it is "
        "not prepared in data_dir and no network or dataset server was "
        f"reachable to download it ({type(error).__name__}: {error}). "
        "Pass a local file instead, e.g. kmgan.data.load('/path/to/mnist.npz')"
        f"; accepted local formats: {LOCAL_FORMATS_HINT}. Or pass data_dir= "
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


def tfds_load(name, split, data_dir, **kwargs):
    """`tfds.load(..., as_supervised=True)`; a split unknown for a name of
    `TFDS_DATASETS` fails before TFDS is reached, an unreachable dataset
    raises a RuntimeError saying what to pass instead."""
    _check_tfds_split(name, split)
    tfds = import_tfds()
    try:
        return tfds.load(name, split=split, data_dir=data_dir, as_supervised=True, **kwargs)
    except ValueError:
        # Unknown names / splits: TFDS's own message is the clearest.
        raise
    except Exception as e:
        raise _no_data_error(name, split, e) from e


def _tfds_arrays(name, split):
    tfds = import_tfds()
    ds = tfds_load(name, split, None, batch_size=-1)
    x, y = tfds.as_numpy(ds)
    return np.asarray(x), np.asarray(y).astype("int64")


# ---------------------------------------------------------------------------
# Local formats
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
            f"Images in {source} have shape {x.shape}; expected (N, H, W) or (N, H, W, C)."
        )
    if y is not None:
        y = np.asarray(y).reshape(-1).astype("int64")
        if len(y) != len(x):
            raise ValueError(f"{source} has {len(x)} images but {len(y)} labels.")
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
            f"{path} is truncated: the header announces shape {dims} but the file is too short."
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header)
    return array.reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx_file(folder, split, kind):
    prefixes = "train" if split == "train" else "t10k|test"
    rank = "3" if kind == "images" else "1"
    pattern = re.compile(rf"^(?:.*-)?(?:{prefixes})-{kind}[-.]idx{rank}-ubyte(?:\.gz)?$", re.I)
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
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


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
                f"{source}/{file_name} lacks 'data' or '{label_key}' (it has {sorted(batch)})."
            )
        data = np.asarray(batch["data"], dtype="uint8")
        if data.ndim != 2 or data.shape[1] % 3:
            raise ValueError(
                f"{source}/{file_name}: 'data' has shape {data.shape}, expected (N, 3 * H * W)."
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
        {"data_batch_1", "test_batch"} & names or ({"train", "test"} & names and "meta" in names)
    )


def _load_folder(folder, split):
    for sub in ("cifar-10-batches-py", "cifar-100-python"):
        if (folder / sub).is_dir():
            folder = folder / sub
            break
    names = {p.name for p in folder.iterdir() if p.is_file()}
    if _is_cifar_folder(names):
        return _cifar_arrays(names, lambda n: (folder / n).read_bytes(), split, folder)
    if any(re.search(r"idx\d-ubyte", n, re.I) for n in names):
        return _load_idx_folder(folder, split)
    npz_files = sorted(n for n in names if n.lower().endswith(".npz"))
    if len(npz_files) == 1:
        return _load_npz(folder / npz_files[0], split)
    raise ValueError(
        f"Could not recognise the dataset layout in folder {folder}. Expected {LOCAL_FORMATS_HINT}."
    )


def _load_cifar_archive(path, split):
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
            if not _is_cifar_folder(set(members)):
                raise ValueError(
                    f"The archive {path} is not a CIFAR-10/100 python archive."
                    f" Expected {LOCAL_FORMATS_HINT}."
                )
            return _cifar_arrays(
                members,
                lambda n: tar.extractfile(members[n]).read(),
                split,
                path,
            )
    except tarfile.TarError as e:
        raise ValueError(f"Could not read the archive {path}: {e}") from e
