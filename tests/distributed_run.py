"""Trains a tiny game on R replicas of this CPU and prints its weights (JSON).

Run as a script by tests/test_distribution.py, in a fresh process: the number
of virtual devices must be set before the backend starts.

    python tests/distributed_run.py <game> <replicas> [<steps>]
    KMGAN_PROCESS=<i>/<n>@<port>,<port>... python tests/distributed_run.py <game> <n>

`game` is gan, gman, gman-stacked, mgan, madgan (generators that ignore z),
megan or controlgan (registry games). With `KMGAN_PROCESS` the process is
worker i of n on 127.0.0.1 (one CPU device each): TensorFlow's
`MultiWorkerMirroredStrategy` with `TF_CONFIG` on the n ports, or JAX's
`keras.distribution.initialize` with its coordinator on the first. Every
process passes the same global batches. Worker 0 prints.

Under TensorFlow the replicas are logical CPU devices of a
`tf.distribute.MirroredStrategy`; under JAX, `keras.distribution.DataParallel`
over virtual CPU devices. The first five games' generators ignore their noise
(their output is a trainable bias), so a step on R replicas must equal a step
on one device whatever noise each replica draws; the last line also prints
the noise each replica drew in one call.
"""

import json
import os
import sys

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
PROCESS = os.environ.get("KMGAN_PROCESS")  # "<i>/<n>@<ports>": one of n processes
if PROCESS:
    _rank, _rest = PROCESS.split("/")
    _count, _ports = _rest.split("@")
    RANK, COUNT = int(_rank), int(_count)
    PORTS = [int(p) for p in _ports.split(",")]
    DEVICES = 1
    if BACKEND == "tensorflow":
        os.environ["TF_CONFIG"] = json.dumps(
            {
                "cluster": {"worker": [f"127.0.0.1:{port}" for port in PORTS]},
                "task": {"type": "worker", "index": RANK},
            }
        )
else:
    RANK, COUNT, DEVICES = 0, 1, 4
if BACKEND == "jax":
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={DEVICES}"

import numpy as np  # noqa: E402

if BACKEND == "tensorflow":
    import tensorflow as tf

    if not PROCESS:
        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * DEVICES
        )

import keras  # noqa: E402
from keras import layers  # noqa: E402

import kmgan  # noqa: E402

LATENT = 3


def constant_generator(seed):
    """G(z) = b: the kernel on z is frozen at zero, the bias trains."""
    z = keras.Input((LATENT,))
    zero = layers.Dense(2, use_bias=False, kernel_initializer="zeros", trainable=False)(z)
    init = keras.initializers.RandomNormal(stddev=0.5, seed=seed)
    return keras.Model(z, layers.Dense(2, kernel_initializer="zeros", bias_initializer=init)(zero))


def critic(seed, outputs=1):
    x = inp = keras.Input((2,))
    init = keras.initializers.GlorotUniform
    x = layers.Dense(8, activation="tanh", kernel_initializer=init(seed))(x)
    return keras.Model(inp, layers.Dense(outputs, kernel_initializer=init(seed + 1))(x))


def stacked_critics(n):
    x = inp = keras.Input((2,))
    init = keras.initializers.GlorotUniform
    x = layers.Dense(8 * n, activation="tanh", kernel_initializer=init(30))(x)
    return keras.Model(inp, layers.Dense(n, kernel_initializer=init(31))(x))


def two_headed_critic(k):
    """MGAN's D: (real-vs-fake logit, K-way classifier logits)."""
    x = inp = keras.Input((2,))
    init = keras.initializers.GlorotUniform
    h = layers.Dense(8, activation="tanh", kernel_initializer=init(40))(x)
    d = layers.Dense(1, kernel_initializer=init(41), name="d")(h)
    c = layers.Dense(k, kernel_initializer=init(42), name="c")(h)
    return keras.Model(inp, [d, c])


def build(name):
    if name == "gan":
        return kmgan.GAN(constant_generator(0), critic(10), seed=0)
    if name == "gman":
        return kmgan.GMAN(constant_generator(0), [critic(10), critic(20)], seed=0)
    if name == "gman-stacked":
        return kmgan.GMAN(constant_generator(0), stacked_critics(2), seed=0)
    if name == "mgan":
        return kmgan.MGAN([constant_generator(i) for i in range(2)], two_headed_critic(2), seed=0)
    if name == "madgan":
        return kmgan.MADGAN([constant_generator(i) for i in range(2)], critic(10, 3), seed=0)
    # Registry games whose generators see z: equal to one device under JAX's
    # SPMD (noise drawn for the global batch), only trained under TF.
    from kmgan.games import registry

    if name == "megan":
        return registry.build(
            "megan",
            (2,),
            latent_dim=LATENT,
            hidden_units=(8,),
            d_hidden_units=(8,),
            num_generators=2,
            gate_encoding_dim=2,
            gate_hidden_units=(4,),
            seed=0,
        )
    if name == "controlgan":
        return registry.build(
            "controlgan", (28, 28, 1), latent_dim=LATENT, base_filters=4, num_classes=2, seed=0
        )
    raise ValueError(name)


def scope(replicas):
    """The distribution context for R replicas (a no-op context for 1)."""
    import contextlib

    if replicas == 1:
        return contextlib.nullcontext()
    if PROCESS and BACKEND == "tensorflow":
        return tf.distribute.MultiWorkerMirroredStrategy().scope()
    if PROCESS:
        keras.distribution.initialize(
            job_addresses=f"127.0.0.1:{PORTS[0]}", num_processes=COUNT, process_id=RANK
        )
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext()
    if BACKEND == "tensorflow":
        devices = [f"/cpu:{i}" for i in range(replicas)]
        return tf.distribute.MirroredStrategy(devices).scope()
    import jax

    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=jax.devices()[:replicas])
    )
    return contextlib.nullcontext()


def replica_noise(game, replicas):
    """The noise each replica draws in one `sample_z(2)` call (TF), or the
    global batch's rows under JAX's SPMD."""
    if PROCESS:
        return []
    if BACKEND != "tensorflow" or replicas == 1:
        return [keras.ops.convert_to_numpy(game.sample_z(2 * replicas)).tolist()]
    strategy = tf.distribute.get_strategy()
    draws = strategy.run(tf.function(lambda: game.sample_z(2)))
    return [d.numpy().tolist() for d in strategy.experimental_local_results(draws)]


def main(name, replicas, steps):
    rng = np.random.default_rng(0)
    labels = None
    if name == "controlgan":
        x = rng.uniform(-1, 1, (16 * steps, 28, 28, 1)).astype("float32")
        labels = (np.arange(16 * steps) % 2).astype("int32")
    else:
        x = rng.normal(size=(16 * steps, 2)).astype("float32")
    with scope(replicas):
        game = build(name)
        game.compile(
            {p: keras.optimizers.SGD(0.1) for p in game.player_variables()},
            jit_compile=False,
        )
        # Every process passes the global batches; Keras (JAX) and tf.distribute
        # (TF) give each process its share.
        data = kmgan.data.from_arrays(x, labels, batch_size=16, seed=0, shuffle=False)
        history = game.fit(data, epochs=1, verbose=0).history
        noise = replica_noise(game, replicas)
    weights = [keras.ops.convert_to_numpy(v).tolist() for v in game.trainable_variables]
    logs = {k: float(v[-1]) for k, v in history.items()}
    logs["rounds"] = float(keras.ops.convert_to_numpy(game.optimizer.iterations))
    if RANK == 0:
        print(json.dumps({"weights": weights, "logs": logs, "noise": noise}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 4)
