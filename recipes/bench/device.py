"""What the benchmark runs on: CPU, GPUs, library versions."""

import os
import platform
import re
import time

__all__ = [
    "cpu_name",
    "describe_device",
    "device_info",
    "keras_gpus",
]


def cpu_name():
    name = platform.processor()
    if not name or name in ("x86_64", "aarch64", "i386"):
        try:
            with open("/proc/cpuinfo") as f:
                m = re.search(r"model name\s*:\s*(.+)", f.read())
            if m:
                name = m.group(1).strip()
        except OSError:
            pass
    return name or platform.machine()


def keras_gpus():
    """Names of the GPUs the current Keras backend sees (empty on CPU)."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return [f"{d.device_kind}" for d in jax.devices() if d.platform != "cpu"]
        if backend == "tensorflow":
            import tensorflow as tf

            names = []
            for gpu in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(gpu)
                names.append(details.get("device_name", gpu.name))
            return names
    except Exception:  # noqa: BLE001
        return []
    return []


def device_info(with_torch=True):
    import keras

    info = {
        "cpu": cpu_name(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "gpus": keras_gpus(),
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    backend = info["backend"]
    try:
        if backend == "jax":
            import jax
            import jaxlib

            info["jax"] = jax.__version__
            info["jaxlib"] = jaxlib.__version__
        elif backend == "tensorflow":
            import tensorflow as tf

            info["tensorflow"] = tf.__version__
    except Exception:  # noqa: BLE001
        pass
    if not with_torch:
        info["torch"] = None
        return info
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["torch"] = None
    return info


def describe_device(info):
    gpus = ", ".join(info.get("gpus") or []) or "none"
    load = info.get("loadavg_start")
    load_text = f"; load average at start {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}" if load else ""
    end = info.get("loadavg_end")
    if end:
        load_text += f", at end {end[0]:.2f}/{end[1]:.2f}/{end[2]:.2f}"
    return (
        f"{info.get('cpu')} ({info.get('machine')}), {info.get('cpu_count')} CPUs "
        f"({info.get('cpu_usable')} usable); GPU: {gpus}{load_text}"
    )
