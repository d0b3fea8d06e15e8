"""Mode coverage of GAN, GMAN, MGAN, MAD-GAN and MEGAN (PacGAN protocol).

Datasets (`--datasets`, comma separated):

* `ring`: 8 Gaussians on the unit circle, sigma 0.01 (PacGAN's 2D-ring);
* `grid`: 25 Gaussians at {-4,-2,0,2,4}^2, sigma 0.05 (PacGAN's 2D-grid);
* `ring_mgan`: the MGAN paper's ring (radius 2, covariance 0.02 I);
* `stacked`: stacked MNIST, 1,000 modes; 26,000 samples are labelled
  channel by channel by an MNIST classifier that this recipe trains first
  (tfds `mnist` by default, `--mnist ../shared/data/mnist_5k.npz` for the
  local subset) or loads (`--classifier path.keras`).

Scores (on 2,500 samples for the 2-D mixtures): modes covered (a mode is
covered by at least one high-quality sample, i.e. one within 3 sigma of
its centre), the fraction of high-quality samples, and the KL divergence of
the mode histogram from uniform. Each is reported as mean ± std over
`--seeds` seeds.

Equal size and equal compute. Every game gets the same step budget
(`--steps` generator rounds of batch `--batch-size`; one discriminator step
per round) and the same optimizers (Adam, `--lr`, beta_1 = 0.5). Sizes
are matched on *trainable parameter counts*: the plain GAN's generator
(an MLP with two hidden layers of `--width` units; on stacked MNIST a DCGAN
generator with `--base-filters`) fixes the generator budget, and every
other game's hidden width (base filters on images) is the integer whose
total generator-side parameter count is closest to it: all K generators
together, MEGAN's gate included. Likewise the discriminator side: the GAN's
D fixes the budget, GMAN's N discriminators together, MGAN's D and C (one
shared trunk, two heads) and MAD-GAN's (K+1)-way D match it. The recipe
checks that every count lies within ±10% of the GAN's (it stops when one
does not) and prints the counts in the table.

Writes `results.md` (a Markdown table per dataset beside the published
anchors), `results.json` (every run) and, for seed 0, a specialization
PNG per multi-generator game (samples coloured by generator; on stacked
MNIST the class histogram of each generator's red-channel digit).

    python recipes/mode_coverage.py --quick --out runs/mode_coverage_quick
    python recipes/mode_coverage.py --out runs/mode_coverage            # 10 seeds
    python recipes/mode_coverage.py --datasets stacked --mnist ../shared/data/mnist_5k.npz
    python recipes/mode_coverage.py --report runs/a/results.json runs/b/results.json

`results.json` is rewritten after every run, so a run stopped early still
leaves every finished run's scores; `--report` merges such files into one
table.
"""

import argparse
import math
import os
import sys
import time

import keras
import numpy as np

import kmgan
from kmgan.games import registry
from kmgan.metrics import stacked_mnist as smnist
from kmgan.metrics.mode_coverage import mixture_coverage
from kmgan.metrics.specialization import class_specialization
from kmgan.metrics.specialization import specialization_report

GAMES = ("gan", "gman", "mgan", "madgan", "megan")
MULTI = ("mgan", "madgan", "megan")
DATASETS = ("ring", "grid", "ring_mgan", "stacked")
TOLERANCE = 0.10

#: Published numbers on the same protocol (PacGAN, Lin et al. 2018, tables
#: 1 and 3; 10 trials).
ANCHORS = {
    "ring": [
        ("GAN (PacGAN table 1)", "6.3", "98.2%", ""),
        ("PacGAN4 (PacGAN table 1)", "7.8", "95.9%", ""),
    ],
    "grid": [
        ("GAN (PacGAN table 1)", "17.3", "94.8%", ""),
        ("PacGAN4 (PacGAN table 1)", "24.8", "93.6%", ""),
        ("VEEGAN (PacGAN table 1)", "24.6", "40%", ""),
    ],
    "stacked": [
        ("DCGAN (PacGAN table 3)", "78.9", "", "4.50"),
        ("PacGAN4 (PacGAN table 3)", "1000", "", "0.07"),
    ],
}
PAPER_NOTE = (
    "MGAN / MAD-GAN papers' own numbers: the local MGAN extract "
    "(/work/shared/papers/mgan-hoang.txt, the 'MGGAN' preprint) shows its 2-D ring "
    "(radius 2, covariance 0.02 I) only as a figure (all 8 modes covered, no table) and "
    "reports only Inception scores (CIFAR-10 8.23, STL-10 9.09, ImageNet 9.27); it has no "
    "stacked-MNIST table. The MAD-GAN extract (madgan-gda-thesis-reinhart.txt) is a thesis "
    "whose results chapters are empty. Their published tables (MGAN ICLR 2018, Ghosh et al. "
    "CVPR 2018) are not in /work/shared/papers and are not quoted here."
)


