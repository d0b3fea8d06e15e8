"""Reinhart's thesis study: MAD-GAN vs cGAN vs traditional augmentation for classifiers.

"Multi-Agent Diverse Generative Adversarial Networks for Generative Data
Augmentation" (N. Reinhart, HdM Stuttgart, 2025): on MNIST, Fashion-MNIST and
CIFAR-10, train a conditional GAN and a MAD-GAN; label the MAD-GAN's samples
with an auxiliary classifier trained on the real data with traditional
augmentation, keeping only confident ones; train the thesis's simple CNNs on
real data (100 %, 50 %, 10 % of the training set, stratified) plus 0x, 0.5x,
1x, 2x as many generated images; compare with no augmentation and with
geometric, photometric and noise augmentation; 3 seeds. The claim tested,
honestly either way: with scarce real data (10 %), does MAD-GAN augmentation
beat traditional and cGAN augmentation?

Two confounds are closed by default. Classifiers train for the same number
of optimizer steps whatever their training set's size (`--train-steps auto`;
with a fixed number of epochs, adding generated images also adds steps, which
can by itself lift an undertrained 10 % run; `--train-steps epochs` restores
that protocol). And (`--gan-data subset`) each GAN is trained on exactly the
real subset its classifier gets, with epochs scaled to the same number of steps:
a GAN trained once on the full set would smuggle the other 90 % of the data
(for the cGAN, with labels) into the "10 %" runs. `--gan-data full` trains
each GAN once on the whole training set instead.

    python recipes/gda.py --quick                     # CPU minutes, local MNIST subset
    python recipes/gda.py                             # mnist, fashion_mnist, cifar10 (GPU)
    python recipes/gda.py --datasets ../shared/data/mnist_5k.npz --gan-epochs 20 --epochs 10

Each dataset's results go to `<out>/<dataset>/` (results.csv, results.md,
accuracy_vs_ratio.png, generative_metrics.csv, samples_*.png); the verdicts
to `<out>/summary.md`. A game kmgan cannot import (ConditionalGAN, MADGAN) is
reported and its method skipped, never faked.
"""

import argparse
import math
import os
import sys
import time

import numpy as np

from kmgan import augment_cli
from kmgan import cli_args
from kmgan.io import atomic_write_text

LOCAL_MNIST = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "mnist_5k.npz"
)
DATASETS = ("mnist", "fashion_mnist", "cifar10")
# Per dataset: (GAN epochs, classifier epochs) of the full run.
FULL_EPOCHS = {"mnist": (20, 10), "fashion_mnist": (30, 10), "cifar10": (50, 20)}


def _tag(dataset):
    return os.path.splitext(os.path.basename(str(dataset).rstrip("/")))[0]


def _mean_std(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values))


