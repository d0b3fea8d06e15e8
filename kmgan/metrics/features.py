"""Features of image sets for the metrics: extracted once, real sets cached.

FID, KID, precision/recall and density/coverage all compare two sets of
feature vectors. This module turns an image set into its feature array once,
streaming it through an extractor, so that every metric reuses the same
array; and it keeps the features of a *real* set on disk, one file per
dataset, split, number of images and network, under
``~/.cache/kmgan/features/``.

An extractor is any callable ``extractor(images, value_range=None) ->
(features (N, d) float32, probs (N, C) or None)`` with the attributes
``batch_size``, ``weights_tag``, ``input_size``, ``feature_dim``,
``comparable_to_papers`` and ``name``:
:func:`kmgan.metrics.inception_2015` (the network behind published FIDs),
:class:`kmgan.metrics.InceptionFeatures` (``keras.applications``
InceptionV3) and :func:`kmgan.metrics.domain_classifier` all are.

An image set is an array ``(N, H, W[, C])``, an iterable of batches or a
``sample_fn(n)`` with ``num_samples`` (see
:func:`kmgan.metrics.inception.iterate_batches`). A rank-2 array ``(N, d)``
is taken to be features already and is used as it is.
"""

import hashlib
import json
import os
import warnings
import zipfile

import keras
import numpy as np

from kmgan.metrics.inception import _file_digest
from kmgan.metrics.inception import _is_array
from kmgan.metrics.inception import _sanitize
from kmgan.metrics.inception import _to_numpy
from kmgan.metrics.inception import iterate_batches

DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "kmgan", "features")
#: Bumped when the layout of the cache files changes.
CACHE_VERSION = 1

__all__ = [
    "DEFAULT_CACHE_DIR",
    "check_feature_array",
    "dataset_tag",
    "extract",
    "extract_features",
    "extractor_tag",
    "is_feature_array",
    "known_count",
    "real_features",
    "real_features_path",
    "resolve_features",
]


def _default_extractor():
    from kmgan.metrics import inception

    return inception.default_features()


def is_feature_array(x):
    """Whether ``x`` is a precomputed ``(N, d)`` feature array (not images).

    Args:
        x: anything a metric accepts as a set.

    Returns:
        ``True`` for a rank-2 array (NumPy or backend tensor).
    """
    return _is_array(x) and len(x.shape) == 2


def check_feature_array(x, what="features", min_count=1):
    """Returns ``x`` as a finite float ``(N, d)`` NumPy array, or raises.

    Args:
        x: the array.
        what: its name in error messages.
        min_count: the fewest rows allowed.

    Returns:
        The array (float32 or float64; other dtypes become float64).

    Raises:
        ValueError: for a wrong rank, too few rows, or NaN / infinite values.
    """
    a = _to_numpy(x)
    if a.ndim != 2:
        raise ValueError(f"Expected {what} of shape (N, d); got shape {a.shape}.")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if a.shape[0] < min_count:
        raise ValueError(f"{what} has {a.shape[0]} rows; at least {min_count} are needed.")
    if not np.all(np.isfinite(a)):
        bad = int(np.sum(~np.all(np.isfinite(a), axis=1)))
        raise ValueError(f"{what} holds NaN or infinite values (in {bad} of {a.shape[0]} rows).")
    return a


def known_count(source, num_samples=None):
    """The number of images a set will give, when it can be known beforehand.

    Args:
        source: array, feature array, ``sample_fn`` or iterable.
        num_samples: images to take (``None``: all).

    Returns:
        The count, or ``None`` for an iterable of unknown length without
        ``num_samples``.

    Raises:
        ValueError: when an array holds fewer than ``num_samples`` rows.
    """
    if _is_array(source):
        total = int(source.shape[0])
        if num_samples is None:
            return total
        if int(num_samples) > total:
            raise ValueError(f"num_samples={num_samples} but only {total} images were given.")
        return int(num_samples)
    if num_samples is not None:
        return int(num_samples)
    if callable(source) and not hasattr(source, "__iter__"):
        raise ValueError("A sample_fn(n) callable needs num_samples.")
    return None  # an iterable of batches: known once read


def _progress_bar(progress, target):
    if not progress:
        return None
    return keras.utils.Progbar(target, unit_name="image")


