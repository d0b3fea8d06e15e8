"""Callbacks for games: sample grids, scatter plots, generator checkpoints.

Keras' own `CSVLogger`, `TensorBoard`, `BackupAndRestore` and
`TerminateOnNaN` work with every game as they are: the per-player losses are
ordinary logs, and every player's optimizer state lives in `model.optimizer`.
`BackupAndRestore` here is Keras' with atomic, checked backups
(`kmgan.resume`); `SyncEpoch` resumes kmgan's data pipelines exactly.
"""

import math
import os
import time

import keras
import numpy as np

from kmgan import io
from kmgan.data.order import SyncEpoch  # noqa: F401
from kmgan.resume import BackupAndRestore  # noqa: F401


def save_image_grid(images, path, rows=None):
    """Writes images in [-1, 1] (N, H, W, C) as one PNG grid.

    Args:
        images: array of shape (N, H, W, C), C in {1, 3}, values in [-1, 1].
        path: file to write.
        rows: number of rows (default: a near-square grid).

    Returns:
        The grid as a uint8 array (rows*H, cols*W, C).
    """
    images = np.asarray(images, "float32")
    if images.ndim != 4:
        raise ValueError(f"Expected images (N, H, W, C), got shape {images.shape}.")
    n, h, w, c = images.shape
    rows = rows or int(math.floor(math.sqrt(n))) or 1
    cols = int(math.ceil(n / rows))
    grid = np.zeros((rows * h, cols * w, c), "uint8")
    pixels = np.clip((images + 1.0) * 127.5, 0, 255).round().astype("uint8")
    for i in range(n):
        r, col = divmod(i, cols)
        grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = pixels[i]
    _ensure_parent(path)
    keras.utils.save_img(path, grid, data_format="channels_last", scale=False)
    return grid


