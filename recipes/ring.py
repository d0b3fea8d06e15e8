"""Multi-player games against a GAN on the ring of 8 Gaussians.

The PacGAN protocol (Lin et al. 2018): 8 Gaussians on the unit circle with
sigma 0.01; 2,500 generated samples; a sample is high quality (HQ) within
3 sigma of its nearest mode; a mode is covered by at least one HQ sample.
Needs no download.

Models (`--models`, comma separated), all built by `kmgan.games.registry`
with MLPs of `--layers` hidden layers of `--width` units (generators) and
two hidden layers of `--d-width` units (discriminators):

* `gan`: one generator, one discriminator;
* `gman-mean`, `gman-max`: one generator against `--num-discriminators`
  varied discriminators (GMAN, the aggregator after the dash);
* `mgan`: `--num-generators` generators, a discriminator and a classifier
  (MGAN);
* `madgan`: `--num-generators` generators against a (K+1)-way
  discriminator (MAD-GAN).

Every model gets the same steps, batch and optimizers (Adam, `--lr`,
beta_1 = 0.5). The table gives each model's trainable parameter counts on
the generator and discriminator sides. The default models are `gan`,
`gman-mean` and `mgan`. MAD-GAN is left out by default: its generators
share every layer but the last, and on this ring it was slow and erratic
(K = 8, 10,000 steps, seeds 0-2: 8, 2 and 8 modes at 82%, 0.3% and 40% HQ).

Writes `results.md` (the table: mean ± std over seeds and every seed's
numbers), `results.json` (every run; rewritten after each finished run) and
a scatter plot per model and seed (a colour per generator for MGAN and
MAD-GAN). Running the same command again skips the (model, seed) runs
already in `results.json`; other settings need another `--out`.

    python recipes/ring.py --quick          # 3 seeds, a few minutes on a CPU
    python recipes/ring.py                  # 10 seeds, longer runs
"""

import argparse
import os
import time

import keras
import numpy as np

import kmgan
from kmgan.callbacks import save_scatter
from kmgan.games import registry

MODELS = ("gan", "gman-mean", "gman-max", "mgan", "madgan")
MULTI_GENERATOR = ("mgan", "madgan")
NUM_SAMPLES = 2500  # the PacGAN protocol's

#: Defaults of the two presets; a flag given on the command line wins.
PRESETS = {
    "quick": dict(
        seeds=3,
        steps=5000,
        out="runs/ring_quick",
    ),
    "full": dict(
        seeds=10,
        steps=10000,
        out="runs/ring",
    ),
}

#: The arguments that decide a run's result (with the backend): a resumed
#: `results.json` must have been written with the same ones.
SETTINGS = (
    "steps",
    "batch_size",
    "layers",
    "width",
    "d_width",
    "lr",
    "latent_dim",
    "num_generators",
    "num_discriminators",
)

LABELS = {
    "gan": "GAN",
    "gman-mean": "GMAN (N={n}, mean)",
    "gman-max": "GMAN (N={n}, max)",
    "mgan": "MGAN (K={k})",
    "madgan": "MAD-GAN (K={k})",
}


# ---------------------------------------------------------------- one run


def build(model_name, seed, args):
    """The registry's game for `model_name` (see the module docstring)."""
    name, _, aggregator = model_name.partition("-")
    options = dict(
        latent_dim=args.latent_dim,
        hidden_units=(args.width,) * args.layers,
        d_hidden_units=(args.d_width,) * 2,
        seed=seed,
    )
    if name in ("gan", "gman"):
        options.update(label_smoothing=0.0)  # the registry's GAN smooths labels by default
    if name == "gman":
        options.update(
            num_discriminators=args.num_discriminators, varied=True, aggregator=aggregator
        )
    if name in MULTI_GENERATOR:
        options.update(num_generators=args.num_generators)
    return registry.build(name, (2,), **options)