def extract(
    source, extractors, *, num_samples=None, batch_size=None, value_range=None, progress=False
):
    """Streams one image set once through several extractors.

    Each batch of the set goes to every extractor before the next batch is
    drawn, so a ``sample_fn`` is sampled once for all of them.

    Args:
        source: array ``(N, H, W[, C])``, iterable of batches or
            ``sample_fn(n)`` (needs ``num_samples``).
        extractors: a list of extractors.
        num_samples: images to take (``None``: all of an array or iterable).
        batch_size: images drawn per step; defaults to the largest
            ``batch_size`` of the extractors (an extractor splits larger
            batches itself).
        value_range: pixel range, see
            :func:`kmgan.metrics.inception.preprocess_images`; ``None``
            infers it from the dtype (uint8 -> (0, 255), float -> (-1, 1)).
        progress: show a progress bar.

    Returns:
        A list with one ``(features, probs)`` per extractor: float32
        ``(N, d)`` and float32 ``(N, C)`` or ``None``.

    Raises:
        ValueError: for an empty set, or an extractor whose features are not
            ``(B, d)`` or hold NaN.
    """
    if not extractors:
        raise ValueError("Pass at least one extractor.")
    size = int(batch_size or max(int(getattr(e, "batch_size", 50) or 50) for e in extractors))
    count = known_count(source, num_samples)
    feats = [[] for _ in extractors]
    probs = [[] for _ in extractors]
    bar = _progress_bar(progress, count)
    done = 0
    for batch in iterate_batches(source, size, num_samples):
        for i, extractor in enumerate(extractors):
            f, p = extractor(batch, value_range=value_range)
            f = _to_numpy(f)
            if f.ndim != 2 or f.shape[0] != batch.shape[0]:
                raise ValueError(
                    f"{_name(extractor)} returned features of shape {f.shape} for "
                    f"{batch.shape[0]} images; expected ({batch.shape[0]}, d)."
                )
            feats[i].append(f.astype(np.float32, copy=False))
            probs[i].append(None if p is None else _to_numpy(p).astype(np.float32, copy=False))
        done += batch.shape[0]
        if bar is not None:
            bar.update(done)
    if done == 0:
        raise ValueError("No images were given.")
    out = []
    for i, extractor in enumerate(extractors):
        f = check_feature_array(np.concatenate(feats[i]), f"the features of {_name(extractor)}")
        p = None if any(q is None for q in probs[i]) else np.concatenate(probs[i])
        out.append((f, p))
    return out


def extract_features(
    source,
    features=None,
    *,
    num_samples=None,
    batch_size=None,
    value_range=None,
    progress=False,
    return_probs=False,
):
    """All features of an image set as one array.

    Args:
        source: images (array, iterable of batches, ``sample_fn``), or a
            ``(N, d)`` feature array (checked and returned as it is).
        features: the extractor; ``None`` uses
            :func:`kmgan.metrics.inception.default_features`.
        num_samples: images to take (required for a ``sample_fn``).
        batch_size: images per step (default: the extractor's).
        value_range: pixel range, see
            :func:`kmgan.metrics.inception.preprocess_images`.
        progress: show a progress bar.
        return_probs: also return the class probabilities.

    Returns:
        float32 ``(N, d)`` features; with ``return_probs``,
        ``(features, probs or None)``.
    """
    if is_feature_array(source):
        f = check_feature_array(source)
        return (f, None) if return_probs else f
    if features is None:
        features = _default_extractor()
    ((f, p),) = extract(
        source,
        [features],
        num_samples=num_samples,
        batch_size=batch_size,
        value_range=value_range,
        progress=progress,
    )
    return (f, p) if return_probs else f