# ---------------------------------------------------------------- sizing


#: The players on the generator's side (MEGAN's gate with its experts).
GENERATOR_SIDE = ("generator", "gate")


def side_params(game):
    """(generator-side, discriminator-side) trainable parameter counts of a game."""
    counts = [0, 0]
    for player, variables in game.player_variables().items():
        side = 0 if player in GENERATOR_SIDE else 1
        counts[side] += int(sum(int(np.prod(v.shape)) for v in variables))
    return tuple(counts)


def closest_width(params, target, low=1, high=4096):
    """The integer width whose `params(width)` is closest to `target`
    (parameter counts grow with the width: bisection)."""
    cache = {}

    def count(w):
        if w not in cache:
            cache[w] = params(w)
        return cache[w]

    lo, hi = low, high
    while lo < hi:
        mid = (lo + hi) // 2
        if count(mid) < target:
            lo = mid + 1
        else:
            hi = mid
    candidates = [w for w in (lo - 1, lo) if w >= low]
    return min(candidates, key=lambda w: abs(count(w) - target))


class Spec:
    """Sizes of one dataset's networks (see the module docstring).

    Games come from `kmgan.games.registry` with their default networks at
    the widths that match the GAN's parameter counts.
    """

    def __init__(self, dataset, args):
        self.image = dataset == "stacked"
        self.latent = args.latent_dim if not self.image else args.image_latent_dim
        self.width = args.width
        self.d_width = args.d_width or args.width
        self.filters = args.base_filters
        self.extra = dict(
            num_generators=args.num_generators,
            num_discriminators=args.num_discriminators,
            gate_encoding_dim=args.gate_encoding,
            gate_hidden_units=(args.gate_units,) * 2,
            beta=args.beta,
            lam=args.lam,
            aggregator="mean",
            label_smoothing=0.0,
        )
        self.widths = {}

    def registry_name(self, game):
        """On stacked MNIST the GAN and GMAN take DCGAN's nets."""
        return f"dc{game}" if self.image and game in ("gan", "gman") else game

    def build_game(self, game, wg, wd, seed=None):
        """The game with generator width `wg` and discriminator width `wd`."""
        spec = registry.get(self.registry_name(game))
        options = {k: v for k, v in self.extra.items() if k in spec.options()}
        if self.image:
            options.update(base_filters=wg, d_base_filters=wd)
        else:
            options.update(hidden_units=(wg, wg), d_hidden_units=(wd, wd))
        shape = (28, 28, 3) if self.image else (2,)
        return spec.build(
            shape, latent_dim=self.latent, seed=0 if seed is None else seed, **options
        )

    def _matched_width(self, game, side, bases, targets):
        """Width of `game`'s `side` (0: G, 1: D) whose parameters come closest
        to `targets[side]`, the other side at its base width."""
        if (game, side) in (("gman", 0), ("megan", 1)):
            return bases[side]  # GMAN's generator, MEGAN's discriminator: the GAN's own

        def params(w):
            widths = (w, bases[1]) if side == 0 else (bases[0], w)
            return side_params(self.build_game(game, *widths))[side]

        return closest_width(params, targets[side], high=4 * bases[side])

    def sizes(self, game):
        """(generator width, discriminator width, G params, D params)."""
        if game not in self.widths:
            base_g = self.filters if self.image else self.width
            base_d = self.filters if self.image else self.d_width
            if game == "gan":
                wg, wd = base_g, base_d
            else:
                bases = (base_g, base_d)
                targets = side_params(self.build_game("gan", *bases))
                wg, wd = (self._matched_width(game, side, bases, targets) for side in (0, 1))
            self.widths[game] = (wg, wd) + side_params(self.build_game(game, wg, wd))
        return self.widths[game]

    def check(self, games):
        _, _, tg, td = self.sizes("gan")
        for game in games:
            wg, wd, pg, pd = self.sizes(game)
            for side, p, t in (("generator", pg, tg), ("discriminator", pd, td)):
                if abs(p - t) > TOLERANCE * t:
                    raise ValueError(
                        f"{game}: {side} parameters {p} are not within ±10% of the GAN's {t} "
                        f"(width {wg if side == 'generator' else wd}); change --width, "
                        "--base-filters or --num-generators."
                    )

    def build(self, game, seed, args):
        wg, wd, _, _ = self.sizes(game)
        return self.build_game(game, wg, wd, seed=seed)


