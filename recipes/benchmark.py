"""Training-throughput benchmark: kmgan's games beside a plain PyTorch peer.

Measures, on the current Keras backend (run once per `KERAS_BACKEND`):

* games: GAN/DCGAN, GMAN with N = 2, 5, 10 discriminators (mean), MGAN,
  MAD-GAN and MEGAN with K = 4, 10 generators, at the papers' DCGAN sizes:
  32x32x3 images, latent 100, `base_filters` 64, batch 64 (all options).
  `gman_stacked-N` is GMAN-N with its N identical discriminators stacked
  into one model (`kmgan.nets.stacked_dcgan_discriminator`: one graph for
  all N, one optimizer); `--stacked` adds the stacked twin of every
  `gman-N` asked for, so both forms are timed side by side;
* per game, with `jit_compile` on and off, in float32 and (where it
  applies) `mixed_bfloat16`:
  - steps per second after warm-up: the median of `--repeats` timings of
    `--steps` training steps, in two modes:
    `pipeline`: `model.fit` on a repeated in-memory `tf.data` dataset
    (`from_tensor_slices(...).repeat().batch(drop_remainder=True)
    .prefetch`), timed per epoch of `--steps` steps by a callback with
    epoch hooks only (no batch hooks, so Keras keeps its asynchronous
    dispatch); the time includes the per-epoch bookkeeping of `fit`.
    `device`: the data already on the device, a fixed batch, and the
    compiled step called in a loop: `model.train_function`, the same
    function `fit` calls, with no host round trip per step (TensorFlow:
    `train_function([batch])`; JAX: `state = train_function(state,
    iter([batch]))`, then the state is written back into the model). We
    use it rather than `train_on_batch`, which converts the logs to
    Python floats after every step (a device-to-host sync) and, on JAX,
    writes every variable back into the model after every step: that is
    Keras bookkeeping, not the step. (`--modes train_on_batch` times that
    loop too.) The gap between `pipeline` and `device` is what the input
    pipeline and `fit`'s loop cost.
  - time to first step (`compile_s`): the wall time of the first
    `fit(..., steps_per_epoch=1)` (tracing, XLA compilation, one step);
    this is the compile time the report uses. `device` rows give their
    first call too: TensorFlow traces that entry point again, JAX reuses
    `fit`'s compiled step (same data structure), so it is small there;
  - peak memory: host RSS high-water mark (Linux: reset through
    /proc/self/clear_refs and read from VmHWM; else a psutil sampler;
    else `resource.getrusage`, the process lifetime peak) and GPU memory
    where there is a GPU (TF: `get_memory_info`, JAX: `memory_stats`,
    PyTorch: `max_memory_allocated`);
  With `jit_compile` off, TensorFlow runs the step as a `tf.function`
  graph without XLA; JAX runs it op by op without `jax.jit` (Keras' eager
  JAX path), which is very slow: pass `--jit on` on JAX unless that is
  what you want to see.
* the PyTorch peer (`recipes/torch_reference.py`): the same GAN and GMAN
  step in plain eager PyTorch (same layers, init, batch, Adam(2e-4, betas
  (0.5, 0.999)) per player, non-saturating loss, mean aggregator, fresh z
  per step), in the same run on the same device. Its `pipeline` mode is a
  `DataLoader` over an in-memory `TensorDataset`; its `device` mode a
  fixed batch on the device. With `mixed_bfloat16` it runs under
  `torch.autocast(dtype=torch.bfloat16)`. Without torch its rows say why.

Threads: the Keras backends and PyTorch each use one thread per core by
default. On an oversubscribed machine PyTorch's OpenMP threads lose badly
(a tiny step went from ~10 ms to ~1 s on a loaded 2-core box with 2
threads); `--torch-threads` pins the peer, and every row records its thread
count. Run the real benchmark on a quiet machine.

Multi-generator games are built through a registry that imports them
lazily; a game that fails to import or build is reported as
"unavailable: <reason>", never with numbers.

The report: throughput per configuration, kmgan / PyTorch ratios, the
multi-player cost ratios (GMAN-N step / GAN step against the FLOP bound
(G + N*D) / (G + D) from forward FLOPs counted per layer, and against a
step model that counts what each sub-step computes; K-generator step / GAN
step against K), compile time against N, and the FLOPs and parameters of
each game. All of it names the device.

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

import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))

#: The papers' optimizer for every player. epsilon = PyTorch's default, so
#: that both sides run the same Adam.
ADAM = dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8)

DEFAULT_GAMES = (
    "gan", "gman-2", "gman-5", "gman-10",
    "mgan-4", "mgan-10", "madgan-4", "madgan-10", "megan-4", "megan-10",
)
FAMILIES = ("gan", "gman", "gman_stacked", "mgan", "madgan", "megan")
GMAN_FAMILIES = ("gman", "gman_stacked")
STACKED_CONV = ("auto", "grouped", "split", "im2col")
TORCH_FAMILIES = ("gan", "gman")
MODES = ("pipeline", "device", "train_on_batch")
PRECISIONS = ("float32", "mixed_bfloat16")

TINY = dict(
    games="gan,gman-2", base_filters=4, batch_size=8, steps=1, repeats=1, warmup=0,
    jit="on", precision="float32", dataset_batches=2,
)

#: Targets of issue 4.
GPU_SPEEDUP_TARGET = 1.5
CPU_SPEEDUP_TARGET = 1.0
GMAN_BOUND_SLACK = 1.2


# ==========================================================================
# Small helpers


def parse_game(name):
    """'gman-5' -> ('gman', 5); 'gman_stacked-5' -> ('gman_stacked', 5); 'gan' -> ('gan', 1)."""
    m = re.fullmatch(r"([a-z_]+)(?:-(\d+))?", name.strip().lower())
    if not m or m.group(1) not in FAMILIES:
        raise ValueError(f"Unknown game {name!r}; use one of {FAMILIES} with -N (e.g. gman-5, mgan-4).")
    family, n = m.group(1), m.group(2)
    if family == "gan":
        if n not in (None, "1"):
            raise ValueError("gan has one discriminator; write 'gan'.")
        return family, 1
    if n is None:
        raise ValueError(f"{family} needs a player count, e.g. {family}-4.")
    return family, int(n)


def _flag_list(text, allowed, what):
    values = [v.strip() for v in text.split(",") if v.strip()]
    for v in values:
        if v not in allowed:
            raise SystemExit(f"--{what}: unknown value {v!r}; choose from {allowed}.")
    return values


def _short(exc, limit=300):
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_sibling(name):
    """Imports recipes/<name>.py by path (recipes/ is no package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _median(values):
    return statistics.median(values) if values else None


# ==========================================================================
# Memory


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


# ==========================================================================
# Device description


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
        "cpu_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
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


# ==========================================================================
# FLOPs, counted per layer


def _shape(tensor):
    return tuple(1 if d is None else int(d) for d in tensor.shape)


def _prod(values):
    out = 1
    for v in values:
        out *= int(v)
    return out


def layer_flops(layer, in_shape, out_shape):
    """FLOPs (2 per multiply-add, plus bias adds) of one call, per example.

    Counts the matrix products of Dense, Conv2D, Conv2DTranspose and
    kmgan's MultiDense (as implemented: one (K*d, units) product),
    GroupedDense, and the stacked discriminators' StackedConv2D and
    StackedDense. Element-wise layers (batch norm, activations, selection)
    are not counted: they are under 1% of a DCGAN's FLOPs. Returns None for
    a layer with weights this function does not know.
    """
    kind = type(layer).__name__
    if kind == "Dense":
        d, units = in_shape[-1], out_shape[-1]
        rows = _prod(in_shape[1:-1])
        return rows * (2 * d * units + (units if layer.use_bias else 0))
    if kind == "Conv2D":
        kh, kw = layer.kernel_size
        cin = in_shape[-1] // getattr(layer, "groups", 1)
        outputs = _prod(out_shape[1:])
        return outputs * (2 * kh * kw * cin + (1 if layer.use_bias else 0))
    if kind == "StackedConv2D":
        kh, kw = layer.kernel_size
        cin = int(layer.kernel.shape[-2])  # one discriminator's input channels
        outputs = _prod(out_shape[1:])
        return outputs * (2 * kh * kw * cin + (1 if layer.use_bias else 0))
    if kind == "Conv2DTranspose":
        kh, kw = layer.kernel_size
        cout = out_shape[-1]
        inputs = _prod(in_shape[1:])
        return inputs * 2 * kh * kw * cout + (_prod(out_shape[1:]) if layer.use_bias else 0)
    if kind == "MultiDense":
        k, d, units = layer.num_generators, in_shape[-1], layer.units
        return 2 * k * d * units + (2 * k * units if layer.use_bias else 0)
    if kind in ("GroupedDense", "StackedDense"):
        k, d, units = layer.num_groups, in_shape[-1], layer.units
        return 2 * k * d * units + (k * units if layer.use_bias else 0)
    if not layer.weights or kind in ("BatchNormalization", "LayerNormalization"):
        return 0
    return None


def forward_flops(model):
    """Forward FLOPs per example of a functional Keras model, and the names
    of layers with weights that were not counted."""
    import keras

    total, unknown = 0, []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            sub, sub_unknown = forward_flops(layer)
            total += sub
            unknown += sub_unknown
            continue
        nodes = getattr(layer, "_inbound_nodes", None) or []
        if not nodes:
            continue
        node = nodes[0]
        ins = [t for t in node.input_tensors if hasattr(t, "shape")]
        outs = [t for t in node.output_tensors if hasattr(t, "shape")]
        if not ins or not outs:
            continue
        flops = layer_flops(layer, _shape(ins[0]), _shape(outs[0]))
        if flops is None:
            unknown.append(layer.name)
        else:
            total += flops
    return total, unknown


def step_flops(family, batch, fakes, g, d, n=1, gate=0):
    """FLOPs of one training round, from forward FLOPs per example.

    Convention: a backward pass costs 2x the forward for weight and input
    gradients, 1x for input gradients only (G's step backpropagates through
    D without D's weight gradients). With B real and F fake examples:

        GAN / GMAN-N:  G fwd (F)  +  N * 3 D (B + F)  |  3 G (F)  +  N * 2 D (F)
        MGAN, MAD-GAN: the same with N = 1 and F = K * ceil(B / K) fakes
                       (g, d: the batched multi-generator model, D with its heads)
        MEGAN:         experts + gate fwd (B)  +  3 D (2B)  |
                       3 (experts + 2 gate) (B)  +  2 D (B)
    """
    if family in ("gan",) + GMAN_FAMILIES:
        return g * fakes + n * 3 * d * (batch + fakes) + 3 * g * fakes + n * 2 * d * fakes
    if family in ("mgan", "madgan"):
        return g * fakes + 3 * d * (batch + fakes) + 3 * g * fakes + 2 * d * fakes
    if family == "megan":
        return (g + gate) * batch + 3 * d * 2 * batch + 3 * (g + 2 * gate) * batch + 2 * d * batch
    raise ValueError(family)


# ==========================================================================
# The registry of games (imports are lazy: a game being written elsewhere
# that fails to import or build is reported, not faked)


def _adam():
    import keras

    return keras.optimizers.Adam(**ADAM)


def _build_gan(cfg, n):
    from kmgan import nets
    from kmgan.games.gan import GAN

    shape = cfg["image_shape"]
    g = nets.dcgan_generator(cfg["latent_dim"], shape, base_filters=cfg["base_filters"], seed=0)
    d = nets.dcgan_discriminator(shape, base_filters=cfg["base_filters"], seed=1)
    model = GAN(g, d, loss="non_saturating", seed=0)
    gf, du = forward_flops(g)[0], forward_flops(d)[0]
    return model, {
        "g_flops": gf, "d_flops": du, "fakes": cfg["batch_size"],
        "params_g": g.count_params(), "params_d": d.count_params(), "players": "1 G, 1 D",
    }


def _build_gman(cfg, n):
    from kmgan import nets
    from kmgan.games.gman import GMAN

    shape = cfg["image_shape"]
    g = nets.dcgan_generator(cfg["latent_dim"], shape, base_filters=cfg["base_filters"], seed=0)
    ds = [
        nets.dcgan_discriminator(shape, base_filters=cfg["base_filters"], seed=1 + i,
                                 name=f"discriminator_{i}")
        for i in range(n)
    ]
    model = GMAN(g, ds, aggregator="mean", loss="non_saturating", seed=0)
    return model, {
        "g_flops": forward_flops(g)[0], "d_flops": forward_flops(ds[0])[0],
        "fakes": cfg["batch_size"], "params_g": g.count_params(),
        "params_d": sum(d.count_params() for d in ds), "players": f"1 G, {n} D",
    }


def _build_mgan(cfg, k):
    from kmgan.games.mgan import MGAN
    from kmgan.nets.multi import mgan_discriminator
    from kmgan.nets.multi import mgan_generator

    shape = cfg["image_shape"]
    g = mgan_generator(k, cfg["latent_dim"], shape, base_filters=cfg["base_filters"], seed=0)
    d = mgan_discriminator(k, shape, base_filters=cfg["base_filters"], seed=1)
    model = MGAN(g, d, beta=0.1, seed=0)
    return model, {
        "g_flops": forward_flops(g)[0], "d_flops": forward_flops(d)[0],
        "fakes": k * math.ceil(cfg["batch_size"] / k), "params_g": g.count_params(),
        "params_d": d.count_params(), "players": f"{k} G (shared but the first layer), D + C",
    }


def _build_madgan(cfg, k):
    from kmgan.games.madgan import MADGAN
    from kmgan.nets.multi import madgan_discriminator
    from kmgan.nets.multi import madgan_generator

    shape = cfg["image_shape"]
    g = madgan_generator(k, cfg["latent_dim"], shape, base_filters=cfg["base_filters"], seed=0)
    d = madgan_discriminator(k, shape, base_filters=cfg["base_filters"], seed=1)
    model = MADGAN(g, d, seed=0)
    return model, {
        "g_flops": forward_flops(g)[0], "d_flops": forward_flops(d)[0],
        "fakes": k * math.ceil(cfg["batch_size"] / k), "params_g": g.count_params(),
        "params_d": d.count_params(), "players": f"{k} G (shared but the last layer), D (K+1 classes)",
    }


def _build_megan(cfg, k):
    from kmgan import nets
    from kmgan.games.megan import MEGAN
    from kmgan.nets.megan import megan_experts

    shape = cfg["image_shape"]
    experts = megan_experts(k, cfg["latent_dim"], shape, base_filters=cfg["base_filters"], seed=0)
    d = nets.dcgan_discriminator(shape, base_filters=cfg["base_filters"], seed=1)
    model = MEGAN(experts, d, seed=0)
    return model, {
        "g_flops": forward_flops(experts)[0], "d_flops": forward_flops(d)[0],
        "gate_flops": forward_flops(model.gate)[0], "fakes": cfg["batch_size"],
        "params_g": experts.count_params() + model.gate.count_params(),
        "params_d": d.count_params(), "players": f"{k} independent G + gate, 1 D",
    }


def _build_gman_stacked(cfg, n):
    from kmgan import nets
    from kmgan.games.gman import GMAN
    from kmgan.nets.stacked import stacked_dcgan_discriminator

    shape = cfg["image_shape"]
    g = nets.dcgan_generator(cfg["latent_dim"], shape, base_filters=cfg["base_filters"], seed=0)
    d = stacked_dcgan_discriminator(
        n, shape, base_filters=cfg["base_filters"], seed=1, name="discriminator",
        implementation=cfg.get("stacked_conv", "auto"),
    )
    model = GMAN(g, d, aggregator="mean", loss="non_saturating", seed=0)
    one = nets.dcgan_discriminator(shape, base_filters=cfg["base_filters"], seed=1)
    return model, {
        "g_flops": forward_flops(g)[0], "d_flops": forward_flops(one)[0],
        "stacked_d_flops": forward_flops(d)[0], "fakes": cfg["batch_size"],
        "params_g": g.count_params(), "params_d": d.count_params(),
        "players": f"1 G, {n} D stacked in one model (conv: {cfg.get('stacked_conv', 'auto')})",
    }


REGISTRY = {
    "gan": _build_gan,
    "gman": _build_gman,
    "gman_stacked": _build_gman_stacked,
    "mgan": _build_mgan,
    "madgan": _build_madgan,
    "megan": _build_megan,
}


# ==========================================================================
# Timing kmgan


def _images(cfg, count, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (count,) + tuple(cfg["image_shape"])).astype("float32")


def _dataset(cfg):
    import tensorflow as tf

    images = _images(cfg, cfg["dataset_batches"] * cfg["batch_size"])
    return (
        tf.data.Dataset.from_tensor_slices(images)
        .repeat()
        .batch(cfg["batch_size"], drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall time of each epoch. Epoch hooks only: a batch hook would make
        Keras sync after every step. The epoch-end logs are converted to
        Python numbers before this hook runs, which waits for the last step."""

        def __init__(self):
            super().__init__()
            self.times = []
            self._start = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    return EpochTimer()


def time_pipeline(model, cfg):
    """`fit` on a repeated tf.data pipeline: (compile_s, per-step times, method,
    {"compile_cpu_s": the process CPU time of the first fit})."""
    ds = _dataset(cfg)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0)
    compile_s = time.perf_counter() - start
    compile_cpu_s = time.process_time() - cpu_start
    timer = _epoch_timer()
    model.fit(ds, epochs=cfg["warmup"] + cfg["repeats"], steps_per_epoch=cfg["steps"],
              verbose=0, callbacks=[timer])
    times = [t / cfg["steps"] for t in timer.times[cfg["warmup"]:]]
    method = "fit(tf.data: from_tensor_slices.repeat.batch.prefetch)"
    return compile_s, times, method, {"compile_cpu_s": compile_cpu_s}


class _DeviceLoop:
    """Calls the compiled train step on a fixed on-device batch.

    After `fit` the batch is passed bare, the structure `fit` passes, so
    that JAX reuses `fit`'s compiled step (TensorFlow traces its own entry
    point either way). Without a prior `fit`, `train_on_batch` builds the
    model and compiles the step for `(x, None, None)`, the structure it
    passes, and the loop uses that.
    """

    def __init__(self, model, batch):
        import keras

        self.model = model
        self.backend = keras.backend.backend()
        if self.backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_logical_devices("GPU")
            with tf.device(gpus[0].name if gpus else "/CPU:0"):
                self.x = tf.identity(tf.constant(batch))
            self.method = "train_function([x]) on a tf.Tensor"
        else:
            import jax

            self.x = jax.device_put(batch)
            self.method = "state = train_function(state, iter([x])) on a jax.Array"
        self.data = self.x
        self.state = None

    def first(self):
        if self.model.train_function is None:
            self.data = (self.x, None, None)
            self.model.train_on_batch(self.x)
        else:
            self.run(1)

    def run(self, steps):
        model = self.model
        fn = model.train_function
        start = time.perf_counter()
        if self.backend == "tensorflow":
            logs = None
            for _ in range(steps):
                logs = fn([self.data])
            float(logs["loss"])  # waits for the last step (and, through the variables, all before)
            return time.perf_counter() - start
        import jax

        if self.state is None:
            self.state = model._get_jax_state(
                trainable_variables=True, non_trainable_variables=True,
                optimizer_variables=True, metrics_variables=True,
            )
            start = time.perf_counter()
        state, logs = self.state, None
        for _ in range(steps):
            logs, state = fn(state, iter([self.data]))
        jax.block_until_ready((logs, state))
        self.state = state
        return time.perf_counter() - start

    def finish(self):
        if self.backend == "jax" and self.state is not None:
            names = ("trainable_variables", "non_trainable_variables",
                     "optimizer_variables", "metrics_variables")
            self.model._jax_state = dict(zip(names, self.state))
            self.model._jax_state_synced = False
            self.model.jax_state_sync()
            self.state = None


def time_device(model, cfg):
    """The compiled step on a fixed on-device batch: (first call s, per-step times)."""
    loop = _DeviceLoop(model, _images(cfg, cfg["batch_size"], seed=1))
    try:
        start = time.perf_counter()
        loop.first()
        compile_s = time.perf_counter() - start
        for _ in range(cfg["warmup"]):
            loop.run(cfg["steps"])
        times = [loop.run(cfg["steps"]) / cfg["steps"] for _ in range(cfg["repeats"])]
    finally:
        loop.finish()
    return compile_s, times, loop.method


def time_train_on_batch(model, cfg):
    """A `train_on_batch` loop (host sync and, on JAX, state write-back per step)."""
    import keras

    x = keras.ops.convert_to_tensor(_images(cfg, cfg["batch_size"], seed=1))
    start = time.perf_counter()
    model.train_on_batch(x)
    compile_s = time.perf_counter() - start

    def block():
        t = time.perf_counter()
        for _ in range(cfg["steps"]):
            model.train_on_batch(x)
        return (time.perf_counter() - t) / cfg["steps"]

    for _ in range(cfg["warmup"]):
        block()
    return compile_s, [block() for _ in range(cfg["repeats"])], "train_on_batch loop"


TIMERS = {"pipeline": time_pipeline, "device": time_device, "train_on_batch": time_train_on_batch}


def _row(job, cfg, **fields):
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


def _timing_fields(compile_s, times):
    med = _median(times)
    return {
        "compile_s": compile_s,
        "step_s": med,
        "step_s_all": times,
        "steps_per_s": (1.0 / med) if med else None,
    }


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
            return [_row(job, cfg, mode=m, status=f"unavailable: {_short(exc)}") for m in modes]
        keras.utils.set_random_seed(0)
        try:
            model, info = REGISTRY[family](cfg, n)
        except Exception as exc:  # noqa: BLE001 - import or build failure
            return [_row(job, cfg, mode=m, status=f"unavailable: {_short(exc)}") for m in modes]
        info["step_flops"] = step_flops(
            family, cfg["batch_size"], info["fakes"], info["g_flops"], info["d_flops"],
            n=n, gate=info.get("gate_flops", 0),
        )
        try:
            model.compile(d_optimizer=_adam(), g_optimizer=_adam(), jit_compile=job["jit"])
        except Exception as exc:  # noqa: BLE001
            return [_row(job, cfg, mode=m, status=f"error: compile: {_short(exc)}", **info) for m in modes]
        for mode in modes:
            if mode != modes[0]:
                memory.reset()
                gpu_memory_reset(job["backend"])
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*donated buffers.*")
                    compile_s, times, method, *extra = TIMERS[mode](model, cfg)
                fields = _timing_fields(compile_s, times)
                fields.update(*extra)
                rows.append(_row(
                    job, cfg, mode=mode, method=method, **fields, **info,
                    peak_rss_mb=memory.peak_mb(), rss_method=memory.method,
                    gpu_peak_mb=gpu_memory_peak_mb(job["backend"]),
                ))
            except Exception as exc:  # noqa: BLE001
                if cfg.get("verbose"):
                    traceback.print_exc()
                rows.append(_row(job, cfg, mode=mode, status=f"error: {_short(exc)}", **info))
        return rows
    finally:
        memory.stop()
        keras.mixed_precision.set_global_policy(previous_policy)
        if cfg.get("clear_session", True):
            keras.backend.clear_session()
        gc.collect()


# ==========================================================================
# Timing the PyTorch peer


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

        tr = _load_sibling("torch_reference")
    except ImportError as exc:
        reason = f"skipped: PyTorch is not installed (pip install -e '.[bench]'): {_short(exc)}"
        return [_row(job, cfg, mode=m, status=reason) for m in modes]
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
                    job["n"], cfg["latent_dim"], cfg["image_shape"], cfg["base_filters"],
                    device=device, amp_dtype=amp, seed=0,
                )
                images = tr.nhwc_to_nchw(_images(cfg, cfg["dataset_batches"] * cfg["batch_size"]))
                if mode == "device":
                    fixed = tr.nhwc_to_nchw(_images(cfg, cfg["batch_size"], seed=1)).to(device)

                    def batches():
                        while True:
                            yield fixed

                    method = "fixed batch on the device"
                else:
                    loader = torch.utils.data.DataLoader(
                        torch.utils.data.TensorDataset(images), batch_size=cfg["batch_size"],
                        shuffle=True, drop_last=True,
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
                rows.append(_row(
                    job, cfg, mode=mode, method=method, **_timing_fields(compile_s, times),
                    peak_rss_mb=memory.peak_mb(), rss_method=memory.method,
                    gpu_peak_mb=gpu_memory_peak_mb("torch", device),
                    torch_device=str(device), torch_threads=torch.get_num_threads(),
                ))
            except Exception as exc:  # noqa: BLE001
                if cfg.get("verbose"):
                    traceback.print_exc()
                rows.append(_row(job, cfg, mode=mode, status=f"error: {_short(exc)}"))
        return rows
    finally:
        memory.stop()
        gc.collect()


# ==========================================================================
# Jobs


def make_jobs(cfg, backend):
    jobs = []
    for game in cfg["games"]:
        family, n = parse_game(game)
        for precision in cfg["precisions"]:
            for jit in cfg["jit"]:
                jobs.append(dict(
                    id=f"kmgan|{game}|{'jit' if jit else 'nojit'}|{precision}",
                    impl="kmgan", backend=backend, run_backend=backend, game=game,
                    family=family, n=n, jit=jit, precision=precision,
                ))
            if cfg["torch"] and family in TORCH_FAMILIES:
                jobs.append(dict(
                    id=f"torch|{game}|eager|{precision}", impl="torch", backend="torch",
                    run_backend=backend, game=game, family=family, n=n, jit=None,
                    precision=precision,
                ))
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
        cmd = [sys.executable, os.path.abspath(__file__)] + _child_argv(argv, job["id"], path)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0 and os.path.exists(path):
            with open(path) as f:
                return json.load(f)["rows"]
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        status = f"error: child process exited with {proc.returncode}: {' / '.join(tail)[:300]}"
        modes = cfg["modes"] if job["impl"] == "kmgan" else [m for m in cfg["modes"] if m != "train_on_batch"]
        return [_row(job, cfg, mode=m, status=status) for m in modes]


def backend_run(cfg, argv=()):
    """Runs every job on the current Keras backend; returns the result dict."""
    import keras

    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        raise SystemExit(f"kmgan trains on tensorflow and jax; KERAS_BACKEND is {backend!r}.")
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


# ==========================================================================
# Report


def _fmt(value, digits=2):
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 10 ** -digits or abs(value) >= 1e5):
            return f"{value:.{digits}e}"
        return f"{value:.{digits}f}"
    return str(value)


def _jit_text(row):
    if row["impl"] == "torch":
        return "eager"
    return "on" if row.get("jit") else "off"


def _impl_text(row):
    return "PyTorch" if row["impl"] == "torch" else f"kmgan/{row['backend']}"


def _ok(row):
    return row.get("status") == "ok" and row.get("step_s")


def _table(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]
    return "\n".join(out)


def _key(row, **override):
    fields = dict(run_backend=row["run_backend"], impl=row["impl"], backend=row["backend"],
                  game=row["game"], jit=row.get("jit"), precision=row["precision"], mode=row["mode"])
    fields.update(override)
    return tuple(sorted(fields.items()))


def _has_gpu(metas):
    return any(m["device"].get("gpus") for m in metas)


def render_markdown(result):
    metas, rows = result["meta"], result["rows"]
    index = {_key(r): r for r in rows}
    lines = ["# kmgan training throughput", ""]
    for meta in metas:
        dev, cfg = meta["device"], meta["config"]
        versions = ", ".join(
            f"{k} {dev[k]}" for k in ("keras", "tensorflow", "jax", "jaxlib", "torch") if dev.get(k)
        )
        lines.append(
            f"- **{dev['backend']} run** ({dev.get('timestamp')}): {describe_device(dev)}. "
            f"{versions}; PyTorch threads {dev.get('torch_threads', '—')}."
        )
    cfg = metas[0]["config"]
    lines += [
        "",
        f"Images {tuple(cfg['image_shape'])}, latent {cfg['latent_dim']}, base_filters "
        f"{cfg['base_filters']}, batch {cfg['batch_size']}; step time = median of "
        f"{cfg['repeats']} timings of {cfg['steps']} steps after {cfg['warmup']} warm-up "
        f"block(s). Adam(2e-4, betas (0.5, 0.999), eps 1e-8) per player. "
        f"`pipeline`: `fit` on a repeated `tf.data` pipeline (PyTorch: a `DataLoader`); "
        f"`device`: the compiled step (`model.train_function`) on a fixed batch already on "
        f"the device (PyTorch: eager steps on a fixed batch). First step: for `pipeline`, "
        f"tracing + compilation + one step of `fit`; for `device`, the loop's first call "
        f"(JAX reuses `fit`'s compiled step). Peak RSS: {metas[0].get('rss_method')}; "
        f"`pipeline` rows include building and compiling the game.",
        "",
        "## Throughput",
        "",
    ]
    body = []
    for r in rows:
        ok = _ok(r)
        body.append([
            r["game"], _impl_text(r), _jit_text(r), r["precision"], r["mode"],
            _fmt(r.get("steps_per_s")) if ok else "—",
            _fmt(1000 * r["step_s"], 1) if ok else "—",
            _fmt(r.get("compile_s"), 2) if ok else "—",
            _fmt(r.get("peak_rss_mb"), 0) if ok else "—",
            _fmt(r.get("gpu_peak_mb"), 0) if ok else "—",
            r.get("status", "—"),
        ])
    lines.append(_table(
        ["game", "impl", "jit", "precision", "mode", "steps/s", "ms/step",
         "first step (s)", "peak RSS (MB)", "GPU peak (MB)", "status"], body))

    # ---- kmgan / PyTorch
    lines += ["", "## kmgan / PyTorch (steps/s ratio; the PyTorch peer of the same run)", ""]
    body, best = [], {}
    for r in rows:
        if (r["impl"] != "kmgan" or r["family"] not in TORCH_FAMILIES
                or r["mode"] not in ("pipeline", "device")):
            continue
        peer = index.get(_key(r, impl="torch", backend="torch", jit=None))
        if peer is None:
            continue
        if _ok(r) and _ok(peer):
            ratio = r["steps_per_s"] / peer["steps_per_s"]
            text = _fmt(ratio)
            k = (r["game"], r["precision"], r["mode"])
            if k not in best or ratio > best[k][0]:
                best[k] = (ratio, f"{r['backend']}, jit {_jit_text(r)}")
        else:
            text = "— (" + (r.get("status") if not _ok(r) else peer.get("status", "")) + ")"
        body.append([r["game"], r["backend"], _jit_text(r), r["precision"], r["mode"],
                     _fmt(r.get("steps_per_s")) if _ok(r) else "—",
                     _fmt(peer.get("steps_per_s")) if _ok(peer) else "—", text])
    if body:
        lines.append(_table(["game", "backend", "jit", "precision", "mode", "kmgan steps/s",
                             "PyTorch steps/s", "kmgan / PyTorch"], body))
        target = GPU_SPEEDUP_TARGET if _has_gpu(metas) else CPU_SPEEDUP_TARGET
        where = "GPU" if _has_gpu(metas) else "CPU"
        lines += ["", f"Target ({where}): kmgan's best configuration at least {target}x the PyTorch "
                  "eager step rate for DCGAN and GMAN-5.", ""]
        if not best:
            lines.append("- no kmgan / PyTorch pair with both sides measured.")
        for (game, precision, mode), (ratio, how) in sorted(best.items()):
            verdict = "met" if ratio >= target else f"missed by {100 * (1 - ratio / target):.0f}%"
            lines.append(f"- {game}, {precision}, {mode}: best {ratio:.2f}x ({how}): {verdict}")
    else:
        lines.append("No PyTorch rows (torch absent or not run): no ratios.")

    # ---- multi-player cost
    lines += ["", "## Multi-player cost (step time relative to the GAN step of the same configuration)", ""]
    lines.append(
        "GMAN-N: bound = (G + N·D)/(G + D), G and D the forward FLOPs per example counted per "
        "layer (the issue's bound; target: measured ≤ "
        f"{GMAN_BOUND_SLACK}× bound). Step model = FLOPs of a whole round over those of a GAN "
        "round (`step_flops`: in D's step each D runs forward and backward, with weight "
        "gradients, on the real and the fake batch; in G's step it runs forward and "
        "backward-to-input on the fake batch), i.e. the ratio of the work actually done: an "
        "implementation at the same efficiency as its GAN step measures the step model. The "
        "step model exceeds the issue's bound, since D's share of a round is larger than "
        "D / (G + D); where it exceeds 1.2× the bound the verdict says so."
    )
    lines.append("")
    gman_body, multi_body = [], []
    for r in rows:
        if r["family"] == "gan" or r["mode"] not in ("pipeline", "device"):
            continue
        base = index.get(_key(r, game="gan"))
        if base is None:
            continue
        lead = [r["game"], _impl_text(r), _jit_text(r), r["precision"], r["mode"]]
        if not (_ok(r) and _ok(base)):
            status = r.get("status") if not _ok(r) else f"GAN: {base.get('status')}"
            if r["family"] in GMAN_FAMILIES:
                gman_body.append(lead + ["—"] * 5 + [status])
            else:
                multi_body.append(lead + ["—"] * 4 + [status])
            continue
        measured = r["step_s"] / base["step_s"]
        info = r if r.get("g_flops") else _flops_of(rows, r)
        base_info = base if base.get("g_flops") else _flops_of(rows, base)
        model = info["step_flops"] / base_info["step_flops"] if info and base_info else None
        if r["family"] in GMAN_FAMILIES and info:
            g, d = info["g_flops"], info["d_flops"]
            bound = (g + r["n"] * d) / (g + d)
            if measured <= GMAN_BOUND_SLACK * bound:
                verdict = "met"
            else:
                verdict = f"missed by {100 * (measured / (GMAN_BOUND_SLACK * bound) - 1):.0f}%"
            if model and model > GMAN_BOUND_SLACK * bound:
                verdict += f" (step model alone is {model / bound:.2f}× bound)"
            gman_body.append(lead + [_fmt(measured), _fmt(bound), _fmt(measured / bound),
                                     _fmt(model), _fmt(measured / model) if model else "—",
                                     verdict])
        elif r["family"] in ("mgan", "madgan", "megan"):
            verdict = "< K" if measured < r["n"] else "≥ K"
            multi_body.append(lead + [_fmt(measured), r["n"], _fmt(model),
                                      _fmt(measured / model) if model else "—", verdict])
    if gman_body:
        lines.append(_table(["game", "impl", "jit", "precision", "mode", "step / GAN step",
                             "FLOP bound", "measured / bound", "step model",
                             "measured / model", "verdict"], gman_body))
        lines.append("")
    if multi_body:
        lines.append("K-generator games (target: a step costs less than K GAN steps; the step "
                     "model counts the batched multi-generator model and MGAN's / MAD-GAN's "
                     "K·ceil(B/K) fakes):")
        lines.append("")
        lines.append(_table(["game", "impl", "jit", "precision", "mode", "step / GAN step", "K",
                             "step model", "measured / model", "verdict"], multi_body))
    if not gman_body and not multi_body:
        lines.append("No multi-player rows beside a GAN row.")

    # ---- compile time vs N
    lines += ["", "## Time to first step (`fit`) against the number of discriminators", ""]
    body = []
    seen = set()
    for r in rows:
        if r["family"] != "gan" or r["mode"] != "pipeline":
            continue
        k = _key(r)
        if k in seen:
            continue
        seen.add(k)
        for family in GMAN_FAMILIES:
            for clock, field in (("wall", "compile_s"), ("CPU", "compile_cpu_s")):
                points = []
                for game in ["gan"] + sorted({x["game"] for x in rows if x["family"] == family},
                                             key=lambda g: parse_game(g)[1]):
                    other = index.get(_key(r, game=game))
                    if other is not None and _ok(other) and other.get(field) is not None:
                        points.append((parse_game(game)[1], other[field]))
                if len(points) < 2:
                    continue
                exponent = _loglog_slope(points)
                per_d = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
                body.append([_impl_text(r), _jit_text(r), r["precision"], r["mode"],
                             "stacked" if family == "gman_stacked" else "list", clock,
                             ", ".join(f"N={n}: {t:.2f}s" for n, t in points), _fmt(exponent),
                             _fmt(per_d), _growth(exponent)])
    if not body:
        lines.append("No GAN and GMAN `pipeline` rows to compare.")
    else:
        lines.append("Growth exponent b of time ≈ a·N^b fitted on the points (b < 0.9: "
                     "sub-linear, 0.9 to 1.1: about linear); "
                     "per extra D: (t_max − t_1)/(N_max − 1). N = 1 is the GAN; `list`: "
                     "GMAN with N discriminator models, `stacked`: one stacked model. "
                     "`wall`: wall time of the first `fit` step; `CPU`: the process CPU "
                     "time of the same call (less sensitive to other load on the machine).")
        lines.append("")
        lines.append(_table(["impl", "jit", "precision", "mode", "discriminators", "clock",
                             "time to first step", "exponent b", "s per extra D", "growth"],
                            body))

    # ---- FLOPs and parameters
    lines += ["", "## FLOPs and parameters (per example, forward, counted per layer)", ""]
    body, seen = [], set()
    for r in rows:
        if r["impl"] != "kmgan" or not r.get("g_flops") or r["game"] in seen:
            continue
        seen.add(r["game"])
        body.append([r["game"], r.get("players", ""), _fmt(r["g_flops"] / 1e6, 1),
                     _fmt(r["d_flops"] / 1e6, 1),
                     _fmt(r["gate_flops"] / 1e6, 1) if r.get("gate_flops") else "—",
                     f"{r['params_g']:,}", f"{r['params_d']:,}",
                     _fmt(r["step_flops"] / 1e9, 2)])
    if body:
        lines.append(_table(["game", "players", "G MFLOPs", "D MFLOPs (each)", "gate MFLOPs",
                             "G params", "D params (all)", "round GFLOPs (batch)"], body))
        lines.append("")
        lines.append("Achieved GFLOP/s = round GFLOPs × steps/s; e.g. " + ", ".join(
            f"{r['game']} {_impl_text(r)} jit {_jit_text(r)} {r['mode']}: "
            f"{r['step_flops'] * r['steps_per_s'] / 1e9:.1f}"
            for r in rows if r["impl"] == "kmgan" and _ok(r) and r.get("step_flops")
            and r["precision"] == "float32" and r["mode"] == "device"
        ) + ".")
    lines.append("")
    return "\n".join(lines)


def _growth(exponent):
    if exponent != exponent:  # nan
        return "—"
    if exponent < 0.9:
        return "sub-linear"
    return "about linear" if exponent <= 1.1 else "super-linear"


def _flops_of(rows, row):
    for r in rows:
        if r["impl"] == "kmgan" and r["game"] == row["game"] and r.get("g_flops"):
            return r
    return None


def _loglog_slope(points):
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-9)) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else float("nan")


def merge(paths):
    metas, rows = [], []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        metas.extend(data["meta"])
        rows.extend(data["rows"])
    return {"meta": metas, "rows": rows}


def _write(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# ==========================================================================
# Command line


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend-run", action="store_true",
                   help="benchmark on the current KERAS_BACKEND and write JSON rows (the default action)")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="combine JSON files of backend runs into one report (no benchmarking)")
    p.add_argument("--json", help="where a backend run writes its rows (default benchmark-<backend>.json)")
    p.add_argument("--out", help="write the Markdown report here")
    p.add_argument("--games", default=",".join(DEFAULT_GAMES),
                   help="comma-separated: gan, gman-N, gman_stacked-N, mgan-K, madgan-K, megan-K")
    p.add_argument("--stacked", action="store_true",
                   help="also time gman_stacked-N (N discriminators stacked in one model) "
                        "beside every gman-N")
    p.add_argument("--stacked-conv", default="auto", choices=STACKED_CONV,
                   help="grouped-convolution implementation of the stacked discriminators "
                        "(kmgan.nets.stacked.StackedConv2D; auto: im2col on CPU, grouped on GPU)")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--base-filters", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=10, help="steps per timing")
    p.add_argument("--repeats", type=int, default=5, help="timings per configuration (median)")
    p.add_argument("--warmup", type=int, default=1, help="untimed blocks of --steps after the first step")
    p.add_argument("--dataset-batches", type=int, default=16, help="batches of distinct data in the pipeline")
    p.add_argument("--jit", default="on,off", help="on, off or on,off")
    p.add_argument("--precision", default="float32,mixed_bfloat16", help="float32, mixed_bfloat16 or both")
    p.add_argument("--modes", default="pipeline,device", help=f"from {MODES}")
    p.add_argument("--no-torch", action="store_true", help="leave out the PyTorch peer")
    p.add_argument("--torch-device", default="auto", help="auto (the Keras backend's device), cpu, cuda")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch.set_num_threads for the peer (default: PyTorch's choice, one per core)")
    p.add_argument("--isolate", action="store_true", help="each configuration in its own process")
    p.add_argument("--no-clear-session", action="store_true",
                   help="skip keras.backend.clear_session() between configurations (in-process runs)")
    p.add_argument("--only", help=argparse.SUPPRESS)
    p.add_argument("--tiny", action="store_true",
                   help="smoke configuration: gan, gman-2, base_filters 4, batch 8, one timed step")
    p.add_argument("--verbose", action="store_true", help="print tracebacks of failing configurations")
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
    jit = [v == "on" for v in _flag_list(args.jit, ("on", "off"), "jit")]
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
        "precisions": _flag_list(args.precision, PRECISIONS, "precision"),
        "modes": _flag_list(args.modes, MODES, "modes"),
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
        result = merge(args.merge)
        text = render_markdown(result)
        if args.out:
            _write(args.out, text)
        if not args.quiet:
            print(text)
        return result
    # Before the backend starts: let JAX, TF and PyTorch share a GPU.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cfg = config_from_args(args, argv)
    result = backend_run(cfg, argv)
    import keras

    path = args.json or f"benchmark-{keras.backend.backend()}.json"
    _write(path, json.dumps(result, indent=1, default=str))
    if cfg.get("only"):
        return result
    text = render_markdown(result)
    if args.out:
        _write(args.out, text)
    if not args.quiet:
        print(text)
    return result


if __name__ == "__main__":
    main()