def save_scatter(points, path, reference=None, colors=None, title=None):
    """Writes a scatter plot of 2-D samples (over reference data) as PNG.

    Args:
        points: (N, 2) generated points.
        path: file to write.
        reference: optional (M, 2) real points drawn underneath.
        colors: optional per-point integers (e.g. which generator made it).
        title: optional title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    if reference is not None:
        reference = np.asarray(reference)
        ax.scatter(reference[:, 0], reference[:, 1], s=4, c="0.75", label="real")
    points = np.asarray(points)
    ax.scatter(
        points[:, 0],
        points[:, 1],
        s=4,
        c=colors,
        cmap="tab10" if colors is not None else None,
        label="generated",
    )
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    _ensure_parent(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


class TrainingProgress(keras.callbacks.Callback):
    """Keeps a JSON record of a training that may span several sessions.

    The file holds the epochs done, the training wall and CPU time summed
    over sessions, one entry per session (`start_epoch`, `end_epoch`) and
    the last epoch's logs. It is rewritten atomically after every epoch and
    read back at construction, so beside `BackupAndRestore` it tells how
    long a resumed run really trained.

    Args:
        path: the JSON file.
        deadline: optional `time.time()` value; training stops at the first
            epoch end after it (`stopped` is then True), unless that epoch
            is the last one: a finished run is never reported as stopped.
    """

    def __init__(self, path, deadline=None):
        super().__init__()
        self.path, self.deadline = path, deadline
        self.state = io.read_json(path, default={})
        for key, empty in (("train_wall_s", 0.0), ("train_cpu_s", 0.0), ("sessions", [])):
            self.state.setdefault(key, empty)
        self.state.setdefault("epochs_done", 0)
        self.state.setdefault("last_logs", {})
        self.start_epoch = None
        self.stopped = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.start_epoch is None:
            self.start_epoch = epoch
            self.state["sessions"].append({"start_epoch": epoch, "end_epoch": epoch})
        self._clock = time.time(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        wall, cpu = time.time() - self._clock[0], time.process_time() - self._clock[1]
        self.state["train_wall_s"] += wall
        self.state["train_cpu_s"] += cpu
        self.state["epochs_done"] = epoch + 1
        self.state["sessions"][-1]["end_epoch"] = epoch + 1
        self.state["last_logs"] = {k: float(v) for k, v in (logs or {}).items()}
        io.atomic_write_json(self.path, self.state)
        last = epoch + 1 >= self.params.get("epochs", epoch + 2)
        if self.deadline is not None and not last and time.time() >= self.deadline:
            self.stopped = self.model.stop_training = True


class SampleGrid(keras.callbacks.Callback):
    """Writes samples from a fixed z at the end of each epoch.

    Images become a PNG grid (`epoch_001.png`, ...); 2-D data a scatter plot
    over `reference` points.

    Args:
        directory: folder for the PNGs.
        num_samples: how many samples per picture (images: a grid).
        seed: seed of the fixed z.
        every: write every `every` epochs.
        reference: real 2-D points for the scatter plots.
    """

    def __init__(self, directory, num_samples=64, seed=0, every=1, reference=None):
        super().__init__()
        self.directory = directory
        self.num_samples = num_samples
        self.seed = seed
        self.every = every
        self.reference = reference
        self.written = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        z = (
            np.random.default_rng(self.seed)
            .standard_normal((self.num_samples, self.model.latent_dim))
            .astype("float32")
        )
        samples = self.model.generate(z)
        path = os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png")
        if samples.ndim == 2 and samples.shape[-1] == 2:
            save_scatter(samples, path, reference=self.reference, title=f"epoch {epoch + 1}")
        else:
            save_image_grid(samples, path)
        self.written.append(path)


class GeneratorCheckpoint(keras.callbacks.Callback):
    """Saves the game's sampler as a `.keras` file at the end of epochs.

    A checkpoint is skipped when a logged loss is NaN or infinite, so the
    last file on disk is always the last good generator (pair it with
    `keras.callbacks.TerminateOnNaN`).

    Args:
        filepath: path, may contain `{epoch}` (e.g. "ckpt/g_{epoch:03d}.keras").
        every: save every `every` epochs.
    """

    def __init__(self, filepath, every=1):
        super().__init__()
        if not str(filepath).endswith(".keras"):
            raise ValueError(f"filepath must end in .keras, got {filepath}.")
        self.filepath = str(filepath)
        self.every = every
        self.saved = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        logs = logs or {}
        if not all(np.isfinite(float(v)) for v in logs.values()):
            return
        path = self.filepath.format(epoch=epoch + 1)
        _ensure_parent(path)
        exporter = getattr(self.model, "export_sampler", None)
        sampler = exporter() if exporter is not None else self.model.generator
        sampler.save(path)
        self.saved.append(path)


class EvaluateEvery(keras.callbacks.Callback):
    """Computes chosen metrics every k epochs, logs them, keeps the best generator.

    The values enter the epoch's logs, so `History`, and `CSVLogger` and
    `TensorBoard` placed after this callback in the list, record them with
    the losses. Epochs in between log NaN, which keeps CSV columns aligned.

    Args:
        metrics: dict mapping a log name to a callable `fn(model) -> float`,
            e.g. `lambda m: kmgan.metrics.fid(real, m.sample(10_000),
            features=features)`, or one of the helpers below:
            `fid_of_samples`, `kid_of_samples`, `classifier_fid_of_samples`,
            `classes_covered_of_samples`. A callable may instead return a
            dict of floats and list its keys in an attribute `outputs`
            (`prdc_of_samples` does): each key is logged as
            `"{name}_{key}"`, e.g. `{"pr": prdc_of_samples(real)}` logs
            `pr_precision`, `pr_recall`, `pr_density`, `pr_coverage`.
        every: evaluate every `every` epochs (and always at the last one).
        best: log name of the metric that selects the best generator, or
            None.
        mode: "min" (FID, distances) or "max" (IS) for `best`.
        filepath: `.keras` file for the best sampler (needs `best`).
        use_ema: evaluate (and keep) the game's averaged generator
            (`game.use_ema()`; the game needs `ema_decay`).
    """

    def __init__(self, metrics, every=1, best=None, mode="min", filepath=None, use_ema=False):
        super().__init__()
        if not metrics:
            raise ValueError("EvaluateEvery needs at least one metric.")
        self.log_names = {
            name: [f"{name}_{key}" for key in fn.outputs] if hasattr(fn, "outputs") else [name]
            for name, fn in metrics.items()
        }
        names = [n for group in self.log_names.values() for n in group]
        if best is not None and best not in names:
            raise ValueError(f"best='{best}' is not one of {sorted(names)}.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        if filepath is not None and (best is None or not str(filepath).endswith(".keras")):
            raise ValueError("filepath needs `best` and must end in .keras.")
        self.metrics = dict(metrics)
        self.every = int(every)
        self.best = best
        self.mode = mode
        self.filepath = filepath
        self.use_ema = bool(use_ema)
        self.best_value = None
        self.best_epoch = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if not self.use_ema:
            return self._evaluate(epoch, logs)
        with self.model.use_ema():
            return self._evaluate(epoch, logs)

    def _evaluate(self, epoch, logs):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            for group in self.log_names.values():
                for name in group:
                    logs[name] = float("nan")
            return
        for name, fn in self.metrics.items():
            value = fn(self.model)
            if hasattr(fn, "outputs"):
                for key, log_name in zip(fn.outputs, self.log_names[name]):
                    logs[log_name] = float(value[key])
            else:
                logs[name] = float(value)
        if self.best is None:
            return
        value = logs[self.best]
        better = self.best_value is None or (
            value < self.best_value if self.mode == "min" else value > self.best_value
        )
        if better and np.isfinite(value):
            self.best_value, self.best_epoch = value, epoch + 1
            if self.filepath:
                _ensure_parent(self.filepath)
                exporter = getattr(self.model, "export_sampler", None)
                (exporter() if exporter is not None else self.model.generator).save(self.filepath)


def fid_of_samples(real_images, features=None, num_samples=None, seed=0):
    """A metric for `EvaluateEvery`: FID of the game's samples against real images.

    Args:
        real_images: real images (or their batches), in [-1, 1].
        features: a `kmgan.metrics.InceptionFeatures` (ImageNet by default).
        num_samples: generated samples (default: as many as real images).
        seed: seed of the samples' noise.
    """
    from kmgan.metrics import inception

    real_images = np.asarray(real_images)
    stats = {}

    def fid(model):
        feats = features or stats.setdefault("features", inception.InceptionFeatures())
        if "real" not in stats:
            stats["real"] = inception.activation_statistics(real_images, feats)
        fake = inception.activation_statistics(
            model.sample(num_samples or len(real_images), seed=seed), feats
        )
        return inception.frechet_distance(*stats["real"], *fake)

    return fid


class _RealFeatures:
    """The features of a fixed real set, extracted on first use (or given)."""

    def __init__(self, real, features):
        from kmgan.metrics import features as feats

        self.real = real
        self.features = features
        self.count = feats.known_count(real)
        self._array = None

    def get(self):
        from kmgan.metrics import features as feats

        if self._array is None:
            self._array = feats.extract_features(self.real, self.features)
        return self._array


def _check_count(name, value, need):
    if value is not None and value < need:
        raise ValueError(f"{name} is {value}; at least {need} are needed.")


def kid_of_samples(
    real, features=None, num_samples=None, seed=0, num_subsets=100, subset_size=1000
):
    """A metric for `EvaluateEvery`: KID (mean) of the game's samples against real images.

    Args:
        real: real images in [-1, 1] (or uint8), or their ``(N, d)``
            features (e.g. ``kmgan.metrics.real_features(...)``).
        features: the extractor (e.g. ``kmgan.metrics.inception_2015(path)``
            or a domain classifier; ``None``: the default of
            ``kmgan.metrics.fid``).
        num_samples: generated samples (default: as many as real ones).
        seed: seed of the samples' noise and of KID's subsets.
        num_subsets: KID's subsets.
        subset_size: KID's subset size, at most the size of both sets.

    Returns:
        A callable ``fn(model) -> float``.
    """
    from kmgan.metrics.kid import kid  # the function; kmgan.metrics.kid is it too

    ref = _RealFeatures(real, features)
    n = num_samples or ref.count
    _check_count("The number of real samples", ref.count, subset_size)
    _check_count("num_samples", n, subset_size)

    def kid_metric(model):
        fake = model.sample(n, seed=seed)
        return kid(
            ref.get(), fake, features, num_subsets=num_subsets, subset_size=subset_size, seed=seed
        )[0]

    return kid_metric


def prdc_of_samples(real, features=None, num_samples=None, seed=0, pr_k=3, dc_k=5):
    """A metric for `EvaluateEvery`: precision, recall, density, coverage of samples.

    Its ``outputs`` are ``("precision", "recall", "density", "coverage")``,
    logged as ``"{name}_precision"`` and so on.

    Args:
        real: real images in [-1, 1] (or uint8), or their ``(N, d)``
            features.
        features: the extractor (``None``: the default of
            ``kmgan.metrics.fid``).
        num_samples: generated samples (default: as many as real ones).
        seed: seed of the samples' noise.
        pr_k: k of precision / recall.
        dc_k: k of density / coverage.

    Returns:
        A callable ``fn(model) -> dict`` with an ``outputs`` attribute.
    """
    from kmgan.metrics import prdc

    ref = _RealFeatures(real, features)
    n = num_samples or ref.count
    need = max(pr_k, dc_k) + 1
    _check_count("The number of real samples", ref.count, need)
    _check_count("num_samples", n, need)

    def prdc_metric(model):
        from kmgan.metrics import features as feats

        fake = feats.extract_features(model.sample(n, seed=seed), features)
        return prdc.prdc_from_features(ref.get(), fake, pr_k=pr_k, dc_k=dc_k)

    prdc_metric.outputs = ("precision", "recall", "density", "coverage")
    return prdc_metric


def classifier_fid_of_samples(real, classifier, num_samples=None, seed=0):
    """A metric for `EvaluateEvery`: FID in a domain classifier's features.

    Fast to compute (128-d features of a small CNN), for watching a run; not
    comparable with published FIDs (see ``kmgan.metrics.domain``).

    Args:
        real: real images in [-1, 1] (or uint8), or their classifier
            features.
        classifier: a ``kmgan.metrics.DomainClassifier``.
        num_samples: generated samples (default: as many as real ones).
        seed: seed of the samples' noise.

    Returns:
        A callable ``fn(model) -> float``.
    """
    from kmgan.metrics import scores

    ref = _RealFeatures(real, classifier)
    n = num_samples or ref.count

    def classifier_fid(model):
        return scores.evaluate(model.sample(n, seed=seed), ref.get(), classifier, metrics=("fid",))[
            "fid"
        ]

    return classifier_fid


def classes_covered_of_samples(classifier, num_samples=1000, min_count=1, seed=0):
    """A metric for `EvaluateEvery`: classes a domain classifier finds in the samples.

    Args:
        classifier: a ``kmgan.metrics.DomainClassifier``.
        num_samples: generated samples.
        min_count: samples a class needs to count as covered.
        seed: seed of the samples' noise.

    Returns:
        A callable ``fn(model) -> float`` (the number of classes covered).
    """

    def classes_covered(model):
        return classifier.classes_covered(model.sample(num_samples, seed=seed), min_count)

    return classes_covered


def _ensure_parent(path):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