def resolve_features(
    sets, features, min_count=1, num_samples=None, batch_size=None, value_range=None
):
    """Feature arrays of several sets, every check done before any forward pass.

    Precomputed feature arrays are checked (finite, at least ``min_count``
    rows, one feature dimension for all of them and the extractor's
    ``feature_dim``) and used whole, and the counts of image sets are checked against
    ``min_count`` where they can be known, before any image is extracted.

    Args:
        sets: a list of sets (images or ``(N, d)`` feature arrays).
        features: the extractor for the image sets (``None``: the default).
        min_count: the fewest samples each set must have (e.g. ``k + 1`` for
            nearest neighbours, ``subset_size`` for KID).
        num_samples: images to take from each image set (not from feature
            arrays).
        batch_size: images per forward pass.
        value_range: pixel range of the image sets.

    Returns:
        A list of feature arrays, in the order of ``sets``.

    Raises:
        ValueError: for too few samples, mismatched dimensions or NaN.
    """
    names = ("the first set", "the second set") + tuple(f"set {i}" for i in range(2, len(sets)))
    dims = {}
    arrays = {}
    for i, s in enumerate(sets):
        if is_feature_array(s):
            a = check_feature_array(s, f"the features of {names[i]}")
            if a.shape[0] < min_count:
                raise ValueError(
                    f"{names[i]} has {a.shape[0]} samples; at least {min_count} are needed."
                )
            arrays[i] = a
            dims[i] = a.shape[1]
        else:
            n = known_count(s, num_samples)
            if n is not None and n < min_count:
                raise ValueError(f"{names[i]} has {n} images; at least {min_count} are needed.")
    if len(set(dims.values())) > 1:
        raise ValueError(f"The feature dimensions differ: {sorted(set(dims.values()))}.")
    need_images = len(arrays) < len(sets)
    if need_images:
        if features is None:
            features = _default_extractor()
        dim = getattr(features, "feature_dim", None)
        if dims and dim is not None and int(dim) != next(iter(dims.values())):
            raise ValueError(
                f"The feature dimensions differ: precomputed features are "
                f"{next(iter(dims.values()))}-d but {_name(features)} gives {dim}-d features."
            )
    out = []
    for i, s in enumerate(sets):
        if i in arrays:
            out.append(arrays[i])
            continue
        a = extract_features(
            s, features, num_samples=num_samples, batch_size=batch_size, value_range=value_range
        )
        if a.shape[0] < min_count:
            raise ValueError(
                f"{names[i]} gave {a.shape[0]} images; at least {min_count} are needed."
            )
        out.append(a)
    if len({a.shape[1] for a in out}) > 1:
        raise ValueError(f"The feature dimensions differ: {[a.shape[1] for a in out]}.")
    return out


def _name(extractor):
    return getattr(extractor, "name", None) or type(extractor).__name__


# ---------------------------------------------------------------------------
# Cache keys
# ---------------------------------------------------------------------------


_TAGS = {}


def dataset_tag(name_or_path):
    """A short name for a dataset in cache keys.

    A dataset name (``"mnist"``) is its canonical name; a local file is
    ``"<stem>-<size in bytes>-<sha256 prefix>"`` of its contents, so a
    changed file never reuses a cache entry; a folder hashes the names,
    sizes and contents of its files.

    Args:
        name_or_path: a dataset name or a local path.

    Returns:
        The tag, a string of letters, digits, ``.`` and ``-``.
    """
    from kmgan.data.sources import canonical_name

    path = os.path.expanduser(os.fspath(name_or_path))
    if not os.path.exists(path):
        return _sanitize(canonical_name(str(name_or_path)))
    path = os.path.abspath(path)
    stat = os.stat(path)
    memo = (path, stat.st_size, stat.st_mtime_ns)
    if memo in _TAGS:
        return _TAGS[memo]
    if os.path.isdir(path):
        digest, size = hashlib.sha256(), 0
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                size += os.path.getsize(full)
                digest.update(os.path.relpath(full, path).encode() + b"\0")
                digest.update(_file_digest(full, "sha256").encode())
        sha = digest.hexdigest()
    else:
        size, sha = stat.st_size, _file_digest(path, "sha256")
    stem = os.path.basename(path.rstrip(os.sep)).split(".")[0]
    tag = f"{_sanitize(stem)}-{size}-{sha[:12]}"
    _TAGS[memo] = tag
    return tag


def extractor_tag(features):
    """The part of a cache key that names an extractor.

    Args:
        features: an extractor.

    Returns:
        ``"<weights_tag>_<input_size>[_<preprocessing_tag>]_<feature_dim>d"``.
    """
    parts = [
        getattr(features, "weights_tag", None) or type(features).__name__,
        getattr(features, "input_size", None) or "na",
    ]
    if getattr(features, "preprocessing_tag", None):
        parts.append(features.preprocessing_tag)
    parts.append(f"{getattr(features, 'feature_dim', None) or 'na'}d")
    return "_".join(_sanitize(p) for p in parts)


