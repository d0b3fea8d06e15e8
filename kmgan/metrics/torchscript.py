"""Reads the tensors of a TorchScript archive without importing torch.

A TorchScript file (``torch.jit.save``) is a zip archive::

    <prefix>/data.pkl         the module tree, pickled (protocol 2)
    <prefix>/data/<key>       one raw little-endian buffer per tensor storage
    <prefix>/code/__torch__/  the TorchScript source of every ``forward``
    <prefix>/constants.pkl, <prefix>/version, ...

``data.pkl`` builds ``__torch__.<module path>`` objects whose state is a dict
of attributes (submodules, tensors, ints, lists). Tensors are written as
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` where
``storage`` is a persistent reference ``("storage", torch.FloatStorage, key,
location, numel)`` into ``data/<key>``.

The :class:`pickle.Unpickler` here resolves only that closed set of globals
(plain records for ``__torch__`` classes, NumPy builders for tensors and
storages, ``collections.OrderedDict`` and the ``torch.jit._pickle`` list
builders); any other global raises, so reading an archive never runs code
from it.
"""

from __future__ import annotations

import collections
import pickle
import zipfile

import numpy as np

_STORAGE_DTYPES = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": "bfloat16",  # no NumPy dtype: widened to float32
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class ModuleRecord:
    """One ``torch.nn.Module`` of the archive, as plain data.

    Attributes:
        type_name: the TorchScript class, e.g.
            ``"__torch__.inceptionv3.Conv2dLayer"``.
        attributes: dict of the module's attributes in pickle order:
            submodules (``ModuleRecord``), tensors (``np.ndarray``) and plain
            values (``stride``, ``padding``, ``training``, ...).
    """

    type_name = "__torch__.Module"

    def __init__(self):
        self.attributes = {}

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(
                f"Unexpected state of type {type(state).__name__} for {self.type_name}."
            )
        self.attributes = dict(state)

    @property
    def class_name(self):
        """The last component of ``type_name``, e.g. ``"Conv2dLayer"``."""
        return self.type_name.rsplit(".", 1)[-1]

    def children(self):
        """Yields ``(name, ModuleRecord)`` for the direct submodules, in order."""
        for key, value in self.attributes.items():
            if isinstance(value, ModuleRecord):
                yield key, value

    def named_modules(self, prefix=""):
        """Yields ``(dotted name, ModuleRecord)`` for this module and all below it."""
        yield prefix, self
        for key, child in self.children():
            yield from child.named_modules(f"{prefix}.{key}" if prefix else key)

    def named_tensors(self, prefix=""):
        """All parameters and buffers below this module, by dotted name.

        Args:
            prefix: prepended (with a dot) to every name.

        Returns:
            ``collections.OrderedDict`` name -> ``np.ndarray``, in pickle
            order, e.g. ``"net.layers.conv.weight"``.
        """
        out = collections.OrderedDict()
        for name, module in self.named_modules(prefix):
            for key, value in module.attributes.items():
                if isinstance(value, np.ndarray):
                    out[f"{name}.{key}" if name else key] = value
        return out

    def __repr__(self):
        return f"ModuleRecord({self.type_name})"


