"""Argparse pieces shared by the `kmgan` sub-commands and the recipes.

Each sub-command module (`kmgan.train_cli`, `kmgan.eval_cli`,
`kmgan.augment_cli`) defines `add_arguments(parser)` and a runner; the
helpers here register it on the `kmgan` command or build its stand-alone
parser, and add the flags most commands and recipes share.
"""

import argparse

__all__ = ["add_run_flags", "add_size_flags", "add_subcommand", "image_size", "standalone_parser"]


def add_subcommand(subparsers, name, help, doc, add_arguments, run, full_doc=False):
    """Registers a sub-command on the `kmgan` command's sub-parsers.

    Args:
        subparsers: the object returned by `parser.add_subparsers()`.
        name: the sub-command, e.g. `"eval"`.
        help: its line in `kmgan --help`.
        doc: its module docstring, the description in `kmgan <name> --help`.
        add_arguments: `add_arguments(parser)` adds its options.
        run: `run(args)` runs it; set as the parsed arguments' `run`.
        full_doc: show the whole docstring as written (else its first
            paragraph, re-wrapped).

    Returns:
        The sub-parser.
    """
    if full_doc:
        options = {"description": doc, "formatter_class": argparse.RawDescriptionHelpFormatter}
    else:
        options = {"description": doc.split("\n\n")[0]}
    parser = subparsers.add_parser(name, help=help, **options)
    add_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def standalone_parser(prog, doc, add_arguments):
    """The parser of a sub-command run on its own (`python -m kmgan.<name>_cli`).

    Args:
        prog: the program name shown in usage lines, e.g. `"kmgan eval"`.
        doc: the module docstring, shown as written.
        add_arguments: `add_arguments(parser)` adds its options.

    Returns:
        The `argparse.ArgumentParser`.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return parser


def add_run_flags(parser, out, quick_help=None, seed=0):
    """Adds `--seed`, `--quick` and `--out`, the flags of every training run.

    Args:
        parser: an `argparse.ArgumentParser` (or a sub-command parser).
        out: the default output folder.
        quick_help: what `--quick` shrinks the run to (its help text).
        seed: the default `--seed`, or None for no `--seed` flag (commands
            that take several seeds).

    Returns:
        The parser.
    """
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", default=out)
    return parser


def add_size_flags(parser):
    """Adds `--image-size` and `--max-examples`, the data-loading limits.

    Read them back with :func:`image_size` and `args.max_examples`.

    Args:
        parser: an `argparse.ArgumentParser` (or a sub-command parser).

    Returns:
        The parser.
    """
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--max-examples", type=int, default=None)
    return parser


def image_size(args):
    """`data.load`'s `image_size` from `--image-size`: `(s, s)`, or None to keep the data's."""
    return (args.image_size, args.image_size) if args.image_size else None
