"""A tiny resumable training run, for the SIGKILL test of tests/test_resume.py.

    python tests/resume_run.py --out DIR [--pause-at EPOCH,BATCH]

Trains a small GMAN on kmgan's shuffled ring pipeline with
`kmgan.callbacks.BackupAndRestore(DIR/backup)`, then writes every variable
of the game to DIR/final.npz. Run again with the same command after a kill,
it resumes from the last finished epoch. `--pause-at` makes it print
`paused` and wait inside that batch, for the test to kill it there.
"""

import argparse
import os
import time

import keras
import numpy as np

import kmgan

EPOCHS = 3
BATCH = 8
NUM_BATCHES = 4


class _Report(keras.callbacks.Callback):
    def __init__(self, pause_at):
        super().__init__()
        self.pause_at = pause_at
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.epoch is None:
            print(f"started at epoch {epoch}", flush=True)
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.pause_at == (self.epoch, batch):
            print("paused", flush=True)
            time.sleep(600)


def train(out, pause_at=None):
    """Trains (or resumes) the run in `out`; returns the final state."""
    keras.utils.set_random_seed(0)
    generator = kmgan.nets.mlp_generator(4, 2, (8,), seed=0)
    discriminators = [kmgan.nets.mlp_discriminator(2, (8,), seed=i + 1) for i in range(2)]
    game = kmgan.GMAN(generator, discriminators, aggregator="mean", seed=0)
    game.compile(
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
    )
    dataset = kmgan.data.mixture_dataset(
        "ring", num_samples=BATCH * NUM_BATCHES, batch_size=BATCH, seed=0
    )
    game.fit(
        dataset,
        epochs=EPOCHS,
        verbose=0,
        callbacks=[
            kmgan.callbacks.BackupAndRestore(os.path.join(out, "backup")),
            _Report(pause_at),
        ],
    )
    state = [np.asarray(keras.ops.convert_to_numpy(v)) for v in game.weights]
    state += [np.asarray(keras.ops.convert_to_numpy(v)) for v in game.optimizer.variables]
    state.append(np.asarray(keras.ops.convert_to_numpy(game.seed_generator.state)))
    return state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--pause-at", default=None, help="EPOCH,BATCH (0-based)")
    args = parser.parse_args(argv)
    pause_at = tuple(int(v) for v in args.pause_at.split(",")) if args.pause_at else None
    state = train(args.out, pause_at)
    with kmgan.io.atomic_path(os.path.join(args.out, "final.npz")) as tmp:
        np.savez(tmp, *state)
    print("done", flush=True)


if __name__ == "__main__":
    main()
