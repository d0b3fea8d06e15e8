"""Every kmgan game on full MNIST and Fashion-MNIST at a matched budget: one table.

Each row (a *variant*: a registry game and its overrides, ``--variants``)
trains on the full training split for the same number of generator steps
(``--steps``) at the same batch size (``--batch-size``), with the papers'
optimizers (``game.compile()``) and the same net width (``--base-filters``),
on the current Keras backend (the table is meant for TensorFlow). Then it is
scored against the test split: FID, KID, precision, recall, density and
coverage on the 2015 Inception network (``--num`` samples against the first
``--num`` test images, whose features are cached), classes covered and KL to
the real class histogram on the dataset's domain classifier, label accuracy
and the Classification Accuracy Score for conditional games, and, for
multi-generator games, how many generators have distinct dominant classes.
The MS-SSIM column (``--ms-ssim-pairs`` pairs each; lower is more diverse)
checks two failures FID hides: for conditional games, the per-class MS-SSIM
of the generated images beside the real test split's (within-class
collapse); for multi-generator games, MS-SSIM between generators for the
same z beside that within one generator (generators that copy one another).
A finished row scored before this column existed gets it on the next run,
without rescoring the rest, when its ``sampler.keras`` is still there.
The real-data floor rows of ``recipes/real_floor.py`` stand at the top.

    export KMGAN_INCEPTION_2015=../shared/data/inception_2015/fid_inception_2015_torchscript.pt
    KERAS_BACKEND=tensorflow nice -n 19 python recipes/image_benchmark.py \\
        --data ../shared/data/mnist.npz ../shared/data/fashion_mnist.npz
    python recipes/image_benchmark.py --data ... --report     # the table of what is done
    python recipes/image_benchmark.py --quick --out /tmp/ib   # the whole path, tiny
    python recipes/image_benchmark.py --time-steps 20 --data ../shared/data/mnist.npz

``--data`` takes local Keras-style ``.npz`` files or tfds names (``mnist``,
``fashion_mnist``). ``--features domain`` scores FID/KID/PR/DC on the domain
classifier instead: fast, for CPU checks, and labelled not comparable to
papers. ScoreGAN's ImageNet MobileNetV2 cannot be had here: its frozen
evaluator is the dataset's domain classifier (trained with ``--seed + 1``, so
not the network that scores the table), and its row says so.

**Resume.** Each run lives in ``<out>/<dataset>/<variant>/``. Training
backs up every epoch with ``kmgan.callbacks.BackupAndRestore`` (checked,
atomic), so a run stopped at any point (a kill, Ctrl-C, ``--time-limit``)
continues from its last finished epoch when the same command runs again. At
the end of training the sampler is saved (``sampler.keras``) and
``run.json`` marks the run trained; a trained run that was not evaluated is
evaluated without retraining. Each evaluation writes the run's
``result-<features>.json``, then ``results.json`` and ``results.md`` are
rewritten atomically from every run's result; a finished run is skipped.
A run directory whose settings differ from the command's is refused (delete
it or use another ``--out``). ``--report`` merges what is done into the table
and lists the unfinished runs, without training anything.

**Steps.** Training runs whole passes over the training set, one backup
each: ``--steps`` is rounded to the nearest whole number of epochs (at
least one), which keeps kmgan's exact resume (``kmgan.data.order``: one
pipeline pass per epoch). Full MNIST and Fashion-MNIST both have 60,000
training images, 937 steps per epoch at batch 64, so every row of both
tables gets the same number of generator steps; the table prints it.

**How the budget was picked.** ``--time-steps 20`` builds every variant at
width 32, batch 64, trains it for 20 timed steps (after 3 untimed ones, for
tracing) on real MNIST, and prints the wall and CPU seconds per step and what
they imply for the whole table. The README (Benchmarks, "Every game on full
MNIST and Fashion-MNIST") gives the measured step costs and how the default,
``--steps 2811`` (3 epochs, the 3,000-step scale of the README's MAD-GAN and
cGAN measurements), follows from them; at 10,000 samples a row's evaluation
costs as much as a DCGAN's training. ``--steps 1874 --num 2000`` is the
cheaper table (2 epochs; FIDs of 2,000 samples are biased upwards and not
comparable with 10,000-sample ones; KID is unbiased).
``recipes/image_benchmark_gpu.sh`` runs the same table on a GPU.

**Training options.** A row name takes suffixes that switch on the
training options every game has: ``+diffaugment``, ``+ada`` and ``+ema``
(the average with decay 0.999 from step 1000, or ``+ema0.99`` for another
decay; the row then scores the averaged generator), e.g.
``--variants dcgan,dcgan+diffaugment,dcgan+ada+ema``.
The small-data measurement of the README runs them on 10% of the training
set, in a table of its own:

    python recipes/image_benchmark.py --data ../shared/data/mnist.npz \
        --max-examples 6000 --out results/image_benchmark_10pct \
        --variants dcgan,dcgan+diffaugment,dcgan+ada,dcgan+ema

``--quick`` runs the whole path on tiny settings (16 steps unless
``--steps`` says otherwise, batch 32, 256 training images, the games' quick nets,
K = 3 generators, N = 2 discriminators, domain features, 200 samples) on
``--data`` when given, else on ``../shared/data/mnist_5k.npz``, else on a tiny
random labelled set (it says so).
"""

