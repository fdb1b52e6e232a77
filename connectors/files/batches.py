"""Streaming a file into bounded batches, with a cursor that is the hash of its bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, BinaryIO

from connectors.base import ReadBatch, SourceRecord
from hub.errors import RecordProblem

#: Cursor prefix; the value after it is the sha256 of the file's bytes.
HASH_PREFIX = "sha256:"
_CHUNK = 1 << 16


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return HASH_PREFIX + digest.hexdigest()


class HashingReader:
    """A read-only binary stream that hashes what passes through it.

    Why: the cursor must describe exactly the bytes that were read, even if the file is
    replaced while a run is reading it.
    """

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._digest.update(data)
        return data

    def drain(self) -> None:
        """Read the rest, so the hash covers the whole file after an early stop."""
        while self.read(_CHUNK):
            pass

    def cursor(self) -> str:
        return HASH_PREFIX + self._digest.hexdigest()


class BatchBuilder:
    """Cuts a stream of records and problems into batches of at most ``size`` items.

    A full batch is held back until the next item arrives, so the final batch (which
    carries the cursor) is never an empty one tacked on after a full batch. Batches
    before the last carry cursor ``None``: a file has no resumable mid-way position.
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError("batch_size must be at least 1")
        self._size = size
        self._current = ReadBatch()
        #: Why the read ended before the end of the stream, if it did; goes on the last batch.
        self.incomplete: str | None = None

    def _rotate(self) -> ReadBatch | None:
        cur = self._current
        if len(cur.records) + len(cur.problems) < self._size:
            return None
        self._current = ReadBatch()
        return cur

    def add_record(self, data: dict[str, Any], location: str) -> ReadBatch | None:
        full = self._rotate()
        self._current.records.append(SourceRecord(data=data, location=location))
        return full

    def add_problem(self, problem: RecordProblem) -> ReadBatch | None:
        full = self._rotate()
        self._current.problems.append(problem)
        return full

    def finish(self, cursor: Any) -> ReadBatch:
        """The last batch, with the cursor (and ``incomplete``, if set); empty only when the
        whole stream was empty or its read ended before the first record."""
        self._current.cursor = cursor
        self._current.incomplete = self.incomplete
        return self._current
