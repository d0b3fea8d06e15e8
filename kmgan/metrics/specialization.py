"""Which data modes each generator of a multi-generator game covers.

Two kinds of report, both a table (`report.table()`, Markdown) and a PNG
(`report.save_png(path)`):

* 2-D mixtures: each generator's samples are assigned to their nearest
  mixture component; a sample counts when it is high quality (within
  `num_std` standard deviations of that component, the PacGAN rule). The
  PNG is a scatter plot with one colour per generator over the mode
  centres.
* Images: each generator's samples are labelled by a classifier; the PNG
  has one class histogram per generator.

`counts[k, m]` is the number of (high-quality) samples of generator k in
mode m; generator k *covers* mode m when it has at least `min_count` of
them.

    report = kmgan.metrics.specialization.specialization_report(
        game, num_per_generator=500, mixture="ring")
    print(report.table()); report.save_png("specialization.png")
"""

import dataclasses
import os

import numpy as np


@dataclasses.dataclass
class SpecializationReport:
    """Per-generator mode counts.

    Attributes:
        counts: int array (K, M): samples of generator k in mode m (for
            mixtures, high-quality samples only).
        totals: int array (K,): samples drawn per generator.
        mode_names: the M mode labels.
        kind: "mixture" or "classes".
        samples: the samples per generator (K, n, ...) when kept, for plots.
        mixture: the `kmgan.data.Mixture` of a mixture report.
    """

    counts: np.ndarray
    totals: np.ndarray
    mode_names: list
    kind: str
    samples: np.ndarray = None
    mixture: object = None

    @property
    def num_generators(self):
        return int(self.counts.shape[0])

    def modes_of(self, generator, min_count=1):
        """Indices of the modes generator `generator` covers."""
        return [int(m) for m in np.nonzero(self.counts[generator] >= min_count)[0]]

    def covered_modes(self, min_count=1):
        """Modes covered by at least one generator."""
        return [int(m) for m in np.nonzero(self.counts.sum(axis=0) >= min_count)[0]]

    def dominant_generator(self):
        """For each mode, the generator with most samples there (-1: none)."""
        best = self.counts.argmax(axis=0)
        return np.where(self.counts.sum(axis=0) > 0, best, -1)

    def quality(self):
        """Per generator: fraction of its samples counted in some mode."""
        return self.counts.sum(axis=1) / np.maximum(self.totals, 1)

    def table(self, min_count=1):
        """A Markdown table: one row per generator."""
        quality_header = "high quality" if self.kind == "mixture" else "share of top mode"
        lines = [
            f"| generator | modes covered | {quality_header} | modes (count) |",
            "| --- | --- | --- | --- |",
        ]
        for k in range(self.num_generators):
            modes = self.modes_of(k, min_count)
            listed = ", ".join(f"{self.mode_names[m]} ({int(self.counts[k, m])})" for m in modes)
            if self.kind == "mixture":
                q = f"{100 * self.quality()[k]:.1f}%"
            else:
                top = self.counts[k].max() / max(int(self.totals[k]), 1)
                q = f"{100 * top:.1f}%"
            lines.append(f"| {k} | {len(modes)} | {q} | {listed or '-'} |")
        covered = len(self.covered_modes(min_count))
        lines.append(f"| all | {covered} / {len(self.mode_names)} | | |")
        return "\n".join(lines)

    def to_dict(self):
        return {
            "kind": self.kind,
            "counts": self.counts.tolist(),
            "totals": self.totals.tolist(),
            "mode_names": list(self.mode_names),
            "modes_per_generator": [self.modes_of(k) for k in range(self.num_generators)],
        }

    def save_png(self, path, reference=None, title=None):
        """Writes the report's picture (scatter for mixtures, histograms for
        classes) and returns `path`."""
        if self.kind == "mixture":
            if self.samples is None:
                raise ValueError("This report kept no samples to plot.")
            return plot_mixture_specialization(
                self.samples, path, mixture=self.mixture, reference=reference, title=title
            )
        return plot_class_histograms(self, path, title=title)


def _as_per_generator(samples_per_generator):
    if isinstance(samples_per_generator, (list, tuple)):
        return [np.asarray(s) for s in samples_per_generator]
    arr = np.asarray(samples_per_generator)
    return [arr[k] for k in range(arr.shape[0])]


def mixture_specialization(samples_per_generator, mixture="ring", num_std=3.0, keep_samples=True):
    """Which components of a 2-D Gaussian mixture each generator covers.

    Args:
        samples_per_generator: (K, n, 2) array or a list of K (n_k, 2) arrays.
        mixture: a `kmgan.data.Mixture` or "ring" / "grid" (PacGAN's).
        num_std: the high-quality radius in standard deviations.
        keep_samples: keep the samples in the report (for `save_png`).

    Returns:
        A `SpecializationReport` of kind "mixture".
    """
    from kmgan import data

    mixture = data.get_mixture(mixture)
    centers = np.asarray(mixture.centers, "float64")
    per_gen = _as_per_generator(samples_per_generator)
    counts = np.zeros((len(per_gen), len(centers)), "int64")
    for k, s in enumerate(per_gen):
        s = np.asarray(s, "float64").reshape(-1, 2)
        dist = np.linalg.norm(s[:, None, :] - centers[None], axis=-1)
        nearest = dist.argmin(axis=1)
        good = dist[np.arange(len(s)), nearest] <= num_std * mixture.std
        counts[k] = np.bincount(nearest[good], minlength=len(centers))
    names = [f"({c[0]:g}, {c[1]:g})" for c in np.round(centers, 2)]
    kept = None
    if keep_samples:
        kept = per_gen if len({len(s) for s in per_gen}) > 1 else np.stack(per_gen)
    return SpecializationReport(
        counts=counts,
        totals=np.array([len(s) for s in per_gen]),
        mode_names=names,
        kind="mixture",
        samples=kept,
        mixture=mixture,
    )