import argparse
import dataclasses
import glob
import json
import math
import os
import re
import shutil
import time

import keras
import numpy as np

import kmgan
from kmgan import augment
from kmgan import io as kio
from kmgan import samplers
from kmgan.callbacks import save_image_grid
from kmgan.games import registry
from kmgan.metrics import diversity
from kmgan.metrics import features as feature_cache

SHARED_DATA = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
)
INCEPTION_FILE = os.path.join("inception_2015", "fid_inception_2015_torchscript.pt")
DEFAULT_STEPS = 2811
#: Untimed steps before `--time-steps` starts its clock (tracing, first calls).
WARMUP_STEPS = 3
#: CPU seconds per image of the 2015 Inception network on TensorFlow: 40 ms of
#: wall time on both cores of an idle 2-core machine (README, Metrics).
INCEPTION_CPU_S = 0.08
#: `--quick`'s settings.
QUICK = dict(steps=16, batch_size=32, max_examples=256, num=200, generators=3, discriminators=2)
DOMAIN_NOTE = "domain classifier features: not comparable to papers"


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row of the table: a registry game and its overrides.

    Attributes:
        name: the row's name (`--variants`, the run directory).
        game: the registry game (`kmgan.games.registry`).
        label: the row's label in the table, formatted with the build
            options (`{num_generators}`, `{num_discriminators}`).
        options: registry build overrides (before width, seed, classes).
        evaluator: the game gets the domain classifier as frozen evaluator.
    """

    name: str
    game: str
    label: str
    options: dict = dataclasses.field(default_factory=dict)
    evaluator: bool = False


def variants(similarity=1.0, margin=1.0):
    """The table's rows, in table order (MAD-GAN-Sim with `similarity`, `margin`)."""
    return {
        v.name: v
        for v in (
            Variant("dcgan", "dcgan", "DCGAN"),
            Variant(
                "dcgman-mean",
                "dcgman",
                "DCGMAN N={num_discriminators} mean",
                dict(num_discriminators=5, aggregator="mean"),
            ),
            Variant(
                "dcgman-auto",
                "dcgman",
                "DCGMAN N={num_discriminators} GMAN* (auto)",
                dict(num_discriminators=5, aggregator="auto"),
            ),
            Variant("mgan", "mgan", "MGAN K={num_generators}", dict(num_generators=10)),
            Variant(
                "mgan-beta1",
                "mgan",
                "MGAN K={num_generators} beta 1 (the paper's STL-10 value)",
                dict(num_generators=10, beta=1.0),
            ),
            Variant(
                "madgan-shared",
                "madgan",
                "MAD-GAN K={num_generators} shared layers",
                dict(num_generators=10),
            ),
            Variant(
                "madgan-first",
                "madgan",
                "MAD-GAN K={num_generators} own first layers (MGAN's layout)",
                dict(num_generators=10, generators="first"),
            ),
            Variant(
                "madgan-independent",
                "madgan",
                "MAD-GAN K={num_generators} independent generators",
                dict(num_generators=10, generators="independent"),
            ),
            Variant(
                "madgan-sim",
                "madgan",
                "MAD-GAN-Sim K={num_generators} shared layers"
                f" (lambda {similarity:g}, margin {margin:g})",
                dict(num_generators=10, similarity=similarity, margin=margin),
            ),
            Variant("megan", "megan", "MEGAN {num_generators} experts", dict(num_generators=10)),
            Variant(
                "megan-detached",
                "megan",
                "MEGAN {num_generators} experts, gate on stop-gradient features",
                dict(num_generators=10, detach_features=True),
            ),
            Variant("cgan", "cgan", "cGAN"),
            Variant("controlgan", "controlgan", "ControlGAN"),
            Variant(
                "scoregan",
                "scoregan",
                "ScoreGAN (domain-classifier evaluator, not the paper's MobileNetV2)",
                evaluator=True,
            ),
        )
    }


