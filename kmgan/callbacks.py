"""Callbacks for games: sample grids, scatter plots, generator checkpoints.

Keras' own `CSVLogger`, `TensorBoard`, `BackupAndRestore` and
`TerminateOnNaN` work with every game as they are: the per-player losses are
ordinary logs, and every player's optimizer state lives in `model.optimizer`.
"""

import math
import os

import keras
import numpy as np


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
    ax.scatter(points[:, 0], points[:, 1], s=4, c=colors, cmap="tab10" if colors is not None else None,
               label="generated")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    _ensure_parent(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


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
        z = np.random.default_rng(self.seed).standard_normal(
            (self.num_samples, self.model.latent_dim)
        ).astype("float32")
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
            features=features)`, or `fid_of_samples(real, features)`.
        every: evaluate every `every` epochs (and always at the last one).
        best: name of the metric that selects the best generator, or None.
        mode: "min" (FID, distances) or "max" (IS) for `best`.
        filepath: `.keras` file for the best sampler (needs `best`).
    """

    def __init__(self, metrics, every=1, best=None, mode="min", filepath=None):
        super().__init__()
        if not metrics:
            raise ValueError("EvaluateEvery needs at least one metric.")
        if best is not None and best not in metrics:
            raise ValueError(f"best='{best}' is not one of {sorted(metrics)}.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        if filepath is not None and (best is None or not str(filepath).endswith(".keras")):
            raise ValueError("filepath needs `best` and must end in .keras.")
        self.metrics = dict(metrics)
        self.every = int(every)
        self.best = best
        self.mode = mode
        self.filepath = filepath
        self.best_value = None
        self.best_epoch = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            for name in self.metrics:
                logs[name] = float("nan")
            return
        for name, fn in self.metrics.items():
            logs[name] = float(fn(self.model))
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
        fake = inception.activation_statistics(model.sample(num_samples or len(real_images), seed=seed), feats)
        return inception.frechet_distance(*stats["real"], *fake)

    return fid


def _ensure_parent(path):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
