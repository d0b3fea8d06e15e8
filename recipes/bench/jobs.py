"""The benchmark's jobs: one configuration each, run in this process or a fresh one."""

import gc
import json
import os
import subprocess
import sys
import tempfile
import traceback
import warnings

from .config import TORCH_FAMILIES
from .config import parse_game
from .config import short
from .device import device_info
from .flops import step_flops
from .games import REGISTRY
from .games import adam
from .memory import PeakMemory
from .memory import gpu_memory_peak_mb
from .memory import gpu_memory_reset
from .rows import make_row
from .rows import timed_row
from .rows import timing_fields
from .timing import TIMERS
from .torch_peer import run_torch_job

#: The script a child process runs (`recipes/benchmark.py`).
BENCHMARK = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmark.py"
)

__all__ = [
    "BENCHMARK",
    "backend_run",
    "make_jobs",
    "run_isolated",
    "run_job",
    "run_kmgan_job",
]


def run_kmgan_job(job, cfg, memory):
    import keras

    modes = cfg["modes"]
    family, n = job["family"], job["n"]
    previous_policy = keras.mixed_precision.global_policy().name
    rows = []
    try:
        memory.reset()
        gpu_memory_reset(job["backend"])
        try:
            keras.mixed_precision.set_global_policy(job["precision"])
        except Exception as exc:  # noqa: BLE001
            return [make_row(job, cfg, mode=m, status=f"unavailable: {short(exc)}") for m in modes]
        keras.utils.set_random_seed(0)
        try:
            model, info = REGISTRY[family](cfg, n)
        except Exception as exc:  # noqa: BLE001 - import or build failure
            return [make_row(job, cfg, mode=m, status=f"unavailable: {short(exc)}") for m in modes]
        info["step_flops"] = step_flops(
            family,
            cfg["batch_size"],
            info["fakes"],
            info["g_flops"],
            info["d_flops"],
            n=n,
            gate=info.get("gate_flops", 0),
        )
        try:
            model.compile(d_optimizer=adam(), g_optimizer=adam(), jit_compile=job["jit"])
        except Exception as exc:  # noqa: BLE001
            return [
                make_row(job, cfg, mode=m, status=f"error: compile: {short(exc)}", **info)
                for m in modes
            ]
        for mode in modes:
            if mode != modes[0]:
                memory.reset()
                gpu_memory_reset(job["backend"])
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*donated buffers.*")
                    compile_s, times, method, *extra = TIMERS[mode](model, cfg)
                fields = timing_fields(compile_s, times)
                fields.update(*extra)
                gpu = gpu_memory_peak_mb(job["backend"])
                rows.append(timed_row(job, cfg, mode, method, fields, memory, gpu, **info))
            except Exception as exc:  # noqa: BLE001
                if cfg.get("verbose"):
                    traceback.print_exc()
                rows.append(make_row(job, cfg, mode=mode, status=f"error: {short(exc)}", **info))
        return rows
    finally:
        memory.stop()
        keras.mixed_precision.set_global_policy(previous_policy)
        if cfg.get("clear_session", True):
            keras.backend.clear_session()
        gc.collect()


def make_jobs(cfg, backend):
    """The jobs of a configuration: every game at every precision and jit setting,
    and the PyTorch peer of the games it has."""
    jobs = []
    for game in cfg["games"]:
        family, n = parse_game(game)
        common = dict(run_backend=backend, game=game, family=family, n=n)
        for precision in cfg["precisions"]:
            for jit in cfg["jit"]:
                tag = "jit" if jit else "nojit"
                jobs.append(
                    dict(
                        id=f"kmgan|{game}|{tag}|{precision}",
                        impl="kmgan",
                        backend=backend,
                        jit=jit,
                        precision=precision,
                        **common,
                    )
                )
            if cfg["torch"] and family in TORCH_FAMILIES:
                jobs.append(
                    dict(
                        id=f"torch|{game}|eager|{precision}",
                        impl="torch",
                        backend="torch",
                        jit=None,
                        precision=precision,
                        **common,
                    )
                )
    return jobs


def run_job(job, cfg, memory):
    if job["impl"] == "torch":
        return run_torch_job(job, cfg, memory)
    return run_kmgan_job(job, cfg, memory)


def _child_argv(argv, job_id, json_path):
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--isolate", "--backend-run"):
            continue
        if arg in ("--json", "--out", "--only"):
            skip = True
            continue
        if arg.startswith(("--json=", "--out=", "--only=")):
            continue
        out.append(arg)
    return out + ["--backend-run", "--only", job_id, "--json", json_path]


def run_isolated(job, cfg, argv):
    """Runs one job in a fresh process; a crash becomes an error row."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rows.json")
        cmd = [sys.executable, BENCHMARK] + _child_argv(argv, job["id"], path)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0 and os.path.exists(path):
            with open(path) as f:
                return json.load(f)["rows"]
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        status = f"error: child process exited with {proc.returncode}: {' / '.join(tail)[:300]}"
        modes = (
            cfg["modes"]
            if job["impl"] == "kmgan"
            else [m for m in cfg["modes"] if m != "train_on_batch"]
        )
        return [make_row(job, cfg, mode=m, status=status) for m in modes]


def backend_run(cfg, argv=()):
    """Runs every job on the current Keras backend; returns the result dict."""
    import keras

    from kmgan.engine import backend_step

    backend = keras.backend.backend()
    try:
        backend_step.check_supported()
    except RuntimeError as err:
        raise SystemExit(str(err)) from err
    if backend == "jax":
        # tf.data feeds the pipeline mode; keep TensorFlow off the GPU JAX uses.
        try:
            import tensorflow as tf

            tf.config.set_visible_devices([], "GPU")
        except Exception:  # noqa: BLE001 - no TF GPU, or TF already initialised
            pass
    meta = {
        "device": device_info(with_torch=cfg["torch"]),
        "config": {k: v for k, v in cfg.items() if k != "games"},
    }
    meta["config"]["games"] = list(cfg["games"])
    if cfg["torch"] and cfg.get("torch_threads"):
        meta["device"]["torch_threads"] = cfg["torch_threads"]
    memory = PeakMemory()
    meta["rss_method"] = memory.method
    jobs = make_jobs(cfg, backend)
    if cfg.get("only"):
        jobs = [j for j in jobs if j["id"] == cfg["only"]]
        if not jobs:
            raise SystemExit(f"--only {cfg['only']!r} names no job of this configuration.")
    rows = []
    for i, job in enumerate(jobs, 1):
        if not cfg.get("only") and cfg.get("progress", True):
            print(f"[{i}/{len(jobs)}] {job['id']}", file=sys.stderr, flush=True)
        if cfg.get("isolate") and not cfg.get("only"):
            rows.extend(run_isolated(job, cfg, argv))
        else:
            rows.extend(run_job(job, cfg, memory))
    meta["device"]["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return {"meta": [meta], "rows": rows}
