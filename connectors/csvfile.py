"""CSV files in a directory: one file is one stream.

Reading decodes the bytes itself (an incremental decoder whose error handler keeps each
undecodable byte as a marker), so one bad byte becomes a problem for its row instead of
killing the whole file. Writing is an idempotent upsert by key into a temp file that
atomically replaces the original; rows it does not touch are copied byte for byte.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from pydantic import field_validator

from connectors._files import (
    FileConnector,
    HashingReader,
    validate_codec,
)
from connectors.base import (
    Capability,
    ConnectorSettings,
    Record,
    StreamSpec,
    WriteResult,
)
from hub.errors import FatalConnectorError, RecordProblem

MAX_FIELD = 1 << 20  # 1 MiB (in characters): longer fields are refused as problems
MAX_LINE = 64 << 20  # a physical line this long means the file is not line-structured
_CHUNK = 1 << 16

# The csv module's field limit is process-wide; raise it to our own limit, never lower it.
if csv.field_size_limit() < MAX_FIELD:
    csv.field_size_limit(MAX_FIELD)

# Undecodable bytes become lone surrogates U+DC00+byte (like "surrogateescape", but for
# every byte value); encoding turns them back into the same bytes, so rows copied through
# a rewrite stay byte-identical even when they hold bytes the codec cannot read.
_RAW_BYTES = "kontor-raw-bytes"


def _raw_bytes_handler(exc: UnicodeError) -> tuple[str | bytes, int]:
    if isinstance(exc, UnicodeDecodeError):
        bad = exc.object[exc.start:exc.end]
        return "".join(chr(0xDC00 + b) for b in bad), exc.end
    if isinstance(exc, UnicodeEncodeError):
        chunk = exc.object[exc.start:exc.end]
        if all(0xDC00 <= ord(c) <= 0xDCFF for c in chunk):
            return bytes(ord(c) - 0xDC00 for c in chunk), exc.end
    raise exc


codecs.register_error(_RAW_BYTES, _raw_bytes_handler)


_RAW_BYTE = re.compile("[\udc00-\udcff]")
# Anything that makes a row suspect: a NUL or an undecodable byte (checked in C, per row).
_SUSPECT = re.compile("[\x00\udc00-\udcff]")


def _first_raw_byte(text: str) -> int | None:
    match = _RAW_BYTE.search(text)
    return None if match is None else ord(match.group()) - 0xDC00


class CsvSettings(ConnectorSettings):
    directory: str = "."
    delimiter: str = ","
    encoding: str = "utf-8"
    quotechar: str = '"'
    #: Line ending for files this connector creates; existing files keep their own.
    newline: str = "\n"

    @field_validator("delimiter", "quotechar")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n":
            raise ValueError("must be exactly one character (not a line break)")
        return value

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str) -> str:
        return validate_codec(value)

    @field_validator("newline")
    @classmethod
    def _newline(cls, value: str) -> str:
        if value not in ("\n", "\r\n"):
            raise ValueError(r'must be "\n" or "\r\n"')
        return value


@dataclass
class _Row:
    """One parsed record with the exact text it came from."""

    line: int  # physical line where the record starts (1-based)
    fields: list[str]
    raw: str
    error: str | None = None  # csv module error, if the row could not be parsed


class _Lines:
    """Decoded physical lines of a binary stream, counted, with their raw text kept."""

    def __init__(self, raw: BinaryIO | HashingReader, encoding: str):
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)(errors=_RAW_BYTES)
        self.count = 0  # physical lines handed out so far
        self.had_bom = False
        self.taken: list[str] = []  # lines handed out since the last take()

    def take(self) -> str:
        text = "".join(self.taken)
        self.taken.clear()
        return text

    def __iter__(self) -> Iterator[str]:
        buf = ""
        first = True
        while True:
            chunk = self._raw.read(_CHUNK)
            text = self._decoder.decode(chunk, final=not chunk)
            if first and text:
                first = False
                if text.startswith("\ufeff"):  # UTF-8 BOM read with the plain utf-8 codec
                    self.had_bom, text = True, text[1:]
            buf += text
            start = 0
            while (end := buf.find("\n", start)) != -1:
                yield self._hand_out(buf[start:end + 1])
                start = end + 1
            buf = buf[start:]
            if len(buf) > MAX_LINE:
                raise FatalConnectorError(f"line {self.count + 1} is longer than "
                                          f"{MAX_LINE >> 20} MiB; is this a CSV file?")
            if not chunk:
                break
        if buf:
            yield self._hand_out(buf)

    def _hand_out(self, line: str) -> str:
        self.count += 1
        self.taken.append(line)
        return line


def _iter_rows(lines: _Lines, settings: CsvSettings) -> Iterator[_Row]:
    """Every record of the file, blank lines included (as rows without fields)."""
    reader = csv.reader(iter(lines), delimiter=settings.delimiter,
                        quotechar=settings.quotechar)
    while True:
        start = lines.count + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Row(start, [], lines.take(), error=str(exc))
            continue
        yield _Row(start, fields, lines.take())


def _row_problem(row: _Row, header: list[str], encoding: str) -> tuple[str, str | None] | None:
    """Why this row cannot be read, as (reason, field); never mentions cell values."""
    if row.error is not None:
        if "field limit" in row.error:
            return f"a field is longer than {MAX_FIELD >> 20} MiB", None
        return f"cannot parse the row: {row.error}", None
    if len(row.fields) != len(header):
        return f"expected {len(header)} columns, found {len(row.fields)}", None
    joined = "".join(row.fields)
    if len(joined) <= MAX_FIELD and _SUSPECT.search(joined) is None:
        return None  # the common case, decided without a Python loop over the fields
    for number, (name, value) in enumerate(zip(header, row.fields), start=1):
        bad = _first_raw_byte(value)
        if bad is not None:
            return f"cannot decode byte 0x{bad:02x} at column {number} ({name}) as {encoding}", name
        if "\x00" in value:
            return f"NUL byte at column {number} ({name})", name
        if len(value) > MAX_FIELD:
            return f"column {number} ({name}) is longer than {MAX_FIELD >> 20} MiB", name
    return None


def _read_header(rows: Iterator[_Row], system: str, path: Path,
                 encoding: str) -> tuple[_Row | None, list[_Row]]:
    """The header row (first non-blank row) and the blank rows before it."""
    blanks: list[_Row] = []
    for row in rows:
        if row.error is None and not row.fields:
            blanks.append(row)
            continue
        if row.error is not None:
            raise FatalConnectorError(f"{system}: {path}:{row.line}: cannot parse the header: "
                                      f"{row.error}")
        for number, name in enumerate(row.fields, start=1):
            bad = _first_raw_byte(name)
            if bad is not None:
                raise FatalConnectorError(f"{system}: {path}:{row.line}: cannot decode byte "
                                          f"0x{bad:02x} in header column {number} as {encoding}")
        dupes = sorted({n for n in row.fields if row.fields.count(n) > 1})
        if dupes:
            raise FatalConnectorError(f"{system}: {path}: duplicate column names in the "
                                      f"header: {', '.join(repr(d) for d in dupes)}")
        return row, blanks
    return None, blanks


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _line_ending(raw: str) -> tuple[str, str]:
    """Split a record's raw text into its body and its final line break."""
    for end in ("\r\n", "\n", "\r"):
        if raw.endswith(end):
            return raw[: -len(end)], end
    return raw, ""


