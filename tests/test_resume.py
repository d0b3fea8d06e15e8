"""Exact resume: a run resumed by BackupAndRestore ends as the uninterrupted run.

Every game trains on one of kmgan's shuffled pipelines. The uninterrupted
run keeps a copy of its backup after epoch `STOP`; a fresh game (other
initial weights, other noise seed) and a fresh pipeline resume from that
copy. Weights, optimizer state, noise state and logged history must match
bit for bit. Keras' own `BackupAndRestore`, a plain `keras.Model`, and a
SIGKILL mid-epoch of a separate process (then fresh objects resuming) are
checked too.
"""

import os
import shutil
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import kmgan
from kmgan.nets import megan as megan_nets
from kmgan.nets import multi
from kmgan.nets.stacked import stacked_mlp_discriminator
from tests import helpers

EPOCHS = 3
STOP = 1  # the copied backup holds the state after this many epochs
BATCH = 8
NUM_BATCHES = 3  # batches per epoch
LATENT = 4
IMAGE_SHAPE = (8, 8, 1)
NUM_CLASSES = 3
RESUME_SCRIPT = os.path.join(os.path.dirname(__file__), "resume_run.py")


def _adam():
    return keras.optimizers.Adam(1e-3, beta_1=0.5)


def _points(seed=3):
    return kmgan.data.mixture_dataset(
        "ring", num_samples=BATCH * NUM_BATCHES, batch_size=BATCH, seed=seed
    )


def _labelled_images(shape=IMAGE_SHAPE, seed=3):
    rng = np.random.default_rng(0)
    n = BATCH * NUM_BATCHES
    x = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    y = np.arange(n) % NUM_CLASSES
    return kmgan.data.from_arrays(x, y, batch_size=BATCH, seed=seed)


def _mlp_g(seed):
    return kmgan.nets.mlp_generator(LATENT, 2, (8,), seed=seed)


def _mlp_d(seed):
    return kmgan.nets.mlp_discriminator(2, (8,), seed=seed)


def _gan(seed):
    return kmgan.GAN(_mlp_g(seed), _mlp_d(seed + 1), seed=seed)


def _gman_list(seed):
    ds = [_mlp_d(seed + 1 + i) for i in range(2)]
    return kmgan.GMAN(_mlp_g(seed), ds, aggregator="mean", seed=seed)


def _gman_stacked(seed):
    d = stacked_mlp_discriminator(2, 2, (8,), seed=seed + 1)
    return kmgan.GMAN(_mlp_g(seed), d, aggregator="mean", seed=seed)


def _mgan(seed):
    g = multi.mgan_mlp_generator(2, LATENT, 2, (8, 8), seed=seed)
    d = multi.mgan_mlp_discriminator(2, hidden_units=(8,), seed=seed + 1)
    return kmgan.MGAN(g, d, seed=seed)


def _madgan(seed):
    g = multi.madgan_mlp_generator(2, LATENT, 2, (8, 8), seed=seed)
    d = multi.madgan_mlp_discriminator(2, hidden_units=(8,), seed=seed + 1)
    return kmgan.MADGAN(g, d, seed=seed)


def _megan(seed):
    experts = megan_nets.megan_mlp_experts(2, latent_dim=LATENT, hidden_units=(8, 8), seed=seed)
    gate = megan_nets.megan_gate(2, LATENT, 8, encoding_dim=4, hidden_units=(8,), seed=seed + 1)
    return kmgan.MEGAN(experts, _mlp_d(seed + 2), gate=gate, seed=seed)


def _conditional_nets(seed):
    init = keras.initializers.GlorotUniform
    z = keras.Input((LATENT,), name="z")
    y = keras.Input((), dtype="int32", name="labels")
    h = layers.Concatenate(name="g_in")([z, layers.Embedding(NUM_CLASSES, 2, name="g_emb")(y)])
    h = layers.Dense(8, activation="relu", kernel_initializer=init(seed), name="g_hidden")(h)
    h = layers.BatchNormalization(name="g_bn")(h)
    size = int(np.prod(IMAGE_SHAPE))
    h = layers.Dense(size, "tanh", kernel_initializer=init(seed + 1), name="g_out")(h)
    g = keras.Model([z, y], layers.Reshape(IMAGE_SHAPE, name="g_image")(h), name="g")
    x = keras.Input(IMAGE_SHAPE, name="image")
    y = keras.Input((), dtype="int32", name="labels")
    e = layers.Embedding(NUM_CLASSES, 2, name="d_emb")(y)
    h = layers.Concatenate(name="d_in")([layers.Flatten(name="d_flat")(x), e])
    h = layers.Dense(8, kernel_initializer=init(seed + 2), name="d_hidden")(h)
    out = layers.Dense(1, kernel_initializer=init(seed + 3), name="d_logit")(h)
    return g, keras.Model([x, y], out, name="d")