# ---------------------------------------------------------------- options


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", default=None, help="local .npz files or tfds names")
    p.add_argument("--variants", default="all", help="comma-separated rows (default: all)")
    p.add_argument(
        "--steps", type=int, default=None, help=f"generator steps per run ({DEFAULT_STEPS})"
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--base-filters", type=int, default=32, help="width of every game's nets")
    p.add_argument("--max-examples", type=int, default=None, help="train on the first N images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sim-weight", type=float, default=1.0, help="MAD-GAN-Sim's lambda")
    p.add_argument("--sim-margin", type=float, default=1.0, help="MAD-GAN-Sim's margin nu")
    p.add_argument("--num", type=int, default=10_000, help="generated images per row")
    p.add_argument(
        "--features",
        default="inception2015",
        choices=("inception2015", "domain"),
        help="network of FID/KID/PR/DC (domain: fast, not comparable to papers)",
    )
    p.add_argument("--inception-weights", default=None, help="default: $KMGAN_INCEPTION_2015")
    p.add_argument("--eval-batch-size", type=int, default=50)
    p.add_argument("--domain-epochs", type=int, default=5)
    p.add_argument("--domain-max-examples", type=int, default=None)
    p.add_argument("--cas-epochs", type=int, default=3)
    p.add_argument(
        "--ms-ssim-pairs", type=int, default=500, help="MS-SSIM pairs per class or per mean"
    )
    p.add_argument("--out", default="results/image_benchmark")
    p.add_argument("--floor", default="results/real_floor/results.json", help="real_floor's rows")
    p.add_argument("--cache-dir", default=None, help="default: ~/.cache/kmgan/{domain,features}")
    p.add_argument(
        "--time-limit", type=float, help="minutes; then stop at an epoch end (rerun: go on)"
    )
    p.add_argument("--report", action="store_true", help="merge what is done; train nothing")
    p.add_argument("--time-steps", type=int, default=0, help="time N steps per variant; exit")
    p.add_argument("--quick", action="store_true", help="the whole path on tiny settings")
    args = p.parse_args(argv)
    args.variant_names = _variant_names(args.variants, variants())
    if args.quick:
        _apply_quick(args)
    elif not args.data:
        p.error("--data is required (unless --quick)")
    args.steps = DEFAULT_STEPS if args.steps is None else args.steps
    return args


#: Training options a row takes as a suffix, `<variant>+<modifier>...`
#: (e.g. `dcgan+ada+ema`): their build overrides and their label.
MODIFIERS = {
    "diffaugment": (dict(augment="diffaugment"), "DiffAugment"),
    "ada": (dict(augment="ada"), "ADA"),
    "ema": (dict(ema_decay=0.999, ema_start=1000), "EMA 0.999 from step 1000"),
}
#: `ema<decay>` (e.g. `ema0.99`): EMA with that decay, from the same step.
EMA_DECAY_MODIFIER = re.compile(r"ema(0\.\d+)")


def modifier(name):
    """The build overrides and label of the modifier `name`, or None."""
    if name in MODIFIERS:
        return MODIFIERS[name]
    match = EMA_DECAY_MODIFIER.fullmatch(name)
    if match is None:
        return None
    decay = float(match.group(1))
    start = MODIFIERS["ema"][0]["ema_start"]
    return dict(ema_decay=decay, ema_start=start), f"EMA {match.group(1)} from step {start}"


def resolve_variant(name, table):
    """The row `name`: a variant of `table`, or one with modifier suffixes.

    Raises:
        ValueError: for an unknown variant or modifier.
    """
    base, *mods = name.split("+")
    unknown = [m for m in mods if modifier(m) is None]
    if base not in table or unknown:
        raise ValueError(
            f"Unknown variant {name!r}; choose from {list(table)}, optionally with "
            f"modifiers +{', +'.join(MODIFIERS)} or +ema<decay> (e.g. +ema0.99)."
        )
    variant = table[base]
    options, label = dict(variant.options), variant.label
    for mod in mods:
        overrides, mod_label = modifier(mod)
        options.update(overrides)
        label += " + " + mod_label
    return dataclasses.replace(variant, name=name, label=label, options=options)


def _variant_names(text, table):
    if text == "all":
        return list(table)
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise ValueError(f"No variant given; choose from {list(table)}.")
    for name in names:
        resolve_variant(name, table)
    return names


def _apply_quick(args):
    args.steps = QUICK["steps"] if args.steps is None else args.steps
    args.batch_size = min(args.batch_size, QUICK["batch_size"])
    args.max_examples = args.max_examples or QUICK["max_examples"]
    args.num, args.features = min(args.num, QUICK["num"]), "domain"
    args.domain_epochs, args.domain_max_examples, args.cas_epochs = 1, 1000, 1
    if not args.data:
        local = os.path.join(SHARED_DATA, "mnist_5k.npz")
        args.data = [local if os.path.exists(local) else _tiny_random_set(args.out, args.seed)]


def _tiny_random_set(out, seed, n=512):
    """A labelled uint8 28x28 random set in Keras `.npz` layout (`--quick`'s last resort)."""
    path = os.path.join(out, "quick_random.npz")
    print(f"--quick: no local MNIST; using a tiny random labelled set, {path}", flush=True)
    if not os.path.exists(path):
        rng = np.random.default_rng(seed)
        x = rng.integers(0, 256, (2 * n, 28, 28), dtype=np.uint8)
        y = (np.arange(2 * n) % 10).astype(np.uint8)
        with kio.atomic_path(path) as tmp:
            np.savez(tmp, x_train=x[:n], y_train=y[:n], x_test=x[n:], y_test=y[n:])
    return path


def _cache(args, kind):
    return {} if args.cache_dir is None else {"cache_dir": os.path.join(args.cache_dir, kind)}


def dataset_id(dataset):
    """The dataset's name in the table and its run directory (`mnist` for mnist.npz)."""
    name = os.path.basename(os.path.normpath(str(dataset)))
    return name[: -len(".npz")] if name.endswith(".npz") else name


# ---------------------------------------------------------------- context


class Context:
    """What the runs of one invocation share: arrays, classifiers, extractor."""

    def __init__(self, args):
        self.args = args
        self._arrays, self._classifiers, self._extractor = {}, {}, None
        self.worked = False  # some run was trained or scored in this invocation

    def arrays(self, dataset, split):
        key = (dataset, split)
        if key not in self._arrays:
            x, y = kmgan.data.load_arrays(dataset, split)
            self._arrays[key] = (np.asarray(x), None if y is None else np.asarray(y))
        return self._arrays[key]

    def classifier(self, dataset, seed=None):
        """The dataset's domain classifier (cached on disk; `seed` None: `--seed`)."""
        seed = self.args.seed if seed is None else seed
        if (dataset, seed) not in self._classifiers:
            self._classifiers[dataset, seed] = kmgan.metrics.domain_classifier(
                dataset,
                epochs=self.args.domain_epochs,
                max_examples=self.args.domain_max_examples,
                seed=seed,
                **_cache(self.args, "domain"),
            )
        return self._classifiers[dataset, seed]

    def extractor(self, dataset):
        """The network of FID/KID/PR/DC: the 2015 Inception or the domain classifier."""
        if self.args.features == "domain":
            return self.classifier(dataset)
        if self._extractor is None:
            self._extractor = kmgan.metrics.inception_2015(
                inception_weights(self.args), batch_size=self.args.eval_batch_size
            )
        return self._extractor


def inception_weights(args):
    """`--inception-weights`, else $KMGAN_INCEPTION_2015, else the shared copy."""
    if args.inception_weights or os.environ.get("KMGAN_INCEPTION_2015"):
        return args.inception_weights  # None: kmgan reads the variable itself
    shared = os.path.join(SHARED_DATA, INCEPTION_FILE)
    return shared if os.path.exists(shared) else None


def domain_evaluator(classifier):
    """ScoreGAN's frozen evaluator from a domain classifier: images -> probabilities."""
    x = keras.Input(classifier.input_shape, name="images")
    probs = keras.layers.Softmax(name="probabilities")(classifier.model(x))
    return kmgan.evaluators.frozen(keras.Model(x, probs, name="domain_evaluator"))


# ---------------------------------------------------------------- one run


@dataclasses.dataclass
class Run:
    """One (dataset, variant) of the table and its directory."""

    dataset: str
    variant: Variant
    out: str

    @property
    def dir(self):
        return os.path.join(self.out, dataset_id(self.dataset), self.variant.name)

    def path(self, name):
        return os.path.join(self.dir, name)

    def result_path(self, features):
        return self.path(f"result-{features}.json")


def build_options(variant, args, num_classes):
    """The variant's build overrides under this command's settings (JSON-able)."""
    spec = registry.get(variant.game)
    options = dict(variant.options)
    options.update(base_filters=args.base_filters, seed=args.seed)
    if args.quick:
        options.update(spec.quick)
        if "num_generators" in options:
            options["num_generators"] = min(options["num_generators"], QUICK["generators"])
        if "num_discriminators" in options:
            options["num_discriminators"] = min(
                options["num_discriminators"], QUICK["discriminators"]
            )
    if spec.labels:
        options["num_classes"] = num_classes
    return options


def training_settings(run, args, batches_per_epoch, options):
    """Everything that makes two trainings of a run the same training."""
    epochs = max(1, round(args.steps / batches_per_epoch))
    return {
        "dataset": dataset_id(run.dataset),
        "dataset_tag": feature_cache.dataset_tag(run.dataset),
        "variant": run.variant.name,
        "label": run.variant.label.format(**options),
        "game": run.variant.game,
        "options": options,
        "evaluator": (
            f"domain classifier of {dataset_id(run.dataset)} (seed {args.seed + 1}), frozen"
            if run.variant.evaluator
            else None
        ),
        "batch_size": args.batch_size,
        "batches_per_epoch": batches_per_epoch,
        "epochs": epochs,
        "steps": epochs * batches_per_epoch,
        "max_examples": args.max_examples,
        "domain_epochs": args.domain_epochs,
        "backend": keras.backend.backend(),
    }


def _check_settings(run, settings):
    """Raises ValueError when the run directory holds another configuration."""
    state = kio.read_json(run.path("run.json"), default=None)
    if state is None or state["settings"] == settings:
        return state
    old = state["settings"]
    diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
    raise ValueError(
        f"{run.dir} holds a run with other settings ({', '.join(diff)}: "
        f"{[old.get(k) for k in diff]} there, {[settings.get(k) for k in diff]} now). "
        "Delete that directory to start it over, or pass another --out."
    )


def build_game(run, ctx, options):
    variant, args = run.variant, ctx.args
    options = dict(options)
    if variant.evaluator:
        options["evaluator"] = domain_evaluator(ctx.classifier(run.dataset, seed=args.seed + 1))
    keras.utils.set_random_seed(args.seed)
    return registry.build(variant.game, data_shape(ctx, run.dataset), **options)


def data_shape(ctx, dataset):
    x, _ = ctx.arrays(dataset, "train")
    return tuple(x.shape[1:]) + ((1,) if x.ndim == 3 else ())


def training_data(run, ctx):
    """The run's pipeline (`(images, labels)` for conditional games) and its batches."""
    args = ctx.args
    x, y = ctx.arrays(run.dataset, "train")
    if args.max_examples:
        x, y = x[: args.max_examples], None if y is None else y[: args.max_examples]
    labels = y if registry.get(run.variant.game).labels else None
    data = kmgan.data.from_arrays(x, labels, batch_size=args.batch_size, seed=args.seed)
    return data, len(x) // args.batch_size


#: Kept under its old name (it moved to `kmgan.callbacks`).
Progress = kmgan.callbacks.TrainingProgress


def parameter_counts(game):
    """Trainable parameters per player, and the generator / discriminator sides.

    The generator side holds the generator(s) and MEGAN's gate; the other
    side the discriminator(s) and any classifier. A frozen evaluator is in
    no player.
    """
    players = {
        p: int(sum(math.prod(v.shape) for v in vs)) for p, vs in game.player_variables().items()
    }
    g = sum(n for p, n in players.items() if p in ("generator", "gate"))
    return {"players": players, "g_params": g, "d_params": sum(players.values()) - g}


def plan(run, ctx):
    """The run's build options and training settings (nothing is built)."""
    args = ctx.args
    x, y = ctx.arrays(run.dataset, "train")
    num = len(x) if args.max_examples is None else min(len(x), args.max_examples)
    options = build_options(run.variant, args, int(y.max()) + 1)
    return options, training_settings(run, args, num // args.batch_size, options)


def train(run, ctx, options, settings, deadline):
    """Trains or resumes the run; returns its run.json state, or None when stopped."""
    args = ctx.args
    game = build_game(run, ctx, options)
    game.compile()
    data, _ = training_data(run, ctx)
    os.makedirs(run.dir, exist_ok=True)
    progress = Progress(run.path("progress.json"), deadline)
    backup = kmgan.callbacks.BackupAndRestore(run.path("backup"), delete_checkpoint=False)
    kio.atomic_write_json(run.path("run.json"), {"status": "training", "settings": settings})
    print(
        f"[{dataset_id(run.dataset)}/{run.variant.name}] training {settings['epochs']} "
        f"epoch(s) = {settings['steps']} steps",
        flush=True,
    )
    game.fit(
        data,
        epochs=settings["epochs"],
        verbose=0 if args.quick else 2,
        callbacks=[backup, progress],
    )
    if progress.stopped:
        done = progress.state["epochs_done"]
        print(f"  stopped after epoch {done} (time limit); rerun to resume", flush=True)
        return None
    with kio.atomic_path(run.path("sampler.keras")) as tmp:
        if options.get("ema_decay"):  # the row scores the averaged generator
            with game.use_ema():
                samplers.export_sampler(game).save(tmp)
        else:
            samplers.export_sampler(game).save(tmp)
    kept = progress.state
    state = {
        "status": "trained",
        "settings": settings,
        **parameter_counts(game),
        "train_wall_s": round(kept["train_wall_s"], 1),
        "train_cpu_s": round(kept["train_cpu_s"], 1),
        "sessions": kept["sessions"],
        "last_logs": kept["last_logs"],
    }
    kio.atomic_write_json(run.path("run.json"), state)
    shutil.rmtree(run.path("backup"), ignore_errors=True)
    return state


# ---------------------------------------------------------------- evaluation


def eval_settings(args):
    return {
        "features": args.features,
        "num": args.num,
        "seed": args.seed,
        "domain_epochs": args.domain_epochs,
        "domain_max_examples": args.domain_max_examples,
        "cas_epochs": args.cas_epochs,
    }


def balanced_labels(num, num_classes, seed):
    """`num` labels, each class `num / num_classes` times (+-1), in a seeded order."""
    return np.random.default_rng(seed).permutation(np.arange(num) % num_classes).astype("int32")


def save_grid(run, model, sampler, num_classes, seed, columns=10):
    """One grid: a row per generator, per class, or 10 rows of the one generator."""
    kind = samplers.sampler_kind(model)
    if kind == "multi":
        images, rows = samplers.expert_grid(model, columns, seed=seed)
    elif kind == "conditional":
        images = sampler(np.repeat(np.arange(num_classes), columns).astype("int32"), seed=seed)
        rows = num_classes
    else:
        images, rows = sampler(10 * columns, seed=seed), 10
    path = run.path("samples.png")
    save_image_grid(images, path, rows=rows)
    return os.path.relpath(path, run.out)


def real_test_features(run, ctx):
    """The cached features of the first `--num` test images, and the test split."""
    args = ctx.args
    x_test, y_test = ctx.arrays(run.dataset, "test")
    n = min(args.num, len(x_test))
    real = feature_cache.real_features(
        run.dataset,
        "test",
        x_test[:n],
        ctx.extractor(run.dataset),
        num_samples=n,
        progress=not args.quick,
        **_cache(args, "features"),
    )
    return real, (x_test, y_test)


def conditional_scores(sampler, images, labels, clf, test, args):
    """Label accuracy of the images and the Classification Accuracy Score."""
    num_classes = int(test[1].max()) + 1
    cas = kmgan.metrics.classification_accuracy_score(
        lambda y: sampler(y, seed=args.seed + 1),
        test,
        num_samples=args.num,
        num_classes=num_classes,
        epochs=args.cas_epochs,
        seed=args.seed,
    )
    return {"label_accuracy": clf.label_accuracy(images, labels), "cas": cas}


def generator_scores(model, clf, num_classes, args):
    """How many generators have distinct dominant classes, and their histograms."""
    report = diversity.generator_distinctness(
        model, clf.predict_proba, min(500, args.num), num_classes, seed=args.seed
    )
    return {
        "distinct_dominant": report["distinct_dominant"],
        "num_generators": report["num_generators"],
        "dominant": report["dominant"].tolist(),
        "generator_class_counts": report["counts"].tolist(),
    }


def draw(run, args, num_classes):
    """The run's sampler and its `--num` scored images (balanced labels if conditional).

    Returns:
        `(model, sampler, images, labels)`: the loaded `sampler.keras`, its
        `augment.sampler_from_model` wrapper, the images and their requested
        labels (None for unconditional games). The same on every call.
    """
    model = samplers.load(run.path("sampler.keras"))
    sampler = augment.sampler_from_model(model)
    if not sampler.labelled:
        return model, sampler, sampler(args.num, args.seed), None
    labels = balanced_labels(args.num, num_classes, args.seed)
    return model, sampler, sampler(labels, seed=args.seed), labels


def add_diversity(run, row, ctx):
    """Adds the MS-SSIM diversity to a row scored before it existed; False without a sampler."""
    if not os.path.exists(run.path("sampler.keras")):
        return False
    start, test = time.time(), ctx.arrays(run.dataset, "test")
    model, sampler, images, labels = draw(run, ctx.args, int(test[1].max()) + 1)
    row.update(diversity_scores(model, sampler, images, labels, test, ctx.args))
    row["diversity_wall_s"] = round(time.time() - start, 1)
    return True


def diversity_scores(model, sampler, images, labels, test, args):
    """MS-SSIM diversity of a row (`kmgan.metrics.diversity`; lower is more diverse).

    Conditional games: the mean MS-SSIM between distinct samples of each
    requested class, beside the same on the real test split (Odena et al.
    2017's check for within-class collapse). Multi-generator games: between
    generators for the same z, and within one generator. Other games: none.

    Args:
        model: the loaded sampler (`samplers.load`).
        sampler: its `augment.sampler_from_model` wrapper.
        images: the row's generated images, in [-1, 1].
        labels: their requested labels (conditional games), else None.
        test: the test split `(x, y)`.
        args: the parsed options (`--ms-ssim-pairs`, `--seed`).

    Returns:
        dict with key `ms_ssim` (empty when the game has neither kind).
    """
    pairs, seed = args.ms_ssim_pairs, args.seed
    if sampler.labelled:
        fake = diversity.per_class_ms_ssim(images, labels, num_pairs=pairs, seed=seed)
        real = diversity.per_class_ms_ssim(
            augment.to_model_range(test[0]), test[1], num_pairs=pairs, seed=seed
        )
        gaps = {c: fake["per_class"][c] - real["per_class"][c] for c in fake["per_class"]}
        scores = dict(
            per_class=fake["per_class"],
            mean=fake["mean"],
            real_per_class=real["per_class"],
            real_mean=real["mean"],
            max_abs_gap=max(abs(g) for g in gaps.values()),
            classes_within_0_1=sum(abs(g) <= 0.1 for g in gaps.values()),
        )
    elif samplers.sampler_kind(model) == "multi":
        scores = diversity.cross_generator_ms_ssim(model, num_pairs=pairs, seed=seed)
    else:
        return {"ms_ssim": {}}
    return {"ms_ssim": dict(scores, pairs=pairs)}


def evaluate(run, state, ctx):
    """Scores a trained run's sampler; returns its table row."""
    args, start = ctx.args, time.time()
    clf, extractor = ctx.classifier(run.dataset), ctx.extractor(run.dataset)
    real, test = real_test_features(run, ctx)
    num_classes = int(test[1].max()) + 1
    model, sampler, images, labels = draw(run, args, num_classes)
    row = kmgan.metrics.evaluate(
        images,
        real,
        features=extractor,
        metrics=("fid", "kid", "pr", "dc", "classes"),
        classifier=clf,
        kid_subset_size=min(1000, len(real), args.num),
        batch_size=args.eval_batch_size,
    )
    if sampler.labelled:
        row.update(conditional_scores(sampler, images, labels, clf, test, args))
    if samplers.sampler_kind(model) == "multi":
        row.update(generator_scores(model, clf, num_classes, args))
    row.update(diversity_scores(model, sampler, images, labels, test, args))
    row["grid"] = save_grid(run, model, sampler, num_classes, args.seed)
    row.update(
        dataset=dataset_id(run.dataset),
        variant=run.variant.name,
        label=state["settings"]["label"],
        game=run.variant.game,
        domain_test_accuracy=clf.test_accuracy,
        eval_wall_s=round(time.time() - start, 1),
        eval_settings=eval_settings(args),
        **{k: state[k] for k in ("g_params", "d_params", "players", "train_wall_s", "train_cpu_s")},
        **{k: state["settings"][k] for k in ("steps", "epochs", "batch_size", "backend")},
        base_filters=state["settings"]["options"]["base_filters"],
        last_logs=state["last_logs"],
        settings=state["settings"],
    )
    return row


# ---------------------------------------------------------------- the table


def row_key(row):
    return (row["dataset"], row["variant"], row["features"])


def collect_rows(out, path):
    """The rows of `results.json` (refusing a damaged one) updated by every run's result."""
    rows = {row_key(r): r for r in kio.read_json(path, default=[])}
    for result in sorted(glob.glob(os.path.join(out, "*", "*", "result-*.json"))):
        row = kio.read_json(result)
        rows[row_key(row)] = row
    return list(rows.values())


def _fmt(row, key, spec):
    value = row.get(key)
    return "" if value is None else format(value, spec)


def _minutes(seconds):
    return "" if seconds is None else f"{seconds / 60:.1f}"


def _score_cells(r):
    """FID, KID, precision, recall, density, coverage, classes and KL of a row."""
    return [
        f"{r['fid']:.2f}",
        f"{1e3 * r['kid']:.2f} ± {1e3 * r['kid_std']:.2f}",
        *(f"{r[k]:.3f}" for k in ("precision", "recall", "density", "coverage")),
        str(r["classes_covered"]),
        f"{r['kl_to_real']:.4f}",
    ]


def _line(cells):
    return "| " + " | ".join(cells) + " |"


def floor_lines(floor_rows, dataset, features):
    """The real-data floor rows (`recipes/real_floor.py`) of a dataset and network."""
    width = HEADER.count("|") - 1
    lines = []
    for r in floor_rows:
        if dataset_id(r["dataset"]) == dataset and r.get("features") == features:
            cells = [f"real data (train vs test, {r['num']:,})", *_score_cells(r)]
            lines.append(_line(cells + [""] * (width - len(cells))))
    return lines


def ms_ssim_cell(r):
    """Per class against the real split's, or between against within generators."""
    scores = r.get("ms_ssim") or {}
    if "real_mean" in scores:
        return f"{scores['mean']:.2f} (real {scores['real_mean']:.2f})"
    if "between" in scores:
        return f"{scores['between']:.2f} between / {scores['within']:.2f} within"
    return ""


def row_line(r):
    distinct = (
        f"{r['distinct_dominant']} of {r['num_generators']}" if "distinct_dominant" in r else ""
    )
    return _line(
        [
            r["label"],
            *_score_cells(r),
            _fmt(r, "label_accuracy", ".3f"),
            _fmt(r, "cas", ".3f"),
            distinct,
            ms_ssim_cell(r),
            f"{r['g_params']:,}",
            f"{r['d_params']:,}",
            f"{r['steps']:,}",
            str(r["batch_size"]),
            _minutes(r["train_wall_s"]),
            _minutes(r["eval_wall_s"]),
            f"[grid]({r['grid']})",
        ]
    )


HEADER = (
    "| game | FID | KID x 1e3 | precision | recall | density | coverage | classes | KL "
    "| label acc | CAS | distinct dominant | MS-SSIM | G params | D params | steps | batch "
    "| train min | eval min | samples |"
)


def markdown(rows, floor_rows, order):
    """The table: a section per dataset and features, floor rows first."""
    rank = {name: i for i, name in enumerate(order)}
    groups = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["features"], r["comparable_to_papers"]), []).append(r)
    parts = []
    for (dataset, features, comparable), group in sorted(groups.items()):
        group.sort(key=lambda r: rank.get(r["variant"], len(rank)))
        note = "" if comparable else f" ({DOMAIN_NOTE})"
        first = group[0]
        parts += [
            f"## {dataset}: {features}{note}",
            "",
            f"{first['num_generated']:,} generated images against the first "
            f"{first['num_real']:,} test images; backend {first['backend']}, width "
            f"{first['base_filters']}. Wall times on the machine that ran each row.",
            "",
            HEADER,
            _rule(),
            *floor_lines(floor_rows, dataset, features),
            *(row_line(r) for r in group),
            "",
        ]
    return "\n".join(parts) + "\n"


