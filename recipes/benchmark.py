"""Training-throughput benchmark: kmgan's games beside a plain PyTorch peer.

What it measures and how is described in `recipes/bench/` (its package
docstring); this script runs it on the current Keras backend.

Usage:

    # one run per backend (JSON rows), then one table for both
    KERAS_BACKEND=tensorflow python recipes/benchmark.py --backend-run --json bench/tf.json
    KERAS_BACKEND=jax        python recipes/benchmark.py --backend-run --json bench/jax.json
    python recipes/benchmark.py --merge bench/tf.json bench/jax.json --out bench/BENCHMARK.md

    # each configuration in its own process (clean compile times and peak
    # memory; a crash or out-of-memory becomes an "error" row):
    KERAS_BACKEND=jax python recipes/benchmark.py --backend-run --isolate --json bench/jax.json

    # a smaller matrix on a CPU
    python recipes/benchmark.py --games gan,gman-5,mgan-4,madgan-4,megan-4 \\
        --jit on --precision float32 --steps 5 --repeats 3 --json bench/cpu.json --out bench/cpu.md

    # GMAN with N discriminator models beside GMAN with one stacked model
    # (compile time and step cost against N; a small CPU configuration)
    KERAS_BACKEND=jax python recipes/benchmark.py --games gan,gman-2,gman-5,gman-10 --stacked \
        --base-filters 8 --batch-size 16 --steps 5 --repeats 5 --jit on --precision float32 \
        --no-torch --isolate --json bench/stacked-jax.json

    # the smoke configuration the tests run (tiny nets, one timed step)
    python recipes/benchmark.py --tiny --json /tmp/tiny.json --out /tmp/tiny.md
"""

if __package__:  # imported as recipes.benchmark
    from .bench.cli import build_parser
    from .bench.cli import config_from_args
    from .bench.cli import main
    from .bench.config import ADAM
    from .bench.config import parse_game
    from .bench.flops import forward_flops
    from .bench.flops import step_flops
    from .bench.games import REGISTRY
    from .bench.jobs import make_jobs
    from .bench.jobs import run_kmgan_job
    from .bench.memory import PeakMemory
    from .bench.report import render_markdown
else:  # run as `python recipes/benchmark.py`: the script's folder is on the path
    from bench.cli import build_parser
    from bench.cli import config_from_args
    from bench.cli import main
    from bench.config import ADAM
    from bench.config import parse_game
    from bench.flops import forward_flops
    from bench.flops import step_flops
    from bench.games import REGISTRY
    from bench.jobs import make_jobs
    from bench.jobs import run_kmgan_job
    from bench.memory import PeakMemory
    from bench.report import render_markdown

__all__ = [
    "ADAM",
    "REGISTRY",
    "PeakMemory",
    "build_parser",
    "config_from_args",
    "forward_flops",
    "main",
    "make_jobs",
    "parse_game",
    "render_markdown",
    "run_kmgan_job",
    "step_flops",
]

if __name__ == "__main__":
    main()
