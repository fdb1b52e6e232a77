"""Remembering which keys a file holds, so appending a batch of new keys is cheap.

An upsert must know whether a key is already in the file. Finding out means reading the
whole file, once per batch: quadratic for a large outbound run. After each write the
connector remembers the keys the file holds, as a sorted array of 64-bit key hashes
(8 bytes a key; a hash collision can only send a batch the safe, full way), together
with the file's identity (inode, size, mtime). When the file is still exactly as it left
it and no key of the next batch is in it, the batch is appended to a byte copy of the
file instead (still atomically: temp file + rename). Anything else (another writer
touched the file, a key exists, a new column) takes the full rewrite, which rebuilds
the memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_FLUSH = 1 << 16  # hashes collected before they are merged into the sorted array


class KeySet:
    """Hashes of key tuples (process-local ``hash()``), sorted for vectorised lookups."""

    def __init__(self) -> None:
        import numpy as np  # only writers need it: reading stays light

        self._np = np
        self._sorted = np.empty(0, dtype=np.int64)
        self._pending: list[int] = []

    def add(self, key: tuple[str, ...]) -> None:
        self._pending.append(hash(key))
        if len(self._pending) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        np = self._np
        if self._pending:
            new = np.fromiter(self._pending, dtype=np.int64, count=len(self._pending))
            merged = np.concatenate((self._sorted, new))
            merged.sort()  # in place: a file of 10M keys holds 80 MB here, not thrice that
            self._sorted = merged
            self._pending.clear()

    def holds_any(self, keys: Iterable[tuple[str, ...]]) -> bool:
        """True when any of ``keys`` is (or, on a hash collision, seems) held."""
        self._flush()
        np = self._np
        wanted = np.fromiter((hash(k) for k in keys), dtype=np.int64)
        if not len(self._sorted) or not len(wanted):
            return False
        at = np.minimum(np.searchsorted(self._sorted, wanted), len(self._sorted) - 1)
        return bool((self._sorted[at] == wanted).any())


def identity(path: Path) -> tuple[int, int, int] | None:
    """What tells that nobody changed the file since we wrote it."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@dataclass
class FileMemory:
    """What a connector remembers about a file it wrote: its keys and how it ends."""

    keys: KeySet = field(default_factory=KeySet)
    file: tuple[int, int, int] | None = None
    #: Format details the append needs (CSV: header columns, line ending).
    layout: dict[str, Any] = field(default_factory=dict)

    def can_append(self, path: Path, batch: Iterable[tuple[str, ...]]) -> bool:
        """True when ``path`` is as we left it and holds none of the ``batch`` keys."""
        if self.file is None or identity(path) != self.file:
            return False
        return not self.keys.holds_any(batch)

    def wrote(self, path: Path) -> None:
        self.file = identity(path)
