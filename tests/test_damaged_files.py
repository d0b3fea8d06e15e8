"""Damaged files are refused clearly (or, for a cache, rebuilt); writes are atomic.

Backups (`kmgan.callbacks.BackupAndRestore`), `.keras` files
(`kmgan.saving`), result files (`kmgan.io`) and the FID real-statistics
cache (`kmgan.metrics.inception.real_statistics`).
"""

import json
import os
import shutil
import stat
import zipfile

import keras
import numpy as np
import pytest

import kmgan
from kmgan.io import DamagedFileError
from kmgan.metrics import inception
from tests import helpers

# ------------------------------------------------------------------ backups


def _model(hidden=(), optimizer="adam"):
    layers = [keras.layers.Dense(units) for units in hidden] + [keras.layers.Dense(3)]
    model = keras.Sequential([keras.Input((2,)), *layers])
    model.compile(optimizer, loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")


def _fit(model, backup_dir, epochs, callback=kmgan.callbacks.BackupAndRestore, **kwargs):
    x, y = _data()
    callbacks = [callback(backup_dir, delete_checkpoint=False, **kwargs)]
    return model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, callbacks=callbacks)


@pytest.fixture(scope="module")
def backup(tmp_path_factory):
    """A complete backup after 2 epochs (and the previous one, epoch 1)."""
    path = str(tmp_path_factory.mktemp("backups") / "backup")
    _fit(_model(), path, epochs=2, double_checkpoint=True)
    return path


def _copy(backup, tmp_path):
    target = str(tmp_path / "backup")
    shutil.copytree(backup, target)
    return target


def _weights(directory):
    return os.path.join(directory, "latest.weights.h5")


def _metadata(directory):
    return os.path.join(directory, "training_metadata.json")


def _truncate(path, keep=0.5):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: int(len(data) * keep)])


def _flip_byte(path, where=0.6):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        i = int(len(data) * where)
        data[i] ^= 0xFF
        f.seek(0)
        f.write(data)


def _assert_refused(directory, match):
    """Resuming from `directory` raises before any variable or step changes."""
    model = _model()
    before = helpers.snapshot(model.weights)
    with pytest.raises(DamagedFileError, match=match) as info:
        _fit(model, directory, epochs=3)
    assert info.value.path == directory
    message = str(info.value)
    assert "Nothing was restored" in message and f"Delete {directory}" in message
    for a, b in zip(before, helpers.snapshot(model.weights)):
        np.testing.assert_array_equal(a, b)
    assert int(helpers.value(model.optimizer.iterations)) == 0


def test_intact_backup_resumes_and_records_its_checksum(backup, tmp_path):
    directory = _copy(backup, tmp_path)
    info = json.loads(open(_metadata(directory)).read())
    assert info["epoch"] == 2 and len(info["weights_sha256"]) == 64
    assert kmgan.resume.check_backup(directory) == 2
    history = _fit(_model(), directory, epochs=3)
    assert len(history.history["loss"]) == 1  # epochs 0 and 1 were restored


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_weights_are_refused(backup, tmp_path, damage):
    directory = _copy(backup, tmp_path)
    (_truncate if damage == "truncate" else _flip_byte)(_weights(directory))
    _assert_refused(directory, r"latest\.weights\.h5 does not match the checksum")


def test_truncated_metadata_is_refused(backup, tmp_path):
    directory = _copy(backup, tmp_path)
    _truncate(_metadata(directory))
    _assert_refused(directory, r"training_metadata\.json is truncated or not valid JSON")


def test_weights_without_metadata_are_refused(backup, tmp_path):
    directory = _copy(backup, tmp_path)
    os.remove(_metadata(directory))
    _assert_refused(directory, r"latest\.weights\.h5 has no training_metadata\.json")
    os.remove(_weights(directory))
    with open(_metadata(directory), "w") as f:
        f.write('{"epoch": 1}')
    _assert_refused(directory, r"training_metadata\.json has no latest\.weights\.h5")