def _rule():
    return "|" + " --- |" * (HEADER.count("|") - 1)


def write_table(args, rows):
    floor = kio.read_json(args.floor, default=[]) if args.floor else []
    kio.atomic_write_json(os.path.join(args.out, "results.json"), rows, default=_plain)
    table = markdown(rows, floor, list(variants()))
    kio.atomic_write_text(os.path.join(args.out, "results.md"), table)
    return table


def status(run, args):
    """A word on where an unfinished run stands, for `--report`."""
    state = kio.read_json(run.path("run.json"), default=None)
    if state is None:
        return "not started"
    if state.get("status") == "trained":
        return f"trained ({state['settings']['steps']} steps), not evaluated ({args.features})"
    done = kio.read_json(run.path("progress.json"), default={}).get("epochs_done", 0)
    return f"epoch {done} of {state['settings']['epochs']} backed up"


# ---------------------------------------------------------------- timing


class StepClock(keras.callbacks.Callback):
    """Wall and CPU time of the steps after the first `warmup` ones."""

    def __init__(self, warmup):
        super().__init__()
        self.warmup, self.count, self.start = warmup, 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        if self.count == self.warmup:
            self.start = time.perf_counter(), time.process_time()

    def per_step(self):
        steps = self.count - self.warmup
        return (
            (time.perf_counter() - self.start[0]) / steps,
            (time.process_time() - self.start[1]) / steps,
        )


