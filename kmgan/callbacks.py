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


def _ensure_parent(path):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
