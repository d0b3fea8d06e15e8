"""The GMAN report's experiment: GAN, GMAN, DCGAN, DCGMAN, then GAM battles.

Xu et al. (UCSD), "Generative Multi-Adversarial Neural Networks for Image
Generation": 5 discriminators with the mean aggregator, Adam (lr 1e-4,
beta_1 0.5), batch 64 for GAN/GMAN and 100 for DCGAN/DCGMAN, 20 epochs,
LeakyReLU 0.2, soft labels for GAN/GMAN; 32x32 inputs except DCGAN/DCGMAN on
MNIST (28x28). Ends in the GAM table of the report's Figure 13.

    python recipes/gman_report.py --dataset mnist cifar10          # the full run (GPU)
    python recipes/gman_report.py --quick                          # CPU, local MNIST subset
    python recipes/gman_report.py --dataset ../shared/data/mnist_5k.npz --epochs 20
"""

import argparse
import os
import time

import keras
import numpy as np

import kmgan
from kmgan import callbacks
from kmgan import cli_args
from kmgan.games import registry

LOCAL_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_5k.npz")
PAIRS = (("gan", "gman"), ("dcgan", "dcgman"))


def image_size_for(game, dataset):
    mnist_like = "mnist" in os.path.basename(dataset).lower()
    if game.startswith("dc") and mnist_like:
        return None  # 28x28
    return (32, 32)


def train(game, dataset, args):
    keras.utils.set_random_seed(args.seed)
    batch_size = 100 if game.startswith("dc") else 64
    ds = kmgan.data.load(
        dataset,
        split="train",
        batch_size=batch_size,
        seed=args.seed,
        image_size=image_size_for(game, dataset),
        max_examples=args.max_examples,
    )
    shape = tuple(ds.element_spec[0].shape[1:])
    spec = registry.get(game)
    report = dict(num_discriminators=5, aggregator="mean")  # GMAN's, in the report
    model = spec.build(
        shape,
        latent_dim=100,
        base_filters=args.base_filters,
        seed=args.seed,
        **{k: v for k, v in report.items() if k in spec.options()},
    )
    model.compile()  # the report's Adam(1e-4, beta_1=0.5) for every player
    out = os.path.join(args.out, _tag(dataset), game)
    os.makedirs(out, exist_ok=True)
    start = time.time()
    history = model.fit(
        ds,
        epochs=args.epochs,
        verbose=2 if args.verbose else 0,
        callbacks=[
            callbacks.SampleGrid(os.path.join(out, "samples"), every=max(1, args.epochs // 4)),
            keras.callbacks.CSVLogger(os.path.join(out, "log.csv")),
        ],
    )
    model.save(os.path.join(out, "game.keras"))
    seconds = time.time() - start
    print(
        f"  {game}: {args.epochs} epochs in {seconds:.0f}s, last g_loss "
        f"{history.history['g_loss'][-1]:.3f}",
        flush=True,
    )
    return model


def real_images(dataset, split, image_size, limit):
    ds = kmgan.data.load(
        dataset,
        split=split,
        batch_size=100,
        shuffle=False,
        image_size=image_size,
        max_examples=limit,
    )
    return np.concatenate([x for x, _ in ds.as_numpy_iterator()])


def _tag(dataset):
    return os.path.splitext(os.path.basename(dataset))[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--base-filters", type=int, default=64)
    parser.add_argument("--max-examples", type=int, default=None)
    parser.add_argument("--test-examples", type=int, default=10000)
    parser.add_argument("--verbose", action="store_true")
    cli_args.add_run_flags(
        parser, "runs/gman_report", "local MNIST subset, small nets, 2 epochs (CPU, minutes)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.dataset = [os.path.abspath(LOCAL_MNIST)]
        args.epochs, args.base_filters = 2, 16

    rows = []
    for dataset in args.dataset:
        print(f"{dataset}:", flush=True)
        models = {g: train(g, dataset, args) for pair in PAIRS for g in pair}
        for m1, m2 in PAIRS:
            size = image_size_for(m1, dataset)
            x_test = real_images(dataset, "test", size, args.test_examples)
            x_train = real_images(dataset, "train", size, len(x_test))
            result = kmgan.metrics.battle(
                models[m1], models[m2], x_test, x_train=x_train, seed=args.seed
            )
            winner = {"M1": m1.upper(), "M2": m2.upper()}.get(result.winner, "tie")
            rows.append(
                {
                    "dataset": _tag(dataset),
                    "battle": f"{m1.upper()} vs {m2.upper()}",
                    "r_test": result.r_test,
                    "r_samples": result.r_samples,
                    "winner": winner,
                    "table": result.table,
                }
            )
            print(
                f"  {m1} vs {m2}: r_test {result.r_test:.2f}, r_samples "
                f"{result.r_samples:.2f}, winner {winner}"
            )

    lines = [
        f"GAM battles, {args.epochs} epochs, backend {keras.backend.backend()}",
        "",
        "| dataset | models | r_test | r_samples | winner |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['dataset']} | {r['battle']} | {r['r_test']:.2f} | {r['r_samples']:.2f} "
        f"| {r['winner']} |"
        for r in rows
    ]
    os.makedirs(args.out, exist_ok=True)
    kmgan.io.atomic_write_text(os.path.join(args.out, "gam_table.md"), "\n".join(lines) + "\n")
    kmgan.io.atomic_write_json(os.path.join(args.out, "gam_table.json"), rows, default=str)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
