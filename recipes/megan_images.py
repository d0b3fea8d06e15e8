"""MEGAN's experts on MNIST, before and after detaching the gate's features, beside DCGAN.

The table of issue 17: at equal steps, on the full MNIST training split,
with base width 32 and batch 64 for every run (CPU-sized; the paper's
width is 64),

* `dcgan`: kmgan's DCGAN (`kmgan.nets.dcgan_generator`/`dcgan_discriminator`);
* `megan-paper`: MEGAN as Algorithm 1 of Park et al. reads (the default):
  L_adv reaches each expert through its image and, through the gate that
  reads its features f_i, for every z;
* `megan-detached`: `MEGAN(detach_features=True)`: the gate reads
  stop-gradient features, so an expert learns only from the images the
  gate chose it for.

Each MEGAN run has n = 10 experts (`kmgan.nets.megan_experts`), the gate of
`kmgan.nets.megan_gate` (m = 100), lambda = 100, tau = 0.5 exp(-0.001
iter); every player Adam(2e-4, beta_1 = 0.5). After training, the MNIST
domain classifier (`kmgan.metrics.domain_classifier`, trained once on the
real training split and cached) scores

* every expert on the same `--samples` z: its mean confidence (the
  classifier's top softmax probability) and its dominant class (so
  `distinct` counts distinct dominant classes among the experts); and on
  the z the gate gives it (`gated`: `--mixture` z drawn, each sent to the
  expert the gate's Gumbel-max picks);
* the mixture (`--mixture` samples): its confidence, classes with at least
  1% of the samples, and the classifier FID to the first `--mixture` test
  images (the classifier's 128-d features: fast, comparable only between
  runs scored by this classifier; the 2015 Inception FID takes about an
  hour per run on a 2-core CPU).

D's loss is the mean over the last epoch. Usage:

    python recipes/megan_images.py --data ../shared/data/mnist.npz --out runs/megan_images
    python recipes/megan_images.py --runs megan-detached --epochs 2
    python recipes/megan_images.py --quick --out /tmp/megan_quick

Resumes: each run trains with `kmgan.callbacks.BackupAndRestore` in
`<out>/<run>/backup` (a stopped run continues from its last finished
epoch and ends as the uninterrupted one would), `results.json` and
`results.md` are rewritten atomically after each run, and a run whose row
(same name and settings) is in `results.json` is skipped. Every run writes
`<out>/<run>/experts.png` (one row per expert, the same z per column).
`--quick`: two epochs of 256 digits, tiny nets, 4 experts.
"""

import argparse
import hashlib
import os
import time

import keras
import numpy as np

import kmgan
from kmgan import io as kio
from kmgan.callbacks import save_image_grid

LOCAL_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist.npz")