def side_params(game):
    """(generator-side, discriminator-side) trainable parameter counts."""
    counts = [0, 0]
    for player, variables in game.player_variables().items():
        side = 0 if player == "generator" else 1
        counts[side] += int(sum(int(np.prod(v.shape)) for v in variables))
    return tuple(counts)


def draw(model, model_name, seed):
    """`NUM_SAMPLES` samples and, for multi-generator games, which generator
    made each (a uniform draw per sample, as `model.sample` does)."""
    if model_name not in MULTI_GENERATOR:
        return model.sample(NUM_SAMPLES, seed=seed), None
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((NUM_SAMPLES, model.latent_dim)).astype("float32")
    which = rng.integers(0, model.num_generators, size=NUM_SAMPLES).astype("int32")
    return model.generate(z, generator=which), which


def run(model_name, seed, args):
    """Trains one model from `seed`; returns its row of results."""
    keras.utils.set_random_seed(seed)
    model = build(model_name, seed, args)
    optimizer = lambda: keras.optimizers.Adam(args.lr, beta_1=0.5)  # noqa: E731
    # Many rounds per call: the same result, a third less CPU for these tiny nets.
    model.compile(d_optimizer=optimizer(), g_optimizer=optimizer(), steps_per_execution=50)
    dataset = kmgan.data.mixture_dataset(
        "ring", num_samples=args.batch_size * args.steps, batch_size=args.batch_size, seed=seed
    )
    wall, cpu = time.time(), time.process_time()
    model.fit(dataset, epochs=1, verbose=0)
    wall, cpu = time.time() - wall, time.process_time() - cpu
    samples, which = draw(model, model_name, seed)
    coverage = kmgan.metrics.mixture_coverage(samples, "ring")
    kl = coverage["kl_to_uniform"]
    g_params, d_params = side_params(model)
    row = {
        "model": model_name,
        "seed": seed,
        "modes_covered": coverage["modes_covered"],
        "high_quality": coverage["high_quality_fraction"],
        "kl_to_uniform": float(kl) if np.isfinite(kl) else None,  # None: no HQ sample
        "g_params": g_params,
        "d_params": d_params,
        "seconds": wall,
        "cpu_seconds": cpu,
    }
    real, _ = kmgan.data.ring_of_gaussians(NUM_SAMPLES, seed=seed)
    save_scatter(
        samples,
        os.path.join(args.out, f"{model_name}_seed{seed}.png"),
        reference=real,
        colors=which,
        title=f"{label(model_name, args)}, seed {seed}: {row['modes_covered']}/8 modes, "
        f"{100 * row['high_quality']:.1f}% HQ",
    )
    return row


# ---------------------------------------------------------------- table


def label(model_name, args):
    return LABELS[model_name].format(k=args.num_generators, n=args.num_discriminators)


def _mean_std(values, fmt):
    v = np.asarray(values, "float64")
    return f"{fmt.format(v.mean())} ± {fmt.format(v.std())}"