def time_steps(args, ctx):
    """Times `--time-steps` steps of every variant on the first dataset; prints the budget."""
    dataset, rows = args.data[0], []
    saved = args.max_examples
    args.max_examples = (args.time_steps + WARMUP_STEPS) * args.batch_size
    for name in args.variant_names:
        run = Run(dataset, variants(args.sim_weight, args.sim_margin)[name], args.out)
        data, _ = training_data(run, ctx)
        num_classes = int(ctx.arrays(dataset, "train")[1].max()) + 1
        game = build_game(run, ctx, build_options(run.variant, args, num_classes))
        game.compile()
        clock = StepClock(WARMUP_STEPS)
        game.fit(data, epochs=1, verbose=0, callbacks=[clock])
        wall, cpu = clock.per_step()
        rows.append((name, wall, cpu))
        print(f"{name:20s} {wall:7.3f} s/step wall  {cpu:7.3f} CPU-s/step", flush=True)
    args.max_examples = saved
    print(budget_text(rows, args), flush=True)
    return rows


def budget_text(rows, args, datasets=2):
    """What the measured step times imply for the whole table."""
    wall = sum(r[1] for r in rows)
    cpu = sum(r[2] for r in rows)
    evals = datasets * len(rows)
    eval_cpu = (evals + datasets) * args.num * INCEPTION_CPU_S
    per_hour = 3600 / (datasets * wall)
    return (
        f"all {len(rows)} variants, one step each: {wall:.2f} s wall, {cpu:.2f} CPU-s; "
        f"{datasets} datasets: {per_hour:.0f} steps per hour of wall time.\n"
        f"evaluation at --num {args.num}: about {eval_cpu / 3600:.1f} CPU-hours "
        f"({evals} rows + {datasets} test sets at {INCEPTION_CPU_S} CPU-s per image).\n"
        f"--steps {args.steps}: training about {args.steps * datasets * wall / 3600:.1f} h wall, "
        f"{args.steps * datasets * cpu / 3600:.1f} CPU-hours."
    )