def test_keras_written_backup_is_read_whole(tmp_path):
    """A backup of keras.callbacks.BackupAndRestore has no checksum: it is
    restored when every dataset reads, refused when the file is cut short."""
    directory = str(tmp_path / "keras_backup")
    _fit(_model(), directory, epochs=1, callback=keras.callbacks.BackupAndRestore)
    assert kmgan.resume.check_backup(directory) == 1
    _truncate(_weights(directory), keep=0.7)
    _assert_refused(directory, r"latest\.weights\.h5 cannot be read")


def test_damaged_latest_falls_back_to_previous_with_double_checkpoint(backup, tmp_path):
    directory = _copy(backup, tmp_path)
    _flip_byte(_weights(directory))
    model = _model()
    x, y = _data()
    callback = kmgan.callbacks.BackupAndRestore(directory, double_checkpoint=True)
    with pytest.warns(UserWarning, match="restoring the previous one"):
        history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[callback])
    assert len(history.history["loss"]) == 2  # resumed after epoch 1


def test_kill_between_the_two_renames_is_finished_at_the_next_start(tmp_path):
    """Weights renamed into place, metadata still pending: rolled forward."""
    directory = str(tmp_path / "backup")
    _fit(_model(), directory, epochs=1)
    pending = os.path.join(directory, "pending_metadata.json")
    model = _model()
    _fit(model, str(tmp_path / "other"), epochs=2)
    model.save_weights(_weights(directory))  # the new weights, renamed in
    digest = kmgan.resume._sha256(_weights(directory))
    with open(pending, "w") as f:
        json.dump({"epoch": 2, "batch": 0, "weights_sha256": digest}, f)
    assert kmgan.resume.check_backup(directory) == 2
    assert not os.path.exists(pending)


def test_kill_before_the_weights_rename_keeps_the_previous_backup(tmp_path):
    """New weights still in their temporary file: the old backup stands."""
    directory = str(tmp_path / "backup")
    _fit(_model(), directory, epochs=1)
    stray = os.path.join(directory, ".latest.abc123.tmp.weights.h5")
    with open(stray, "wb") as f:
        f.write(b"half a file")
    with open(os.path.join(directory, "pending_metadata.json"), "w") as f:
        json.dump({"epoch": 2, "batch": 0, "weights_sha256": "0" * 64}, f)
    history = _fit(_model(), directory, epochs=3)
    assert len(history.history["loss"]) == 2  # resumed after epoch 1
    assert not os.path.exists(stray)


def test_backup_of_another_model_is_refused(backup, tmp_path):
    directory = _copy(backup, tmp_path)
    with pytest.raises(ValueError, match="(?s)does not fit this model.*delete"):
        _fit(_model(hidden=(5,)), directory, epochs=3)


def test_backup_that_would_leave_optimizer_state_unrestored_is_refused(backup, tmp_path):
    directory = _copy(backup, tmp_path)  # written with Adam
    with pytest.raises(ValueError, match="left part of the state unrestored"):
        _fit(_model(optimizer="sgd"), directory, epochs=3)


def test_backup_files_are_written_atomically(tmp_path):
    directory = str(tmp_path / "backup")
    _fit(_model(), directory, epochs=2)
    assert sorted(os.listdir(directory)) == ["latest.weights.h5", "training_metadata.json"]


# ------------------------------------------------------------- .keras files


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("models") / "g.keras")
    kmgan.nets.mlp_generator(4, 2, (8,), seed=0).save(path)
    return path


def test_intact_keras_file_loads(keras_file):
    model = kmgan.saving.load_model(keras_file)
    assert model.output_shape == (None, 2)


