"""The sweep: classifiers trained on every method's training sets.

`run_sweep` runs every method at every real fraction, generated ratio and
seed, and writes the reports (`kmgan.augment.reports`). Its settings are a
`SweepConfig`; keyword arguments work as well.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from kmgan.augment.arrays import check_labels
from kmgan.augment.arrays import count_classes
from kmgan.augment.arrays import to_model_range
from kmgan.augment.cells import CellStore
from kmgan.augment.cells import array_digest
from kmgan.augment.cells import cell_key
from kmgan.augment.classifiers import evaluate_classifier
from kmgan.augment.classifiers import simple_cnn
from kmgan.augment.classifiers import train_and_evaluate
from kmgan.augment.classifiers import train_classifier
from kmgan.augment.labelling import derived_seed
from kmgan.augment.labelling import draw_labelled
from kmgan.augment.mixing import apportion
from kmgan.augment.mixing import as_dataset
from kmgan.augment.mixing import as_fraction
from kmgan.augment.mixing import mix
from kmgan.augment.mixing import round_half_up
from kmgan.augment.quality import features_or_none
from kmgan.augment.quality import generative_metrics
from kmgan.augment.reports import class_grid
from kmgan.augment.reports import write_results
from kmgan.augment.samplers import ConditionalSampler
from kmgan.augment.samplers import PerSubset
from kmgan.augment.samplers import UnlabelledSampler
from kmgan.augment.traditional import FAMILY_CHOICES
from kmgan.augment.traditional import traditional_augmentation

__all__ = ["DEFAULT_METHODS", "SweepConfig", "parse_method", "run_sweep"]

DEFAULT_METHODS = {
    "none": None,
    "geometric": "geometric",
    "photometric": "photometric",
    "noise": "noise",
}

_GENERATIVE_KINDS = ("conditional", "unlabelled", "per_subset")


@dataclasses.dataclass
class SweepConfig:
    """The settings of :func:`run_sweep`: everything but the data.

    Args:
        methods: dict name -> ``None`` | family name | Keras layer |
            sampler | :class:`PerSubset`. Default: none, geometric,
            photometric, noise.
        real_fractions: fractions of the real training set, in ``(0, 1]``.
        generated_ratios: generated images per real image kept.
        seeds: one full sweep per seed (data selection, sampling, weights).
        epochs: classifier training epochs. With a fixed number of epochs a
            run with more (generated) images also takes more optimizer
            steps; the ``train_steps`` column shows how many.
        out_dir: output folder.
        model_fn: callable returning a fresh classifier; default
            :func:`simple_cnn` for the image shape and class count.
        batch_size: classifier batch size.
        threshold: confidence threshold of the filter.
        train_steps: train every classifier (and the auxiliary one) for this
            many optimizer steps instead of ``epochs``: the same budget for
            every method, so a gain cannot come from more steps alone.
        aux_model_fn: auxiliary classifier builder (default ``model_fn``).
        aux_epochs: its epochs (default ``epochs``).
        aux_augmentation: traditional augmentation while training it
            (family name, layer or ``None``).
        aux_classifier: an already trained auxiliary classifier to use
            instead (then nothing is trained for labelling).
        num_classes: number of classes (default: largest label + 1).
        allow_flip: passed to :func:`traditional_augmentation`.
        features: the feature network of FID / KID / PRDC / IS (see
            :func:`generative_metrics`): ``"imagenet"`` (default; built
            only when there is a generative method, and the sweep stops at
            once with the reason when the weights cannot be had: never a
            silent fall-back to random weights), a weights path, an
            ``InceptionFeatures`` (``weights=None`` for tests),
            ``kmgan.metrics.inception_2015(...)`` (the FID network; no IS),
            a callable, or ``None`` to skip the feature-based scores.
        gan_metrics: compute per-class FID / KID / PRDC / IS / MS-SSIM of each generative
            method, from its labelled samples of the first seed (a
            :class:`PerSubset` method: at every real fraction, since each
            fraction has its own generator; a sampler given directly: at the
            largest), and of the real data.
        metric_samples: images per class for those metrics (at most).
        diversity_pairs: pairs per MS-SSIM estimate.
        max_draw_factor: draw budget of the filter (see :func:`draw_labelled`).
        title: heading of ``results.md``.
        notes: lines listed under the heading of ``results.md`` (e.g. a
            skipped method and why).
        log: progress printer (``None``: silent).
        verbose: ``fit`` verbosity.
        resume: skip the cells a previous sweep into the same ``out_dir``
            finished (see :func:`run_sweep`); ``False`` runs every cell
            again and overwrites their files.
        run_settings: JSON-able settings the sweep cannot see (how
            ``model_fn`` builds its classifier, how the generators were
            trained), stored with every cell and compared on resume.
    """

    methods: dict | None = None
    real_fractions: tuple = (1.0, 0.5, 0.1)
    generated_ratios: tuple = (0, 0.5, 1, 2)
    seeds: tuple = (0,)
    epochs: int = 5
    out_dir: str = "runs/gda"
    model_fn: Callable | None = None
    batch_size: int = 64
    threshold: float = 0.9
    train_steps: int | None = None
    aux_model_fn: Callable | None = None
    aux_epochs: int | None = None
    aux_augmentation: Any = "geometric"
    aux_classifier: Any = None
    num_classes: int | None = None
    allow_flip: bool | None = None
    features: Any = "imagenet"
    gan_metrics: bool = True
    metric_samples: int = 1000
    diversity_pairs: int = 200
    max_draw_factor: int = 20
    title: str | None = None
    notes: tuple = ()
    log: Callable | None = print
    verbose: int = 0
    resume: bool = True
    run_settings: dict | None = None


def parse_method(name, spec):
    """The kind of a method of the sweep and what it runs.

    Args:
        name: the method's name (for error messages).
        spec: ``None`` (or ``"none"``), a family name, a Keras layer, an
            :class:`UnlabelledSampler`, a :class:`ConditionalSampler` or a
            :class:`PerSubset`.

    Returns:
        ``(kind, spec)`` with kind ``"baseline"``, ``"traditional"``,
        ``"conditional"``, ``"unlabelled"`` or ``"per_subset"``.
    """
    if spec is None or (isinstance(spec, str) and spec == "none"):
        return "baseline", None
    if isinstance(spec, str):
        if spec not in FAMILY_CHOICES:
            raise ValueError(
                f"Method {name!r}: unknown augmentation {spec!r}; use one of "
                f"{FAMILY_CHOICES}, None, a Keras layer or a sampler."
            )
        return "traditional", spec
    if isinstance(spec, ConditionalSampler):
        return "conditional", spec
    if isinstance(spec, UnlabelledSampler):
        return "unlabelled", spec
    if isinstance(spec, PerSubset):
        return "per_subset", spec
    if isinstance(spec, keras.layers.Layer):
        return "traditional", spec
    raise TypeError(
        f"Method {name!r}: expected None, a family name, a Keras layer, an "
        f"UnlabelledSampler, a ConditionalSampler or PerSubset, got {type(spec).__name__}. Wrap a "
        "sample_fn(n, seed) in UnlabelledSampler and a conditional_sample_fn(labels, "
        "seed) in ConditionalSampler."
    )


def run_sweep(real, test, config=None, **settings):
    """The study: classifiers trained on every method's training sets.

    For each seed and real fraction ``f`` the real subset is the same for
    every method (:func:`mix`, nested across fractions). Then:

    * ``baseline`` (``None``): the real subset, no augmentation;
    * ``traditional`` (a family name or a Keras layer): the real subset with
      on-the-fly augmentation; these add no images, so they run once per
      ``f`` (their rows have ``generated_ratio`` 0);
    * ``conditional`` (:class:`ConditionalSampler`): for each ratio ``r > 0``
      the real subset plus ``r`` times as many generated images, class
      balance as the real subset;
    * ``unlabelled`` (:class:`UnlabelledSampler`, e.g. MAD-GAN): the same,
      with labels from an auxiliary classifier trained on the real subset
      with ``aux_augmentation`` and the confidence filter (``threshold``);
    * :class:`PerSubset`: either of the two, with the generative model
      trained on each (seed, fraction) real subset itself, so that a scarce
      real fraction is scarce for the generator too.

    A sampler given directly was trained on whatever data its owner used
    (usually the whole training set): at small real fractions it then brings
    in information from real images the classifier is denied.

    A ratio of 0 for a generative method is the ``none`` baseline and is not
    re-run. Generated images are drawn once per (method, fraction, seed) for
    the largest ratio and the smaller ratios use nested subsets.

    The sweep resumes. Each finished cell (one method on one (seed, real
    fraction) subset: its classifiers, and for a generative method its
    samples, filter report and metrics; and the real data's reference
    metrics) is written at once to ``out_dir/cells/`` with its settings
    (:mod:`kmgan.augment.cells`), and the partial reports are rewritten.
    Run the same sweep again after an interruption and it skips the
    finished cells: it ends with the rows an uninterrupted sweep gives.
    A finished cell whose settings (the data, the classifier budget, the
    ratios, the filter, the metrics' settings, the method's kind and name,
    ``run_settings``) differ from the sweep's is refused before anything
    trains. A changed ``model_fn`` or a retrained sampler under the same
    name is only detected through ``run_settings``: describe them there, or
    give such a sweep its own ``out_dir``.

    Files written to ``out_dir``: ``results.csv`` (one row per run),
    ``results.md`` (tables per real fraction, filter and generative-model
    tables, all runs), ``results.json`` (everything, confusion matrices
    included), ``accuracy_vs_ratio.png``, ``generative_metrics.csv`` and
    ``samples_<method>_fraction<f>.png`` (generated images by class; for an
    unlabelled sampler also ``samples_<method>_fraction<f>_unfiltered.png``,
    before the filter), where the metrics are computed.

    Args:
        real: ``(x, y)`` real training data (uint8 or ``[-1, 1]``).
        test: ``(x, y)`` real test data.
        config: a :class:`SweepConfig` (default: its defaults).
        **settings: any :class:`SweepConfig` field (``methods=``,
            ``real_fractions=``, ...), overriding ``config``.

    Returns:
        The list of result rows (dicts with the ``RESULT_COLUMNS`` plus
        ``confusion_matrix`` and ``per_class_f1``).
    """
    fields = {f.name for f in dataclasses.fields(SweepConfig)}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise TypeError(
            f"run_sweep() got unknown settings {unknown}; the settings are the fields of "
            f"SweepConfig: {sorted(fields)}."
        )
    config = dataclasses.replace(config or SweepConfig(), **settings)
    return _Sweep(config, real, test).run()


class _Sweep:
    """One run of :func:`run_sweep`: the data, the settings, the rows so far."""

    def __init__(self, config, real, test):
        c = self.config = config
        self.log = c.log or (lambda *a, **k: None)
        self.real_x = to_model_range(real[0])
        self.real_y = check_labels(real[1], len(real[0]), "real labels")
        self.test_x = to_model_range(test[0])
        self.test_y = check_labels(test[1], len(test[0]), "test labels")
        if self.real_x.shape[1:] != self.test_x.shape[1:]:
            raise ValueError(
                f"Train images {self.real_x.shape[1:]} and test images "
                f"{self.test_x.shape[1:]} differ."
            )
        self.k = k = count_classes(self.real_y, self.test_y, num_classes=c.num_classes)
        self.image_shape = image_shape = self.real_x.shape[1:]
        methods = dict(DEFAULT_METHODS if c.methods is None else c.methods)
        self.parsed = {name: parse_method(name, spec) for name, spec in methods.items()}
        ratios = sorted({float(g) for g in c.generated_ratios})
        if any(g < 0 for g in ratios):
            raise ValueError("generated_ratios must be >= 0.")
        self.fractions = [float(f) for f in c.real_fractions]
        for f in self.fractions:
            if not 0 < f <= 1:
                raise ValueError(f"real fractions must be in (0, 1], got {f}.")
        self.positive = [g for g in ratios if g > 0]
        self.generative = [n for n, (kind, _) in self.parsed.items() if kind in _GENERATIVE_KINDS]
        if self.generative and not self.positive:
            self.log("note: no positive generated ratio; generative methods have nothing to add.")
        self.model_fn = c.model_fn or (lambda: simple_cnn(image_shape, k))
        self.aux_model_fn = c.aux_model_fn or self.model_fn
        self.aux_epochs = c.epochs if c.aux_epochs is None else c.aux_epochs
        self.features = None
        if c.gan_metrics and self.generative:
            try:
                self.features = features_or_none(c.features)
            except RuntimeError as err:
                raise RuntimeError(
                    f"{err}\nPass features=None (kmgan augment: --inception none) to run the "
                    "sweep without FID / IS."
                ) from err
        os.makedirs(c.out_dir, exist_ok=True)
        self.rows, self.filter_reports, self.gen_metrics = [], [], []
        self.metrics_done = set()
        self.top_fraction = max(self.fractions)
        self.cells = CellStore(c.out_dir, enabled=c.resume)
        self.common_settings = {
            "real_data": array_digest(self.real_x, self.real_y),
            "test_data": array_digest(self.test_x, self.test_y),
            "num_classes": int(k),
            "epochs": int(c.epochs),
            "train_steps": None if c.train_steps is None else int(c.train_steps),
            "batch_size": int(c.batch_size),
            "allow_flip": c.allow_flip,
            "run_settings": c.run_settings,
        }

    # ------------------------------------------------------------ the cells
    def _metrics_settings(self):
        c = self.config
        return {
            "features": _describe(c.features),
            "metric_samples": int(c.metric_samples),
            "diversity_pairs": int(c.diversity_pairs),
        }

    def _shows_samples(self, name, seed, f):
        """Whether method `name`'s samples on subset (seed, f) are shown and measured:
        the first seed's, at every fraction for a generator trained per subset, at the
        largest for one given directly (the same generator at every fraction)."""
        per_subset = self.parsed[name][0] == "per_subset"
        return seed == self.config.seeds[0] and (per_subset or f == self.top_fraction)

    def cell_settings(self, name, seed, f):
        """What the cell of method `name` on subset (seed, f) depends on."""
        c = self.config
        kind, spec = self.parsed[name]
        settings = {**self.common_settings, "kind": kind, "method": _describe(spec)}
        if kind in _GENERATIVE_KINDS:
            settings.update(
                generated_ratios=self.positive,
                threshold=float(c.threshold),
                max_draw_factor=int(c.max_draw_factor),
                aux_epochs=int(self.aux_epochs),
                aux_augmentation=_describe(c.aux_augmentation),
                aux_classifier=_describe(c.aux_classifier),
                samples_shown=self._shows_samples(name, seed, f),
                metrics=self._metrics_settings()
                if c.gan_metrics and self._shows_samples(name, seed, f)
                else None,
            )
        return settings

    def _real_metrics_settings(self):
        return {
            "real_data": self.common_settings["real_data"],
            "num_classes": self.common_settings["num_classes"],
            "run_settings": self.config.run_settings,
            **self._metrics_settings(),
        }

    def _planned_cells(self):
        c = self.config
        cells = {}
        if c.gan_metrics and self.generative:
            cells["real-data-metrics"] = self._real_metrics_settings()
        for seed in c.seeds:
            for f in self.fractions:
                for name, (kind, _) in self.parsed.items():
                    if kind in _GENERATIVE_KINDS and not self.positive:
                        continue
                    cells[cell_key(name, seed, f)] = self.cell_settings(name, seed, f)
        return cells

    def _restore(self, record):
        self.rows += record["rows"]
        self.filter_reports += record["filter_reports"]
        self.gen_metrics += record["gen_metrics"]

    # ------------------------------------------------------------ the whole sweep
    def run(self):
        c = self.config
        self.cells.check(self._planned_cells())  # before anything trains
        if c.gan_metrics and self.generative:
            settings = self._real_metrics_settings()
            record = self.cells.load("real-data-metrics", settings)
            if record is not None:
                self.log("generative metrics: real data reference (finished before)")
                self._restore(record)
            else:
                self.log("generative metrics: real data reference")
                rows = [
                    {"method": "real data", "real_fraction": 1.0, **row}
                    for row in generative_metrics(
                        self.real_x,
                        self.real_y,
                        None,
                        None,
                        features=self.features,
                        num_classes=self.k,
                        diversity_pairs=c.diversity_pairs,
                        seed=0,
                        max_per_class=c.metric_samples,
                    )
                ]
                self.gen_metrics += rows
                self.cells.save("real-data-metrics", settings, gen_metrics=rows)
        for seed in c.seeds:
            for f in self.fractions:
                self.log(f"seed {seed}, real fraction {f:g}")
                self._run_subset(seed, f)
            self._write()  # partial
        paths = self._write()
        self.log(f"wrote {paths['csv']}, {paths['md']}, {paths['plot']}")
        return self.rows

    def _write(self):
        c = self.config
        return write_results(
            self.rows, c.out_dir, self.gen_metrics, self.filter_reports, c.title, c.notes
        )

    def _run_subset(self, seed, f):
        """Every method on the real subset of one (seed, real fraction)."""
        x_real, y_real, info_real = mix(
            self.real_x,
            self.real_y,
            real_fraction=f,
            generated_ratio=0,
            seed=seed,
            num_classes=self.k,
        )
        for name, (kind, spec) in self.parsed.items():
            if kind in ("baseline", "traditional"):
                self._cell(
                    name,
                    seed,
                    f,
                    lambda: self._record(
                        name,
                        kind,
                        f,
                        0.0,
                        seed,
                        info_real,
                        self._fit_eval(x_real, y_real, self.augmentation_for(spec, seed), seed),
                    ),
                )
        if not self.generative or not self.positive:
            return
        # Per class, the most any ratio asks for (largest-remainder rounding
        # need not be monotone in the total, so take the maximum over ratios).
        needed = np.max(
            [
                apportion(
                    round_half_up(as_fraction(g, "ratio") * info_real["n_real"]),
                    info_real["real_per_class"],
                )
                for g in self.positive
            ],
            axis=0,
        )
        auxiliary = _Auxiliary(self, x_real, y_real, seed)
        for name in self.generative:
            self._cell(
                name,
                seed,
                f,
                lambda: self._run_generative(name, seed, f, x_real, y_real, needed, auxiliary),
            )

    def _cell(self, name, seed, f, run):
        """Restores the cell of `name` on (seed, f) if it finished before, else runs
        `run()` (which appends the cell's rows, reports and metrics) and saves it."""
        key, settings = cell_key(name, seed, f), self.cell_settings(name, seed, f)
        record = self.cells.load(key, settings)
        if record is not None:
            self.log(f"  {name:>12s} f={f:g} seed={seed}: finished before")
            self._restore(record)
            return
        counts = len(self.rows), len(self.filter_reports), len(self.gen_metrics)
        run()
        self.cells.save(
            key,
            settings,
            rows=self.rows[counts[0] :],
            filter_reports=self.filter_reports[counts[1] :],
            gen_metrics=self.gen_metrics[counts[2] :],
        )
        self._write()  # partial

    def _run_generative(self, name, seed, f, x_real, y_real, needed, auxiliary):
        """One generative method at every positive ratio, on one real subset."""
        c = self.config
        kind, sampler = self.parsed[name]
        shown_kind = kind
        if kind == "per_subset":
            self.log(f"  {name}: training on this real subset ({len(x_real)} images)")
            sampler = sampler(x_real, y_real, seed, f)
            kind = "conditional" if isinstance(sampler, ConditionalSampler) else "unlabelled"
            shown_kind = f"{kind}, per subset"
        aux, aux_acc = auxiliary() if kind == "unlabelled" else (None, math.nan)
        pool_x, pool_y, rep = draw_labelled(
            sampler,
            needed,
            classifier=aux,
            threshold=c.threshold,
            seed=derived_seed(seed, int(f * 1e6)),
            max_draw_factor=c.max_draw_factor,
        )
        extra = {}
        if kind == "unlabelled":
            extra = {"kept_fraction": rep["kept_fraction"], "aux_accuracy": aux_acc}
            self.filter_reports.append(
                {
                    "method": name,
                    "real_fraction": f,
                    "seed": int(seed),
                    "aux_accuracy": aux_acc,
                    **rep,
                }
            )
            self.log(
                f"  {name}: kept {rep['num_kept']}/{rep['num_drawn']} "
                f"({100 * rep['kept_fraction']:.1f}%) above {c.threshold}; per class "
                f"{rep['kept_per_class'].tolist()}; shortfall "
                f"{rep['shortfall_per_class'].tolist()}"
            )
        if self._shows_samples(name, seed, f) and (name, f) not in self.metrics_done:
            self.metrics_done.add((name, f))
            self._samples_and_metrics(name, kind, sampler, seed, f, pool_x, pool_y)
        for g in self.positive:
            x, y, info = mix(
                self.real_x,
                self.real_y,
                pool_x,
                pool_y,
                real_fraction=f,
                generated_ratio=g,
                seed=seed,
                num_classes=self.k,
                allow_shortfall=True,
            )
            metrics = self._fit_eval(x, y, None, seed)
            self._record(name, shown_kind, f, g, seed, info, metrics, extra)

    def _samples_and_metrics(self, name, kind, sampler, seed, f, pool_x, pool_y):
        """Sample grids and generative metrics of a method on one real subset."""
        c = self.config
        stem = os.path.join(c.out_dir, f"samples_{name}_fraction{f:g}")
        if kind == "unlabelled":  # what the filter saw, before filtering
            from kmgan.callbacks import save_image_grid

            save_image_grid(sampler(64, seed=derived_seed(seed, 99)), f"{stem}_unfiltered.png")
        if len(pool_x):
            class_grid(pool_x, pool_y, f"{stem}.png")
        if c.gan_metrics and len(pool_x):
            self.log(f"  generative metrics: {name}, real fraction {f:g}")
            for row in generative_metrics(
                pool_x,
                pool_y,
                self.real_x,
                self.real_y,
                features=self.features,
                num_classes=self.k,
                diversity_pairs=c.diversity_pairs,
                seed=seed,
                max_per_class=c.metric_samples,
            ):
                self.gen_metrics.append({"method": name, "real_fraction": f, **row})

    # ------------------------------------------------------------ one classifier
    def _record(self, method, kind, f, g, seed, info, metrics, extra=None):
        row = {
            "method": method,
            "kind": kind,
            "real_fraction": f,
            "generated_ratio": g,
            "seed": int(seed),
            "n_real": int(info["n_real"]),
            "n_generated": int(info["n_generated"]),
            "accuracy": metrics["accuracy"],
            "precision_macro": metrics["precision_macro"],
            "recall_macro": metrics["recall_macro"],
            "f1_macro": metrics["f1_macro"],
            "epochs": int(self.config.epochs),
            "train_steps": int(metrics.get("train_steps", -1)),
            "train_seconds": metrics.get("train_seconds", math.nan),
            "kept_fraction": math.nan,
            "aux_accuracy": math.nan,
            "confusion_matrix": metrics["confusion_matrix"],
            "per_class_f1": metrics["f1"],
        }
        row.update(extra or {})
        self.rows.append(row)
        self.log(
            f"  {method:>12s} f={f:g} r={g:g} seed={seed}: n_real={row['n_real']} "
            f"n_gen={row['n_generated']} acc={row['accuracy']:.4f} f1={row['f1_macro']:.4f}"
        )
        return row

    def seeded_dataset(self, x, y, augmentation, seed):
        # tf.data's shuffle depends on TensorFlow's global seed as well as its
        # own: set both, so every run of a seed sees the same order.
        keras.utils.set_random_seed(int(seed))
        return as_dataset(
            x, y, batch_size=self.config.batch_size, augmentation=augmentation, seed=seed
        )

    def _fit_eval(self, x, y, augmentation, seed):
        c = self.config
        ds = self.seeded_dataset(x, y, augmentation, seed)
        return train_and_evaluate(
            self.model_fn,
            ds,
            self.test_x,
            self.test_y,
            epochs=c.epochs,
            num_classes=self.k,
            seed=seed,
            verbose=c.verbose,
            steps=c.train_steps,
        )

    def augmentation_for(self, spec, seed):
        if spec is None or isinstance(spec, keras.layers.Layer):
            return spec
        return traditional_augmentation(
            spec, self.image_shape, allow_flip=self.config.allow_flip, seed=seed
        )


class _Auxiliary:
    """The auxiliary classifier of one (seed, real fraction), trained on first need."""

    def __init__(self, sweep, x_real, y_real, seed):
        self.sweep, self.x_real, self.y_real, self.seed = sweep, x_real, y_real, seed
        self.model = sweep.config.aux_classifier
        self.accuracy = math.nan
        self.done = False

    def __call__(self):
        if not self.done:
            self.done = True
            s, c = self.sweep, self.sweep.config
            if self.model is None:
                s.log(f"  training the auxiliary classifier ({c.aux_augmentation} augmentation)")
                aux_ds = s.seeded_dataset(
                    self.x_real,
                    self.y_real,
                    s.augmentation_for(c.aux_augmentation, self.seed),
                    self.seed,
                )
                self.model = train_classifier(
                    s.aux_model_fn,
                    aux_ds,
                    epochs=s.aux_epochs,
                    seed=self.seed,
                    verbose=c.verbose,
                    steps=c.train_steps,
                )
            self.accuracy = evaluate_classifier(self.model, s.test_x, s.test_y, num_classes=s.k)[
                "accuracy"
            ]
        return self.model, self.accuracy


def _describe(value):
    """A setting as JSON: strings, numbers and None as they are, else the type's name."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (UnlabelledSampler, ConditionalSampler, PerSubset)):
        return repr(value)
    return type(value).__name__
