"""`kmgan augment`: the generative data augmentation study from the command line.

Train (or load from `.keras`) a conditional GAN and a MAD-GAN on the real
training data, then train classifiers on real data with no augmentation, with
traditional augmentation (geometric, photometric, noise) and with generated
images mixed in, at several real fractions and generated ratios, and write
the results table and plot (see `kmgan.augment.run_sweep`).

    kmgan augment --data mnist --seeds 0 1 2 --epochs 10 --gan-epochs 20 --out runs/gda_mnist
    kmgan augment --data ../shared/data/mnist_5k.npz --quick --out runs/gda_quick
    kmgan augment --data cifar10 --cgan runs/cgan_g.keras --madgan runs/madgan_sampler.keras \\
        --methods none geometric cgan madgan --real-fractions 0.1 --inception imagenet

A `.keras` file given with `--cgan` / `--madgan` that exists is loaded (a
conditional generator `(z, labels) -> x`, a MAD-GAN sampler
`(z, generator_index) -> x` or a game); otherwise the model is trained here
and saved there (default: `<out>/cgan_generator.keras`,
`<out>/madgan_sampler.keras`). With `--gan-data subset` the GANs are instead
trained afresh on each (seed, real fraction) subset the classifiers get (cached
under `<out>/generators/`), so that scarce real data is scarce for the GANs
too. When a game cannot be imported, its method is skipped and the output says
so.
"""

import importlib
import os
import sys

from kmgan import cli_args
from kmgan import io as kio

GENERATIVE = ("cgan", "madgan")
TRADITIONAL = ("geometric", "photometric", "noise", "all")
ALL_METHODS = ("none",) + TRADITIONAL + GENERATIVE
DEFAULT_METHODS = ("none", "geometric", "photometric", "noise", "cgan", "madgan")
_FLIP_BY_DATASET = {"mnist": False, "fashion_mnist": True, "cifar10": True}
_GAME_CLASSES = {"cgan": "ConditionalGAN", "madgan": "MADGAN"}  # in the SKIPPED notes