#: run name -> MEGAN keyword arguments (None: the DCGAN baseline).
RUNS = {
    "dcgan": None,
    "megan-paper": {"detach_features": False},
    "megan-detached": {"detach_features": True},
}


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=LOCAL_MNIST, help="a labelled Keras-style .npz (MNIST)")
    p.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, from {list(RUNS)}")
    p.add_argument("--epochs", type=int, default=1, help="passes over the training split")
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--base-filters", type=int, default=32)
    p.add_argument("--num-generators", type=int, default=10)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--encoding-dim", type=int, default=100, help="the gate's m")
    p.add_argument("--gate-units", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--samples", type=int, default=500, help="samples per expert (shared z)")
    p.add_argument("--mixture", type=int, default=5000, help="mixture samples (and test images)")
    p.add_argument("--domain-epochs", type=int, default=5)
    p.add_argument("--domain-max-examples", type=int, default=None)
    p.add_argument("--cache-dir", default=None, help="the domain classifier's cache")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/megan_images")
    p.add_argument("--quick", action="store_true", help="2 epochs of 256 digits, tiny nets")
    args = p.parse_args(argv)
    args.runs = [r for r in args.runs.split(",") if r]
    unknown = sorted(set(args.runs) - set(RUNS))
    if unknown:
        p.error(f"unknown runs {unknown}; choose from {list(RUNS)}")
    if args.quick:
        args.epochs, args.max_examples = 2, args.max_examples or 256
        args.batch_size, args.base_filters = 32, 4
        args.num_generators, args.latent_dim = 4, 8
        args.encoding_dim, args.gate_units = 4, 8
        args.samples, args.mixture = 20, 200
        args.domain_epochs, args.domain_max_examples = 1, 1000
    return args


def settings(args):
    """What a run's row depends on (a saved row with other settings is rerun)."""
    keys = (
        "data",
        "epochs",
        "max_examples",
        "batch_size",
        "base_filters",
        "num_generators",
        "latent_dim",
        "encoding_dim",
        "gate_units",
        "lr",
        "samples",
        "mixture",
        "seed",
    )
    out = {k: getattr(args, k) for k in keys}
    out["data"] = os.path.basename(os.path.normpath(str(args.data)))
    return out


def build(run, image_shape, args):
    """The compiled game of a run."""
    w, zdim, seed = args.base_filters, args.latent_dim, args.seed
    d = kmgan.nets.dcgan_discriminator(image_shape, w, seed=seed + 1)
    adam = [keras.optimizers.Adam(args.lr, beta_1=0.5) for _ in range(3)]
    if RUNS[run] is None:
        g = kmgan.nets.dcgan_generator(zdim, image_shape, w, seed=seed)
        game = kmgan.GAN(g, d, seed=seed)
        game.compile(d_optimizer=adam[0], g_optimizer=adam[1])
        return game
    n = args.num_generators
    experts = kmgan.nets.megan_experts(n, zdim, image_shape, w, seed=seed)
    gate = kmgan.nets.megan_gate(
        n,
        zdim,
        int(experts.outputs[1].shape[-1]),
        encoding_dim=args.encoding_dim,
        hidden_units=(args.gate_units,) * 2,
        seed=seed + 2,
    )
    game = kmgan.MEGAN(experts, d, gate=gate, seed=seed, **RUNS[run])
    game.compile(d_optimizer=adam[0], g_optimizer=adam[1], gate_optimizer=adam[2])
    return game


def state_digest(game):
    """SHA-256 prefix of every weight, optimizer variable and noise state."""
    digest = hashlib.sha256()
    for v in list(game.weights) + list(game.optimizer.variables):
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(v)).tobytes())
    return digest.hexdigest()[:16]


def train(run, args, callbacks=()):
    """Trains (or resumes) one run; returns `(game, history, seconds)`."""
    keras.utils.set_random_seed(args.seed)
    data = kmgan.data.load(
        args.data,
        batch_size=args.batch_size,
        seed=args.seed,
        labels=False,
        max_examples=args.max_examples,
    )
    image_shape = tuple(int(s) for s in data.element_spec.shape[1:])
    game = build(run, image_shape, args)
    backup = kmgan.callbacks.BackupAndRestore(os.path.join(args.out, run, "backup"))
    start = time.time()
    history = game.fit(data, epochs=args.epochs, verbose=0, callbacks=[backup, *callbacks])
    return game, history.history, time.time() - start


def expert_scores(per_expert, clf):
    """Per-expert confidence and dominant class of samples (K, n, ...)."""
    k, n = per_expert.shape[:2]
    probs = clf.predict_proba(per_expert.reshape((k * n,) + per_expert.shape[2:]))
    probs = probs.reshape(k, n, -1)
    labels = probs.argmax(-1)
    dominant = [int(np.bincount(lab, minlength=probs.shape[-1]).argmax()) for lab in labels]
    return {
        "confidence": [round(float(c), 4) for c in probs.max(-1).mean(axis=1)],
        "dominant": dominant,
        "dominant_share": [round(float(np.mean(lab == d)), 3) for lab, d in zip(labels, dominant)],
        "distinct": len(set(dominant)),
    }