def real_features_path(dataset, split, features, num_samples=None, cache_dir=DEFAULT_CACHE_DIR):
    """The cache file of :func:`real_features` for these arguments.

    Args:
        dataset: dataset name or local path (see :func:`dataset_tag`).
        split: split name.
        features: the extractor (see :func:`extractor_tag`).
        num_samples: images used (``None``: all).
        cache_dir: cache folder.

    Returns:
        ``{cache_dir}/{dataset}_{split}_{n}_{extractor}.npz``.
    """
    n = "all" if num_samples is None else f"n{int(num_samples)}"
    name = "_".join([dataset_tag(dataset), _sanitize(split), n, extractor_tag(features)])
    return os.path.join(os.path.expanduser(os.fspath(cache_dir)), name + ".npz")


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _read_cache(path, key):
    """The cached features, or ``None`` (with a warning) when the file is damaged."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            feats = np.asarray(data["features"])
        problems = []
        if meta.get("key") != key:
            problems.append("its key does not match")
        if feats.ndim != 2 or list(feats.shape) != meta.get("shape"):
            problems.append(f"its array has shape {feats.shape}, not {meta.get('shape')}")
        elif meta.get("sha256") != _digest(feats):
            problems.append("its checksum does not match")
        elif not np.all(np.isfinite(feats)):
            problems.append("it holds NaN")
        if not problems:
            return feats
        reason = "; ".join(problems)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        reason = f"{type(err).__name__}: {err}"
    warnings.warn(
        f"The cached real-set features {path} are damaged ({reason}); recomputing them.",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


def _write_cache(path, feats, key, extra):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    meta = dict(
        extra, key=key, shape=list(feats.shape), sha256=_digest(feats), version=CACHE_VERSION
    )
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, features=feats, meta=np.asarray(json.dumps(meta, sort_keys=True)))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def real_features(
    dataset,
    split="train",
    images=None,
    features=None,
    *,
    num_samples=None,
    batch_size=None,
    value_range=None,
    cache_dir=DEFAULT_CACHE_DIR,
    recompute=False,
    progress=False,
):
    """Features of a real image set, extracted once and cached on disk.

    The first call extracts the features of ``images`` (or, when ``images``
    is ``None``, of ``kmgan.data.load_arrays(dataset, split)``) and writes
    them atomically to :func:`real_features_path`; later calls read that
    file and touch neither the images nor the network. A damaged file (not
    readable, wrong key, shape or checksum) is rebuilt, with a
    ``RuntimeWarning``.

    The key holds the dataset (for a local file, its size and sha256), the
    split, ``num_samples`` and the extractor (:func:`extractor_tag`); the
    images are the first ``num_samples`` of the split, in order.

    Args:
        dataset: dataset name or local path (e.g. ``"mnist"``,
            ``"/data/mnist.npz"``).
        split: split name.
        images: the real images (array, iterable, ``sample_fn``), read only
            on a cache miss; ``None`` loads the split with
            :func:`kmgan.data.load_arrays`.
        features: the extractor (``None``: the default one).
        num_samples: images to use (``None``: all).
        batch_size: images per forward pass.
        value_range: pixel range (uint8 data is read as (0, 255)).
        cache_dir: cache folder, ``~/.cache/kmgan/features`` by default.
        recompute: ignore and overwrite an existing file.
        progress: show a progress bar while extracting.

    Returns:
        float32 ``(N, d)`` features.
    """
    if features is None:
        features = _default_extractor()
    path = real_features_path(dataset, split, features, num_samples, cache_dir)
    key = os.path.basename(path)
    if not recompute and os.path.isfile(path):
        cached = _read_cache(path, key)
        if cached is not None:
            return cached
    if images is None:
        from kmgan import data

        images, _ = data.load_arrays(dataset, split)
    feats = extract_features(
        images,
        features,
        num_samples=num_samples,
        batch_size=batch_size,
        value_range=value_range,
        progress=progress,
    )
    _write_cache(
        path,
        feats,
        key,
        {
            "dataset": str(dataset),
            "split": str(split),
            "extractor": _name(features),
            "comparable_to_papers": bool(getattr(features, "comparable_to_papers", False)),
        },
    )
    return feats
