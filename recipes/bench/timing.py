"""Timing kmgan's training step.

`fit` on a pipeline, the compiled step on a fixed device batch, or a
`train_on_batch` loop.
"""

import time

__all__ = [
    "TIMERS",
    "random_images",
    "time_device",
    "time_pipeline",
    "time_train_on_batch",
]


def random_images(cfg, count, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (count,) + tuple(cfg["image_shape"])).astype("float32")


def _dataset(cfg):
    import tensorflow as tf

    images = random_images(cfg, cfg["dataset_batches"] * cfg["batch_size"])
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
    model.fit(
        ds,
        epochs=cfg["warmup"] + cfg["repeats"],
        steps_per_epoch=cfg["steps"],
        verbose=0,
        callbacks=[timer],
    )
    times = [t / cfg["steps"] for t in timer.times[cfg["warmup"] :]]
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
        elif self.backend == "torch":
            self.x = keras.ops.convert_to_tensor(batch)
            self.method = "train_function([x]) on a torch.Tensor (eager)"
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
        if self.backend in ("tensorflow", "torch"):
            logs = None
            for _ in range(steps):
                logs = fn([self.data])
            float(logs["loss"])  # waits for the last step (and, through the variables, all before)
            return time.perf_counter() - start
        import jax

        if self.state is None:
            self.state = model._get_jax_state(
                trainable_variables=True,
                non_trainable_variables=True,
                optimizer_variables=True,
                metrics_variables=True,
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
            names = (
                "trainable_variables",
                "non_trainable_variables",
                "optimizer_variables",
                "metrics_variables",
            )
            self.model._jax_state = dict(zip(names, self.state))
            self.model._jax_state_synced = False
            self.model.jax_state_sync()
            self.state = None


def time_device(model, cfg):
    """The compiled step on a fixed on-device batch: (first call s, per-step times)."""
    loop = _DeviceLoop(model, random_images(cfg, cfg["batch_size"], seed=1))
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

    x = keras.ops.convert_to_tensor(random_images(cfg, cfg["batch_size"], seed=1))
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
