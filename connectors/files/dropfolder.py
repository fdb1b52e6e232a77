"""Drop-folder mode for file connectors: a stream whose resource is a glob pattern.

Every file in the directory matching the pattern is read, in name order. With
``archive_directory`` set, a file is moved there once the hub has committed its last
batch: the reader only moves on (and so only moves the file) when the hub asks for the
next batch, which it does after committing the previous one. A crash between the commit
and the move reads the file again on the next run: delivery is *at least once*, and the
hub's idempotent upserts make the repeat harmless.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from hub.errors import FatalConnectorError

_GLOB_CHARS = frozenset("*?[")
#: Cursor prefix for a folder: the sha256 over the names and hashes of the files read.
FOLDER_PREFIX = "folder-sha256:"


def is_pattern(resource: str) -> bool:
    """True when ``resource`` names a set of files (drop-folder mode), not one file."""
    return any(c in _GLOB_CHARS for c in resource)


def matching_files(system: str, directory: Path, pattern: str) -> list[Path]:
    """The files in ``directory`` matching ``pattern``, by name; hidden files are left out.

    Why hidden ones: writers (Kontor's own included) create ``.name.tmp`` files and rename
    them into place, so a half-written file is never picked up.
    """
    if "/" in pattern or "\\" in pattern or pattern.startswith(".."):
        raise FatalConnectorError(f"{system}: pattern {pattern!r} must match file names "
                                  "inside the directory, without a path")
    if not directory.is_dir():
        raise FatalConnectorError(f"{system}: directory not found: {directory}")
    return sorted((p for p in directory.glob(pattern)
                   if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)


def folder_cursor(read: list[tuple[str, str]]) -> str:
    """One cursor for a set of files: changes when any file, or the set, changes."""
    digest = hashlib.sha256()
    for name, file_cursor in read:
        digest.update(f"{name}\0{file_cursor}\n".encode())
    return FOLDER_PREFIX + digest.hexdigest()


def check_archive(system: str, archive: Path) -> None:
    """The archive must exist and be writable before anything is read."""
    if not archive.is_dir():
        raise FatalConnectorError(f"{system}: archive directory not found: {archive}")
    if not os.access(archive, os.W_OK | os.X_OK):
        raise FatalConnectorError(f"{system}: archive directory not writable: {archive}")


def archive_file(system: str, path: Path, archive: Path) -> Path:
    """Move ``path`` into ``archive``; an existing name there gets a ``.1``, ``.2`` suffix."""
    target = archive / path.name
    number = 0
    while target.exists():
        number += 1
        target = archive / f"{path.name}.{number}"
    try:
        shutil.move(path, target)
    except OSError as exc:
        raise FatalConnectorError(f"{system}: cannot move {path.name} to the archive "
                                  f"{archive}: {exc.strerror}") from None
    return target