# ---------------------------------------------------------------- data


def mixture_of(dataset):
    if dataset == "ring_mgan":
        return kmgan.data.get_mixture("ring", radius=2.0, std=math.sqrt(0.02))
    return kmgan.data.get_mixture(dataset)


class Mnist:
    """The MNIST digits and classifier of the stacked-MNIST runs (built once)."""

    def __init__(self, args):
        self.args = args
        self._arrays = None
        self._classifier = None

    def arrays(self):
        if self._arrays is None:
            x, y = kmgan.data.load_arrays(self.args.mnist, "train")
            x, y = np.asarray(x), np.asarray(y)
            if x.ndim == 4:
                x = x[..., 0]
            if self.args.mnist_limit:
                x, y = x[: self.args.mnist_limit], y[: self.args.mnist_limit]
            self._arrays = (x, y)
        return self._arrays

    def classifier(self):
        if self._classifier is not None:
            return self._classifier
        args = self.args
        if args.classifier and os.path.exists(args.classifier):
            self._classifier = keras.saving.load_model(args.classifier)
            print(f"loaded the MNIST classifier {args.classifier}", flush=True)
            return self._classifier
        x, y = self.arrays()
        try:
            test = kmgan.data.load_arrays(args.mnist, "test")
        except Exception:  # noqa: BLE001 - a validation split is optional
            test = None
        start = time.time()
        model, acc = smnist.train_mnist_classifier(
            x, y, epochs=args.classifier_epochs, validation=test, seed=0
        )
        print(
            f"trained the MNIST classifier on {len(x)} digits in {time.time() - start:.0f}s"
            + (f", test accuracy {acc:.4f}" if acc is not None else ""),
            flush=True,
        )
        path = args.classifier or os.path.join(args.out, "mnist_classifier.keras")
        model.save(path)
        print(f"saved {path}", flush=True)
        self._classifier = model
        return model


# ---------------------------------------------------------------- one run


def run(game, dataset, seed, spec, args, mnist):
    keras.utils.set_random_seed(seed)
    model = spec.build(game, seed, args)
    model.compile(
        d_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5),
    )
    steps = args.stacked_steps if dataset == "stacked" else args.steps
    if dataset == "stacked":
        images, _ = mnist.arrays()
        data = smnist.stacked_mnist_dataset(
            images, num_samples=args.batch_size * steps, batch_size=args.batch_size, seed=seed
        )
    else:
        data = kmgan.data.mixture_dataset(
            mixture_of(dataset),
            num_samples=args.batch_size * steps,
            batch_size=args.batch_size,
            seed=seed,
        )
    start = time.time()
    model.fit(data, epochs=1, verbose=0)
    seconds = time.time() - start
    row = {
        "game": game,
        "dataset": dataset,
        "seed": seed,
        "seconds": seconds,
        "steps": steps,
        "g_params": spec.sizes(game)[2],
        "d_params": spec.sizes(game)[3],
        "widths": spec.sizes(game)[:2],
    }
    png = os.path.join(args.out, f"specialization_{dataset}_{game}_seed{seed}.png")
    if dataset == "stacked":
        classifier = mnist.classifier()
        samples = model.sample(args.stacked_samples, seed=seed)
        cov = smnist.stacked_mnist_coverage(samples, classifier)
        row.update(
            modes_covered=cov["modes_covered"],
            high_quality=None,
            kl_to_uniform=cov["kl_to_uniform"],
            num_modes=cov["num_modes"],
        )
        if game in MULTI and seed == 0:
            per = model.sample_per_generator(args.specialization_samples, seed=seed)
            red = lambda x: classifier.predict(x[..., :1], verbose=0)  # noqa: E731
            report = class_specialization(per, red, num_classes=10)
            report.save_png(png, title=f"{game}: red-channel digit per generator")
            row["specialization_png"] = png
    else:
        mixture = mixture_of(dataset)
        cov = mixture_coverage(model.sample(2500, seed=seed), mixture)
        row.update(
            modes_covered=cov["modes_covered"],
            high_quality=cov["high_quality_fraction"],
            kl_to_uniform=cov["kl_to_uniform"],
            num_modes=cov["num_modes"],
        )
        if game in MULTI and seed == 0:
            specialization_report(
                model, args.specialization_samples, mixture=mixture, seed=seed, png=png
            )
            row["specialization_png"] = png
    return row


# ---------------------------------------------------------------- tables


