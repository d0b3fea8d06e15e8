"""`kmgan eval`: score a saved generator against real data.

    kmgan eval runs/gman/generator.keras --data mnist --split test --num 10000 \\
        --metrics fid,kid,pr,dc,classes --inception-weights default_1.pt --json eval.json
    kmgan eval runs/cgan/game.keras --data ../shared/data/mnist.npz --features domain

The file may hold a generator, a whole game (its generator, or a
multi-generator game's sampler), a conditional generator ``G(z, y)`` (labels
are drawn uniformly and the label accuracy is reported too) or a
multi-generator sampler (its mixture, or one expert with
``--generator-index``), told apart as ``kmgan sample`` does
(``kmgan.samplers``). ``--num`` images are sampled and streamed once through
the feature network (and the domain classifier); the real split's features
are cached under ``~/.cache/kmgan/features``.

``--features inception2015`` (default) uses the 2015 FID Inception network
(``--inception-weights``, default ``$KMGAN_INCEPTION_2015``): FID / KID / PR
/ DC comparable with papers that use it at the same sample counts.
``--features domain`` uses the penultimate features of the dataset's domain
classifier instead (fast, for monitoring; not comparable with papers).
``classes`` (classes covered, KL to the real class distribution) always uses
the domain classifier, trained once on ``--train-split`` and cached under
``~/.cache/kmgan/domain``.
"""

import os
import sys
import time

import numpy as np

from kmgan import cli_args
from kmgan import io as kio

FEATURES = ("inception2015", "domain")
DEFAULT_CACHE_ROOT = os.path.join("~", ".cache", "kmgan")


