"""`kmgan train`: train any registered game (`kmgan.games.registry`) on a dataset.

    kmgan train --game gman --data mnist --epochs 20 --out runs/gman
    kmgan train --game mgan --data ring --generators 8 --out runs/mgan_ring
    kmgan train --game cgan --data ../shared/data/mnist_5k.npz --quick --out runs/q
    kmgan train --game scoregan --data cifar10 --evaluator imagenet --out runs/scoregan

Each game gets its default networks for the data's shape and, without
`--lr`, its paper's optimizers (`game.compile()`). Options a game does not
have (e.g. `--discriminators` for MGAN) are ignored with a note naming the
games that take them. Writes `game.keras` (the whole game), `generator.keras`
(its sampler), `samples/`, `log.csv` and `args.json` to `--out`.
"""

import os

from kmgan import cli_args
from kmgan import io as kio

#: CLI option -> the registry build option it sets (for the games that have it).
_GAME_OPTIONS = {
    "discriminators": "num_discriminators",
    "aggregator": "aggregator",
    "varied": "varied",
    "stacked": "stacked",
    "generators": "num_generators",
    "label_smoothing": "label_smoothing",
    "loss": "loss",
    "d_steps": "d_steps",
    "ema": "ema_decay",
    "augment": "augment",
    "r1": "r1_weight",
    "lecam": "lecam_weight",
}


def add_parser(subparsers):
    """Registers `train` on the `kmgan` command's sub-parsers; returns the sub-parser."""
    from kmgan.games import registry

    summary = f"train a game ({', '.join(registry.names())})"
    return cli_args.add_subcommand(subparsers, "train", summary, __doc__, add_arguments, run)


def add_arguments(parser):
    """Adds the `kmgan train` options to an argparse parser.

    Args:
        parser: an `argparse.ArgumentParser` (or a sub-command parser).

    Returns:
        The parser.
    """
    from kmgan.games import registry

    parser.add_argument("--game", default="gman", choices=list(registry.names()))
    parser.add_argument("--data", required=True, help="tfds name, local file/folder, ring or grid")
    parser.add_argument("--split", default="train")
    cli_args.add_size_flags(parser)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--latent-dim",
        type=int,
        default=None,
        help="size of z (default: the game's, 100; 128 for controlgan/scoregan)",
    )
    parser.add_argument("--discriminators", type=int, default=None, help="N of gman/dcgman (5)")
    parser.add_argument("--aggregator", default=None, choices=["mean", "max", "soft", "auto"])
    parser.add_argument(
        "--varied", action="store_true", help="discriminators of differing architecture"
    )
    parser.add_argument(
        "--stacked",
        action="store_true",
        help="the N identical discriminators stacked in one model (dcgman or 2-D "
        "data): one graph for all N, faster to compile",
    )
    parser.add_argument(
        "--generators", type=int, default=None, help="K of mgan/madgan/megan (default: the game's)"
    )
    parser.add_argument(
        "--num-classes",
        type=int,
        default=None,
        help="classes of cgan/controlgan/scoregan (default: read from the labels)",
    )
    parser.add_argument(
        "--evaluator",
        default=None,
        help="frozen evaluator guiding the generator (required by scoregan; any "
        "game takes one): 'imagenet' (Keras' MobileNetV2 weights, fetched "
        "once), a MobileNetV2 weights .h5 file, a frozen classifier .keras "
        "file, or 'none'",
    )
    parser.add_argument("--loss", default=None, help="adversarial loss (default: the game's)")
    parser.add_argument(
        "--d-steps",
        type=int,
        default=None,
        help="discriminator steps per generator step (default: the game's; "
        "5 for controlgan/scoregan)",
    )
    parser.add_argument("--label-smoothing", type=float, default=None)
    parser.add_argument(
        "--base-filters",
        type=int,
        default=None,
        help="width of the convolutional nets (default: the game's)",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="Adam learning rate for every player (default: the game's paper optimizers)",
    )
    parser.add_argument("--beta-1", type=float, default=0.5, help="Adam beta_1 with --lr")
    parser.add_argument(
        "--ema", type=float, default=None, help="generator EMA decay (writes generator_ema.keras)"
    )
    parser.add_argument(
        "--augment", default=None, help="images: 'diffaugment', 'ada' or a DiffAugment policy"
    )
    parser.add_argument("--r1", type=float, default=None, help="R1 penalty weight gamma")
    parser.add_argument("--lecam", type=float, default=None, help="LeCam regularizer weight")
    parser.add_argument(
        "--accumulation-steps", type=int, default=None, help="gradient accumulation per player"
    )
    parser.add_argument(
        "--mixed-precision", default=None, choices=["bfloat16", "float16"], help="mixed policy"
    )
    parser.add_argument(
        "--distribute",
        action="store_true",
        help="data parallel on every visible device (TF MirroredStrategy, JAX DataParallel)",
    )
    return cli_args.add_run_flags(
        parser,
        "runs/train",
        quick_help="smoke run: the game's smallest nets (8 filters), 1 epoch, 1024 examples",
    )


