"""Timing the PyTorch peer: the same GAN and GMAN step in eager PyTorch.

The peer's networks and step are in `recipes/torch_reference.py`.
"""

import gc
import importlib
import time
import traceback

from .config import short
from .device import keras_gpus
from .memory import gpu_memory_peak_mb
from .memory import gpu_memory_reset
from .rows import make_row
from .rows import timed_row
from .rows import timing_fields
from .timing import random_images

__all__ = [
    "load_torch_reference",
    "run_torch_job",
    "torch_device",
]


def load_torch_reference():
    """`recipes/torch_reference.py`, the PyTorch peer (imports torch).

    Imported as `recipes.torch_reference` when the benchmark is imported as
    a package, as `torch_reference` when it runs as a script (whose folder,
    recipes/, is then on the import path).
    """
    parent = (__package__ or "").rpartition(".")[0]
    return importlib.import_module(f"{parent}.torch_reference" if parent else "torch_reference")


def torch_device(kind):
    import torch

    if kind != "auto":
        return torch.device(kind)
    if torch.cuda.is_available() and keras_gpus():
        return torch.device("cuda")
    return torch.device("cpu")


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_torch_job(job, cfg, memory):
    modes = [m for m in cfg["modes"] if m in ("pipeline", "device")]
    try:
        import torch

        tr = load_torch_reference()
    except ImportError as exc:
        reason = f"skipped: PyTorch is not installed (pip install -e '.[bench]'): {short(exc)}"
        return [make_row(job, cfg, mode=m, status=reason) for m in modes]
    rows = []
    try:
        if cfg.get("torch_threads"):
            torch.set_num_threads(cfg["torch_threads"])
        device = torch_device(cfg["torch_device"])
        amp = torch.bfloat16 if job["precision"] == "mixed_bfloat16" else None
        for mode in modes:
            memory.reset()
            gpu_memory_reset("torch")
            try:
                game = tr.build_game(
                    job["n"],
                    cfg["latent_dim"],
                    cfg["image_shape"],
                    cfg["base_filters"],
                    device=device,
                    amp_dtype=amp,
                    seed=0,
                )
                images = tr.nhwc_to_nchw(
                    random_images(cfg, cfg["dataset_batches"] * cfg["batch_size"])
                )
                if mode == "device":
                    fixed = tr.nhwc_to_nchw(random_images(cfg, cfg["batch_size"], seed=1)).to(
                        device
                    )

                    def batches():
                        while True:
                            yield fixed

                    method = "fixed batch on the device"
                else:
                    loader = torch.utils.data.DataLoader(
                        torch.utils.data.TensorDataset(images),
                        batch_size=cfg["batch_size"],
                        shuffle=True,
                        drop_last=True,
                        pin_memory=device.type == "cuda",
                    )

                    def batches():
                        while True:
                            for (x,) in loader:
                                yield x.to(device, non_blocking=True)

                    method = "DataLoader(TensorDataset, shuffle, drop_last)"
                stream = batches()

                def block(steps):
                    start = time.perf_counter()
                    out = None
                    for _ in range(steps):
                        out = game.step(next(stream))
                    _sync(device)
                    float(out[1])
                    return time.perf_counter() - start

                compile_s = block(1)
                for _ in range(cfg["warmup"]):
                    block(cfg["steps"])
                times = [block(cfg["steps"]) / cfg["steps"] for _ in range(cfg["repeats"])]
                timing = timing_fields(compile_s, times)
                gpu = gpu_memory_peak_mb("torch", device)
                threads = torch.get_num_threads()
                extra = dict(torch_device=str(device), torch_threads=threads)
                rows.append(timed_row(job, cfg, mode, method, timing, memory, gpu, **extra))
            except Exception as exc:  # noqa: BLE001
                if cfg.get("verbose"):
                    traceback.print_exc()
                rows.append(make_row(job, cfg, mode=mode, status=f"error: {short(exc)}"))
        return rows
    finally:
        memory.stop()
        gc.collect()