def verdict(rows, fraction):
    """Answers the thesis's question at one real fraction, from result rows.

    For each method: the mean test accuracy over seeds at each generated
    ratio; a generative method's "best" is its best ratio (picked on the test
    split, so mildly optimistic), and "1x" is the ratio 1 value. Traditional
    augmentation's best is the best of its families.

    Args:
        rows: result rows of `kmgan.augment.run_sweep`.
        fraction: the real fraction to judge (e.g. 0.1).

    Returns:
        A list of Markdown lines.
    """
    sub = [r for r in rows if abs(r["real_fraction"] - fraction) < 1e-9]
    if not sub:
        return [f"- no runs at real fraction {fraction:g}"]
    by = {}
    for r in sub:
        by.setdefault((r["method"], r["kind"], r["generated_ratio"]), []).append(r)
    summary = {}
    for (method, kind, ratio), rs in by.items():
        mean, std = _mean_std([r["accuracy"] for r in rs])
        gen = float(np.mean([r["n_generated"] for r in rs]))
        base_kind = kind.split(",")[0]  # "conditional, per subset" -> "conditional"
        summary.setdefault(method, {"kind": base_kind, "ratios": {}})["ratios"][ratio] = (
            mean,
            std,
            gen,
        )

    def best(method):
        ratios = summary[method]["ratios"]
        ratio = max(ratios, key=lambda g: ratios[g][0])
        return ratio, ratios[ratio]

    lines = []
    trad = [m for m, s in summary.items() if s["kind"] == "traditional"]
    cands = {}
    if "none" in summary:
        cands["no augmentation"] = ("none",) + best("none")
    if trad:
        m = max(trad, key=lambda t: best(t)[1][0])
        cands[f"traditional (best: {m})"] = (m,) + best(m)
    for m, s in summary.items():
        if s["kind"] in ("conditional", "unlabelled"):
            cands[m] = (m,) + best(m)
    for label, (m, ratio, (mean, std, gen)) in cands.items():
        extra = (
            f" at {ratio:g}x ({gen:.0f} generated)"
            if summary[m]["kind"] in ("conditional", "unlabelled")
            else ""
        )
        lines.append(f"- {label}: accuracy {mean:.4f} ± {std:.4f}{extra}")
    mad = [m for m, s in summary.items() if s["kind"] == "unlabelled"]
    if not mad:
        lines.append("- MAD-GAN: not run, so the claim cannot be judged here.")
        return lines
    for m in mad:
        _, (mean, std, gen) = best(m)
        if gen == 0:
            lines.append(
                f"- {m}: the confidence filter kept no sample, so {m} added nothing; "
                "no evidence either way."
            )
            continue
        for label, (other, _, (o_mean, o_std, _)) in cands.items():
            if other == m:
                continue
            diff = mean - o_mean
            noise = max(std, o_std)
            if abs(diff) <= noise:
                word = "ties with (difference within one seed std)"
            else:
                word = "BEATS" if diff > 0 else "LOSES TO"
            lines.append(f"- {m} {word} {label}: {diff:+.4f}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=list(DATASETS),
        help="tfds names and/or local paths (.npz, idx or CIFAR folders)",
    )
    parser.add_argument(
        "--seeds", nargs="+", type=int, default=None, help="default 0 1 2 (--quick: 0)"
    )
    parser.add_argument("--real-fractions", nargs="+", type=float, default=[1.0, 0.5, 0.1])
    parser.add_argument("--generated-ratios", nargs="+", type=float, default=[0.0, 0.5, 1.0, 2.0])
    parser.add_argument("--epochs", type=int, default=None, help="classifier epochs")
    parser.add_argument("--gan-epochs", type=int, default=None)
    parser.add_argument(
        "--train-steps",
        default="auto",
        help="optimizer steps of every classifier (default auto: what the "
        "epochs take on the whole real set, for every method and "
        "fraction); 'epochs' trains by epochs instead (the thesis's "
        "protocol, where added images also add steps)",
    )
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--max-test", type=int, default=None)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--gan-base-filters", type=int, default=64)
    parser.add_argument(
        "--madgan-layout",
        default="first",
        choices=["shared", "first", "independent"],
        help="MAD-GAN generator layout (default first: the image benchmark's best MAD-GAN "
        "on full MNIST, FID 53.8 against 64.0 for the paper's shared layers)",
    )
    parser.add_argument(
        "--gan-data",
        default="subset",
        choices=["subset", "full"],
        help="subset (default): GANs trained on each real subset the "
        "classifiers get; full: once on the whole training set",
    )
    parser.add_argument(
        "--inception",
        default="auto",
        help="auto | imagenet | none | random | weights path (see kmgan augment)",
    )
    cli_args.add_run_flags(
        parser,
        "runs/gda",
        quick_help="local MNIST subset, a few hundred images, 1 epoch, tiny GANs",
        seed=None,
    )
    args = parser.parse_args(argv)

    datasets = args.datasets
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    if args.quick and args.datasets == list(DATASETS):
        if not os.path.exists(LOCAL_MNIST):
            raise SystemExit(f"--quick needs the local MNIST subset at {LOCAL_MNIST}.")
        datasets = [os.path.normpath(LOCAL_MNIST)]
    summary = [
        "# Generative data augmentation: verdicts",
        "",
        f"Command: `python recipes/gda.py {' '.join(argv or sys.argv[1:])}`",
        "",
    ]
    for dataset in datasets:
        tag = _tag(dataset)
        key = augment_cli.dataset_key(dataset, (0, 0, 3 if "cifar" in tag.lower() else 1))
        gan_epochs, epochs = FULL_EPOCHS.get(key, (20, 10))
        cli = [
            "--data",
            str(dataset),
            "--out",
            os.path.join(args.out, tag),
            "--seeds",
            *map(str, seeds),
            "--real-fractions",
            *map(str, args.real_fractions),
            "--generated-ratios",
            *map(str, args.generated_ratios),
            "--epochs",
            str(args.epochs or epochs),
            "--gan-epochs",
            str(args.gan_epochs or gan_epochs),
            "--threshold",
            str(args.threshold),
            "--inception",
            args.inception,
            "--gan-base-filters",
            str(args.gan_base_filters),
            "--gan-data",
            args.gan_data,
            "--madgan-layout",
            args.madgan_layout,
            "--title",
            f"Generative data augmentation on {tag}",
        ]
        if args.train_steps != "epochs":
            cli += ["--train-steps", str(args.train_steps)]
        if args.max_train:
            cli += ["--max-train", str(args.max_train)]
        if args.max_test:
            cli += ["--max-test", str(args.max_test)]
        if args.quick:
            cli += ["--quick"]
        print(f"=== {tag}: kmgan augment {' '.join(cli)}", flush=True)
        start = time.time()
        rows = augment_cli.run_args(augment_cli.build_parser().parse_args(cli))
        print(f"=== {tag}: {len(rows)} runs in {time.time() - start:.0f}s", flush=True)
        fraction = min(r["real_fraction"] for r in rows)
        lines = verdict(rows, fraction)
        summary += [
            f"## {tag}: real fraction {fraction:g}",
            "",
            *lines,
            "",
            f"Tables: `{os.path.join(args.out, tag, 'results.md')}`",
            "",
        ]
        print("\n".join(lines), flush=True)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "summary.md")
    atomic_write_text(path, "\n".join(summary) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