def gated_samples(game, num, seed):
    """`num` mixture samples, each from the expert the gate draws, and that expert."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((num, game.latent_dim)).astype("float32")
    images, chosen = [], []
    for s in range(0, num, 500):
        zz = keras.ops.convert_to_tensor(z[s : s + 500])
        samples = keras.ops.convert_to_numpy(game.experts(zz, training=False)[0])
        logits = keras.ops.convert_to_numpy(game.gate_logits(zz))
        pick = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
        images.append(samples[np.arange(len(pick)), pick])
        chosen.append(pick)
    return np.concatenate(images), np.concatenate(chosen)


def gated_scores(images, chosen, k, clf):
    """Per-expert confidence and dominant class on the z the gate gave each expert."""
    probs = clf.predict_proba(images)
    conf, dominant = [], []
    for i in range(k):
        mine = probs[chosen == i]
        if not len(mine):  # the gate gave this expert none of the z
            conf.append(None)
            dominant.append(None)
            continue
        conf.append(round(float(mine.max(-1).mean()), 4))
        dominant.append(int(np.bincount(mine.argmax(-1), minlength=probs.shape[-1]).argmax()))
    return {
        "confidence": conf,
        "dominant": dominant,
        "distinct": len({d for d in dominant if d is not None}),
        "usage": np.bincount(chosen, minlength=k).tolist(),
    }


def score(run, game, clf, real_test, args):
    """The row's sample scores (see the module docstring)."""
    row = {}
    if RUNS[run] is None:
        rng = np.random.default_rng(args.seed + 7)
        z = rng.standard_normal((args.mixture, game.latent_dim)).astype("float32")
        mixture = np.asarray(game.generator.predict(z, batch_size=500, verbose=0))
    else:
        per = np.asarray(game.sample_per_generator(args.samples, seed=args.seed + 3))
        row["experts"] = expert_scores(per, clf)
        mixture, chosen = gated_samples(game, args.mixture, args.seed + 7)
        row["gated"] = gated_scores(mixture, chosen, game.num_generators, clf)
        grid = np.asarray(game.sample_per_generator(10, seed=args.seed + 5))
        path = os.path.join(args.out, run, "experts.png")
        save_image_grid(grid.reshape((-1,) + grid.shape[2:]), path, rows=grid.shape[0])
    probs = clf.predict_proba(mixture)
    counts = np.bincount(probs.argmax(-1), minlength=probs.shape[-1])
    row["mixture_confidence"] = round(float(probs.max(-1).mean()), 4)
    row["classes"] = int((counts >= 0.01 * len(mixture)).sum())
    row["kl_to_real"] = round(float(clf.kl_from_histogram(counts)), 4)
    n = min(len(mixture), len(real_test))
    row["classifier_fid"] = round(
        float(kmgan.metrics.fid(mixture[:n], real_test[:n], features=clf)), 2
    )
    return row


def run_row(run, args, clf, real_test, callbacks=()):
    """Trains and scores one run: its results row."""
    game, history, seconds = train(run, args, callbacks)
    row = {"run": run, "settings": settings(args)}
    row["d_loss"] = round(float(history["d_loss"][-1]), 4)
    row["g_loss"] = round(float(history["g_loss"][-1]), 4)
    row["steps"] = int(keras.ops.convert_to_numpy(game.optimizer.iterations))
    row["train_s"] = round(seconds, 1)
    row["state"] = state_digest(game)
    row.update(score(run, game, clf, real_test, args))
    return row


def markdown(rows):
    lines = [
        "| run | steps | D loss | min expert conf | experts >= 0.8 | distinct dominant "
        "| gated min conf | gated distinct | mixture conf | classes | classifier FID |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        e, g = r.get("experts"), r.get("gated")
        if e is None:
            expert_cells = "- | - | - | - | -"
        else:
            k = len(e["confidence"])
            good = sum(c >= 0.8 for c in e["confidence"])
            gated_min = min(c for c in g["confidence"] if c is not None)
            expert_cells = (
                f"{min(e['confidence']):.2f} | {good}/{k} | {e['distinct']}/{k} "
                f"| {gated_min:.2f} | {g['distinct']}/{k}"
            )
        lines.append(
            f"| {r['run']} | {r['steps']} | {r['d_loss']:.3f} | {expert_cells} "
            f"| {r['mixture_confidence']:.2f} | {r['classes']} | {r['classifier_fid']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None, callbacks=()):
    """Runs the missing runs; returns every row of `results.json` asked for.

    Args:
        argv: command-line arguments.
        callbacks: extra `fit` callbacks of every run (tests).
    """
    args = parse(argv)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "results.json")
    rows = {r["run"]: r for r in kio.read_json(path, default=[])}
    cache = {} if args.cache_dir is None else {"cache_dir": args.cache_dir}
    clf = kmgan.metrics.domain_classifier(
        args.data, epochs=args.domain_epochs, max_examples=args.domain_max_examples, **cache
    )
    real_test, _ = kmgan.data.load_arrays(args.data, "test")
    real_test = np.asarray(real_test)[: args.mixture].astype("float32") / 127.5 - 1.0
    for run in args.runs:
        if run in rows and rows[run]["settings"] == settings(args):
            print(f"{run}: done, skipped", flush=True)
            continue
        rows[run] = run_row(run, args, clf, real_test, callbacks)
        kio.atomic_write_json(path, list(rows.values()))
        kio.atomic_write_text(os.path.join(args.out, "results.md"), markdown(list(rows.values())))
        print(markdown([rows[run]]).splitlines()[-1], flush=True)
    asked = [rows[r] for r in args.runs]
    print(markdown(asked), flush=True)
    return asked


if __name__ == "__main__":
    main()
