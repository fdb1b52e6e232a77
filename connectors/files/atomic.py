"""Atomic file replacement: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import codecs
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from connectors.files.text import RAW_BYTES

_COPY_CHUNK = 1 << 20


@contextmanager
def atomic_replace(path: Path) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` when the block ends without an error.

    The temp file lives beside ``path`` (same file system, so the final ``os.replace`` is
    atomic), is flushed to disk first, and keeps the old file's permissions. On an error
    it is removed and ``path`` is left exactly as it was.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            shutil.copymode(path, tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def append_atomically(path: Path, encoding: str, texts: Iterable[str]) -> None:
    """Replace ``path`` by a copy of itself with ``texts`` appended (encoded), atomically.

    The copy runs at disk speed; a reader sees the old file or the whole new one.
    """
    encoder = codecs.getincrementalencoder(encoding)(errors=RAW_BYTES)
    encoder.encode("")  # swallow the byte order mark a codec (utf-8-sig) starts with
    with atomic_replace(path) as out:
        with open(path, "rb") as old:
            shutil.copyfileobj(old, out, _COPY_CHUNK)
        for text in texts:
            out.write(encoder.encode(text))
        out.write(encoder.encode("", final=True))
