"""CSV (and TSV) files in a directory: one file is one stream.

Reading decodes the bytes itself (``connectors.files.text``), so one bad byte becomes a problem
for its row instead of killing the whole file. Writing and deleting rewrite the file into
a temp file that atomically replaces the original (``connectors.csv.write``); re-sending a
batch changes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors._keys import key_text, key_values
from connectors.base import (
    FORMULA_START,
    Capability,
    ConnectorSettings,
    ReadBatch,
    Record,
    StreamSpec,
    WriteResult,
    neutralise_formula,
)
from connectors.csv.rows import MAX_FIELD, Ending, Row, iter_rows, read_header, row_problem
from connectors.csv.settings import CsvSettings
from connectors.csv.write import CsvRewrite
from connectors.files.base import EarlyEnd, FileConnector, writing
from connectors.files.batches import HashingReader
from connectors.files.text import (
    SUSPECT,
    Lines,
    cell_text,
    cut_off,
    cut_off_reason,
    encode_problem,
    first_raw_byte,
    text_lines,
)
from hub.errors import FatalConnectorError, RecordProblem

_FORMULA_FIRST = frozenset(c[0] for c in FORMULA_START)

__all__ = ["CsvConnector", "CsvSettings"]


class CsvConnector(FileConnector):
    """Reads, upserts and deletes rows of CSV files in one directory."""

    kind: ClassVar[str] = "csv"
    settings_model: ClassVar[type[ConnectorSettings]] = CsvSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ, Capability.WRITE, Capability.DELETE, Capability.DISCOVER})
    settings: CsvSettings
    #: The key columns of the stream being read: a record refused for a stray quote names
    #: its key when the key was read before the quote opened.
    _key: tuple[str, ...] = ()

    def _columns(self, rows: Iterator[Any], path: Path) -> list[str]:
        """The file's column names: its header row, or the configured ``columns``."""
        if not self.settings.header:
            return list(self.settings.columns or [])
        header, _ = read_header(rows, self.system, path, self.settings.encoding)
        return header.fields if header else []

    def _fields(self, path: Path, resource: str) -> list[dict[str, str]]:
        with open(path, "rb") as fh:
            names = self._columns(iter_rows(Lines(fh, self.settings.encoding, keep=False),
                                            self.settings), path)
        return [{"name": n, "type": "string"} for n in names]

    # -- read ---------------------------------------------------------------------------

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        self._key = tuple(stream.key)
        yield from super().read(stream, since=since, batch_size=batch_size)

    def _parse(self, source: HashingReader, path: Path, resource: str
               ) -> Iterator[tuple[dict[str, Any], str] | RecordProblem | EarlyEnd]:
        enc = self.settings.encoding
        tail: list[str] = []
        ending = Ending()
        rows = iter_rows(text_lines(source, enc, tail), self.settings, ending)
        columns = self._columns(rows, path)
        width = len(columns)
        keyless: list[str] = []  # where records refused for their quotes had no key
        for row in rows:  # empty when there was no header
            fields = row.fields
            if len(fields) == width and row.error is None:  # the common case, kept lean
                joined = "".join(fields)
                if len(joined) <= MAX_FIELD and SUSPECT.search(joined) is None:
                    yield dict(zip(columns, fields)), f"{resource}:{row.line}"
                    continue
            if row.blank or not columns:
                continue
            reason, field = row_problem(row, columns, enc) or ("unreadable row", None)
            lines = f"{row.line}-{row.last}" if row.last > row.line else str(row.line)
            key = self._known_key(row, columns)
            if row.refused is not None and key is None:
                keyless.append(f"line{'s' if row.last > row.line else ''} {lines}")
            yield RecordProblem(reason=reason, system=self.system, stream=resource,
                                source_key=key, location=f"{resource}:{lines}", field=field)
        # Read less than the whole file (an unclosed quote), or the file looks cut off:
        # not a snapshot of the source, whatever was read.
        early = ending.early or ([cut_off_reason(ending.lines)] if cut_off(tail) else [])
        if keyless:  # the hub cannot tell which records these were: not taken as deleted
            early.append(f"a record refused for its quotes has no key that could be read "
                         f"({', '.join(keyless)}), so this read is no full snapshot")
        if early:
            yield EarlyEnd(f"{resource}: {'; '.join(early)}")

    def _known_key(self, row: Row, columns: list[str]) -> str | None:
        """The key of a refused record, as the hub writes it, so the hub knows which record
        failed and does not take it for deleted from a full snapshot: for a stray quote,
        when every key column came before it; for a row with the wrong number of columns
        or an undecodable byte, the values at the key's columns (a column too many or too
        few is almost always after the key, which usually comes first)."""
        head = row.refused.head if row.refused is not None else row.fields
        at = [columns.index(k) if k in columns else len(head) for k in self._key]
        if not at or max(at) >= len(head) or any(not head[i].strip() for i in at):
            return None
        values = [head[i].strip() for i in at]
        if any(first_raw_byte(v) is not None for v in values):
            return None  # the key itself is what could not be decoded
        return "|".join(values)

    # -- write and delete ---------------------------------------------------------------

    def _require_key(self, stream: StreamSpec, action: str) -> None:
        if not stream.key:
            raise FatalConnectorError(f"{self.system}: stream {stream.resource!r} needs a key "
                                      f"to {action}")
        fixed = self.settings.columns
        if fixed is not None and (missing := [k for k in stream.key if k not in fixed]):
            raise FatalConnectorError(f"{self.system}: key column(s) not in `columns`: "
                                      f"{', '.join(missing)}")

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        self._require_key(stream, "write (upsert by key)")
        path = self._write_path(stream.resource)
        fixed = self.settings.columns
        unknown = sorted({c for r in records for c in r if c not in fixed}) if fixed else []
        if unknown:
            raise FatalConnectorError(
                f"{self.system}: {stream.resource} has no column(s) {', '.join(unknown)} "
                "(header: false fixes the columns); check the outbound mapping")
        result = WriteResult()
        pending: dict[tuple[str, ...], dict[str, str]] = {}
        rows = self._text_rows(records)
        # The whole batch checked at once; a failing one is checked record by record.
        clean = self._clean(rows)
        key_columns = stream.key
        for index, (record, row) in enumerate(zip(records, rows), start=1):
            problem = self._problem(stream, row, index, checked=clean)
            if problem is not None:
                result.rejected.append((key_text(key_columns, record, index), problem))
                continue
            key = tuple([row[k] for k in key_columns])
            if key in pending:  # same key twice: later values win
                pending[key].update(row)
            else:
                pending[key] = row
            result.written += 1
        rewrite = CsvRewrite(self.settings, self.system, stream.key, upserts=pending)
        with writing(self.system, path):
            self._memory[path] = rewrite.apply(path, self._memory.get(path))
        return result

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        self._require_key(stream, "delete")
        path = self._write_path(stream.resource)
        result = WriteResult()
        wanted: set[tuple[str, ...]] = set()
        for index, given in enumerate(keys, start=1):
            try:
                values = key_values(stream.key, given if isinstance(given, str)
                                    else [cell_text(v) for v in given])
                if "" in values:
                    raise ValueError("a key value is empty")
                values = tuple(self._cell(v) for v in values)  # as write() stored them
            except ValueError as exc:
                result.rejected.append((f"#{index}", RecordProblem(
                    reason=str(exc), system=self.system, stream=stream.resource,
                    location=f"{stream.resource}:delete key {index}")))
                continue
            wanted.add(values)
            result.written += 1
        rewrite = CsvRewrite(self.settings, self.system, stream.key, deletes=wanted)
        with writing(self.system, path):
            self._memory[path] = rewrite.apply(path, self._memory.get(path))
        return result

    def _cell(self, text: str) -> str:
        """A value as written: formula-like text neutralised (``spreadsheet_safe``)."""
        if self.settings.spreadsheet_safe:
            return str(neutralise_formula(text, keep_numbers=True))
        return text

    def _text_rows(self, records: list[Record]) -> list[dict[str, str]]:
        """The records as text cells, formula-like text neutralised (``spreadsheet_safe``)."""
        rows = [{name: value if type(value) is str else cell_text(value)
                 for name, value in record.items()} for record in records]
        if not self.settings.spreadsheet_safe:
            return rows
        # Only text that could start a formula is looked at: one scan of the batch finds
        # whether any does (a value follows a separator), and only then each row is.
        cells = "\x1f" + "\x1f".join(itertools.chain.from_iterable(r.values() for r in rows))
        if not any("\x1f" + c in cells for c in _FORMULA_FIRST):
            return rows
        return [{name: self._cell(text) if text[:1] in _FORMULA_FIRST else text
                 for name, text in row.items()} for row in rows]

    def _clean(self, rows: list[dict[str, str]]) -> bool:
        """Whether every column name and value of the batch can be written as they are."""
        joined = "\x1f".join(itertools.chain.from_iterable(
            itertools.chain(row, row.values()) for row in rows))
        return "\x00" not in joined and encode_problem(joined, self.settings.encoding) is None

    def _problem(self, stream: StreamSpec, row: dict[str, str], index: int, *,
                 checked: bool = False) -> RecordProblem | None:
        """Why the target cannot take this row (None: it can). ``checked``: its names and
        values are known to be writable (the batch's check passed)."""
        if not checked:
            enc = self.settings.encoding
            # One check for the whole record; only a failing one is searched field by field.
            joined = "\x1f".join(itertools.chain(row, row.values()))
            if "\x00" in joined or encode_problem(joined, enc) is not None:
                for name, text in row.items():
                    for part, what in ((name, "column name"), (text, "value")):
                        position = encode_problem(part, enc)
                        if position is not None:
                            return self._refusal(
                                stream, index, f"{what} has a character that cannot be "
                                f"encoded as {enc} (position {position})", name)
                    if "\x00" in text or "\x00" in name:
                        return self._refusal(stream, index, "contains a NUL byte", name)
        for key in stream.key:
            if row.get(key, "") == "":
                return self._refusal(stream, index, "key field is missing or empty", key)
        return None

    def _refusal(self, stream: StreamSpec, index: int, reason: str, field: str | None
                 ) -> RecordProblem:
        return RecordProblem(reason=reason, system=self.system, stream=stream.resource,
                             location=f"{stream.resource}:batch record {index}", field=field)
