"""`BackupAndRestore` that refuses a damaged backup and resumes exactly.

`keras.callbacks.BackupAndRestore` works with every kmgan game, and with
kmgan's pipelines a run it resumes ends bit-identical to the uninterrupted
one (the games sync the pipelines' epoch, `kmgan.data.order`). What it does
not do is guard its files: it writes `latest.weights.h5` and then
`training_metadata.json` in place, so a kill during a backup leaves a
truncated file, or new weights beside the old epoch number (the run then
resumes at the wrong epoch without a word), and a corrupted weights file
may load as garbage. `kmgan.resume.BackupAndRestore` (also
`kmgan.callbacks.BackupAndRestore`) keeps Keras' layout and adds:

- atomic backups: the weights go to a temporary file, then the metadata,
  which records the weights' SHA-256, then both are renamed into place; a
  kill at any point leaves the previous complete backup (or the new one);
- a check before restoring: a missing, truncated or corrupted file, or
  weights that do not match their recorded checksum, raise
  `kmgan.io.DamagedFileError` naming the file and what to do, before any
  variable is assigned; a backup that does not fit the model, or would
  leave optimizer state unrestored, raises too. Nothing trains on from a
  half-read state. With `double_checkpoint=True` a damaged backup falls
  back to the previous epoch's, with a warning;
- `kmgan.data.SyncEpoch` built in, so a plain `keras.Model` on kmgan's
  pipelines resumes exactly as well.

A backup written by `keras.callbacks.BackupAndRestore` (no checksum) is
restored after a structural check of its files.
"""

import glob
import hashlib
import os
import shutil
import warnings

import h5py
import keras

from kmgan import io
from kmgan.data.order import set_epoch

__all__ = ["BackupAndRestore", "check_backup"]

