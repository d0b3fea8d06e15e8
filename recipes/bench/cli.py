"""The benchmark's command line."""

import argparse
import json
import os
import sys

from .config import DEFAULT_GAMES
from .config import MODES
from .config import PRECISIONS
from .config import STACKED_CONV
from .config import TINY
from .config import flag_list
from .config import parse_game
from .jobs import backend_run
from .report import merge
from .report import render_markdown
from .report import write_text

#: The `--help` description.
DESCRIPTION = "Training-throughput benchmark: kmgan's games beside a plain PyTorch peer."

__all__ = [
    "DESCRIPTION",
    "build_parser",
    "config_from_args",
    "main",
]


def build_parser():
    p = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--backend-run",
        action="store_true",
        help="benchmark on the current KERAS_BACKEND and write JSON rows (the default action)",
    )
    p.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="combine JSON files of backend runs into one report (no benchmarking)",
    )
    p.add_argument(
        "--json", help="where a backend run writes its rows (default benchmark-<backend>.json)"
    )
    p.add_argument("--out", help="write the Markdown report here")
    p.add_argument(
        "--games",
        default=",".join(DEFAULT_GAMES),
        help="comma-separated: gan, gman-N, gman_stacked-N, mgan-K, madgan-K, megan-K",
    )
    p.add_argument(
        "--stacked",
        action="store_true",
        help="also time gman_stacked-N (N discriminators stacked in one model) beside every gman-N",
    )
    p.add_argument(
        "--stacked-conv",
        default="auto",
        choices=STACKED_CONV,
        help="grouped-convolution implementation of the stacked discriminators "
        "(kmgan.layers.StackedConv2D; auto: im2col on CPU, grouped on GPU)",
    )
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--base-filters", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=10, help="steps per timing")
    p.add_argument("--repeats", type=int, default=5, help="timings per configuration (median)")
    p.add_argument(
        "--warmup", type=int, default=1, help="untimed blocks of --steps after the first step"
    )
    p.add_argument(
        "--dataset-batches", type=int, default=16, help="batches of distinct data in the pipeline"
    )
    p.add_argument("--jit", default="on,off", help="on, off or on,off")
    p.add_argument(
        "--precision", default="float32,mixed_bfloat16", help="float32, mixed_bfloat16 or both"
    )
    p.add_argument("--modes", default="pipeline,device", help=f"from {MODES}")
    p.add_argument("--no-torch", action="store_true", help="leave out the PyTorch peer")
    p.add_argument(
        "--torch-device", default="auto", help="auto (the Keras backend's device), cpu, cuda"
    )
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads for the peer (default: PyTorch's choice, one per core)",
    )
    p.add_argument("--isolate", action="store_true", help="each configuration in its own process")
    p.add_argument(
        "--no-clear-session",
        action="store_true",
        help="skip keras.backend.clear_session() between configurations (in-process runs)",
    )
    p.add_argument("--only", help=argparse.SUPPRESS)
    p.add_argument(
        "--tiny",
        action="store_true",
        help="smoke configuration: gan, gman-2, base_filters 4, batch 8, one timed step",
    )
    p.add_argument(
        "--verbose", action="store_true", help="print tracebacks of failing configurations"
    )
    p.add_argument("--quiet", action="store_true", help="print no report or progress")
    return p


def config_from_args(args, argv):
    if args.tiny:
        for key, value in TINY.items():
            if f"--{key.replace('_', '-')}" not in " ".join(argv):
                setattr(args, key, value)
    games = [g.strip() for g in args.games.split(",") if g.strip()]
    for g in games:
        parse_game(g)
    if args.stacked:
        for g in list(games):
            family, n = parse_game(g)
            twin = f"gman_stacked-{n}"
            if family == "gman" and twin not in games:
                games.insert(games.index(g) + 1, twin)
    jit = [v == "on" for v in flag_list(args.jit, ("on", "off"), "jit")]
    for name in ("steps", "repeats", "batch_size", "dataset_batches"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1.")
    return {
        "games": games,
        "stacked_conv": args.stacked_conv,
        "image_shape": (args.image_size, args.image_size, args.channels),
        "latent_dim": args.latent_dim,
        "base_filters": args.base_filters,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "repeats": args.repeats,
        "warmup": max(0, args.warmup),
        "dataset_batches": args.dataset_batches,
        "jit": jit,
        "precisions": flag_list(args.precision, PRECISIONS, "precision"),
        "modes": flag_list(args.modes, MODES, "modes"),
        "torch": not args.no_torch,
        "torch_device": args.torch_device,
        "torch_threads": args.torch_threads,
        "isolate": args.isolate,
        "clear_session": not args.no_clear_session,
        "only": args.only,
        "verbose": args.verbose,
        "progress": not args.quiet,
    }


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.merge:
        return _report(merge(args.merge), args)
    # Before the backend starts: let JAX, TF and PyTorch share a GPU.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cfg = config_from_args(args, argv)
    result = backend_run(cfg, argv)
    import keras

    path = args.json or f"benchmark-{keras.backend.backend()}.json"
    write_text(path, json.dumps(result, indent=1, default=str))
    if cfg.get("only"):
        return result
    return _report(result, args)


def _report(result, args):
    """Writes (`--out`) and prints (unless `--quiet`) the Markdown report of `result`."""
    text = render_markdown(result)
    if args.out:
        write_text(args.out, text)
    if not args.quiet:
        print(text)
    return result