def _cgan(seed):
    return kmgan.ConditionalGAN(*_conditional_nets(seed), num_classes=NUM_CLASSES, seed=seed)


def _controlgan(seed):
    g, d, c = helpers.tiny_players(g_seed=seed)
    # No gradient penalty (no state of its own) and one random flip for the
    # augmentation (random state to restore): the default pipeline and the
    # penalty triple the compile time.
    flip = keras.layers.RandomFlip("horizontal", seed=seed + 7)
    return kmgan.ControlGAN(g, d, c, augmentation=flip, d_steps=1, gp_weight=0.0, seed=seed)


# name -> (game builder, its shuffled pipeline: the same data and order
# seeds every time it is built)
GAMES = {
    "gan": (_gan, _points),
    "gman_list": (_gman_list, _points),
    "gman_stacked": (_gman_stacked, _points),
    "mgan": (_mgan, _points),
    "madgan": (_madgan, _points),
    "megan": (_megan, _points),
    "cgan": (_cgan, _labelled_images),
    "controlgan": (_controlgan, lambda: _labelled_images(shape=helpers.SHAPE)),
}


def build(name, seed):
    """The game `name` with networks and noise seeded by `seed`, compiled,
    and a new pipeline for it."""
    keras.utils.set_random_seed(seed)
    make_game, make_data = GAMES[name]
    game, dataset = make_game(seed), make_data()
    optimizers = {role: _adam() for role in ("d_optimizer", "g_optimizer")}
    if name == "megan":
        optimizers["gate_optimizer"] = _adam()
    if name == "controlgan":
        optimizers["c_optimizer"] = _adam()
    game.compile(**optimizers)
    return game, dataset


def state(game):
    """Every variable a resumed run must restore, as numpy arrays."""
    values = [helpers.value(v) for v in game.weights]
    values += [helpers.value(v) for v in game.optimizer.variables]
    values.append(helpers.value(game.seed_generator.state))
    return values


def scramble(game, seed=1):
    """Overwrites every variable `state` reads: only a restore brings them back."""
    rng = np.random.default_rng(seed)
    for v in [*game.weights, *game.optimizer.variables, game.seed_generator.state]:
        old = helpers.value(v)
        if old.dtype.kind in "iu":
            new = rng.integers(1, 1000, old.shape)
        else:
            new = rng.normal(size=old.shape)
        v.assign(new.astype(old.dtype))


def assert_same_history(got, expected):
    """Logged histories are equal, bit for bit."""
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def assert_same_state(a, b):
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        np.testing.assert_array_equal(x, y, err_msg=f"state entry {i}")


class CopyBackupAfter(keras.callbacks.Callback):
    """Copies the backup directory once epoch `epoch` (1-based count) is saved."""

    def __init__(self, epochs_done, backup_dir, copy_dir):
        super().__init__()
        self.epochs_done, self.backup_dir, self.copy_dir = epochs_done, backup_dir, copy_dir

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs_done:
            shutil.copytree(self.backup_dir, self.copy_dir)


# ------------------------------------------------------------- pipelines


def _passes(dataset, n):
    return [np.concatenate([np.asarray(b[0]) for b in dataset]) for _ in range(n)]


@pytest.mark.parametrize(
    "make",
    [
        lambda: kmgan.data.from_arrays(
            np.arange(40.0).reshape(20, 2), np.arange(20), batch_size=4, seed=5
        ),
        lambda: kmgan.data.mixture_dataset("grid", num_samples=20, batch_size=4, seed=5),
        lambda: kmgan.data.shuffle_by_epoch(
            tf.data.Dataset.range(20).map(lambda i: (i, i)), buffer_size=8, seed=5
        ).batch(4),
    ],
)
def test_pipeline_order_is_a_function_of_seed_and_epoch(make):
    uninterrupted = _passes(make(), 4)
    assert not np.array_equal(uninterrupted[0], uninterrupted[1])  # reshuffled
    np.testing.assert_array_equal(np.sort(uninterrupted[0], 0), np.sort(uninterrupted[3], 0))
    restarted = make()  # a new pipeline, told it is on epoch 2
    kmgan.data.set_epoch(2)
    for got, want in zip(_passes(restarted, 2), uninterrupted[2:]):
        np.testing.assert_array_equal(got, want)


def test_epoch_permutation_is_stateless():
    a = helpers.value(kmgan.data.epoch_permutation(10, seed=3, epoch=4))
    np.testing.assert_array_equal(a, helpers.value(kmgan.data.epoch_permutation(10, 3, 4)))
    assert sorted(a.tolist()) == list(range(10))
    assert not np.array_equal(a, helpers.value(kmgan.data.epoch_permutation(10, 3, 5)))
    with pytest.raises(ValueError, match="finite dataset"):
        kmgan.data.shuffle_by_epoch(tf.data.Dataset.range(3).repeat(), buffer_size=3)
    with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
        kmgan.data.set_epoch(-1)


