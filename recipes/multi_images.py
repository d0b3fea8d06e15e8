"""Shared steps of the multi-generator image recipes (MGAN, MEGAN, MAD-GAN).

Not a recipe itself: the data for `--quick` runs, and training a game then
exporting its sampler with a grid of one row per generator.
"""

import os
import time

import keras
import numpy as np

import kmgan
from kmgan.callbacks import save_image_grid
from kmgan.games.multi import expert_grid

LOCAL_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_5k.npz")


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
        return np.asarray(x)[:num], f"the first {num} digits of {os.path.normpath(LOCAL_MNIST)}{note}"
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(num, 32, 32, 3), dtype=np.uint8)
    return x, (f"a tiny random CIFAR-shaped set ({num} x 32x32x3 uniform noise): "
               f"no local file given for {data!r}")


def dataset(args, digits_fallback=False):
    """The recipe's unlabelled image dataset (tfds or local; see quick_arrays)."""
    if args.quick:
        x, what = quick_arrays(args.data, args.max_examples, args.seed, digits_fallback)
        print(f"--quick: training on {what}", flush=True)
        return kmgan.data.from_arrays(x, None, batch_size=args.batch_size, seed=args.seed)
    return kmgan.data.load(args.data, batch_size=args.batch_size, seed=args.seed, labels=False,
                           max_examples=args.max_examples)


def train_and_export(game, data, args):
    """Fits a compiled game, saves its sampler and an expert grid into args.out."""
    start = time.time()
    history = game.fit(data, epochs=args.epochs, verbose=0 if args.quick else 2)
    print(f"trained {args.epochs} epoch(s) in {time.time() - start:.0f}s; last logs "
          + ", ".join(f"{n} {v[-1]:.3f}" for n, v in history.history.items()), flush=True)
    sampler = game.export_sampler()
    path = os.path.join(args.out, "sampler.keras")
    sampler.save(path)
    samples, rows = expert_grid(sampler, args.grid_columns, seed=args.seed)
    grid = os.path.join(args.out, "experts.png")
    save_image_grid(samples, grid, rows=rows)
    print(f"wrote {grid} (one row per generator) and {path}", flush=True)
    return {"sampler": path, "grid": grid, "history": history.history}