def class_specialization(
    samples_per_generator, classifier, num_classes=10, class_names=None, batch_size=256
):
    """A class histogram per generator, from a classifier.

    Args:
        samples_per_generator: (K, n, ...) array or list of K arrays of
            images in the classifier's input range.
        classifier: a Keras model, or any callable, mapping a batch of
            images to (batch, num_classes) scores (argmax is the class).
        num_classes: number of classes.
        class_names: optional names of the classes.
        batch_size: inference batch size.

    Returns:
        A `SpecializationReport` of kind "classes".
    """
    import keras

    per_gen = _as_per_generator(samples_per_generator)
    counts = np.zeros((len(per_gen), num_classes), "int64")
    for k, s in enumerate(per_gen):
        s = np.asarray(s, "float32")
        if isinstance(classifier, keras.Model):
            scores = classifier.predict(s, batch_size=batch_size, verbose=0)
        else:
            scores = np.concatenate(
                [
                    np.asarray(classifier(s[i : i + batch_size]))
                    for i in range(0, len(s), batch_size)
                ]
            )
        labels = np.asarray(scores).reshape(len(s), -1).argmax(axis=-1)
        counts[k] = np.bincount(labels, minlength=num_classes)[:num_classes]
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    return SpecializationReport(
        counts=counts,
        totals=np.array([len(s) for s in per_gen]),
        mode_names=names,
        kind="classes",
    )


def specialization_report(
    model,
    num_per_generator=500,
    mixture=None,
    classifier=None,
    num_classes=10,
    class_names=None,
    num_std=3.0,
    seed=0,
    png=None,
    num_generators=None,
):
    """Samples every expert of a game (or an exported sampler) and reports.

    Args:
        model: a multi-generator game (MGAN, MADGAN, MEGAN) or a sampler from
            `export_sampler()` (possibly loaded from `.keras`).
        num_per_generator: samples per generator.
        mixture: for 2-D data, the `Mixture` (or "ring"/"grid").
        classifier: for images, the classifier (see `class_specialization`).
        num_classes, class_names: for images.
        num_std: high-quality radius for mixtures.
        seed: seed of z (the same z for every expert).
        png: optional path of the PNG to write.
        num_generators: K of a sampler (read from it when None).

    Returns:
        A `SpecializationReport`.
    """
    from kmgan.games.multi import expert_grid
    from kmgan.games.multi import sampler_num_generators

    if hasattr(model, "sample_per_generator"):
        samples = model.sample_per_generator(num_per_generator, seed=seed)
    else:
        if num_generators is not None and num_generators != sampler_num_generators(model):
            raise ValueError(f"The sampler has {sampler_num_generators(model)} generators.")
        flat, k = expert_grid(model, num_per_generator, seed=seed)
        samples = flat.reshape((k, num_per_generator) + flat.shape[1:])
    if (mixture is None) == (classifier is None):
        raise ValueError("Pass exactly one of `mixture` (2-D data) and `classifier` (images).")
    if mixture is not None:
        report = mixture_specialization(samples, mixture, num_std=num_std)
    else:
        report = class_specialization(samples, classifier, num_classes, class_names)
        report.samples = samples
    if png:
        report.save_png(png)
    return report


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_mixture_specialization(
    samples_per_generator, path, mixture=None, reference=None, title=None
):
    """Scatter plot of 2-D samples, one colour per generator, over the modes.

    Args:
        samples_per_generator: (K, n, 2) array or list of K arrays.
        path: PNG to write.
        mixture: optional `Mixture` (or "ring"/"grid") whose centres are drawn.
        reference: optional (M, 2) real points drawn underneath in grey.
        title: optional title.

    Returns:
        `path`.
    """
    plt = _pyplot()
    per_gen = _as_per_generator(samples_per_generator)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    if reference is not None:
        reference = np.asarray(reference)
        ax.scatter(reference[:, 0], reference[:, 1], s=3, c="0.8", label="real")
    cmap = plt.get_cmap("tab10" if len(per_gen) <= 10 else "tab20")
    for k, s in enumerate(per_gen):
        s = np.asarray(s).reshape(-1, 2)
        ax.scatter(s[:, 0], s[:, 1], s=4, color=cmap(k % cmap.N), label=f"G{k}", alpha=0.7)
    if mixture is not None:
        from kmgan import data

        centers = np.asarray(data.get_mixture(mixture).centers)
        ax.scatter(centers[:, 0], centers[:, 1], marker="x", c="black", s=40, label="modes")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, markerscale=2)
    if title:
        ax.set_title(title)
    _ensure_parent(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_class_histograms(report, path, title=None):
    """One bar chart of class counts per generator, stacked vertically."""
    plt = _pyplot()
    k, m = report.counts.shape
    fig, axes = plt.subplots(
        k, 1, figsize=(max(4, 0.45 * m + 1), 1.3 * k + 0.6), sharex=True, squeeze=False
    )
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    for g in range(k):
        ax = axes[g, 0]
        ax.bar(np.arange(m), report.counts[g], color=cmap(g % cmap.N))
        ax.set_ylabel(f"G{g}", rotation=0, labelpad=14)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xticks(np.arange(m))
    axes[-1, 0].set_xticklabels(report.mode_names, rotation=90 if m > 12 else 0, fontsize=7)
    if title:
        axes[0, 0].set_title(title)
    _ensure_parent(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _ensure_parent(path):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