# ------------------------------------------------------------- every game


# These resume with Keras' own callback: kmgan games sync their pipelines'
# epoch themselves, so it resumes them exactly as well.
KERAS_CALLBACK = ("gan", "gman_list")


# The two slowest to compile (MEGAN's gate, ControlGAN's three players on
# images) run with -m slow.
SLOW_GAMES = ("megan", "controlgan")


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_GAMES else n for n in GAMES],
)
def test_resumed_run_is_bit_identical(name, tmp_path):
    # One game object (one compiled step) whose state is overwritten before
    # the resume, and a fresh pipeline; the SIGKILL test below resumes a
    # fresh game in a fresh pipeline after a real kill.
    callback = keras.callbacks.BackupAndRestore if name in KERAS_CALLBACK else None
    callback = callback or kmgan.callbacks.BackupAndRestore
    backup, copy = str(tmp_path / "backup"), str(tmp_path / "copy")
    game, dataset = build(name, seed=0)
    history = game.fit(
        dataset,
        epochs=EPOCHS,
        verbose=0,
        callbacks=[callback(backup), CopyBackupAfter(STOP, backup, copy)],
    ).history
    expected = state(game)

    scramble(game)
    assert any(not np.array_equal(a, b) for a, b in zip(state(game), expected))
    later = game.fit(GAMES[name][1](), epochs=EPOCHS, verbose=0, callbacks=[callback(copy)])

    assert_same_state(state(game), expected)
    assert_same_history(later.history, {k: v[STOP:] for k, v in history.items()})
    assert not os.path.exists(copy)  # deleted once the resumed fit completed


def test_plain_keras_model_resumes_exactly_with_kmgan_callback(tmp_path):
    """A plain keras.Model gets SyncEpoch from kmgan's BackupAndRestore."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), layers.Dense(8)])  # 8 modes
    model.compile(_adam(), loss="sparse_categorical_crossentropy")
    backup, copy = str(tmp_path / "backup"), str(tmp_path / "copy")
    callbacks = [kmgan.callbacks.BackupAndRestore(backup), CopyBackupAfter(STOP, backup, copy)]
    fit = dict(epochs=EPOCHS, verbose=0, shuffle=False)  # the pipeline shuffles
    history = model.fit(_points(), callbacks=callbacks, **fit).history
    expected = [helpers.value(v) for v in model.weights + model.optimizer.variables]
    for v in model.weights:
        v.assign(np.zeros(v.shape, v.dtype))
    callbacks = [kmgan.callbacks.BackupAndRestore(copy)]
    later = model.fit(_points(), callbacks=callbacks, **fit).history
    got = [helpers.value(v) for v in model.weights + model.optimizer.variables]
    assert_same_state(got, expected)
    assert_same_history(later, {k: v[STOP:] for k, v in history.items()})


# ------------------------------------------------------------- SIGKILL


def _run_script(args, out_dir, kill_at=None, timeout=120):
    """Runs tests/resume_run.py; with `kill_at`, SIGKILLs it once it reports
    that it is inside that (epoch, batch)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), *sys.path]))
    command = [sys.executable, RESUME_SCRIPT, "--out", str(out_dir), *args]
    if kill_at is not None:
        command += ["--pause-at", f"{kill_at[0]},{kill_at[1]}"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if kill_at is not None and line.startswith("paused"):
                process.send_signal(signal.SIGKILL)
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, "".join(lines)


def test_sigkill_mid_epoch_then_same_run_ends_as_uninterrupted(tmp_path):
    """A process killed inside epoch 2 leaves the backup of epoch 1; the same
    run started again (here in this process, with fresh objects) replays
    epoch 2 from its start and ends with the uninterrupted run's state."""
    from tests import resume_run

    out = tmp_path / "run"
    code, log = _run_script([], out, kill_at=(2, 1))
    assert code == -signal.SIGKILL, log
    assert kmgan.resume.check_backup(out / "backup") == 2

    expected = resume_run.train(str(tmp_path / "reference"))
    got = resume_run.train(str(out))
    assert_same_state(got, expected)
    assert not (out / "backup").exists()


@pytest.mark.slow
def test_sigkill_mid_epoch_then_same_command_ends_as_uninterrupted(tmp_path):
    """As above, with the rerun a new process running the same command."""
    from tests import resume_run

    expected = resume_run.train(str(tmp_path / "reference"))
    out = tmp_path / "run"
    code, log = _run_script([], out, kill_at=(2, 1))
    assert code == -signal.SIGKILL, log
    code, log = _run_script([], out)
    assert code == 0 and "started at epoch 2" in log, log
    with np.load(out / "final.npz") as final:
        got = [final[f"arr_{i}"] for i in range(len(final.files))]
    assert_same_state(got, expected)
