"""Data-parallel training equals one device: tf.distribute.MirroredStrategy
(TensorFlow) and keras.distribution.DataParallel (JAX) on virtual CPU devices,
and two processes on 127.0.0.1 (MultiWorkerMirroredStrategy; JAX's
keras.distribution.initialize).

Each run is a fresh process (`tests/distributed_run.py`): the device count
must be set before the backend starts. The generators ignore their noise,
so the weights after k steps on R replicas must match one device's at the
same global batch, whatever noise each replica draws.
"""

import functools
import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="Keras has no distribution API for the torch backend (kmgan trains a torch game "
    "on one device; `kmgan train --distribute` says so)",
)

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_run.py")


@functools.cache
def trained(game, replicas, steps=4):
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, SCRIPT, game, str(replicas), str(steps)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "game, replicas",
    [("gan", 2), ("gan", 4), ("gman", 2), ("gman-stacked", 2), ("mgan", 2), ("madgan", 2)],
)
def test_replicas_train_as_one_device(game, replicas):
    one, many = trained(game, 1), trained(game, replicas)
    assert len(one["weights"]) == len(many["weights"])
    for a, b in zip(one["weights"], many["weights"]):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5)
    # Logged losses are the global batch's, not one replica's or their sum.
    assert set(one["logs"]) == set(many["logs"])
    for name, value in one["logs"].items():
        np.testing.assert_allclose(many["logs"][name], value, rtol=1e-5, atol=1e-6)


# ControlGAN's case costs 3 minutes on a 2-core CPU (its classifier's
# Table 1 size): kept, out of CI.
@pytest.mark.parametrize("game", ["megan", pytest.param("controlgan", marks=pytest.mark.slow)])
def test_games_whose_generators_see_the_noise(game):
    """MEGAN's gate and ControlGAN's classifier and gamma under 2 replicas:
    equal to one device under JAX (the noise is the global batch's); under
    TF the replicas' noise differs from one device's, so they must train."""
    one, two = trained(game, 1, steps=2), trained(game, 2, steps=2)
    assert set(one["logs"]) == set(two["logs"])
    assert all(np.isfinite(v) for v in two["logs"].values())
    if keras.backend.backend() == "jax":
        for a, b in zip(one["weights"], two["weights"]):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5)
    else:
        assert any(
            not np.allclose(np.asarray(a), np.asarray(b))
            for a, b in zip(one["weights"], two["weights"])
        )


def test_every_replica_draws_its_own_noise():
    one, two = trained("gan", 1), trained("gan", 2)
    draws = [np.asarray(n) for n in two["noise"]]
    if keras.backend.backend() == "tensorflow":  # one draw per replica
        assert len(draws) == 2
        assert not np.allclose(draws[0], draws[1])
        # Replica 0 draws what one device draws.
        np.testing.assert_array_equal(draws[0], np.asarray(one["noise"][0]))
    else:  # SPMD: one draw for the global batch, every row its own
        (rows,) = draws
        assert len(rows) == 4 and len({tuple(r) for r in np.round(rows, 6)}) == 4


def free_ports(n):
    """n free TCP ports on the loopback interface."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_two_processes_train_as_one():
    ports = ",".join(str(p) for p in free_ports(2))
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3")
    workers = [
        subprocess.Popen(
            [sys.executable, SCRIPT, "gman", "2"],
            env=dict(env, KMGAN_PROCESS=f"{rank}/2@{ports}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    try:
        outputs = [w.communicate(timeout=300) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    together = json.loads(outputs[0][0].strip().splitlines()[-1])
    alone = trained("gman", 1)
    for a, b in zip(alone["weights"], together["weights"]):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(together["logs"]["d_loss"], alone["logs"]["d_loss"], rtol=1e-5)