_WEIGHTS = "latest.weights.h5"
_METADATA = "training_metadata.json"
# The metadata of a backup being written, renamed into place last.
_PENDING = "pending_metadata.json"


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` with atomic, checked backups.

    Use it as Keras' own: pass it to `fit`, run the same script again after
    an interruption. A run stopped at any point resumes from the last epoch
    that finished (with `save_freq="epoch"`, the interrupted epoch is
    replayed from its start) and, on kmgan's pipelines, ends with the same
    weights, optimizer states, noise state and history as the uninterrupted
    run. Batch-level backups (`save_freq=<int>`) resume from within an
    epoch but replay that epoch's first batches, as Keras' callback does:
    for exact resume keep `save_freq="epoch"`.

    The backup directory must be a local path.

    Args:
        backup_dir: directory for the backup (used by this run only).
        save_freq: `"epoch"` or an integer number of batches.
        double_checkpoint: also keep the previous backup, used (with a
            warning) when the latest one is damaged.
        delete_checkpoint: delete the backup when `fit` completes.

    Raises:
        kmgan.io.DamagedFileError: at the start of `fit`, when the backup in
            `backup_dir` is damaged (and no intact previous one is kept).
        ValueError: at the start of `fit`, when the backup does not fit the
            model.
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        double_checkpoint=False,
        delete_checkpoint=True,
    ):
        super().__init__(
            backup_dir,
            save_freq=save_freq,
            double_checkpoint=double_checkpoint,
            delete_checkpoint=delete_checkpoint,
        )
        self.backup_dir = os.fspath(backup_dir)
        self._weights_path = os.path.join(self.backup_dir, _WEIGHTS)
        self._training_metadata_path = os.path.join(self.backup_dir, _METADATA)
        self._prev_weights_path = self._weights_path + ".bkp"
        self._prev_training_metadata_path = self._training_metadata_path + ".bkp"
        self._pending_path = os.path.join(self.backup_dir, _PENDING)

    # ------------------------------------------------------------ restore
    def on_train_begin(self, logs=None):
        _finish_interrupted_save(self.backup_dir)
        problem = _problem(self._weights_path, self._training_metadata_path)
        if problem and self.double_checkpoint:
            previous = _problem(self._prev_weights_path, self._prev_training_metadata_path)
            if previous is None and os.path.exists(self._prev_weights_path):
                warnings.warn(
                    f"The latest backup in {self.backup_dir} is damaged ({problem}); "
                    "restoring the previous one.",
                    stacklevel=2,
                )
                _copy(self._prev_weights_path, self._weights_path)
                _copy(self._prev_training_metadata_path, self._training_metadata_path)
                problem = None
        if problem:
            raise io.DamagedFileError(self.backup_dir, _damaged_message(self.backup_dir, problem))
        if os.path.exists(self._weights_path):
            self._restore()

    def _restore(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self._load_model()
            except Exception as e:
                raise ValueError(
                    f"The backup {self._weights_path} does not fit this model "
                    f"({type(e).__name__}: {e}). It was written for another game "
                    "or configuration: rebuild and compile the model as that run "
                    f"did, or delete {self.backup_dir} to start over."
                ) from e
        skipped = [w for w in caught if "Skipping variable loading" in str(w.message)]
        if skipped:
            raise ValueError(
                f"The backup {self._weights_path} left part of the state "
                f"unrestored ({skipped[0].message}). Training on would mix restored "
                "and fresh state: rebuild and compile the model as the run that "
                f"wrote it did, or delete {self.backup_dir} to start over."
            )
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    # --------------------------------------------------------------- save
    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        latest = (self._weights_path, self._training_metadata_path)
        if self.double_checkpoint and os.path.exists(latest[0]) and _problem(*latest) is None:
            _copy(self._weights_path, self._prev_weights_path)
            _copy(self._training_metadata_path, self._prev_training_metadata_path)
        with io.atomic_path(self._weights_path) as tmp:
            self.model.save_weights(tmp, overwrite=True)
            metadata = {
                "epoch": self._current_epoch,
                "batch": self._last_batch_seen,
                "weights_sha256": _sha256(tmp),
                "weights_bytes": os.path.getsize(tmp),
            }
            # Written before the weights are renamed into place: a kill
            # between the two renames is finished at the next start.
            io.atomic_write_json(self._pending_path, metadata)
        os.replace(self._pending_path, self._training_metadata_path)

    # -------------------------------------------------------------- epochs
    def on_epoch_begin(self, epoch, logs=None):
        set_epoch(epoch)


def check_backup(backup_dir):
    """Checks a `BackupAndRestore` directory without restoring it.

    Args:
        backup_dir: the directory.

    Returns:
        The epoch a run would resume at, or None when there is no backup.

    Raises:
        kmgan.io.DamagedFileError: if the backup is damaged.
    """
    backup_dir = os.fspath(backup_dir)
    weights = os.path.join(backup_dir, _WEIGHTS)
    metadata = os.path.join(backup_dir, _METADATA)
    _finish_interrupted_save(backup_dir)
    problem = _problem(weights, metadata)
    if problem:
        raise io.DamagedFileError(backup_dir, _damaged_message(backup_dir, problem))
    if not os.path.exists(metadata):
        return None
    return io.read_json(metadata)["epoch"]


def _finish_interrupted_save(backup_dir):
    """Completes or undoes a backup that a kill interrupted."""
    pending = os.path.join(backup_dir, _PENDING)
    weights = os.path.join(backup_dir, _WEIGHTS)
    if os.path.exists(pending):
        try:
            digest = io.read_json(pending).get("weights_sha256")
        except io.DamagedFileError:
            digest = None
        if digest is not None and os.path.exists(weights) and _sha256(weights) == digest:
            # The new weights are in place: their metadata goes in too.
            os.replace(pending, os.path.join(backup_dir, _METADATA))
        else:
            os.remove(pending)
    # Temporary files of writes that never reached their rename.
    for stray in glob.glob(os.path.join(glob.escape(backup_dir), ".*.tmp*")):
        os.remove(stray)


def _problem(weights, metadata):
    """What is wrong with a backup's pair of files, or None."""
    has_weights, has_metadata = os.path.exists(weights), os.path.exists(metadata)
    if not has_weights and not has_metadata:
        return None
    if not has_metadata:
        return f"{weights} has no {os.path.basename(metadata)} beside it (the backup was cut short)"
    if not has_weights:
        return f"{metadata} has no {os.path.basename(weights)} beside it"
    try:
        info = io.read_json(metadata)
    except io.DamagedFileError:
        return f"{metadata} is truncated or not valid JSON"
    if not isinstance(info, dict) or not isinstance(info.get("epoch"), int):
        return f"{metadata} holds no epoch number ({info!r})"
    digest = info.get("weights_sha256")
    if digest is not None:
        if _sha256(weights) != digest:
            return f"{weights} does not match the checksum recorded in {metadata} (corrupted)"
        return None
    # Written by keras.callbacks.BackupAndRestore: no checksum; read it all.
    try:
        with h5py.File(weights, "r") as f:
            f.visititems(_read_dataset)
    except Exception as e:
        return f"{weights} cannot be read ({type(e).__name__}: {e})"
    return None


def _read_dataset(name, item):
    if isinstance(item, h5py.Dataset):
        item[()]


def _damaged_message(backup_dir, problem):
    return (
        f"The backup in {backup_dir} is damaged: {problem}. Nothing was "
        f"restored. Delete {backup_dir} to start the run over, or restore the "
        "folder from a copy (BackupAndRestore(..., double_checkpoint=True) "
        "also keeps the previous epoch's backup to fall back on)."
    )


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(source, target):
    with io.atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
