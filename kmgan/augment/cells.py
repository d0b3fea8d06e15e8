"""The finished cells of a sweep, kept on disk so that a repeated sweep skips them.

A cell is one method on one real subset (seed, real fraction): a
classifier for the baseline and each traditional family, the generator's
samples, the filter and a classifier per generated ratio for a generative
method. The real data's reference metrics are a cell too. Each finished
cell is written at once, atomically, to ``<out_dir>/cells/<key>.json`` with
the settings it ran under; the sweep compares those settings with its own
before it trains anything, and refuses to mix cells of different settings
into one table.
"""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np

from kmgan import io as kio

__all__ = ["CellStore", "array_digest", "cell_key"]

_ARRAY_FIELDS = ("confusion_matrix", "per_class_f1")


def array_digest(*arrays):
    """SHA-256 of arrays' shapes, dtypes and bytes (which data a sweep ran on).

    Args:
        *arrays: numpy arrays.

    Returns:
        The hex digest.
    """
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype.str}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def cell_key(method, seed, fraction):
    """The file name stem of a cell: ``<method>_seed<seed>_fraction<f>``.

    Args:
        method: the method's name (characters other than letters, digits,
            ``.``, ``_`` and ``-`` become ``_``).
        seed: the seed.
        fraction: the real fraction.

    Returns:
        The key.
    """
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(method))
    return f"{name}_seed{int(seed)}_fraction{float(fraction):g}"


def _plain(value):
    """numpy values as JSON ones (NaN stays NaN, which `json` reads back)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _restore_arrays(record):
    """Lists read back from JSON as the numpy arrays the sweep produced."""
    for row in record.get("rows", []):
        for field in _ARRAY_FIELDS:
            if field in row:
                row[field] = np.asarray(row[field])
    for report in record.get("filter_reports", []):
        for field, value in report.items():
            if isinstance(value, list):
                report[field] = np.asarray(value)
    return record


def _differences(stored, current):
    keys = sorted(set(stored) | set(current))
    return [k for k in keys if stored.get(k) != current.get(k)]


class CellStore:
    """Reads and writes a sweep's finished cells.

    Args:
        out_dir: the sweep's output folder (cells go to ``out_dir/cells``).
        enabled: ``False`` ignores finished cells (every cell runs again
            and overwrites its file).
    """

    def __init__(self, out_dir, enabled=True):
        self.folder = os.path.join(out_dir, "cells")
        self.enabled = enabled

    def path(self, key):
        return os.path.join(self.folder, f"{key}.json")

    def check(self, expected):
        """Refuses finished cells whose settings differ from this sweep's.

        Args:
            expected: dict key -> the settings that cell would run under.

        Raises:
            ValueError: naming the first such cell and the settings that
                differ, before anything is trained.
        """
        if not self.enabled:
            return
        for key, settings in expected.items():
            record = kio.read_json(self.path(key), default=None)
            if record is None:
                continue
            stored = record.get("settings", {})
            if stored != settings:
                differ = _differences(stored, settings)
                raise ValueError(
                    f"{self.path(key)} was run with other settings ({', '.join(differ)}: "
                    f"{[stored.get(k) for k in differ]} there, "
                    f"{[settings.get(k) for k in differ]} now). A sweep's table mixes no "
                    "settings: use another out_dir, or resume=False (kmgan augment: "
                    "--no-resume) to run every cell again."
                )

    def load(self, key, settings):
        """A finished cell's record, or ``None`` when it has to run.

        Args:
            key: the cell's key.
            settings: the settings it must have run under.

        Returns:
            ``{"settings", "rows", "filter_reports", "gen_metrics"}`` or None.
        """
        if not self.enabled:
            return None
        record = kio.read_json(self.path(key), default=None)
        if record is None or record.get("settings") != settings:
            return None
        return _restore_arrays(record)

    def save(self, key, settings, rows=(), filter_reports=(), gen_metrics=()):
        """Writes a finished cell atomically.

        Args:
            key: the cell's key.
            settings: the settings it ran under.
            rows: its result rows.
            filter_reports: its confidence-filter reports.
            gen_metrics: its generative-metric rows.
        """
        record = {
            "settings": settings,
            "rows": list(rows),
            "filter_reports": list(filter_reports),
            "gen_metrics": list(gen_metrics),
        }
        kio.atomic_write_json(self.path(key), record, default=_plain)