def _ms(values, fmt="{:.1f}", scale=1.0):
    v = np.asarray([x for x in values if x is not None], "float64") * scale
    if not len(v):
        return "n/a"
    if not np.all(np.isfinite(v)):
        return "inf"
    return (fmt + " ± " + fmt).format(v.mean(), v.std())


def summarize(rows, dataset, games):
    mine = [r for r in rows if r["dataset"] == dataset]
    if not mine:
        return ""
    m = mine[0]["num_modes"]
    lines = [
        f"| game | modes covered (of {m}) | high-quality samples | KL to uniform "
        "| G params | D params | s / run | seeds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for game in games:
        rs = [r for r in mine if r["game"] == game]
        if not rs:
            continue
        lines.append(
            f"| {game} | {_ms([r['modes_covered'] for r in rs])} "
            f"| {_ms([r['high_quality'] for r in rs], scale=100.0)}"
            f"{'%' if rs[0]['high_quality'] is not None else ''} "
            f"| {_ms([r['kl_to_uniform'] for r in rs], '{:.2f}')} "
            f"| {rs[0]['g_params']:,} | {rs[0]['d_params']:,} "
            f"| {np.mean([r['seconds'] for r in rs]):.0f} | {len(rs)} |"
        )
    anchors = ANCHORS.get("ring" if dataset == "ring" else dataset, [])
    if anchors:
        lines.append("| *published anchors* | | | | | | | |")
        for name, modes, hq, kl in anchors:
            lines.append(f"| {name} | {modes} | {hq} | {kl} | | | | 10 |")
    return "\n".join(lines)


TITLES = {
    "ring": "Ring of 8 (unit circle, sigma 0.01; 2,500 samples)",
    "grid": "Grid of 25 ({-4..4}^2, sigma 0.05; 2,500 samples)",
    "ring_mgan": "MGAN ring (radius 2, covariance 0.02 I; 2,500 samples)",
    "stacked": "Stacked MNIST (1,000 modes)",
}


def _write_json(args, rows, wall):
    kmgan.io.atomic_write_json(
        os.path.join(args.out, "results.json"),
        {"args": vars(args), "wall_seconds": wall, "runs": rows},
        default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o),
    )


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="ring and grid, 2 seeds, 3,000 steps, small MLPs (~10 min on 2 CPUs)",
    )
    p.add_argument("--datasets", default="ring,grid,stacked")
    p.add_argument("--games", default=",".join(GAMES))
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--steps", type=int, default=20000, help="rounds on the 2-D mixtures")
    p.add_argument("--stacked-steps", type=int, default=20000, help="rounds on stacked MNIST")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent-dim", type=int, default=16, help="z size on the 2-D mixtures")
    p.add_argument("--image-latent-dim", type=int, default=100, help="z size on stacked MNIST")
    p.add_argument("--width", type=int, default=128, help="the GAN generator's hidden width")
    p.add_argument("--d-width", type=int, default=None, help="the GAN D's hidden width")
    p.add_argument("--base-filters", type=int, default=64, help="DCGAN width on stacked MNIST")
    p.add_argument("--num-generators", type=int, default=4, help="K of MGAN, MAD-GAN, MEGAN")
    p.add_argument("--num-discriminators", type=int, default=3, help="N of GMAN")
    p.add_argument("--beta", type=float, default=0.1, help="MGAN's diversity weight")
    p.add_argument("--lam", type=float, default=100.0, help="MEGAN's load-balancing weight")
    p.add_argument("--gate-encoding", type=int, default=8, help="MEGAN gate's m")
    p.add_argument("--gate-units", type=int, default=16, help="MEGAN gate's hidden width")
    p.add_argument("--specialization-samples", type=int, default=500)
    p.add_argument("--stacked-samples", type=int, default=smnist.PROTOCOL_SAMPLES)
    p.add_argument("--mnist", default="mnist", help="tfds name or local MNIST path (.npz, idx)")
    p.add_argument("--mnist-limit", type=int, default=None, help="use the first N digits only")
    p.add_argument(
        "--classifier",
        default=None,
        help="MNIST classifier .keras: loaded when it exists, else trained and saved",
    )
    p.add_argument("--classifier-epochs", type=int, default=5)
    p.add_argument("--out", default="runs/mode_coverage")
    p.add_argument(
        "--report",
        nargs="+",
        metavar="RESULTS_JSON",
        default=None,
        help="train nothing: merge these results.json files (e.g. one per "
        "dataset, or a run stopped early) into <out>/results.md",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.datasets = "ring,grid"
        args.seeds, args.steps, args.width = min(args.seeds, 2), min(args.steps, 3000), 64
    return args


def report(paths, out):
    """Writes `<out>/results.md` from saved `results.json` files; returns its text.

    Each file's runs keep the settings it was run with: the header names
    every file's step budget, seeds actually completed and wall time.
    """
    rows, headers = [], []
    for path in paths:
        saved = kmgan.io.read_json(path)  # a damaged file: DamagedFileError naming it
        runs, a = saved["runs"], saved["args"]
        rows += runs
        seeds = sorted({r["seed"] for r in runs})
        headers.append(
            f"- `{path}`: {', '.join(sorted({r['dataset'] for r in runs}))}; "
            f"seeds {seeds[0]}..{seeds[-1]} ({len(runs)} runs); batch {a['batch_size']}, "
            f"{a['steps']} steps (2-D) / {a['stacked_steps']} (stacked), width {a['width']}, "
            f"lr {a['lr']}, K = {a['num_generators']}, GMAN N = {a['num_discriminators']}; "
            f"{saved['wall_seconds']:.0f}s of wall time"
        )
    games = [g for g in GAMES if any(r["game"] == g for r in rows)]
    datasets = [d for d in DATASETS if any(r["dataset"] == d for r in rows)]
    sections = ["Runs merged:\n" + "\n".join(headers)]
    for dataset in datasets:
        sections.append(f"### {TITLES[dataset]}\n\n" + summarize(rows, dataset, games))
    sections.append(PAPER_NOTE)
    text = "\n\n".join(sections) + "\n"
    kmgan.io.atomic_write_text(os.path.join(out, "results.md"), text)
    return text


def main(argv=None):
    args = parse(argv)
    if args.report:
        print(report(args.report, args.out))
        return None
    os.makedirs(args.out, exist_ok=True)
    datasets = [d for d in args.datasets.split(",") if d]
    games = [g for g in args.games.split(",") if g]
    for d in datasets:
        if d not in DATASETS:
            raise ValueError(f"Unknown dataset {d!r}; pick from {DATASETS}.")
    for g in games:
        if g not in GAMES:
            raise ValueError(f"Unknown game {g!r}; pick from {GAMES}.")
    print(
        f"backend {keras.backend.backend()}; datasets {datasets}; games {games}; "
        f"{args.seeds} seeds",
        flush=True,
    )
    start = time.time()
    specs = {d: Spec(d, args) for d in datasets}
    for spec in specs.values():
        spec.check(games)  # equal sizes, before anything trains
    mnist = Mnist(args)
    if "stacked" in datasets:
        mnist.classifier()  # the recipe step, before any GAN trains
    rows = []
    for dataset in datasets:
        spec = specs[dataset]
        for game in games:
            wg, wd, pg, pd = spec.sizes(game)
            print(
                f"{dataset:8s} {game:7s} widths G {wg} / D {wd}: {pg:,} G params, {pd:,} D params",
                flush=True,
            )
        for seed in range(args.seeds):
            for game in games:
                row = run(game, dataset, seed, spec, args, mnist)
                rows.append(row)
                _write_json(args, rows, time.time() - start)  # partial results survive a kill
                hq = row["high_quality"]
                print(
                    f"{dataset:8s} {game:7s} seed {seed}: {row['modes_covered']}/"
                    f"{row['num_modes']} modes"
                    + (f", {100 * hq:.1f}% HQ" if hq is not None else "")
                    + f", KL {row['kl_to_uniform']:.2f}, {row['seconds']:.0f}s",
                    flush=True,
                )
    wall = time.time() - start
    header = (
        f"Mode coverage, backend {keras.backend.backend()}, {args.seeds} seeds, batch "
        f"{args.batch_size}, {args.steps} steps (2-D) / {args.stacked_steps} (stacked), "
        f"K = {args.num_generators} generators, GMAN N = {args.num_discriminators}; "
        f"wall time {wall:.0f}s.\nCommand: `python recipes/mode_coverage.py "
        + (" ".join(argv) if argv is not None else " ".join(sys.argv[1:]))
        + "`\n"
    )
    sections = [header]
    for dataset in datasets:
        sections.append(f"### {TITLES[dataset]}\n\n" + summarize(rows, dataset, games))
    sections.append(PAPER_NOTE)
    text = "\n\n".join(sections) + "\n"
    kmgan.io.atomic_write_text(os.path.join(args.out, "results.md"), text)
    _write_json(args, rows, wall)
    print(text)
    print(f"wrote {args.out}/results.md, results.json and specialization PNGs", flush=True)
    return rows


if __name__ == "__main__":
    main()
