"""Files that survive a kill: atomic writes, and reads that refuse damage.

A file written in place and cut short (a kill, a full disk, a lost session)
leaves half a file that later reads as garbage or as a confusing parse
error. Here a file is written to a temporary file beside it, flushed to
disk, then renamed over the old one with `os.replace`, which is atomic on
POSIX and Windows: a reader sees the previous complete file or the new
complete file, never a mix. Reads that find a damaged file raise
`DamagedFileError`, naming the file and what to do.

```python
kmgan.io.atomic_write_json("runs/ring/results.json", rows)
rows = kmgan.io.read_json("runs/ring/results.json", default=[])
```
"""

import contextlib
import json
import os
import pathlib
import stat
import tempfile

__all__ = [
    "DamagedFileError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "read_json",
]

_NO_DEFAULT = object()


class DamagedFileError(ValueError):
    """A file kmgan reads is truncated, corrupted or inconsistent.

    Attributes:
        path: the damaged file (or backup directory).
    """

    def __init__(self, path, message):
        super().__init__(message)
        self.path = os.fspath(path)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it to `path` on success.

    For writers that take a file name (`np.savez`, `model.save`): write to
    the yielded path inside the `with` block. On an exception the temporary
    file is removed and `path` is left as it was. The temporary name ends
    with `path`'s suffixes (`.npz`, `.weights.h5`), which such writers check.

    Args:
        path: the file to write.

    Yields:
        The temporary file's path (a str; the file exists, empty).
    """
    path = pathlib.Path(os.fspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path, data):
    """Writes `data` to `path` atomically (temporary file, then `os.replace`).

    Args:
        path: the file to write; its folder is created if needed.
        data: bytes.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path, text, encoding="utf-8"):
    """Writes `text` to `path` atomically (temporary file, then `os.replace`).

    Args:
        path: the file to write; its folder is created if needed.
        text: str.
        encoding: text encoding.
    """
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path, obj, indent=1, default=None, **kwargs):
    """Writes `obj` as JSON to `path` atomically.

    `obj` is serialised before anything is written, so an object that is
    not JSON-serialisable leaves the previous file untouched.

    Args:
        path: the file to write; its folder is created if needed.
        obj: a JSON-serialisable object.
        indent: as in `json.dumps`.
        default: as in `json.dumps` (e.g. `str` for numpy scalars).
        **kwargs: other `json.dumps` options.
    """
    text = json.dumps(obj, indent=indent, default=default, **kwargs) + "\n"
    atomic_write_text(path, text)


def read_json(path, default=_NO_DEFAULT):
    """Reads a JSON file, refusing a damaged one.

    Args:
        path: the file to read.
        default: returned when the file does not exist (without it, a
            missing file raises `FileNotFoundError`).

    Returns:
        The parsed JSON value.

    Raises:
        DamagedFileError: if the file is empty, truncated or otherwise not
            valid UTF-8 JSON. The message names the file and what to do.
        FileNotFoundError: if the file does not exist and no `default` is
            given.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if default is _NO_DEFAULT:
            raise
        return default
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        state = "is empty" if not data.strip() else f"is not valid JSON ({e})"
        raise DamagedFileError(
            path,
            f"{path} {state}: it is damaged, probably cut short while it was "
            "written (kmgan writes its files atomically; an older version or "
            "another program wrote this one). Restore it from a copy, or "
            "delete it to recompute what it held.",
        ) from None


def _mode_for(path):
    """The permission bits the new file gets: the old file's, or 0o666 less
    the umask (what `open(path, "w")` would give)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _fsync_file(path):
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(directory):
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