def add_arguments(parser):
    """Adds the `kmgan eval` options to an argparse parser.

    Args:
        parser: an `argparse.ArgumentParser` (or a sub-command parser).

    Returns:
        The parser.
    """
    from kmgan.metrics.inception_2015 import ENV_VAR

    parser.add_argument("model", help=".keras generator, sampler, conditional generator or game")
    parser.add_argument(
        "--data",
        required=True,
        help="dataset name (mnist, fashion_mnist, ...) or local .npz / folder",
    )
    parser.add_argument("--split", default="test", help="real split to compare with")
    parser.add_argument(
        "--train-split", default="train", help="split the domain classifier is trained on"
    )
    parser.add_argument("--num", type=int, default=10000, help="generated images")
    parser.add_argument(
        "--real-num",
        type=int,
        default=None,
        help="real images (default: --num, or the whole split if smaller)",
    )
    parser.add_argument(
        "--metrics",
        default="fid,kid,pr,dc,classes",
        help="comma-separated: fid, kid, pr, dc, classes",
    )
    parser.add_argument(
        "--features",
        default="inception2015",
        choices=FEATURES,
        help="feature network of fid/kid/pr/dc",
    )
    parser.add_argument(
        "--inception-weights",
        default=os.environ.get(ENV_VAR),
        help=f"2015 Inception TorchScript or .weights.h5 (default ${ENV_VAR})",
    )
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--batch-size", type=int, default=50, help="images per step")
    parser.add_argument("--seed", type=int, default=0, help="seed of z, labels and KID subsets")
    parser.add_argument(
        "--generator-index",
        type=int,
        default=-1,
        help="multi-generator sampler: expert to draw from (-1: the mixture)",
    )
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--kid-subset-size", type=int, default=1000)
    parser.add_argument("--pr-k", type=int, default=3)
    parser.add_argument("--dc-k", type=int, default=5)
    parser.add_argument(
        "--min-count", type=int, default=1, help="images a class needs to count as covered"
    )
    parser.add_argument("--fid-method", default="sqrtm", choices=("sqrtm", "eigh"))
    parser.add_argument("--domain-epochs", type=int, default=5)
    parser.add_argument(
        "--domain-max-examples",
        type=int,
        default=None,
        help="train the domain classifier on the first N images only",
    )
    parser.add_argument(
        "--cache-dir", default=DEFAULT_CACHE_ROOT, help="root of the features/ and domain/ caches"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def add_parser(subparsers):
    """Registers `eval` on the `kmgan` command's sub-parsers; returns the sub-parser."""
    summary = "FID / KID / precision-recall / density-coverage / classes of a generator"
    return cli_args.add_subcommand(
        subparsers, "eval", summary, __doc__, add_arguments, run_args, full_doc=True
    )


def _check_args(args, metrics):
    from kmgan.metrics.scores import FEATURE_METRICS

    for name in ("num", "batch_size", "kid_subsets", "pr_k", "dc_k", "min_count"):
        if getattr(args, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be positive; got {getattr(args, name)}.")
    if args.real_num is not None and args.real_num < 2:
        raise ValueError(f"--real-num must be at least 2; got {args.real_num}.")
    need = 1
    if any(m in FEATURE_METRICS for m in metrics):
        need = 2
    if "kid" in metrics:
        need = max(need, args.kid_subset_size)
    if "pr" in metrics:
        need = max(need, args.pr_k + 1)
    if "dc" in metrics:
        need = max(need, args.dc_k + 1)
    if args.num < need:
        raise ValueError(
            f"--num {args.num} is too few for {list(metrics)}: at least {need} "
            "(KID's --kid-subset-size, or k + 1 for pr/dc)."
        )
    return need


def _image_shape(model):
    shape = tuple(int(v) for v in model.outputs[0].shape[1:])
    return shape + (1,) if len(shape) == 2 else shape


#: The flags `evaluate_file` reports under "settings", in that order.
_SETTINGS = ("kid_subsets", "kid_subset_size", "pr_k", "dc_k", "min_count", "fid_method", "seed")
#: Those of them that are options of `kmgan.metrics.scores.feature_scores`.
_SCORE_OPTIONS = ("kid_subsets", "kid_subset_size", "pr_k", "dc_k", "seed", "fid_method")


def evaluate_file(args):
    """Runs `kmgan eval` on parsed arguments.

    Args:
        args: the parsed `kmgan eval` arguments.

    Returns:
        The results dict (what ``--json`` writes).
    """
    from kmgan import augment
    from kmgan import data
    from kmgan import samplers
    from kmgan.metrics import domain
    from kmgan.metrics import features as feats
    from kmgan.metrics.scores import FEATURE_METRICS
    from kmgan.metrics.scores import feature_scores
    from kmgan.metrics.scores import parse_metrics

    start = time.time()
    metrics = parse_metrics(args.metrics)
    need = _check_args(args, metrics)
    feature_metrics = [m for m in metrics if m in FEATURE_METRICS]
    cache_root = os.path.expanduser(args.cache_dir)
    progress = not args.no_progress

    extractor = None
    if feature_metrics and args.features == "inception2015":
        from kmgan.metrics.inception_2015 import inception_2015

        # Raises, saying where to get the file, before anything is sampled.
        extractor = inception_2015(weights=args.inception_weights, batch_size=args.batch_size)

    model = samplers.load(args.model)
    kind = samplers.sampler_kind(model)
    sampler = augment.sampler_from_model(
        model, generator_index=args.generator_index, batch_size=max(args.batch_size, 256)
    )
    x_real, _ = data.load_arrays(args.data, args.split)
    real_shape = x_real.shape[1:] + (1,) if x_real.ndim == 3 else x_real.shape[1:]
    if _image_shape(model) != tuple(real_shape):
        raise ValueError(
            f"{args.model} makes images of shape {_image_shape(model)} but "
            f"{args.data} ({args.split}) holds {tuple(real_shape)}."
        )
    num_real = min(args.real_num or args.num, len(x_real))
    if feature_metrics and num_real < need:
        raise ValueError(
            f"{args.data} ({args.split}) gives {num_real} real images; "
            f"{feature_metrics} need at least {need}."
        )

    classifier = None
    if (
        "classes" in metrics
        or kind == "conditional"
        or (feature_metrics and args.features == "domain")
    ):
        classifier = domain.domain_classifier(
            args.data,
            args.train_split,
            epochs=args.domain_epochs,
            max_examples=args.domain_max_examples,
            seed=0,
            cache_dir=os.path.join(cache_root, "domain"),
        )
        if extractor is None and feature_metrics:
            extractor = classifier

    num_classes = None
    if kind == "conditional":
        num_classes = sampler.num_classes or classifier.num_classes
        if num_classes > classifier.num_classes:
            raise ValueError(
                f"The generator knows {num_classes} classes but the domain "
                f"classifier of {args.data} only {classifier.num_classes}."
            )

    real_feats = None
    if feature_metrics:
        if progress:
            print(f"real features: {num_real} images of {args.data} ({args.split})", flush=True)
        real_feats = feats.real_features(
            args.data,
            args.split,
            x_real,
            extractor,
            num_samples=num_real,
            batch_size=args.batch_size,
            cache_dir=os.path.join(cache_root, "features"),
            progress=progress,
        )

    rng = np.random.default_rng(args.seed)
    requested = []
    draws = [0]

    def sample_fn(n):
        seed = args.seed + draws[0]
        draws[0] += 1
        if kind == "conditional":
            labels = rng.integers(0, num_classes, n).astype(np.int32)
            requested.append(labels)
            return sampler(labels, seed=seed)
        return sampler(n, seed=seed)

    extractors = [e for e in (extractor,) if e is not None]
    if classifier is not None and classifier is not extractor:
        extractors.append(classifier)
    if progress:
        print(f"generated: {args.num} images from {args.model} ({kind})", flush=True)
    results = feats.extract(
        sample_fn, extractors, num_samples=args.num, batch_size=args.batch_size, progress=progress
    )
    settings = {name: getattr(args, name) for name in _SETTINGS}
    settings["generator_index"] = args.generator_index if kind == "multi" else None
    scores = {}
    if feature_metrics:
        scores.update(
            feature_scores(
                results[0][0],
                real_feats,
                feature_metrics,
                **{name: settings[name] for name in _SCORE_OPTIONS},
            )
        )
    if classifier is not None:
        predicted = results[-1][1].argmax(axis=-1)
        counts = np.bincount(predicted, minlength=classifier.num_classes)
        if "classes" in metrics:
            scores["classes_covered"] = int((counts >= args.min_count).sum())
            scores["kl_to_real"] = classifier.kl_from_histogram(counts)
        if kind == "conditional":
            scores["label_accuracy"] = float((predicted == np.concatenate(requested)).mean())
    out = {
        "model": os.path.abspath(args.model),
        "kind": kind,
        "data": str(args.data),
        "split": args.split,
        "num_generated": int(args.num),
        "num_real": int(num_real) if feature_metrics else None,
        "metrics": scores,
        "features": getattr(extractor, "name", None),
        "features_key": feats.extractor_tag(extractor) if extractor is not None else None,
        "comparable_to_papers": bool(getattr(extractor, "comparable_to_papers", False)),
        "settings": settings,
        "seconds": round(time.time() - start, 1),
    }
    if classifier is not None:
        out["domain_classifier"] = {
            "name": classifier.name,
            "test_accuracy": classifier.test_accuracy,
            "num_classes": classifier.num_classes,
            "class_histogram": counts.tolist(),
        }
    return out


_ROWS = (
    ("fid", "FID", "{:.3f}"),
    ("kid", "KID", "{:.5f}"),
    ("kid_std", "KID std", "{:.5f}"),
    ("precision", "precision", "{:.4f}"),
    ("recall", "recall", "{:.4f}"),
    ("density", "density", "{:.4f}"),
    ("coverage", "coverage", "{:.4f}"),
    ("classes_covered", "classes covered", "{}"),
    ("kl_to_real", "KL(classes || real)", "{:.4f}"),
    ("label_accuracy", "label accuracy", "{:.4f}"),
)


def format_table(result):
    """The results as a two-column text table.

    Args:
        result: a dict from :func:`evaluate_file`.

    Returns:
        The table, a string.
    """
    scores = result["metrics"]
    lines = [
        f"{result['model']} ({result['kind']}) vs {result['data']} [{result['split']}]: "
        f"{result['num_generated']} generated"
        + (f", {result['num_real']} real" if result["num_real"] else "")
    ]
    if result["features"]:
        note = (
            "comparable to papers" if result["comparable_to_papers"] else "not comparable to papers"
        )
        lines.append(f"features: {result['features']} ({note})")
    width = max(len(label) for _, label, _ in _ROWS)
    for key, label, fmt in _ROWS:
        if key not in scores:
            continue
        value = fmt.format(scores[key])
        if key == "classes_covered":
            value += f" / {result['domain_classifier']['num_classes']}"
        lines.append(f"  {label:<{width}}  {value}")
    return "\n".join(lines)


def run_args(args):
    """Runs `kmgan eval`, prints the table and writes the JSON.

    Args:
        args: the parsed `kmgan eval` arguments.

    Returns:
        The results dict.
    """
    result = evaluate_file(args)
    print(format_table(result))
    if args.json:
        kio.atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return result


def build_parser():
    """The stand-alone `kmgan eval` parser."""
    return cli_args.standalone_parser("kmgan eval", __doc__, add_arguments)


def main(argv=None):
    args = build_parser().parse_args(argv)
    run_args(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
