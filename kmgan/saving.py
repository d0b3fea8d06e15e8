"""Loading `.keras` files, refusing a damaged one before Keras reads it.

A `.keras` file is a zip archive (`config.json`, `metadata.json`,
`model.weights.h5`) whose members carry CRC-32 checksums. A file cut short
by a kill during `model.save`, or corrupted on disk, fails inside Keras with
a message that names neither the file nor the cause (`BadZipFile: File is
not a zip file`), or, for a flipped byte in the weights, may not fail at
all. `check_keras_file` reads the whole archive and checks every checksum
first; `load_model` is `keras.saving.load_model` after that check.

```python
g = kmgan.saving.load_model("gman_g.keras")   # safe_mode on
```
"""

import json
import os
import zipfile
import zlib

import keras

from kmgan.io import DamagedFileError

__all__ = ["check_keras_file", "float32_copy", "load_model"]

_REQUIRED_MEMBERS = ("config.json", "metadata.json")


def check_keras_file(path):
    """Checks that `path` is a complete, uncorrupted `.keras` archive.

    Reads every member of the archive and checks its CRC-32; files that are
    not `.keras` archives (a legacy `.h5`, a SavedModel folder) are left to
    Keras.

    Args:
        path: path of the file.

    Raises:
        FileNotFoundError: if there is no such file.
        DamagedFileError: if the file is truncated, corrupted, or lacks the
            members every `.keras` file has. The message names the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such .keras file: {path}")
    if not path.endswith(".keras") or os.path.isdir(path):
        return
    if not zipfile.is_zipfile(path):
        _damaged(path, "it is not a zip archive (truncated, or not written by model.save)")
    try:
        with zipfile.ZipFile(path) as archive:
            bad_member = archive.testzip()
            names = set(archive.namelist())
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        _damaged(path, f"its archive cannot be read ({type(e).__name__}: {e})")
    if bad_member is not None:
        _damaged(path, f"its member {bad_member!r} fails its CRC-32 check (corrupted)")
    missing = [m for m in _REQUIRED_MEMBERS if m not in names]
    if missing:
        _damaged(path, f"it lacks {', '.join(missing)} (it holds {sorted(names)})")


def float32_copy(model):
    """A copy of `model` that computes in float32, with the same weights.

    A generator trained under a mixed-precision policy saves, and reloads,
    with that policy (float16 or bfloat16 activations); its variables are
    float32 all along. This rebuilds it with every layer's dtype policy set
    to float32, for inference or export where half precision is not wanted:

        kmgan.saving.float32_copy(game.generator).save("g.keras")

    Args:
        model: a functional or sequential `keras.Model`.

    Returns:
        A new `keras.Model` whose layers compute in float32.
    """
    config = json.loads(model.to_json())
    _float32_policies(config)
    copy = keras.models.model_from_json(json.dumps(config))
    copy.set_weights(model.get_weights())
    return copy


def _float32_policies(node):
    """Sets every serialized dtype policy in a model config to float32."""
    if isinstance(node, dict):
        if node.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            node["config"] = dict(node.get("config", {}), name="float32")
        for value in node.values():
            _float32_policies(value)
    elif isinstance(node, list):
        for value in node:
            _float32_policies(value)


def load_model(path, custom_objects=None, compile=True, safe_mode=True):
    """`keras.saving.load_model`, after `check_keras_file(path)`.

    Args:
        path: a `.keras` file (or anything `keras.saving.load_model` reads).
        custom_objects: as in `keras.saving.load_model` (kmgan's layers
            and games are registered on `import kmgan`).
        compile: as in `keras.saving.load_model`.
        safe_mode: as in `keras.saving.load_model` (on by default: no
            arbitrary code from the file runs).

    Returns:
        The loaded model.

    Raises:
        FileNotFoundError: if there is no such file.
        DamagedFileError: if the file is truncated or corrupted.
    """
    check_keras_file(path)
    return keras.saving.load_model(
        path, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )


def _damaged(path, what):
    raise DamagedFileError(
        path,
        f"{path} is not a usable .keras file: {what}. Nothing was loaded. Save "
        "the model again (model.save(path)) or restore the file from a copy.",
    )