# ---------------------------------------------------------------- main


def print_settings(args):
    quick_note = (
        f"each game's --quick nets, K <= {QUICK['generators']}, N <= {QUICK['discriminators']}"
    )
    names = ", ".join(args.variant_names)
    print(
        f"image benchmark on {keras.backend.backend()}: datasets {', '.join(map(str, args.data))}\n"
        f"  variants: {names}\n"
        f"  budget: --steps {args.steps} generator steps (whole epochs), batch "
        f"{args.batch_size}, width {quick_note if args.quick else args.base_filters}, "
        f"seed {args.seed}, papers' optimizers"
        f"{'' if args.max_examples is None else f', first {args.max_examples} images'}\n"
        f"  evaluation: {args.num} samples, features {args.features}"
        f"{'' if args.features == 'inception2015' else ' (' + DOMAIN_NOTE + ')'}, "
        f"domain classifier {args.domain_epochs} epoch(s), CAS {args.cas_epochs} epoch(s)\n"
        f"  out: {args.out}{' (quick)' if args.quick else ''}",
        flush=True,
    )


def runs(args):
    table = variants(args.sim_weight, args.sim_margin)
    return [
        Run(d, resolve_variant(v, table), args.out) for d in args.data for v in args.variant_names
    ]


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results = os.path.join(args.out, "results.json")
    rows = collect_rows(args.out, results)  # refuses a damaged results.json first
    ctx = Context(args)
    print_settings(args)
    if args.time_steps:
        return time_steps(args, ctx)
    if args.report:
        table = write_table(args, rows)
        print(table)
        for run in runs(args):
            if not os.path.exists(run.result_path(args.features)):
                print(f"  {dataset_id(run.dataset)}/{run.variant.name}: {status(run, args)}")
        return rows
    deadline = None if args.time_limit is None else time.time() + 60 * args.time_limit
    for run in runs(args):
        if not run_one(run, ctx, deadline):
            print("time limit reached; rerun the same command to go on", flush=True)
            break
        rows = collect_rows(args.out, results)
        write_table(args, rows)
    table = write_table(args, rows)
    print(table)
    return rows


