"""Plumbing shared by the file-based connectors (CSV, fixed-width, XML).

Kept private: the connector interface is ``connectors.base``. A file stream is one file
(``resource: people.csv``) or, in drop-folder mode, every file matching a pattern
(``resource: "orders_*.csv"``, see ``connectors.files.dropfolder``).
"""

from __future__ import annotations

import codecs
import errno
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import field_validator

from connectors.base import Connector, ConnectorSettings, ReadBatch, ReadSize, StreamSpec
from connectors.files import dropfolder as folder
from connectors.files.batches import BatchBuilder, HashingReader, file_hash
from connectors.files.keyindex import FileMemory
from hub.errors import FatalConnectorError, RecordProblem, RetriableConnectorError


@dataclass(frozen=True)
class EarlyEnd:
    """Yielded by ``FileConnector._parse`` (last) when it could not read its file to the end:
    ``reason`` in plain words, naming the file and line, never a value."""

    reason: str


def validate_codec(value: str) -> str:
    """Refuse an unknown encoding at configuration time, not in the middle of a run."""
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r}") from None
    return value


def resolve_directory(base_dir: Path, directory: str) -> Path:
    path = Path(directory).expanduser()
    return path if path.is_absolute() else base_dir / path


def resolve_resource(system: str, directory: Path, resource: str) -> Path:
    """The file ``resource`` inside ``directory``; a path leaving the directory is refused.

    Why: ``resource`` comes from configuration and must not reach ``../../etc/passwd``.
    Symlinks are resolved first, so a link pointing outside is refused as well.
    """
    root = directory.resolve()
    if not resource or Path(resource).is_absolute():
        raise FatalConnectorError(f"{system}: resource {resource!r} must be a file name "
                                  f"inside {root}")
    path = (root / resource).resolve()
    if path == root or not path.is_relative_to(root):
        raise FatalConnectorError(f"{system}: resource {resource!r} escapes the directory {root}")
    return path


def require_file(system: str, path: Path) -> None:
    if not path.is_file():
        raise FatalConnectorError(f"{system}: file not found: {path}")
    if not os.access(path, os.R_OK):
        raise FatalConnectorError(f"{system}: file not readable: {path}")


def check_directory(system: str, directory: Path) -> None:
    if not directory.is_dir():
        raise FatalConnectorError(f"{system}: directory not found: {directory}")
    try:
        next(os.scandir(directory), None)
    except OSError as exc:
        raise FatalConnectorError(f"{system}: directory not readable: {directory} "
                                  f"({exc.strerror})") from None


#: Write failures only a person can fix (rights, a directory in the file's place, a
#: missing or read-only folder): retrying within the run will not help.
_NEEDS_AN_OPERATOR = {errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.ENOENT,
                      errno.EROFS}


@contextmanager
def writing(system: str, path: Path) -> Iterator[None]:
    """Turn an ``OSError`` while writing ``path`` into the connector's own error.

    The message names the file and the reason in plain words, so the runner fails this
    stream only; the other streams go on and the records wait in the outbox for the next
    run (both errors below leave them there). A problem an operator must fix (permission,
    a directory where the file should be, a missing folder) is fatal: retrying it at once
    only wastes time. Anything else (a full disk, an I/O error) may pass, so it is
    retriable and the write is tried again within the run.
    """
    try:
        yield
    except OSError as exc:
        reason = ("the path is a directory, not a file" if isinstance(exc, IsADirectoryError)
                  else exc.strerror or type(exc).__name__)
        message = f"{system}: cannot write {path}: {reason}"
        if exc.errno in _NEEDS_AN_OPERATOR:
            raise FatalConnectorError(message) from None
        raise RetriableConnectorError(message) from None


def list_files(directory: Path, suffix: str) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir()
                  if p.is_file() and p.suffix.lower() == suffix)


class FileSettings(ConnectorSettings):
    """Settings every file connector has."""

    #: Folder holding the files; relative to the deployment folder.
    directory: str = "."
    #: Drop-folder mode (a stream resource with ``*``, ``?`` or ``[``): each file is moved
    #: here after the hub committed its records. Relative to the deployment folder.
    archive_directory: str | None = None
    #: File name ending that ``streams()`` lists (e.g. ".csv", ".tsv").
    suffix: str = ""

    @field_validator("suffix")
    @classmethod
    def _dot(cls, value: str) -> str:
        if value and (not value.startswith(".") or "/" in value):
            raise ValueError('must start with "." (e.g. ".csv")')
        return value.lower()


class _CountingReader(HashingReader):
    """A hashing reader that also counts the bytes read, for ``read_progress``."""

    def __init__(self, raw: BinaryIO, connector: FileConnector):
        super().__init__(raw)
        self._connector = connector

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self._connector._bytes_read += len(data)
        return data


