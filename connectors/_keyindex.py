"""Remembering which keys a file holds, so appending a batch of new keys is cheap.

An upsert must know whether a key is already in the file. Finding out means reading the
whole file, once per batch: quadratic for a large outbound run. After each write the
connector remembers the keys the file holds (in a Bloom filter: about 1.2 bytes a key,
never a false "absent") together with the file's identity (inode, size, mtime). When the
file is still exactly as it left it and no key of the next batch may be in it, the batch
is appended to a byte copy of the file instead (still atomically: temp file + rename).
Anything else (another writer touched the file, a key may exist, a new column) takes the
full rewrite, which rebuilds the memory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Four probes per key at ten bits per key: about 1.2% false "may hold" at capacity.
_BITS_PER_KEY = 10


class KeyFilter:
    """A Bloom filter over key tuples, sized for ``capacity`` keys (process-local hashes)."""

    def __init__(self, capacity: int):
        self.capacity = max(capacity, 1 << 20)  # 1.25 MiB at least: rebuilds stay rare
        self._size = self.capacity * _BITS_PER_KEY
        self._bits = bytearray(math.ceil(self._size / 8))
        self.count = 0

    def _probes(self, key: tuple[str, ...]) -> tuple[int, int, int, int]:
        h = hash(key)
        first, step, size = h & 0xFFFF_FFFF, ((h >> 32) & 0xFFFF_FFFF) | 1, self._size
        return (first % size, (first + step) % size, (first + 2 * step) % size,
                (first + 3 * step) % size)

    def add(self, key: tuple[str, ...]) -> None:
        bits = self._bits
        for p in self._probes(key):
            bits[p >> 3] |= 1 << (p & 7)
        self.count += 1

    def may_hold(self, key: tuple[str, ...]) -> bool:
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._probes(key))

    @property
    def full(self) -> bool:
        """Past its planned size the filter answers "may hold" too often to help."""
        return self.count > self.capacity


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

    keys: KeyFilter
    file: tuple[int, int, int] | None = None
    #: Format details the append needs (CSV: header columns, line ending).
    layout: dict[str, Any] = field(default_factory=dict)

    def can_append(self, path: Path, batch: Iterable[tuple[str, ...]]) -> bool:
        """True when ``path`` is as we left it and holds none of the ``batch`` keys."""
        if self.keys.full or self.file is None or identity(path) != self.file:
            return False
        return not any(self.keys.may_hold(k) for k in batch)

    def wrote(self, path: Path) -> None:
        self.file = identity(path)
