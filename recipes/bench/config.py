"""What the benchmark runs: games, modes, precisions, targets, and small helpers."""

import re
import statistics

__all__ = [
    "ADAM",
    "CPU_SPEEDUP_TARGET",
    "DEFAULT_GAMES",
    "FAMILIES",
    "GMAN_BOUND_SLACK",
    "GMAN_FAMILIES",
    "GPU_SPEEDUP_TARGET",
    "MODES",
    "PRECISIONS",
    "STACKED_CONV",
    "TINY",
    "TORCH_FAMILIES",
    "flag_list",
    "median",
    "parse_game",
    "short",
]


#: The papers' optimizer for every player. epsilon = PyTorch's default, so
#: that both sides run the same Adam.
ADAM = dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8)


DEFAULT_GAMES = (
    "gan",
    "gman-2",
    "gman-5",
    "gman-10",
    "mgan-4",
    "mgan-10",
    "madgan-4",
    "madgan-10",
    "megan-4",
    "megan-10",
)


FAMILIES = ("gan", "gman", "gman_stacked", "mgan", "madgan", "megan")


GMAN_FAMILIES = ("gman", "gman_stacked")


STACKED_CONV = ("auto", "grouped", "split", "im2col")


TORCH_FAMILIES = ("gan", "gman")


MODES = ("pipeline", "device", "train_on_batch")


PRECISIONS = ("float32", "mixed_bfloat16")


TINY = dict(
    games="gan,gman-2",
    base_filters=4,
    batch_size=8,
    steps=1,
    repeats=1,
    warmup=0,
    jit="on",
    precision="float32",
    dataset_batches=2,
)


#: Targets of issue 4.
GPU_SPEEDUP_TARGET = 1.5


CPU_SPEEDUP_TARGET = 1.0


GMAN_BOUND_SLACK = 1.2


def parse_game(name):
    """'gman-5' -> ('gman', 5); 'gman_stacked-5' -> ('gman_stacked', 5); 'gan' -> ('gan', 1)."""
    m = re.fullmatch(r"([a-z_]+)(?:-(\d+))?", name.strip().lower())
    if not m or m.group(1) not in FAMILIES:
        raise ValueError(
            f"Unknown game {name!r}; use one of {FAMILIES} with -N (e.g. gman-5, mgan-4)."
        )
    family, n = m.group(1), m.group(2)
    if family == "gan":
        if n not in (None, "1"):
            raise ValueError("gan has one discriminator; write 'gan'.")
        return family, 1
    if n is None:
        raise ValueError(f"{family} needs a player count, e.g. {family}-4.")
    return family, int(n)


def flag_list(text, allowed, what):
    values = [v.strip() for v in text.split(",") if v.strip()]
    for v in values:
        if v not in allowed:
            raise SystemExit(f"--{what}: unknown value {v!r}; choose from {allowed}.")
    return values


def short(exc, limit=300):
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def median(values):
    return statistics.median(values) if values else None