def run_one(run, ctx, deadline):
    """Skips, trains and/or evaluates one run; False when the time limit stopped it."""
    args, name = ctx.args, f"{dataset_id(run.dataset)}/{run.variant.name}"
    options, settings = plan(run, ctx)
    state = _check_settings(run, settings)
    row = kio.read_json(run.result_path(args.features), default=None)
    same = row is not None and row.get("settings") == settings
    if same and row.get("eval_settings") == eval_settings(args):
        if "ms_ssim" not in row and add_diversity(run, row, ctx):
            kio.atomic_write_json(run.result_path(args.features), row, default=_plain)
            print(f"[{name}] done; MS-SSIM diversity added", flush=True)
        else:
            print(f"[{name}] done; skipped", flush=True)
        return True
    if ctx.worked and deadline is not None and time.time() >= deadline:
        return False  # past the limit, no new run starts (the first one always does)
    ctx.worked = True
    if state is None or state.get("status") != "trained":
        state = train(run, ctx, options, settings, deadline)
        if state is None:
            return False
    else:
        print(f"[{name}] trained; evaluating", flush=True)
    row = evaluate(run, state, ctx)
    kio.atomic_write_json(run.result_path(args.features), row, default=_plain)
    print(f"[{name}] " + json.dumps({k: row[k] for k in ("fid", "coverage", "eval_wall_s")}))
    return True


def _plain(value):
    """NumPy scalars and arrays as JSON values."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


if __name__ == "__main__":
    main()