def summarize(rows, args):
    """The Markdown table of `rows`: a line per model, mean ± std over seeds
    and every seed's modes / HQ %."""
    lines = [
        "| model | modes covered (of 8) | HQ samples | KL to uniform | G params | D params "
        "| CPU s / run | seeds | per seed: modes, HQ % |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in MODELS:
        mine = sorted((r for r in rows if r["model"] == name), key=lambda r: r["seed"])
        if not mine:
            continue
        kls = [r["kl_to_uniform"] for r in mine]
        finite = [k for k in kls if k is not None]
        kl = _mean_std(finite, "{:.2f}") if finite else "n/a"
        if len(finite) < len(kls):
            kl += f" (no HQ sample in {len(kls) - len(finite)})"
        per_seed = ", ".join(f"{r['modes_covered']} / {100 * r['high_quality']:.0f}" for r in mine)
        lines.append(
            f"| {label(name, args)} | {_mean_std([r['modes_covered'] for r in mine], '{:.1f}')} "
            f"| {_mean_std([100 * r['high_quality'] for r in mine], '{:.1f}')}% | {kl} "
            f"| {mine[0]['g_params']:,} | {mine[0]['d_params']:,} "
            f"| {np.mean([r['cpu_seconds'] for r in mine]):.0f} | {len(mine)} | {per_seed} |"
        )
    return "\n".join(lines)


def header(args):
    return (
        f"Ring of 8 (PacGAN protocol: sigma 0.01, {NUM_SAMPLES:,} samples, HQ = within "
        f"3 sigma); {args.steps:,} steps of batch {args.batch_size}, Adam {args.lr:g} "
        f"(beta_1 0.5), generators {args.layers}x{args.width}, discriminators "
        f"2x{args.d_width}, z of {args.latent_dim}; backend {keras.backend.backend()}."
    )


# ---------------------------------------------------------------- resume


def settings_of(args):
    return dict({k: getattr(args, k) for k in SETTINGS}, backend=keras.backend.backend())


def load_finished(path, settings):
    """The runs already in `path` (none when it does not exist).

    Raises:
        ValueError: when `path` was written with other settings.
    """
    saved = kmgan.io.read_json(path, default=None)
    if saved is None:
        return []
    if saved["settings"] != settings:
        changed = sorted(k for k in settings if saved["settings"].get(k) != settings[k])
        raise ValueError(
            f"{path} holds runs with other settings ({', '.join(changed)}): pass another "
            "--out, or delete the file to start again."
        )
    return saved["runs"]


def write_results(args, rows):
    kmgan.io.atomic_write_json(
        os.path.join(args.out, "results.json"), {"settings": settings_of(args), "runs": rows}
    )
    table = summarize(rows, args)
    kmgan.io.atomic_write_text(
        os.path.join(args.out, "results.md"), header(args) + "\n\n" + table + "\n"
    )
    return table


# ---------------------------------------------------------------- main


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 seeds of 5,000 steps")
    p.add_argument("--seeds", type=int, default=None, help="how many seeds (quick 3, full 10)")
    p.add_argument("--first-seed", type=int, default=0, help="seeds run from this one up")
    p.add_argument("--steps", type=int, default=None, help="rounds (quick 5,000, full 10,000)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=2, help="generator hidden layers")
    p.add_argument("--width", type=int, default=128, help="generator hidden width")
    p.add_argument("--d-width", type=int, default=128, help="discriminator hidden width")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--num-generators", type=int, default=8, help="K of MGAN and MAD-GAN")
    p.add_argument("--num-discriminators", type=int, default=5, help="N of GMAN")
    p.add_argument("--models", default="gan,gman-mean,mgan", help=f"some of {MODELS}")
    p.add_argument("--out", default=None, help="quick: runs/ring_quick; full: runs/ring")
    args = p.parse_args(argv)
    for key, value in PRESETS["quick" if args.quick else "full"].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv=None):
    """Trains every (model, seed) not yet in `results.json`; returns all rows."""
    args = parse(argv)
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            raise ValueError(f"Unknown model {m!r}; pick from {MODELS}.")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "results.json")
    rows = load_finished(path, settings_of(args))
    done = {(r["model"], r["seed"]) for r in rows}
    print(header(args), flush=True)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in models:
            if (name, seed) in done:
                continue
            row = run(name, seed, args)
            rows.append(row)
            write_results(args, rows)  # a stopped run keeps every finished one
            print(
                f"{name:10s} seed {seed}: {row['modes_covered']}/8 modes, "
                f"{100 * row['high_quality']:.1f}% HQ, {row['seconds']:.0f}s "
                f"({row['cpu_seconds']:.0f}s CPU)",
                flush=True,
            )
    print("\n" + write_results(args, rows))
    print(f"wrote {args.out}/results.md, results.json and scatter plots")
    return rows


if __name__ == "__main__":
    main()