def build_options(args, spec, data_shape, num_classes=None, log=print):
    """The registry build options of parsed `kmgan train` arguments.

    Args:
        args: the parsed arguments.
        spec: the game's `kmgan.games.registry.GameSpec`.
        data_shape: shape of one example.
        num_classes: classes of a labelled game (None: not one).
        log: printer of the notes on options the game does not have (they
            are ignored, e.g. `--discriminators` for gan).

    Returns:
        dict of keyword arguments for `spec.build`.

    Raises:
        ValueError: scoregan without an evaluator, or a bad `--evaluator`.
    """
    from kmgan.games import registry

    options = {"seed": args.seed}
    if args.latent_dim is not None:
        options["latent_dim"] = args.latent_dim
    if args.quick:
        options.update(spec.quick)
    if args.base_filters is not None:
        options["base_filters"] = args.base_filters
    for flag, option in _GAME_OPTIONS.items():
        value = getattr(args, flag)
        if value is None or value is False:
            continue
        if option not in spec.options():
            games = [n for n in registry.names() if option in registry.get(n).options()]
            log(
                f"note: --{flag.replace('_', '-')} is an option of {', '.join(games)}; "
                f"{spec.name} has none, so it is ignored."
            )
            continue
        options[option] = value
    if spec.labels:
        options["num_classes"] = num_classes
    evaluator = resolve_evaluator(args.evaluator, spec, data_shape)
    if evaluator is not None:
        options["evaluator"] = evaluator
    return options


def resolve_evaluator(value, spec, data_shape):
    """The frozen evaluator `--evaluator` names, or None.

    Args:
        value: None, "none", "imagenet", a MobileNetV2 `.h5` weights file or
            a `.keras` classifier.
        spec: the game's `GameSpec` (scoregan needs an evaluator).
        data_shape: shape of one example (the evaluator's channels).

    Raises:
        ValueError: scoregan without an evaluator, or a value that is none
            of the above.
    """
    from kmgan import evaluators

    if value in (None, "none"):
        if spec.needs_evaluator:
            raise ValueError(
                f"{spec.name} needs --evaluator: 'imagenet' (Keras' ImageNet MobileNetV2 "
                "weights, fetched once into ~/.keras/models/), the path of a MobileNetV2 "
                "weights .h5 file (mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"
                "), or a frozen classifier saved as .keras. Without an evaluator the game "
                "is controlgan."
            )
        return None
    channels = data_shape[-1] if len(data_shape) == 3 else None
    if value == "imagenet" or str(value).endswith(".h5"):
        if channels not in (1, 3):
            raise ValueError(
                f"A MobileNetV2 evaluator scores 1- or 3-channel images; the data have "
                f"examples of shape {tuple(data_shape)}."
            )
        return evaluators.mobilenet_v2(weights=value, channels=channels)
    if str(value).endswith(".keras"):
        if not os.path.isfile(value):
            raise FileNotFoundError(f"--evaluator: no file {value}.")
        import keras

        return evaluators.frozen(keras.saving.load_model(value, safe_mode=True))
    raise ValueError(
        f"--evaluator must be 'imagenet', 'none', a .h5 MobileNetV2 weights file or a "
        f".keras classifier; got {value!r}."
    )


def _num_classes(dataset):
    import numpy as np

    top = -1
    for batch in dataset.as_numpy_iterator():
        if not isinstance(batch, tuple) or len(batch) < 2:
            raise ValueError("This game trains on (images, labels); the data have no labels.")
        top = max(top, int(np.max(batch[1])))
    return top + 1


def distribution_scope(distribute):
    """Data parallel over every visible device on the current backend.

    Args:
        distribute: False gives a no-op context.

    Returns:
        A context manager to build and compile the game in.

    Raises:
        SystemExit: on torch, which Keras gives no distribution API.
    """
    import contextlib

    import keras

    if not distribute:
        return contextlib.nullcontext()
    if keras.backend.backend() == "torch":
        raise SystemExit(
            "--distribute needs the tensorflow or jax backend: Keras has no "
            "distribution API for torch (kmgan trains a torch game on one device)."
        )
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    return contextlib.nullcontext()


def run(args):
    """Runs `kmgan train` for parsed arguments; returns the trained game."""
    import keras

    from kmgan import callbacks
    from kmgan import data
    from kmgan.games import registry

    spec = registry.get(args.game)
    max_examples = args.max_examples or (1024 if args.quick else None)
    dataset = data.load(
        args.data,
        split=args.split,
        batch_size=args.batch_size,
        seed=args.seed,
        image_size=cli_args.image_size(args),
        max_examples=max_examples,
    )
    data_shape = tuple(dataset.element_spec[0].shape[1:])
    spec.check_shape(data_shape)
    num_classes = None
    if spec.labels:
        num_classes = args.num_classes or _num_classes(dataset)
    if args.mixed_precision:
        keras.config.set_dtype_policy(f"mixed_{args.mixed_precision}")
    with distribution_scope(args.distribute):
        game = spec.build(data_shape, **build_options(args, spec, data_shape, num_classes))
        optimizers = {}
        if args.lr is not None:
            optimizers = {
                role: keras.optimizers.Adam(args.lr, beta_1=args.beta_1)
                for role in game.optimizer_roles
            }
        game.compile(accumulation_steps=args.accumulation_steps, **optimizers)
    os.makedirs(args.out, exist_ok=True)
    epochs = 1 if args.quick else args.epochs
    history = game.fit(
        dataset,
        epochs=epochs,
        verbose=2,
        callbacks=[
            callbacks.SampleGrid(os.path.join(args.out, "samples")),
            callbacks.GeneratorCheckpoint(os.path.join(args.out, "generator.keras")),
            keras.callbacks.CSVLogger(os.path.join(args.out, "log.csv")),
            keras.callbacks.TerminateOnNaN(),
        ],
    )
    game.save(os.path.join(args.out, "game.keras"))
    if args.ema is not None:
        from kmgan import samplers

        with game.use_ema():
            samplers.export_sampler(game).save(os.path.join(args.out, "generator_ema.keras"))
    kio.atomic_write_json(
        os.path.join(args.out, "args.json"), {k: v for k, v in vars(args).items() if k != "run"}
    )
    last = {k: round(v[-1], 4) for k, v in history.history.items()}
    print(f"trained {args.game} on {args.data}: {last}")
    print(f"wrote {args.out}/game.keras, generator.keras, samples/, log.csv")
    return game
