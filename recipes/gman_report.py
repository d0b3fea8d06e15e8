"""The GMAN report's experiment: GAN, GMAN, DCGAN, DCGMAN, then GAM battles.

Xu et al. (UCSD), "Generative Multi-Adversarial Neural Networks for Image
Generation": 5 discriminators with the mean aggregator, Adam (lr 1e-4,
beta_1 0.5), batch 64 for GAN/GMAN and 100 for DCGAN/DCGMAN, 20 epochs,
LeakyReLU 0.2, soft labels for GAN/GMAN; 32x32 inputs except DCGAN/DCGMAN on
MNIST (28x28). Ends in the GAM table of the report's Figure 13.

    python recipes/gman_report.py --dataset mnist cifar10          # the full run (GPU)
    python recipes/gman_report.py --quick                          # CPU, local MNIST subset
    python recipes/gman_report.py --dataset ../shared/data/mnist.npz --base-filters 32

Each model's run resumes: a stopped run continues from its last epoch
(`BackupAndRestore`) and a finished one is reloaded from its `game.keras`
when the same command runs again, so the table can be built across
sessions. `gam_table.md` / `.json` in `--out` (default
`results/gman_report`) hold the table and each battle's 2x2 table.
"""

import argparse
import os

import keras
import numpy as np

import kmgan
from kmgan import callbacks
from kmgan import cli_args
from kmgan.games import registry

LOCAL_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_5k.npz")
PAIRS = (("gan", "gman"), ("dcgan", "dcgman"))

#: The report's Figure 13: (dataset, battle) -> (r_test, r_samples, winner).
REPORT = {
    ("mnist", "GAN vs GMAN"): (1.21, 1.02, "GMAN"),
    ("mnist", "DCGAN vs DCGMAN"): (0.95, 1.10, "DCGMAN"),
    ("cifar10", "GAN vs GMAN"): (0.96, 12.7, "GMAN"),
    ("cifar10", "DCGAN vs DCGMAN"): (1.00, 1.37, "DCGMAN"),
}


def image_size_for(game, dataset):
    mnist_like = "mnist" in os.path.basename(dataset).lower()
    if game.startswith("dc") and mnist_like:
        return None  # 28x28
    return (32, 32)


def settings_of(game, dataset, args):
    """Everything that makes two trainings of `game` the same training."""
    return {
        "game": game,
        "dataset": _tag(dataset),
        "epochs": args.epochs,
        "batch_size": 100 if game.startswith("dc") else 64,
        "base_filters": args.base_filters,
        "max_examples": args.max_examples,
        "seed": args.seed,
        "backend": keras.backend.backend(),
    }


