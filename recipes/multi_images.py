"""Shared steps of the multi-generator image recipes (MGAN, MEGAN, MAD-GAN).

Not a recipe itself: the options every one of them takes, the data for
`--quick` runs, and training a game then exporting its sampler with a grid of
one row per generator.

`--data` takes a tfds name or a local path (a CIFAR python folder or
archive, a Keras-style .npz, MNIST idx files). `--quick` runs one short
epoch with tiny nets on the CPU: on the local data when `--data` is a path,
else on a tiny random CIFAR-shaped set (it says so; the point is the
pipeline, not the pictures). Every run writes `experts.png` (one row per
generator, the same z in every row) and the exported sampler `sampler.keras`
(load it after `import kmgan`).
"""

import argparse
import os
import time

import keras
import numpy as np

import kmgan
from kmgan import cli_args
from kmgan.callbacks import save_image_grid
from kmgan.samplers import expert_grid

LOCAL_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_5k.npz")


def parser(doc, epochs, num_generators, out, data="cifar10", data_help="tfds name or local path"):
    """The options every multi-generator image recipe takes.

    Args:
        doc: the recipe's docstring; its first line is the description.
        epochs, num_generators, out, data: the recipe's defaults of
            `--epochs`, `--num-generators`, `--out` and `--data`.
        data_help: help text of `--data`.

    Returns:
        An `argparse.ArgumentParser`; the recipe adds its game's own options
        and parses with `parse_args`.
    """
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--data", default=data, help=data_help)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("--num-generators", type=int, default=num_generators)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--base-filters", type=int, default=64)
    p.add_argument("--grid-columns", type=int, default=10)
    return cli_args.add_run_flags(p, out, "1 short epoch, tiny nets, CPU")


def parse_args(p, argv=None):
    """Parses the options; `--quick` shrinks the run to 1 epoch of tiny nets."""
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 1
        args.max_examples = args.max_examples or 256
        args.batch_size = min(args.batch_size, 32)
        args.num_generators = min(args.num_generators, 4)
        args.base_filters = min(args.base_filters, 8)
        args.latent_dim = min(args.latent_dim, 16)
    return args


def quick_arrays(data, num, seed, digits_fallback=False):
    """Arrays for --quick: a local file when `data` is a path; with
    `digits_fallback`, the local MNIST subset for "mnist"/"fashion_mnist";
    else a random CIFAR-shaped uint8 set. Returns (x, description)."""
    if os.path.exists(data):
        x, _ = kmgan.data.load_arrays(data, "train")
        return np.asarray(x)[:num], f"the first {num} images of {data}"
    if digits_fallback and data in ("mnist", "fashion_mnist") and os.path.exists(LOCAL_MNIST):
        x, _ = kmgan.data.load_arrays(LOCAL_MNIST, "train")
        note = "" if data == "mnist" else " (standing in for fashion_mnist, which is not local)"
        where = os.path.normpath(LOCAL_MNIST)
        return np.asarray(x)[:num], f"the first {num} digits of {where}{note}"
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(num, 32, 32, 3), dtype=np.uint8)
    return x, (
        f"a tiny random CIFAR-shaped set ({num} x 32x32x3 uniform noise): "
        f"no local file given for {data!r}"
    )


def dataset(args, digits_fallback=False):
    """The recipe's unlabelled image dataset (tfds or local; see quick_arrays)."""
    if args.quick:
        x, what = quick_arrays(args.data, args.max_examples, args.seed, digits_fallback)
        print(f"--quick: training on {what}", flush=True)
        return kmgan.data.from_arrays(x, None, batch_size=args.batch_size, seed=args.seed)
    return kmgan.data.load(
        args.data,
        batch_size=args.batch_size,
        seed=args.seed,
        labels=False,
        max_examples=args.max_examples,
    )


def start(args, digits_fallback=False):
    """Creates `args.out`, seeds Keras, and returns `(dataset, image_shape)`."""
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    data = dataset(args, digits_fallback)
    return data, tuple(int(d) for d in data.element_spec.shape[1:])


def run(parse, build_game, argv=None, digits_fallback=False):
    """A recipe's `main`: parse, load the data, build the game, train and export it.

    Args:
        parse: `parse(argv)` returns the recipe's parsed arguments.
        build_game: `build_game(args, image_shape)` returns the compiled game.
        argv: the command line (None: `sys.argv[1:]`).
        digits_fallback: see `quick_arrays`.

    Returns:
        The dict of `train_and_export`.
    """
    args = parse(argv)
    data, image_shape = start(args, digits_fallback)
    return train_and_export(build_game(args, image_shape), data, args)


def compile_adam(game, lr, beta_2=0.999):
    """Compiles a game with the papers' Adam(`lr`, beta_1=0.5) for D and for G."""
    game.compile(
        d_optimizer=keras.optimizers.Adam(lr, beta_1=0.5, beta_2=beta_2),
        g_optimizer=keras.optimizers.Adam(lr, beta_1=0.5, beta_2=beta_2),
    )


def train_and_export(game, data, args):
    """Fits a compiled game, saves its sampler and an expert grid into args.out."""
    start = time.time()
    history = game.fit(data, epochs=args.epochs, verbose=0 if args.quick else 2)
    print(
        f"trained {args.epochs} epoch(s) in {time.time() - start:.0f}s; last logs "
        + ", ".join(f"{n} {v[-1]:.3f}" for n, v in history.history.items()),
        flush=True,
    )
    sampler = game.export_sampler()
    path = os.path.join(args.out, "sampler.keras")
    sampler.save(path)
    samples, rows = expert_grid(sampler, args.grid_columns, seed=args.seed)
    grid = os.path.join(args.out, "experts.png")
    save_image_grid(samples, grid, rows=rows)
    print(f"wrote {grid} (one row per generator) and {path}", flush=True)
    return {"sampler": path, "grid": grid, "history": history.history}