def add_arguments(parser):
    """Adds the `kmgan augment` options to an argparse parser.

    Args:
        parser: an `argparse.ArgumentParser` (or a sub-command parser).

    Returns:
        The parser.
    """
    parser.add_argument(
        "--data",
        required=True,
        help="tfds name (mnist, fashion_mnist, cifar10) or local .npz / folder",
    )
    parser.add_argument("--train-split", default="train")
    parser.add_argument("--test-split", default="test")
    parser.add_argument("--max-train", type=int, default=None, help="first N training images")
    parser.add_argument("--max-test", type=int, default=None, help="first N test images")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=ALL_METHODS)
    parser.add_argument("--real-fractions", nargs="+", type=float, default=[1.0, 0.5, 0.1])
    parser.add_argument("--generated-ratios", nargs="+", type=float, default=[0.0, 0.5, 1.0, 2.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=10, help="classifier epochs")
    parser.add_argument(
        "--train-steps",
        default=None,
        help="train every classifier for this many optimizer steps instead of "
        "--epochs: the same budget for every method and training-set "
        "size (with epochs, adding generated images also adds steps). "
        "'auto': what --epochs epochs of the whole real training set take",
    )
    parser.add_argument("--batch-size", type=int, default=64, help="classifier batch size")
    parser.add_argument(
        "--classifier",
        default="auto",
        choices=["auto", "mnist", "fashion_mnist", "cifar10"],
        help="which of the thesis's simple CNNs (auto: from the data)",
    )
    parser.add_argument(
        "--allow-flip",
        default="auto",
        choices=["auto", "yes", "no"],
        help="horizontal flips in geometric augmentation (auto: off for "
        "grayscale/digits, on for Fashion-MNIST and RGB)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.9,
        help="confidence threshold for labelling MAD-GAN samples",
    )
    parser.add_argument(
        "--aux-augmentation",
        default="geometric",
        choices=list(TRADITIONAL),
        help="traditional augmentation of the auxiliary (labelling) classifier",
    )
    parser.add_argument("--aux-epochs", type=int, default=None)
    parser.add_argument("--cgan", default=None, help=".keras conditional generator (load or save)")
    parser.add_argument("--madgan", default=None, help=".keras MAD-GAN sampler (load or save)")
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train even if the .keras exists (and run every cell again)",
    )
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="run every cell again, even those a previous run into --out finished",
    )
    parser.add_argument(
        "--gan-data",
        default="full",
        choices=["full", "subset"],
        help="full: train each GAN once on the whole training set (loaded "
        "from --cgan/--madgan when given); subset: train them afresh on "
        "each (seed, real fraction) subset the classifiers get, with "
        "epochs scaled by 1/fraction (the same number of steps), so "
        "scarce data is scarce for the GANs too",
    )
    parser.add_argument("--gan-epochs", type=int, default=20)
    parser.add_argument("--gan-batch-size", type=int, default=64)
    parser.add_argument("--gan-base-filters", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument(
        "--madgan-generators", type=int, default=None, help="K (default: the number of classes)"
    )
    parser.add_argument(
        "--madgan-layout",
        default="shared",
        choices=["shared", "first", "independent"],
        help="which generator layers the K MAD-GAN generators share (kmgan.MADGAN's "
        "generators=): shared, all but the last (the paper's); first, each its own first "
        "layers (MGAN's layout); independent, nothing",
    )
    parser.add_argument(
        "--inception",
        default="auto",
        help="FID/KID/coverage features: auto (the 2015 FID Inception when "
        "$KMGAN_INCEPTION_2015 is set, else ImageNet weights if cached, else skip "
        "and say so), inception2015 (the 2015 FID network, $KMGAN_INCEPTION_2015), "
        "a .pt path (that network's TorchScript file), imagenet (download if needed; "
        "fail if impossible), none, random (tests only), or a weights .h5 path",
    )
    parser.add_argument(
        "--metric-samples", type=int, default=1000, help="images per class for FID / IS / MS-SSIM"
    )
    cli_args.add_run_flags(
        parser,
        "runs/gda",
        quick_help="CPU smoke run: 500 train / 200 test images, 1 epoch (classifier "
        "batch 16), tiny nets, real fractions 1.0 0.1, ratios 0 1",
        seed=None,
    )
    parser.add_argument("--title", default=None)
    return parser


def add_parser(subparsers):
    """Registers `augment` on the `kmgan` command's sub-parsers; returns the sub-parser."""
    summary = "generative data augmentation: MAD-GAN / cGAN vs traditional"
    return cli_args.add_subcommand(subparsers, "augment", summary, __doc__, add_arguments, run_args)


def build_parser():
    """The stand-alone `kmgan augment` parser."""
    return cli_args.standalone_parser("kmgan augment", __doc__, add_arguments)


def main(argv=None):
    """Runs `kmgan augment` with command-line arguments.

    Args:
        argv: the arguments after `augment` (default: `sys.argv[1:]`).

    Returns:
        0 on success.
    """
    args = build_parser().parse_args(argv)
    run_args(args)
    return 0


def _quick_defaults(args):
    if not args.quick:
        return args
    args.max_train = args.max_train or 500
    args.max_test = args.max_test or 200
    args.epochs = 1
    args.gan_epochs = 1
    args.batch_size = min(args.batch_size, 16)  # a few dozen steps in the one epoch
    args.gan_base_filters = min(args.gan_base_filters, 8)
    args.latent_dim = min(args.latent_dim, 32)
    args.metric_samples = min(args.metric_samples, 100)
    if args.real_fractions == [1.0, 0.5, 0.1]:
        args.real_fractions = [1.0, 0.1]
    if args.generated_ratios == [0.0, 0.5, 1.0, 2.0]:
        args.generated_ratios = [0.0, 1.0]
    return args


def dataset_key(data, image_shape):
    """ "mnist", "fashion_mnist" or "cifar10" for a data name or path and image shape."""
    name = os.path.basename(str(data).rstrip("/")).lower().replace("-", "_")
    if "fashion" in name:
        return "fashion_mnist"
    if "cifar" in name or image_shape[-1] == 3:
        return "cifar10"
    return "mnist"


def resolve_inception(spec, log=print):
    """Inception features for FID / IS from a `--inception` value.

    Args:
        spec: "auto" (the 2015 FID network when ``$KMGAN_INCEPTION_2015`` is
            set, else the ImageNet InceptionV3 when its weights are cached,
            else None), "inception2015" (the 2015 FID network from
            ``$KMGAN_INCEPTION_2015``), a ``.pt`` path (that network's
            TorchScript file), "imagenet", "none", "random" or an ``.h5``
            weights path.
        log: printer for the reason FID / IS are skipped.

    Returns:
        An `InceptionFeatures`, or None (skip FID / IS).

    Raises:
        RuntimeError: for "imagenet" when the weights cannot be had.
    """
    from kmgan.metrics import inception

    # The package attribute kmgan.metrics.inception_2015 is the factory; the module:
    inception_2015 = importlib.import_module("kmgan.metrics.inception_2015")
    spec = str(spec)
    if spec == "inception2015" or spec.endswith(".pt"):
        return inception_2015.inception_2015(None if spec == "inception2015" else spec)
    if spec == "auto" and os.environ.get(inception_2015.ENV_VAR):
        log(f"FID / KID / coverage: the 2015 FID Inception network (${inception_2015.ENV_VAR}).")
        return inception_2015.inception_2015()
    if spec == "none":
        log("FID / IS: skipped (--inception none); MS-SSIM diversity is still computed.")
        return None
    if spec == "random":
        log(
            "FID / IS: RANDOM InceptionV3 weights (--inception random): the numbers mean "
            "nothing; for tests only."
        )
        return inception.InceptionFeatures(weights=None, input_size=inception.MIN_INPUT_SIZE)
    if spec == "auto":
        cached = os.path.join(
            os.path.expanduser("~"), ".keras", "models", inception.INCEPTION_V3_WEIGHTS_FILE
        )
        if not os.path.exists(cached):
            log(
                f"FID / IS: skipped: the ImageNet InceptionV3 weights are not cached at "
                f"{cached} (pass --inception imagenet to download them, or a .h5 path). "
                "MS-SSIM diversity is still computed."
            )
            return None
        spec = "imagenet"
    return inception.InceptionFeatures(weights=spec)


def _load_data(args, log):
    import numpy as np

    from kmgan import data

    x, y = data.load_arrays(args.data, split=args.train_split)
    xt, yt = data.load_arrays(args.data, split=args.test_split)
    if y is None or yt is None:
        raise SystemExit(f"{args.data} has no labels; the augmentation study needs labels.")
    if args.max_train:
        x, y = x[: args.max_train], y[: args.max_train]
    if args.max_test:
        xt, yt = xt[: args.max_test], yt[: args.max_test]
    if x.ndim == 3:
        x, xt = x[..., None], xt[..., None]
    log(
        f"data {args.data}: {len(x)} train / {len(xt)} test images {x.shape[1:]}, "
        f"{int(max(np.max(y), np.max(yt))) + 1} classes"
    )
    return (x, y), (xt, yt)


def _game_missing(name):
    """None when the game of `name` ("cgan" / "madgan") is registered, else the reason."""
    try:
        from kmgan.games import registry

        registry.get(name)
    except (ImportError, ValueError) as err:
        return str(err)
    return None


def _gan_run(name, args, log, seed, epochs):
    """`(seed, epochs)` of a GAN run, `--seeds[0]` / `--gan-epochs` where None;
    None when the game `name` cannot be imported (logged)."""
    missing = _game_missing(name)
    if missing:
        log(f"{name}: SKIPPED: kmgan's {_GAME_CLASSES[name]} is not available ({missing}).")
        return None
    seed = args.seeds[0] if seed is None else int(seed)
    epochs = args.gan_epochs if epochs is None else int(epochs)
    return seed, epochs


def _madgan_layout(args):
    layout = getattr(args, "madgan_layout", "shared")
    return {} if layout == "shared" else {"generators": layout}


def _fit(game, x, y, args, seed, epochs, backup=None):
    """Fits a GAN on `(x, y)` (`y` None: unlabelled) in `--gan-batch-size` batches.

    With `backup` (a folder), every epoch is backed up there
    (`kmgan.callbacks.BackupAndRestore`): a run stopped mid-training
    continues from its last finished epoch; the folder goes when the run ends.
    """
    from kmgan import callbacks
    from kmgan import data

    batch = min(args.gan_batch_size, len(x))
    backups = [] if backup is None else [callbacks.BackupAndRestore(backup)]
    game.fit(
        data.from_arrays(x, y, batch_size=batch, seed=seed),
        epochs=epochs,
        verbose=2,
        callbacks=backups,
    )


def _build_game(name, shape, args, seed, **options):
    """The registry's game `name` at the `--gan-*` sizes, compiled with its
    paper optimizers (Adam(2e-4, beta_1=0.5) for cgan and madgan)."""
    from kmgan.games import registry

    game = registry.build(
        name,
        shape,
        latent_dim=args.latent_dim,
        base_filters=args.gan_base_filters,
        seed=seed,
        **options,
    )
    game.compile()
    return game


def train_cgan(real, num_classes, args, path, log=print, seed=None, epochs=None):
    """Trains a conditional GAN (DCGAN-style G(z, y), D(x, y)) and saves G.

    Args:
        real: `(x, y)` real training data (uint8).
        num_classes: number of classes.
        args: parsed `kmgan augment` arguments (GAN settings).
        path: where to save the generator (`.keras`).
        log: printer.
        seed: seed of the nets and the game (default: the first `--seeds`).
        epochs: GAN epochs (default `--gan-epochs`).

    Returns:
        The trained generator, or None when the ConditionalGAN game cannot be
        imported (the reason is logged).
    """
    run = _gan_run("cgan", args, log, seed, epochs)
    if run is None:
        return None
    seed, epochs = run
    x, y = real
    game = _build_game("cgan", tuple(x.shape[1:]), args, seed, num_classes=num_classes)
    log(f"cgan: training {epochs} epoch(s) on {len(x)} images")
    _fit(game, x, y, args, seed, epochs, backup=path + ".backup")
    _save(game.generator, path, log, "cgan generator")
    return game.generator


def train_madgan(real, num_classes, args, path, log=print, seed=None, epochs=None):
    """Trains a MAD-GAN (K generators sharing early layers) and saves its sampler.

    The MAD-GAN sees the images only (no labels).

    Args:
        real: `(x, y)` real training data (the labels are not used).
        num_classes: number of classes (the default K).
        args: parsed `kmgan augment` arguments (GAN settings).
        path: where to save the sampler (`.keras`, inputs `(z, generator_index)`).
        log: printer.
        seed: seed of the nets and the game (default: the first `--seeds`).
        epochs: GAN epochs (default `--gan-epochs`).

    Returns:
        The sampler model, or None when the MADGAN game cannot be imported.
    """
    run = _gan_run("madgan", args, log, seed, epochs)
    if run is None:
        return None
    seed, epochs = run
    k = args.madgan_generators or num_classes
    x = real[0]
    game = _build_game(
        "madgan", tuple(x.shape[1:]), args, seed, num_generators=k, **_madgan_layout(args)
    )
    log(
        f"madgan: training K={k} generators ({getattr(args, 'madgan_layout', 'shared')} "
        f"layers), {epochs} epoch(s) on {len(x)} unlabelled images"
    )
    _fit(game, x, None, args, seed, epochs, backup=path + ".backup")
    sampler = game.export_sampler()
    _save(sampler, path, log, "madgan sampler")
    return sampler


def _save(model, path, log, what):
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    model.save(path)
    log(f"{what}: saved {path}")


def _per_subset_method(name, num_classes, args, log):
    """A `PerSubset` method training `name` on each real subset (cached as .keras)."""
    from kmgan import augment

    train = train_cgan if name == "cgan" else train_madgan
    kind = "conditional" if name == "cgan" else None

    layout = _madgan_layout(args).get("generators") if name == "madgan" else None
    tag = name if layout is None else f"{name}-{layout}"

    def factory(x, y, seed, fraction):
        path = os.path.join(args.out, "generators", f"{tag}_fraction{fraction:g}_seed{seed}.keras")
        if os.path.exists(path) and not args.retrain:
            log(f"{name}: loading {path}")
            return augment.load_sampler(path, kind=kind, name=name)
        epochs = max(1, int(round(args.gan_epochs / float(fraction))))
        model = train((x, y), num_classes, args, path, log, seed=seed, epochs=epochs)
        return augment.sampler_from_model(model, kind=kind, name=name)

    factory.__name__ = name
    return augment.PerSubset(factory, name=name)


def _generative_sampler(name, real, num_classes, args, log):
    """Loads `--cgan` / `--madgan` from .keras, or trains and saves it."""
    from kmgan import augment

    path = getattr(args, name) or os.path.join(
        args.out, "cgan_generator.keras" if name == "cgan" else "madgan_sampler.keras"
    )
    kind = "conditional" if name == "cgan" else None
    if os.path.exists(path) and not args.retrain:
        log(f"{name}: loading {path}")
        sampler = augment.load_sampler(path, kind=kind, name=name)
    else:
        train = train_cgan if name == "cgan" else train_madgan
        model = train(real, num_classes, args, path, log)
        if model is None:
            return None
        sampler = augment.sampler_from_model(model, kind=kind, name=name)
    if name == "cgan" and not isinstance(sampler, augment.ConditionalSampler):
        raise SystemExit(f"{path} is not a conditional generator (inputs z, labels).")
    if name == "madgan" and not isinstance(sampler, augment.UnlabelledSampler):
        raise SystemExit(
            f"{path} is a conditional generator; --madgan needs an unlabelled sampler."
        )
    return sampler


def _run_settings(args, classifier):
    """What a finished cell depends on that the sweep cannot see."""
    names = (
        "quick",
        "gan_data",
        "gan_epochs",
        "gan_batch_size",
        "gan_base_filters",
        "latent_dim",
        "madgan_generators",
        "madgan_layout",
        "cgan",
        "madgan",
        "aux_augmentation",
    )
    return {"classifier": classifier, **{n: getattr(args, n, None) for n in names}}


def run_args(args, log=print):
    """Runs the study for parsed arguments.

    Args:
        args: the namespace from `add_arguments`.
        log: printer.

    Returns:
        The sweep's result rows.
    """
    import numpy as np

    from kmgan import augment

    args = _quick_defaults(args)
    os.makedirs(args.out, exist_ok=True)
    real, test = _load_data(args, log)
    num_classes = int(max(np.max(real[1]), np.max(test[1]))) + 1
    shape = tuple(real[0].shape[1:])
    key = args.classifier if args.classifier != "auto" else dataset_key(args.data, shape)
    flip = {"auto": _FLIP_BY_DATASET.get(key), "yes": True, "no": False}[args.allow_flip]

    methods, notes = {}, []
    for name in args.methods:
        if name == "none":
            methods[name] = None
        elif name in TRADITIONAL:
            methods[name] = name
        else:
            missing = _game_missing(name)
            if missing:
                log(f"{name}: SKIPPED: its game is not available in this kmgan ({missing}).")
                notes.append(
                    f"`{name}` was skipped: its game is not available in this kmgan ({missing})."
                )
                continue
            if args.gan_data == "subset":
                methods[name] = _per_subset_method(name, num_classes, args, log)
            else:
                methods[name] = _generative_sampler(name, real, num_classes, args, log)

    if any(m in methods for m in GENERATIVE):
        notes.append(
            "Generative models trained "
            + (
                "once on the whole real training set (the classifiers' real subsets are "
                "smaller: at small real fractions the generators bring in information from "
                "real images the classifiers do not get)"
                if args.gan_data == "full"
                else "afresh on each (seed, real fraction) subset the classifiers get, with GAN "
                "epochs scaled by 1/fraction (`--gan-data subset`)"
            )
            + "."
        )
    train_steps = None
    if args.train_steps == "auto":
        train_steps = args.epochs * max(1, len(real[0]) // args.batch_size)
    elif args.train_steps:
        train_steps = int(args.train_steps)
    if train_steps:
        notes.append(
            f"Every classifier trained for {train_steps} optimizer steps (batch "
            f"{args.batch_size}), whatever the size of its training set."
        )
    else:
        notes.append(
            f"Every classifier trained for {args.epochs} epochs: a set with "
            "generated images added also gets more optimizer steps (see "
            "`train_steps`); `--train-steps` equalises the budget."
        )
    quick = args.quick

    def model_fn():
        if quick:
            return augment.simple_cnn(
                shape, num_classes, dataset=key, base_filters=8, dense_units=32
            )
        return augment.simple_cnn(shape, num_classes, dataset=key)

    features = (
        resolve_inception(args.inception, log) if any(m in methods for m in GENERATIVE) else None
    )
    title = args.title or f"Generative data augmentation on {args.data}"
    kio.atomic_write_json(
        os.path.join(args.out, "args.json"), {k: v for k, v in vars(args).items() if k != "run"}
    )
    rows = augment.run_sweep(
        real,
        test,
        methods=methods,
        real_fractions=args.real_fractions,
        generated_ratios=args.generated_ratios,
        seeds=args.seeds,
        epochs=args.epochs,
        out_dir=args.out,
        model_fn=model_fn,
        batch_size=args.batch_size,
        threshold=args.threshold,
        aux_epochs=args.aux_epochs,
        train_steps=train_steps,
        aux_augmentation=args.aux_augmentation,
        num_classes=num_classes,
        allow_flip=flip,
        features=features,
        metric_samples=args.metric_samples,
        title=title,
        notes=notes,
        log=log,
        resume=not (args.no_resume or args.retrain),
        run_settings=_run_settings(args, key),
    )
    for note in notes:
        log(note)
    return rows


if __name__ == "__main__":
    sys.exit(main())