def train(game, dataset, args):
    """Trains `game` on `dataset`, or resumes or reloads an earlier run.

    A finished run (its `game.keras` beside a `run.json` with the same
    settings) is loaded, not retrained; a stopped one continues from its
    last epoch (`BackupAndRestore`).

    Returns:
        (the trained game, its run.json state).
    """
    settings = settings_of(game, dataset, args)
    out = os.path.join(args.out, _tag(dataset), game)
    state = kmgan.io.read_json(os.path.join(out, "run.json"), default=None)
    saved = os.path.join(out, "game.keras")
    if state and state.get("settings") == settings and os.path.exists(saved):
        print(f"  {game}: trained earlier ({state['train_wall_s']:.0f} s), loading", flush=True)
        return kmgan.saving.load_model(saved), state
    if state and state.get("settings") != settings:
        raise ValueError(
            f"{out} holds a run with other settings ({state.get('settings')}); "
            "delete it or pass another --out."
        )

    keras.utils.set_random_seed(args.seed)
    ds = kmgan.data.load(
        dataset,
        split="train",
        batch_size=settings["batch_size"],
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
    os.makedirs(out, exist_ok=True)
    kmgan.io.atomic_write_json(
        os.path.join(out, "run.json"), {"status": "training", "settings": settings}
    )
    progress = callbacks.TrainingProgress(os.path.join(out, "progress.json"))
    history = model.fit(
        ds,
        epochs=args.epochs,
        verbose=2 if args.verbose else 0,
        callbacks=[
            callbacks.BackupAndRestore(os.path.join(out, "backup")),
            progress,
            callbacks.SampleGrid(os.path.join(out, "samples"), every=max(1, args.epochs // 4)),
            keras.callbacks.CSVLogger(os.path.join(out, "log.csv"), append=True),
        ],
    )
    with kmgan.io.atomic_path(saved) as tmp:
        model.save(tmp)
    state = {
        "status": "trained",
        "settings": settings,
        "train_wall_s": round(progress.state["train_wall_s"], 1),
        "train_cpu_s": round(progress.state["train_cpu_s"], 1),
        "last_logs": {k: float(v[-1]) for k, v in history.history.items() if v},
    }
    kmgan.io.atomic_write_json(os.path.join(out, "run.json"), state)
    print(f"  {game}: {args.epochs} epochs in {state['train_wall_s']:.0f} s", flush=True)
    return model, state


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


def battle_row(dataset, m1, m2, result, states):
    """One line of the GAM table, with the report's numbers where it has them."""
    battle = f"{m1.upper()} vs {m2.upper()}"
    report = REPORT.get((_tag(dataset), battle))  # full MNIST only, not a subset
    return {
        "dataset": _tag(dataset),
        "battle": battle,
        "r_test": result.r_test,
        "r_samples": result.r_samples,
        "winner": {"M1": m1.upper(), "M2": m2.upper()}.get(result.winner, "tie"),
        "table": result.table,
        "report": dict(zip(("r_test", "r_samples", "winner"), report)) if report else None,
        "train_wall_s": {m: states[m]["train_wall_s"] for m in (m1, m2)},
    }


def _rate(value):
    return "-" if value is None else f"{100 * value:.1f}%"


def markdown(rows, args):
    """The GAM table and each battle's 2x2 table of error rates."""
    lines = [
        f"GAM battles, {args.epochs} epochs, base width {args.base_filters}, "
        f"backend {keras.backend.backend()}",
        "",
        "| dataset | models | r_test | r_samples | winner "
        "| the report: r_test / r_samples / winner |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        rep = r["report"]
        theirs = f"{rep['r_test']} / {rep['r_samples']} / {rep['winner']}" if rep else "-"
        lines.append(
            f"| {r['dataset']} | {r['battle']} | {r['r_test']:.2f} | {r['r_samples']:.2f} "
            f"| {r['winner']} | {theirs} |"
        )
    for r in rows:
        names = r["battle"].split(" vs ")
        lines += [
            "",
            f"{r['dataset']}, {r['battle']}: error rate of each discriminator (rows) on each "
            "generator's samples, and on real digits (train on the diagonal, test off it)",
            "",
            f"| | {names[0]} samples | {names[1]} samples | real, beside {names[0]} "
            f"| real, beside {names[1]} |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for i, name in enumerate(names):
            cells = r["table"][i]
            lines.append(
                f"| D of {name} | {_rate(cells[0]['samples'])} | {_rate(cells[1]['samples'])} "
                f"| {_rate(cells[0]['real'])} | {_rate(cells[1]['real'])} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--base-filters", type=int, default=64)
    parser.add_argument("--max-examples", type=int, default=None)
    parser.add_argument("--test-examples", type=int, default=10000)
    parser.add_argument(
        "--pairs",
        default="gan-gman,dcgan-dcgman",
        help="comma-separated battles M1-M2 (default: both of the report's)",
    )
    parser.add_argument("--verbose", action="store_true")
    cli_args.add_run_flags(
        parser, "results/gman_report", "local MNIST subset, small nets, 2 epochs (CPU, minutes)"
    )
    args = parser.parse_args(argv)
    pairs = [tuple(p.split("-")) for p in args.pairs.split(",")]
    unknown = sorted(set(pairs) - set(PAIRS))
    if unknown:
        parser.error(f"--pairs: {unknown} are not among {['-'.join(p) for p in PAIRS]}")
    if args.quick:
        args.dataset = [os.path.abspath(LOCAL_MNIST)]
        args.epochs, args.base_filters = 2, 16

    rows = []
    for dataset in args.dataset:
        print(f"{dataset}:", flush=True)
        trained = {g: train(g, dataset, args) for pair in pairs for g in pair}
        models = {g: model for g, (model, _) in trained.items()}
        states = {g: state for g, (_, state) in trained.items()}
        for m1, m2 in pairs:
            size = image_size_for(m1, dataset)
            x_test = real_images(dataset, "test", size, args.test_examples)
            x_train = real_images(dataset, "train", size, len(x_test))
            result = kmgan.metrics.battle(
                models[m1], models[m2], x_test, x_train=x_train, seed=args.seed
            )
            rows.append(battle_row(dataset, m1, m2, result, states))
            print(
                f"  {m1} vs {m2}: r_test {result.r_test:.2f}, r_samples "
                f"{result.r_samples:.2f}, winner {rows[-1]['winner']}",
                flush=True,
            )

    table = markdown(rows, args)
    os.makedirs(args.out, exist_ok=True)
    kmgan.io.atomic_write_text(os.path.join(args.out, "gam_table.md"), table)
    kmgan.io.atomic_write_json(os.path.join(args.out, "gam_table.json"), rows, default=str)
    print(table)


if __name__ == "__main__":
    main()
