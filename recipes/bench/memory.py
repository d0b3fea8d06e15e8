"""Peak memory: the host RSS high-water mark and GPU memory, per backend."""

import re
import sys
import threading

__all__ = [
    "PeakMemory",
    "gpu_memory_peak_mb",
    "gpu_memory_reset",
]


class PeakMemory:
    """Host RSS high-water mark over a region of the run."""

    def __init__(self):
        self.method = None
        self._sampler = None
        self._peak = 0
        if _clear_refs_works():
            self.method = "VmHWM (reset via /proc/self/clear_refs)"
        else:
            try:
                import psutil  # noqa: F401

                self.method = "psutil RSS sampled every 5 ms"
            except ImportError:
                self.method = "getrusage ru_maxrss (process lifetime peak)"

    def reset(self):
        self.stop()
        if self.method.startswith("VmHWM"):
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        elif self.method.startswith("psutil"):
            import psutil

            proc = psutil.Process()
            self._peak = proc.memory_info().rss
            stop = threading.Event()

            def sample():
                while not stop.wait(0.005):
                    self._peak = max(self._peak, proc.memory_info().rss)

            thread = threading.Thread(target=sample, daemon=True)
            thread.start()
            self._sampler = (stop, thread)

    def stop(self):
        if self._sampler is not None:
            stop, thread = self._sampler
            stop.set()
            thread.join()
            self._sampler = None

    def peak_mb(self):
        if self.method.startswith("VmHWM"):
            return _vm_hwm_kb() / 1024.0
        if self.method.startswith("psutil"):
            import psutil

            return max(self._peak, psutil.Process().memory_info().rss) / 2**20
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 1024.0)


def _vm_hwm_kb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def _clear_refs_works():
    try:
        before = _vm_hwm_kb()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _vm_hwm_kb() <= before
    except (OSError, AttributeError, ValueError):
        return False


def gpu_memory_reset(impl):
    try:
        if impl == "torch":
            import torch

            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
        elif impl == "tensorflow":
            import tensorflow as tf

            for i, _ in enumerate(tf.config.list_logical_devices("GPU")):
                tf.config.experimental.reset_memory_stats(f"GPU:{i}")
    except Exception:  # noqa: BLE001 - best effort
        pass


def gpu_memory_peak_mb(impl, torch_device=None):
    """Peak GPU memory in MiB since the last reset, or None without a GPU.

    JAX has no reset: its number is the process peak (exact with --isolate).
    """
    try:
        if impl == "torch":
            import torch

            if torch_device is not None and torch_device.type == "cuda":
                return torch.cuda.max_memory_allocated() / 2**20
            return None
        if impl == "tensorflow":
            import tensorflow as tf

            if tf.config.list_logical_devices("GPU"):
                return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
            return None
        if impl == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform != "cpu":
                stats = dev.memory_stats() or {}
                if "peak_bytes_in_use" in stats:
                    return stats["peak_bytes_in_use"] / 2**20
            return None
    except Exception:  # noqa: BLE001
        return None
    return None
