"""The `kmgan` command: train, sample, battle.

    kmgan train --game gman --data mnist --epochs 20 --out runs/gman
    kmgan train --game gman --data ../shared/data/mnist_5k.npz --quick --out runs/q
    kmgan sample runs/gman/generator.keras --num 64 --out grid.png
    kmgan battle runs/gan/game.keras runs/gman/game.keras --data mnist --split test
    kmgan augment --data mnist --seeds 0 1 2 --train-steps auto --gan-data subset --out runs/gda_mnist
"""

import argparse
import json
import os
import sys


def _train(args):
    import keras

    from kmgan import callbacks
    from kmgan import data
    from kmgan import presets

    image_size = (args.image_size, args.image_size) if args.image_size else None
    max_examples = args.max_examples or (1024 if args.quick else None)
    dataset = data.load(
        args.data, split=args.split, batch_size=args.batch_size, seed=args.seed,
        image_size=image_size, max_examples=max_examples,
    )
    data_shape = tuple(dataset.element_spec[0].shape[1:])
    game = presets.build_game(
        args.game, data_shape, latent_dim=args.latent_dim,
        num_discriminators=args.discriminators, aggregator=args.aggregator,
        varied=args.varied, loss=args.loss, label_smoothing=args.label_smoothing,
        base_filters=8 if args.quick else args.base_filters, seed=args.seed,
        stacked=args.stacked,
    )
    game.compile(
        d_optimizer=presets.adam(args.lr, args.beta_1),
        g_optimizer=presets.adam(args.lr, args.beta_1),
    )
    os.makedirs(args.out, exist_ok=True)
    epochs = 1 if args.quick else args.epochs
    history = game.fit(
        dataset, epochs=epochs, verbose=2,
        callbacks=[
            callbacks.SampleGrid(os.path.join(args.out, "samples")),
            callbacks.GeneratorCheckpoint(os.path.join(args.out, "generator.keras")),
            keras.callbacks.CSVLogger(os.path.join(args.out, "log.csv")),
            keras.callbacks.TerminateOnNaN(),
        ],
    )
    game.save(os.path.join(args.out, "game.keras"))
    with open(os.path.join(args.out, "args.json"), "w") as f:
        json.dump({k: v for k, v in vars(args).items() if k != "run"}, f, indent=1)
    last = {k: round(v[-1], 4) for k, v in history.history.items()}
    print(f"trained {args.game} on {args.data}: {last}")
    print(f"wrote {args.out}/game.keras, generator.keras, samples/, log.csv")


def _load_sampler(path):
    import keras

    import kmgan  # noqa: F401  registers kmgan's classes

    model = keras.saving.load_model(path, safe_mode=True)
    if hasattr(model, "export_sampler"):
        return model.export_sampler()
    return getattr(model, "generator", model) if hasattr(model, "play") else model


def _sample(args):
    import numpy as np

    from kmgan import callbacks

    sampler = _load_sampler(args.model)
    rng = np.random.default_rng(args.seed)
    latent_dim = int(sampler.inputs[0].shape[-1])
    if len(sampler.inputs) == 2:  # multi-generator sampler: (z, generator index)
        from kmgan.games.multi import sampler_num_generators

        num_generators = args.generators or sampler_num_generators(sampler)
        per_row = args.num // num_generators if args.per_generator else args.num
        if args.per_generator:
            z = rng.standard_normal((per_row * num_generators, latent_dim)).astype("float32")
            index = np.repeat(np.arange(num_generators), per_row).astype("int32")
        else:
            z = rng.standard_normal((args.num, latent_dim)).astype("float32")
            index = np.full((args.num,), -1, "int32")
        samples = sampler.predict([z, index], verbose=0)
        rows = num_generators if args.per_generator else None
    else:
        z = rng.standard_normal((args.num, latent_dim)).astype("float32")
        samples = sampler.predict(z, verbose=0)
        rows = None
    if samples.ndim == 2:
        callbacks.save_scatter(samples, args.out)
    else:
        callbacks.save_image_grid(samples, args.out, rows=rows)
    print(f"wrote {len(samples)} samples to {args.out}")


def _battle(args):
    import keras
    import numpy as np

    import kmgan
    from kmgan import data

    games = [keras.saving.load_model(p, safe_mode=True) for p in (args.game_1, args.game_2)]
    image_size = (args.image_size, args.image_size) if args.image_size else None
    x_test = np.concatenate(
        [x for x, _ in data.load(args.data, split=args.split, batch_size=args.batch_size,
                                 shuffle=False, image_size=image_size,
                                 max_examples=args.max_examples).as_numpy_iterator()]
    )
    x_train = None
    if args.train_split:
        x_train = np.concatenate(
            [x for x, _ in data.load(args.data, split=args.train_split, batch_size=args.batch_size,
                                     shuffle=False, image_size=image_size,
                                     max_examples=len(x_test)).as_numpy_iterator()]
        )
    result = kmgan.metrics.battle(
        games[0], games[1], x_test, x_train=x_train, tolerance=args.tolerance, seed=args.seed
    )
    names = [g.name for g in games]
    winner = {"M1": names[0], "M2": names[1]}.get(result.winner, "tie")
    print(json.dumps({
        "M1": names[0], "M2": names[1], "r_test": result.r_test,
        "r_samples": result.r_samples, "winner": winner, "table": result.table,
    }, indent=1, default=str))


def build_parser():
    parser = argparse.ArgumentParser(prog="kmgan", description="Multi-player GANs for Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a GAN / GMAN / DCGAN / DCGMAN")
    train.add_argument("--game", default="gman", choices=["gan", "gman", "dcgan", "dcgman"])
    train.add_argument("--data", required=True, help="tfds name, local file/folder, ring or grid")
    train.add_argument("--split", default="train")
    train.add_argument("--image-size", type=int, default=None)
    train.add_argument("--max-examples", type=int, default=None)
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--latent-dim", type=int, default=100)
    train.add_argument("--discriminators", type=int, default=5)
    train.add_argument("--aggregator", default="mean", choices=["mean", "max", "soft", "auto"])
    train.add_argument("--varied", action="store_true", help="discriminators of differing architecture")
    train.add_argument("--stacked", action="store_true",
                       help="the N identical discriminators stacked in one model (dcgman or 2-D "
                            "data): one graph for all N, faster to compile")
    train.add_argument("--loss", default="non_saturating")
    train.add_argument("--label-smoothing", type=float, default=None)
    train.add_argument("--base-filters", type=int, default=64)
    train.add_argument("--lr", type=float, default=1e-4)
    train.add_argument("--beta-1", type=float, default=0.5)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quick", action="store_true", help="tiny nets, 1 epoch, 1024 examples")
    train.add_argument("--out", default="runs/train")
    train.set_defaults(run=_train)

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
    battle.add_argument("--image-size", type=int, default=None)
    battle.add_argument("--max-examples", type=int, default=None)
    battle.add_argument("--batch-size", type=int, default=100)
    battle.add_argument("--tolerance", type=float, default=0.25)
    battle.add_argument("--seed", type=int, default=0)
    battle.set_defaults(run=_battle)

    from kmgan import augment_cli

    augment_cli.add_parser(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
