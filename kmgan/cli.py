"""The `kmgan` command: train, sample, battle.

    kmgan train --game gman --data mnist --epochs 20 --out runs/gman
    kmgan train --game gman --data ../shared/data/mnist_5k.npz --quick --out runs/q
    kmgan train --game mgan --data ring --generators 8 --out runs/mgan_ring
    kmgan sample runs/gman/generator.keras --num 64 --out grid.png
    kmgan battle runs/gan/game.keras runs/gman/game.keras --data mnist --split test
    kmgan augment --data mnist --seeds 0 1 2 --train-steps auto --gan-data subset \
        --out runs/gda_mnist
"""

import argparse
import json
import sys

from kmgan import cli_args


def _sample(args):
    from kmgan import callbacks
    from kmgan import samplers

    sampler = samplers.load(args.model)
    samples, rows = samplers.draw(
        sampler,
        args.num,
        seed=args.seed,
        per_generator=args.per_generator,
        generators=args.generators,
    )
    if samples.ndim == 2:
        callbacks.save_scatter(samples, args.out)
    else:
        callbacks.save_image_grid(samples, args.out, rows=rows)
    print(f"wrote {len(samples)} samples to {args.out}")


def _split_images(args, split, max_examples):
    """All images of `split` of `--data` as one array (labels dropped)."""
    import numpy as np

    from kmgan import data

    dataset = data.load(
        args.data,
        split=split,
        batch_size=args.batch_size,
        shuffle=False,
        image_size=cli_args.image_size(args),
        max_examples=max_examples,
    )
    return np.concatenate([x for x, _ in dataset.as_numpy_iterator()])


def _battle(args):
    import kmgan

    games = [kmgan.saving.load_model(p) for p in (args.game_1, args.game_2)]
    x_test = _split_images(args, args.split, args.max_examples)
    x_train = None
    if args.train_split:
        x_train = _split_images(args, args.train_split, len(x_test))
    result = kmgan.metrics.battle(
        games[0], games[1], x_test, x_train=x_train, tolerance=args.tolerance, seed=args.seed
    )
    names = [g.name for g in games]
    winner = {"M1": names[0], "M2": names[1]}.get(result.winner, "tie")
    print(
        json.dumps(
            {
                "M1": names[0],
                "M2": names[1],
                "r_test": result.r_test,
                "r_samples": result.r_samples,
                "winner": winner,
                "table": result.table,
            },
            indent=1,
            default=str,
        )
    )


def build_parser():
    parser = argparse.ArgumentParser(prog="kmgan", description="Multi-player GANs for Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True)

    from kmgan import train_cli

    train_cli.add_parser(sub)

    sample = sub.add_parser("sample", help="draw samples from a saved generator or game")
    sample.add_argument("model", help=".keras generator, sampler or game")
    sample.add_argument("--num", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--per-generator", action="store_true", help="one row per generator")
    sample.add_argument("--generators", type=int, default=0)
    sample.add_argument("--out", default="samples.png")
    sample.set_defaults(run=_sample)

    battle = sub.add_parser("battle", help="GAM battle between two saved games")
    battle.add_argument("game_1")
    battle.add_argument("game_2")
    battle.add_argument("--data", required=True)
    battle.add_argument("--split", default="test")
    battle.add_argument("--train-split", default=None, help="also score the table's diagonal")
    cli_args.add_size_flags(battle)
    battle.add_argument("--batch-size", type=int, default=100)
    battle.add_argument("--tolerance", type=float, default=0.25)
    battle.add_argument("--seed", type=int, default=0)
    battle.set_defaults(run=_battle)

    from kmgan import augment_cli

    augment_cli.add_parser(sub)

    from kmgan import eval_cli

    eval_cli.add_parser(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