def _record_class(module, name):
    qualified = f"{module}.{name}"
    return type(name, (ModuleRecord,), {"type_name": qualified})


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    """NumPy counterpart of ``torch._utils._rebuild_tensor_v2``: a strided view, copied."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if not size:
        return np.array(storage[storage_offset])
    extent = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if min(size) > 0 and extent > storage.shape[0]:
        raise pickle.UnpicklingError(
            f"Tensor of size {size}, stride {stride} at offset {storage_offset} "
            f"overruns its storage of {storage.shape[0]} elements."
        )
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=size, strides=[s * storage.itemsize for s in stride]
    )
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _restore_type_tag(value, type_str):
    return value


_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch.jit._pickle", "build_intlist"): list,
    ("torch.jit._pickle", "build_doublelist"): list,
    ("torch.jit._pickle", "build_boollist"): list,
    ("torch.jit._pickle", "build_tensorlist"): list,
    ("torch.jit._pickle", "build_strlist"): list,
    ("torch.jit._pickle", "restore_type_tag"): _restore_type_tag,
}


class _ArchiveUnpickler(pickle.Unpickler):
    """Unpickles ``data.pkl`` with storages read from the same zip archive."""

    def __init__(self, file, archive, prefix, byteorder):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._byteorder = byteorder
        self._storages = {}

    def find_class(self, module, name):
        if module == "__torch__" or module.startswith("__torch__."):
            return _record_class(module, name)
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        try:
            return _GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"Unsupported global {module}.{name} in the TorchScript archive: "
                "only module records, tensors and storages can be read without torch."
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"Unsupported persistent id {pid!r}.")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"Unsupported storage type {storage_type!r}.")
        key = str(key)
        if key not in self._storages:
            raw = self._archive.read(f"{self._prefix}/data/{key}")
            self._storages[key] = _decode_storage(raw, storage_type, int(numel), self._byteorder)
        return self._storages[key]


def _decode_storage(raw, storage_type, numel, byteorder):
    if storage_type.dtype == "bfloat16":
        bits = np.frombuffer(raw, np.dtype(byteorder + "u2"), count=numel)
        return (bits.astype(np.uint32) << 16).view(np.float32)
    dtype = storage_type.dtype.newbyteorder(byteorder)
    if len(raw) < numel * dtype.itemsize:
        raise pickle.UnpicklingError(
            f"Storage holds {len(raw)} bytes, fewer than {numel} x {dtype.itemsize}."
        )
    return np.frombuffer(raw, dtype, count=numel).astype(dtype.newbyteorder("="), copy=False)


def _archive_prefix(archive, path):
    roots = [
        n[: -len("/data.pkl")]
        for n in archive.namelist()
        if n.endswith("/data.pkl") and n.count("/") == 1
    ]
    if len(roots) != 1:
        raise ValueError(
            f"{path} is not a TorchScript archive: expected one '<name>/data.pkl' entry, "
            f"found {len(roots)}."
        )
    return roots[0]


def _open_archive(path):
    path = str(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a TorchScript archive (not a zip file).")
    return zipfile.ZipFile(path)


def read_torchscript(path):
    """Reads the module tree of a TorchScript archive, without torch.

    Args:
        path: path of a file written by ``torch.jit.save``.

    Returns:
        The root :class:`ModuleRecord`; tensors are NumPy arrays (native
        byte order, contiguous copies).

    Raises:
        ValueError: when the file is not a TorchScript zip archive.
        pickle.UnpicklingError: when it references anything but modules,
            tensors and storages.
    """
    with _open_archive(path) as archive:
        prefix = _archive_prefix(archive, path)
        byteorder = "<"
        if f"{prefix}/byteorder" in archive.namelist():
            order = archive.read(f"{prefix}/byteorder").decode().strip()
            byteorder = {"little": "<", "big": ">"}.get(order)
            if byteorder is None:
                raise ValueError(f"Unknown byteorder {order!r} in {path}.")
        with archive.open(f"{prefix}/data.pkl") as f:
            root = _ArchiveUnpickler(f, archive, prefix, byteorder).load()
    if not isinstance(root, ModuleRecord):
        raise ValueError(f"{path}: data.pkl holds a {type(root).__name__}, not a module.")
    return root


def read_tensors(path):
    """Parameters and buffers of a TorchScript archive by dotted name.

    Args:
        path: path of a file written by ``torch.jit.save``.

    Returns:
        ``collections.OrderedDict`` name -> ``np.ndarray`` (e.g.
        ``"net.layers.conv.weight"`` of shape ``(32, 3, 3, 3)``), names
        relative to the root module, in the archive's order.
    """
    return read_torchscript(path).named_tensors()


def read_code(path):
    """The TorchScript source files of an archive.

    Args:
        path: path of a file written by ``torch.jit.save``.

    Returns:
        dict ``"__torch__/<module>.py"`` -> source text.
    """
    with _open_archive(path) as archive:
        prefix = _archive_prefix(archive, path)
        head = f"{prefix}/code/"
        return {
            name[len(head) :]: archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith(head) and name.endswith(".py")
        }


__all__ = ["ModuleRecord", "read_code", "read_tensors", "read_torchscript"]
