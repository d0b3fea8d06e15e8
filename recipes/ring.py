"""GAN vs GMAN on the ring of 8 Gaussians: modes covered, high-quality samples.

The PacGAN protocol (Lin et al. 2018): 8 Gaussians on the unit circle with
sigma 0.01; 2,500 generated samples; a sample is high quality within 3 sigma
of its nearest mode; a mode is covered by at least one high-quality sample.
Needs no download. Writes a scatter plot per model and seed, and a results
table (Markdown and JSON).

    python recipes/ring.py --quick          # a few minutes on a CPU
    python recipes/ring.py --seeds 10       # the full comparison
"""

import argparse
import os
import time

import keras
import numpy as np

import kmgan
from kmgan.callbacks import save_scatter
from kmgan.games import registry


def build(model_name, seed, width, args_latent_dim=16):
    """The registry's "gan", or "gman-<aggregator>" with 5 varied discriminators."""
    name, _, aggregator = model_name.partition("-")
    options = dict(
        latent_dim=args_latent_dim,
        hidden_units=(width,) * 3,
        d_hidden_units=(width,) * 2,
        label_smoothing=0.0,
        seed=seed,
    )
    if aggregator:
        options.update(num_discriminators=5, varied=True, aggregator=aggregator)
    return registry.build(name, (2,), **options)


def run(model_name, seed, args):
    keras.utils.set_random_seed(seed)
    model = build(model_name, seed, args.width, args.latent_dim)
    model.compile(
        d_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5),
    )
    dataset = kmgan.data.mixture_dataset(
        "ring",
        num_samples=args.batch_size * args.steps_per_epoch,
        batch_size=args.batch_size,
        seed=seed,
    )
    start = time.time()
    model.fit(dataset, epochs=args.epochs, verbose=0)
    seconds = time.time() - start
    samples = model.sample(2500, seed=seed)
    coverage = kmgan.metrics.mixture_coverage(samples, "ring")
    real, _ = kmgan.data.ring_of_gaussians(2500, seed=seed)
    save_scatter(
        samples,
        os.path.join(args.out, f"{model_name}_seed{seed}.png"),
        reference=real,
        title=f"{model_name} seed {seed}: {coverage['modes_covered']}/8 modes, "
        f"{100 * coverage['high_quality_fraction']:.1f}% HQ",
    )
    return {
        "model": model_name,
        "seed": seed,
        "seconds": seconds,
        "modes_covered": coverage["modes_covered"],
        "high_quality": coverage["high_quality_fraction"],
        "kl_to_uniform": coverage["kl_to_uniform"],
    }


def summarize(rows, models):
    lines = [
        "| model | modes covered (of 8) | high-quality samples | KL to uniform | seeds |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in models:
        mine = [r for r in rows if r["model"] == name]
        modes = np.array([r["modes_covered"] for r in mine], float)
        hq = 100 * np.array([r["high_quality"] for r in mine])
        kl = np.array([r["kl_to_uniform"] for r in mine])
        lines.append(
            f"| {name} | {modes.mean():.1f} ± {modes.std():.1f} "
            f"| {hq.mean():.1f} ± {hq.std():.1f}% "
            f"| {kl.mean():.2f} | {len(mine)} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small nets, 1 seed, few steps")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps-per-epoch", type=int, default=250)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--models", default="gan,gman-mean,gman-max")
    parser.add_argument("--out", default="runs/ring")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.steps_per_epoch = 1, 12, 250
    os.makedirs(args.out, exist_ok=True)
    models = args.models.split(",")
    rows = []
    for seed in range(args.seeds):
        for name in models:
            row = run(name, seed, args)
            rows.append(row)
            print(
                f"{name:10s} seed {seed}: {row['modes_covered']}/8 modes, "
                f"{100 * row['high_quality']:.1f}% high quality, {row['seconds']:.0f}s",
                flush=True,
            )
    table = summarize(rows, models)
    header = (
        f"Ring of 8 (PacGAN protocol), {args.epochs * args.steps_per_epoch} steps of batch "
        f"{args.batch_size}, backend {keras.backend.backend()}\n\n"
    )
    kmgan.io.atomic_write_text(os.path.join(args.out, "results.md"), header + table + "\n")
    kmgan.io.atomic_write_json(os.path.join(args.out, "results.json"), rows)
    print(header + table)
    print(f"wrote {args.out}/results.md and scatter plots")


if __name__ == "__main__":
    main()