@pytest.mark.parametrize("damage", ["truncate", "flip", "text"])
def test_damaged_keras_file_is_refused(keras_file, tmp_path, damage):
    path = str(tmp_path / "g.keras")
    shutil.copyfile(keras_file, path)
    if damage == "truncate":
        _truncate(path, keep=0.6)
    elif damage == "flip":
        # A byte inside the weights member's data.
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("model.weights.h5")
        with open(path, "r+b") as f:
            f.seek(info.header_offset + 30 + len(info.filename) + info.compress_size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
    else:
        with open(path, "w") as f:
            f.write("not a model")
    with pytest.raises(DamagedFileError, match=f"{path} is not a usable .keras file") as info:
        kmgan.saving.load_model(path)
    assert "Save the model again" in str(info.value)


def test_missing_keras_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such .keras file"):
        kmgan.saving.load_model(str(tmp_path / "nope.keras"))


# ------------------------------------------------------------ result files


def test_atomic_json_round_trip_and_mode(tmp_path):
    path = tmp_path / "runs" / "results.json"
    kmgan.io.atomic_write_json(path, {"rows": [1, 2.5]})
    assert kmgan.io.read_json(path) == {"rows": [1, 2.5]}
    assert os.listdir(path.parent) == ["results.json"]
    os.chmod(path, 0o640)
    kmgan.io.atomic_write_json(path, [3])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640  # the old file's mode is kept
    assert kmgan.io.read_json(tmp_path / "absent.json", default=[]) == []
    with pytest.raises(FileNotFoundError):
        kmgan.io.read_json(tmp_path / "absent.json")


def test_failed_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    kmgan.io.atomic_write_json(path, {"done": 1})
    with pytest.raises(TypeError):
        kmgan.io.atomic_write_json(path, {"bad": object()})  # not serialisable

    def killed(*args):
        raise KeyboardInterrupt("killed during the write")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        kmgan.io.atomic_write_json(path, {"done": 2})
    monkeypatch.undo()
    assert kmgan.io.read_json(path) == {"done": 1}
    assert os.listdir(tmp_path) == ["results.json"]  # no temporary file left


@pytest.mark.parametrize("content", [b'{"runs": [1, 2', b"", b"\xff\xfe"])
def test_damaged_results_json_is_refused(tmp_path, content):
    path = tmp_path / "results.json"
    path.write_bytes(content)
    with pytest.raises(DamagedFileError, match=rf"{path} .*damaged.*delete it") as info:
        kmgan.io.read_json(path)
    assert info.value.path == str(path)


# ------------------------------------------------------------ the FID cache


class _TinyFeatures:
    """A stand-in extractor: the first 4 pixels of each image, counted."""

    weights_tag, input_size, batch_size = "tiny", 8, 4

    def __init__(self):
        self.calls = 0

    def __call__(self, images, value_range=None):
        self.calls += 1
        images = np.asarray(images, np.float64)
        return images.reshape(len(images), -1)[:, :4], None


@pytest.mark.parametrize("damage", ["truncate", "flip", "wrong_shapes"])
def test_damaged_fid_cache_is_rebuilt_with_a_warning(tmp_path, damage):
    images = np.random.default_rng(0).uniform(-1, 1, (12, 8, 8, 3)).astype("float32")
    features = _TinyFeatures()
    mu, sigma = inception.real_statistics("toy", "train", images, features, tmp_path)
    path = inception.real_statistics_path("toy", "train", features, tmp_path)
    if damage == "truncate":
        _truncate(path)
    elif damage == "flip":
        _flip_byte(path, where=0.3)
    else:
        np.savez(path, mu=np.zeros(3), sigma=np.eye(4))
    calls = features.calls
    with pytest.warns(UserWarning, match=f"cache {path} is damaged.*recomputing"):
        again = inception.real_statistics("toy", "train", images, features, tmp_path)
    assert features.calls > calls
    np.testing.assert_array_equal(again[0], mu)
    np.testing.assert_array_equal(again[1], sigma)
    with np.load(path) as data:  # rewritten whole
        np.testing.assert_array_equal(data["sigma"], sigma)
