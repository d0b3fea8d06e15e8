"""Result rows: one per (configuration, mode), with the job's settings and the timings."""

from .config import median

__all__ = ["make_row", "timed_row", "timing_fields"]


def make_row(job, cfg, **fields):
    row = {
        "impl": job["impl"],
        "backend": job["backend"],
        "run_backend": job["run_backend"],
        "game": job["game"],
        "family": job["family"],
        "n": job["n"],
        "jit": job.get("jit"),
        "precision": job["precision"],
        "batch_size": cfg["batch_size"],
        "base_filters": cfg["base_filters"],
        "latent_dim": cfg["latent_dim"],
        "steps": cfg["steps"],
        "repeats": cfg["repeats"],
        "status": "ok",
    }
    row.update(fields)
    return row


def timing_fields(compile_s, times):
    med = median(times)
    return {
        "compile_s": compile_s,
        "step_s": med,
        "step_s_all": times,
        "steps_per_s": (1.0 / med) if med else None,
    }


def timed_row(job, cfg, mode, method, timing, memory, gpu_peak_mb, **fields):
    """The row of a timed mode: timings, peak host and GPU memory, and `fields`.

    Args:
        job, cfg: the job and the benchmark configuration.
        mode: the timing mode.
        method: how it was timed (words).
        timing: `timing_fields(...)` of the run.
        memory: the `PeakMemory` of the run.
        gpu_peak_mb: the GPU peak in MB, or None.
        **fields: more columns.

    Returns:
        The row (a dict).
    """
    return make_row(
        job,
        cfg,
        mode=mode,
        method=method,
        **timing,
        **fields,
        peak_rss_mb=memory.peak_mb(),
        rss_method=memory.method,
        gpu_peak_mb=gpu_peak_mb,
    )
