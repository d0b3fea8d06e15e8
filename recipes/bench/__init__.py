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
(the README's performance section gives a measured case); `--torch-threads`
pins the peer, and every row records its thread count. Run the real benchmark on a quiet machine.

Multi-generator games are built through a registry that imports them
lazily; a game that fails to import or build is reported as
"unavailable: <reason>", never with numbers.

The report: throughput per configuration, kmgan / PyTorch ratios, the
multi-player cost ratios (GMAN-N step / GAN step against the FLOP bound
(G + N*D) / (G + D) from forward FLOPs counted per layer, and against a
step model that counts what each sub-step computes; K-generator step / GAN
step against K), compile time against N, and the FLOPs and parameters of
each game. All of it names the device.

The package, one module per concern: `config` (what runs), `games` (the
games, built through `kmgan.games.registry`), `flops`, `memory`, `device`,
`timing` (kmgan's step), `torch_peer` (the PyTorch step), `rows`, `jobs`
(in this process or a fresh one), `report` (Markdown) and `cli`.
`recipes/benchmark.py` runs it.
"""