class FileConnector(Connector):
    """Base for connectors whose streams are files in one directory (``settings.directory``)."""

    settings: FileSettings

    def __init__(self, settings: ConnectorSettings, *, system: str, base_dir: Path):
        super().__init__(settings, system=system, base_dir=base_dir)
        # What each written file holds, so a batch of new keys can just be appended.
        self._memory: dict[Path, FileMemory | None] = {}
        self._bytes_read = 0  # by the read in progress, over all its files

    @property
    def directory(self) -> Path:
        return resolve_directory(self.base_dir, self.settings.directory)

    @property
    def archive(self) -> Path | None:
        """Where drop-folder files go after reading, if anywhere."""
        name = self.settings.archive_directory
        return None if name is None else resolve_directory(self.base_dir, name)

    def _path(self, resource: str) -> Path:
        return resolve_resource(self.system, self.directory, resource)

    def _write_path(self, resource: str) -> Path:
        if folder.is_pattern(resource):
            raise FatalConnectorError(f"{self.system}: cannot write to the pattern "
                                      f"{resource!r}; an outbound stream names one file")
        return self._path(resource)

    def check(self) -> None:
        check_directory(self.system, self.directory)
        if self.archive is not None:
            folder.check_archive(self.system, self.archive)

    def streams(self) -> list[str]:
        return list_files(self.directory, self.settings.suffix)

    def _fields(self, path: Path, resource: str) -> list[dict[str, str]]:
        """The fields of one file, for ``discover``."""
        raise NotImplementedError

    def _parse(self, source: HashingReader, path: Path, resource: str
               ) -> Iterator[tuple[dict[str, Any], str] | RecordProblem | EarlyEnd]:
        """Yield (record, location) per record, or a ``RecordProblem`` for a bad one; last,
        an ``EarlyEnd`` if the file could not be read to its end (or looks cut off)."""
        raise NotImplementedError

    def discover(self, stream: StreamSpec | None = None) -> list[dict[str, Any]]:
        names = [stream.resource] if stream else self.streams()
        found = []
        for name in names:
            if folder.is_pattern(name):  # a drop folder: its first file stands for all
                files = folder.matching_files(self.system, self.directory, name)
                fields = self._fields(files[0], files[0].name) if files else []
            else:
                path = self._path(name)
                require_file(self.system, path)
                fields = self._fields(path, name)
            entry: dict[str, Any] = {"resource": name, "fields": fields}
            if stream and stream.key:
                entry["key"] = list(stream.key)
            found.append(entry)
        return found

    def estimate(self, stream: StreamSpec, *, since: Any = None) -> ReadSize | None:
        """The bytes a read goes through: the file's size, or the sum of a drop folder's.

        A file unchanged since ``since`` is not read at all; finding that out costs a hash
        of the file, so the estimate leaves it to the read (the bar then ends early)."""
        try:
            if folder.is_pattern(stream.resource):
                files = folder.matching_files(self.system, self.directory, stream.resource)
            else:
                files = [self._path(stream.resource)]
            return ReadSize(sum(f.stat().st_size for f in files), unit="bytes")
        except (OSError, FatalConnectorError):
            return None  # the read says what is wrong

    def read_progress(self, stream: StreamSpec) -> int | None:
        return self._bytes_read

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        self._bytes_read = 0
        if folder.is_pattern(stream.resource):
            yield from self._read_folder(stream.resource, since, batch_size)
            return
        path = self._path(stream.resource)
        require_file(self.system, path)
        if since is not None and since == file_hash(path):
            return  # unchanged since the last run
        batches = BatchBuilder(batch_size)
        cursor = yield from self._read_file(path, stream.resource, batches)
        yield batches.finish(cursor)

    def _read_file(self, path: Path, resource: str, batches: BatchBuilder
                   ) -> Generator[ReadBatch, None, str]:
        """Yield the full batches of one file; return the file's cursor (its hash).

        A read that ended early sets ``batches.incomplete``. The cursor still covers the
        whole file: the same broken file is not read again; a new one is.
        """
        with open(path, "rb") as fh:
            source = _CountingReader(fh, self)
            for item in self._parse(source, path, resource):
                if isinstance(item, EarlyEnd):
                    batches.incomplete = (item.reason if batches.incomplete is None
                                          else f"{batches.incomplete}; {item.reason}")
                    continue
                full = (batches.add_problem(item) if isinstance(item, RecordProblem)
                        else batches.add_record(*item))
                if full:
                    yield full
            source.drain()  # the cursor covers the whole file, even after a parse error
        return source.cursor()

    def _read_folder(self, pattern: str, since: Any, batch_size: int) -> Iterator[ReadBatch]:
        """Drop-folder mode: every matching file in name order, archived once committed."""
        files = folder.matching_files(self.system, self.directory, pattern)
        archive = self.archive
        if archive is not None:
            folder.check_archive(self.system, archive)
        if since is not None and since == folder.folder_cursor(
                [(p.name, file_hash(p)) for p in files]):
            return  # the same files, unchanged, and nothing archives them
        done: list[tuple[str, str]] = []
        early: list[str] = []  # why the files read so far ended early, if any did
        for number, path in enumerate(files, start=1):
            batches = BatchBuilder(batch_size)
            done.append((path.name, (yield from self._read_file(path, path.name, batches))))
            last = number == len(files)
            if batches.incomplete:
                early.append(batches.incomplete)
            if last and early:  # the read's last batch names every file that ended early
                batches.incomplete = "; ".join(early)
            final = batches.finish(folder.folder_cursor(done) if last else None)
            if final.records or final.problems or final.incomplete or last:
                yield final
            # Resumed: the hub has committed every batch of this file, so it may go.
            if archive is not None:
                folder.archive_file(self.system, path, archive)
        if not files:
            yield ReadBatch(cursor=folder.folder_cursor([]))