class CsvConnector(FileConnector):
    """Reads and upserts CSV files in one directory."""

    kind: ClassVar[str] = "csv"
    suffix: ClassVar[str] = ".csv"
    settings_model: ClassVar[type[ConnectorSettings]] = CsvSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ, Capability.WRITE, Capability.DISCOVER})
    settings: CsvSettings

    def _fields(self, path: Path, resource: str) -> list[dict[str, str]]:
        with open(path, "rb") as fh:
            header, _ = _read_header(_iter_rows(_Lines(fh, self.settings.encoding),
                                                self.settings),
                                     self.system, path, self.settings.encoding)
        return [{"name": n, "type": "string"} for n in (header.fields if header else [])]

    # -- read ---------------------------------------------------------------------------

    def _parse(self, source: HashingReader, path: Path, resource: str
               ) -> Iterator[tuple[dict[str, Any], str] | RecordProblem]:
        enc = self.settings.encoding
        rows = _iter_rows(_Lines(source, enc), self.settings)
        header, _ = _read_header(rows, self.system, path, enc)
        columns = header.fields if header else []
        for row in rows:  # empty when there was no header
            if row.error is None and not row.fields:
                continue  # blank line
            location = f"{resource}:{row.line}"
            problem = _row_problem(row, columns, enc)
            if problem:
                yield RecordProblem(reason=problem[0], system=self.system, stream=resource,
                                    location=location, field=problem[1])
            else:
                yield dict(zip(columns, row.fields)), location

    # -- write --------------------------------------------------------------------------

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        if not stream.key:
            raise FatalConnectorError(f"{self.system}: stream {stream.resource!r} needs a key "
                                      "to write (upsert by key)")
        path = self._path(stream.resource)
        result = WriteResult()
        pending: dict[tuple[str, ...], dict[str, str]] = {}
        for index, record in enumerate(records, start=1):
            row, problem = self._prepare(stream, record, index)
            if problem is not None:
                result.rejected.append((_key_text(stream, record, index), problem))
                continue
            key = tuple(row[k] for k in stream.key)
            pending.setdefault(key, {}).update(row)  # same key twice: later values win
            result.written += 1
        if pending:
            self._rewrite(path, stream.key, pending)
        return result

    def _prepare(self, stream: StreamSpec, record: Record, index: int
                 ) -> tuple[dict[str, str], RecordProblem | None]:
        enc = self.settings.encoding
        where = f"{stream.resource}:batch record {index}"

        def problem(reason: str, field: str | None) -> RecordProblem:
            return RecordProblem(reason=reason, system=self.system, stream=stream.resource,
                                 location=where, field=field)

        row: dict[str, str] = {}
        for name, value in record.items():
            text = _format(value)
            for part, what in ((name, "column name"), (text, "value")):
                try:
                    part.encode(enc)
                except UnicodeEncodeError as exc:
                    return row, problem(f"{what} has a character that cannot be encoded as "
                                        f"{enc} (position {exc.start + 1})", name)
            if "\x00" in text or "\x00" in name:
                return row, problem("contains a NUL byte", name)
            row[name] = text
        for key in stream.key:
            if row.get(key, "") == "":
                return row, problem("key field is missing or empty", key)
        return row, None

    def _rewrite(self, path: Path, key: tuple[str, ...],
                 pending: dict[tuple[str, ...], dict[str, str]]) -> None:
        """Stream the old file into a temp file with the batch applied, then swap."""
        enc = self.settings.encoding
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                encoder = codecs.getincrementalencoder(enc)(errors=_RAW_BYTES)

                def emit(text: str) -> None:
                    out.write(encoder.encode(text))

                if path.exists() and path.stat().st_size > 0:
                    with open(path, "rb") as fh:
                        self._merge_existing(fh, path, key, pending, emit)
                else:
                    columns = _columns([], pending.values())
                    newline = self.settings.newline
                    emit(self._serialise(columns, newline))
                    for row in pending.values():
                        emit(self._serialise([row.get(c, "") for c in columns], newline))
                out.write(encoder.encode("", final=True))
                out.flush()
                os.fsync(out.fileno())
            if path.exists():
                shutil.copymode(path, tmp_name)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def _merge_existing(self, fh: BinaryIO, path: Path, key: tuple[str, ...],
                        pending: dict[tuple[str, ...], dict[str, str]], emit: Any) -> None:
        enc = self.settings.encoding
        lines = _Lines(fh, enc)
        rows = _iter_rows(lines, self.settings)
        header, blanks = _read_header(rows, self.system, path, enc)
        if lines.had_bom:
            emit("\ufeff")
        for blank in blanks:
            emit(blank.raw)
        if header is None:  # only blank lines: start a table after them
            columns = _columns([], pending.values())
            newline = self.settings.newline
            emit(self._serialise(columns, newline))
        else:
            columns = _columns(header.fields, pending.values())
            added = len(columns) - len(header.fields)
            newline = _line_ending(header.raw)[1] or self.settings.newline
            emit(header.raw if not added else self._serialise(columns, newline))
        key_at = [columns.index(k) if k in columns else -1 for k in key]
        done: set[tuple[str, ...]] = set()
        ends_with_break = True
        for row in rows:
            width = len(header.fields) if header else 0
            if header and row.error is None and len(row.fields) == width:
                found = tuple(row.fields[i] if 0 <= i < width else "" for i in key_at)
                if found in pending:
                    merged = dict(zip(header.fields, row.fields)) | pending[found]
                    emit(self._serialise([merged.get(c, "") for c in columns], newline))
                    done.add(found)
                    ends_with_break = True
                    continue
            if added and row.error is None and row.fields:
                # Widen untouched rows without re-quoting them; a row that had the wrong
                # column count keeps having it, so it stays a visible problem.
                body, end = _line_ending(row.raw)
                row.raw = body + self.settings.delimiter * added + end
            emit(row.raw)  # untouched (even unreadable) rows are kept exactly as they were
            ends_with_break = _line_ending(row.raw)[1] != ""
        if not ends_with_break:
            emit(newline)
        for found, values in pending.items():
            if found not in done:
                emit(self._serialise([values.get(c, "") for c in columns], newline))

    def _serialise(self, values: list[str], newline: str) -> str:
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.settings.delimiter, quotechar=self.settings.quotechar,
                   lineterminator=newline).writerow(values)
        return buf.getvalue()


def _columns(header: list[str], rows: Any) -> list[str]:
    """Existing columns, then new ones in order of first appearance in the batch."""
    columns = list(header)
    known = set(columns)
    for row in rows:
        for name in row:
            if name not in known:
                known.add(name)
                columns.append(name)
    return columns


def _key_text(stream: StreamSpec, record: Record, index: int) -> str:
    """How the hub names the record (``|``-joined key values), or its batch position."""
    if all(k in record and record[k] is not None for k in stream.key):
        return "|".join(str(record[k]) for k in stream.key)
    return f"#{index}"
