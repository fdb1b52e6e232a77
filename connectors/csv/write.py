"""Rewriting a CSV file with a batch of upserts or deletes applied, atomically.

The old file streams through into a temp file that replaces it (``connectors.files.atomic``):
memory holds the batch, never the file. Rows the batch does not touch are copied byte for
byte, unreadable ones included, so a rewrite never destroys what it cannot parse. When
the file is as the last rewrite left it and the batch only adds new keys, the batch is
appended to a byte copy instead (``connectors.files.keyindex``).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from connectors.csv.rows import Row, dialect, iter_rows, read_header
from connectors.csv.settings import CsvSettings
from connectors.files.atomic import append_atomically, atomic_replace
from connectors.files.keyindex import FileMemory
from connectors.files.text import RAW_BYTES, Lines, line_ending

Key = tuple[str, ...]
Emit = Callable[[str], None]


def columns_for(header: list[str], rows: Iterable[dict[str, str]]) -> list[str]:
    """Existing columns, then new ones in order of first appearance in the batch."""
    columns = list(header)
    known = set(columns)
    for row in rows:
        for name in row:
            if name not in known:
                known.add(name)
                columns.append(name)
    return columns


class CsvRewrite:
    """One batch for one file: ``upserts`` by key (values as text) and keys to ``deletes``."""

    def __init__(self, settings: CsvSettings, system: str, key: Key,
                 upserts: dict[Key, dict[str, str]] | None = None,
                 deletes: set[Key] | None = None):
        self.settings = settings
        self.system = system
        self.key = key
        self.upserts = upserts or {}
        self.deletes = deletes or set()
        self.memory: FileMemory | None = None  # what the file holds after apply()

    def apply(self, path: Path, memory: FileMemory | None = None) -> FileMemory | None:
        """Write the new file; return what to remember about it for the next batch."""
        if not self.upserts and not self.deletes:
            return memory
        exists = path.exists() and path.stat().st_size > 0
        if not exists and not self.upserts:
            return memory
        if memory is not None and not self.deletes and self._appendable(path, memory):
            return self._append(path, memory)
        self.memory = FileMemory()
        encoder = codecs.getincrementalencoder(self.settings.encoding)(errors=RAW_BYTES)
        with atomic_replace(path) as out:
            def emit(text: str) -> None:
                out.write(encoder.encode(text))

            if exists:
                with open(path, "rb") as fh:
                    self._merge(fh, path, emit)
            else:
                self._new_table([], emit)
            out.write(encoder.encode("", final=True))
        self.memory.wrote(path)
        return self.memory

    # -- the quick way: only new keys, nothing else changed -------------------------------

    def _appendable(self, path: Path, memory: FileMemory) -> bool:
        columns = set(memory.layout.get("columns", ()))
        return all(c in columns for row in self.upserts.values() for c in row) \
            and memory.can_append(path, self.upserts)

    def _append(self, path: Path, memory: FileMemory) -> FileMemory:
        columns, newline = memory.layout["columns"], memory.layout["newline"]
        lead = [] if memory.layout["ends_with_break"] else [newline]
        rows = self.serialise_many(([r.get(c, "") for c in columns]
                                    for r in self.upserts.values()), newline)
        append_atomically(path, self.settings.encoding, [*lead, rows])
        for found in self.upserts:
            memory.keys.add(found)
        memory.layout["ends_with_break"] = True
        memory.wrote(path)
        return memory

    # -- the full way ---------------------------------------------------------------------

    def _remember(self, columns: list[str], newline: str, ends_with_break: bool) -> None:
        assert self.memory is not None
        self.memory.layout = {"columns": columns, "newline": newline,
                              "ends_with_break": ends_with_break}
        for found in self.upserts:
            self.memory.keys.add(found)

    def _new_table(self, blanks: list[Row], emit: Emit) -> None:
        for blank in blanks:
            emit(blank.raw)
        newline = self.settings.newline
        if self.settings.header:
            columns = columns_for([], self.upserts.values())
            emit(self.serialise(columns, newline))
        else:
            columns = list(self.settings.columns or [])
        if self.upserts:  # the batch's rows as one text (one writer, not one per row)
            emit(self.serialise_many(([row.get(c, "") for c in columns]
                                      for row in self.upserts.values()), newline))
        self._remember(columns, newline, True)

    def _merge(self, fh: BinaryIO, path: Path, emit: Emit) -> None:
        encoding = self.settings.encoding
        lines = Lines(fh, encoding, keep=False)
        rows = iter_rows(lines, self.settings)
        newline = self.settings.newline
        if not self.settings.header:
            first = next(rows, None)  # reading it tells whether the file had a BOM
            if lines.had_bom:
                emit("\ufeff")
            columns = list(self.settings.columns or [])
            self._merge_rows(itertools.chain([first] if first else [], rows), columns,
                             columns, newline, emit)
            return
        header, blanks = read_header(rows, self.system, path, encoding)
        if lines.had_bom:
            emit("\ufeff")
        if header is None:  # only blank lines: start a table after them
            self._new_table(blanks, emit)
            return
        for blank in blanks:
            emit(blank.raw)
        old = header.fields
        columns = columns_for(old, self.upserts.values())
        newline = line_ending(header.raw)[1] or newline
        emit(header.raw if len(columns) == len(old) else self.serialise(columns, newline))
        self._merge_rows(rows, old, columns, newline, emit)

    def _merge_rows(self, rows: Iterable[Row], old: list[str], columns: list[str],
                    newline: str, emit: Emit) -> None:
        assert self.memory is not None
        keys = self.memory.keys
        added = len(columns) - len(old)
        key_at = [columns.index(k) if k in columns else -1 for k in self.key]
        width = len(old)
        done: set[Key] = set()
        ends_with_break = True
        for row in rows:
            if row.error is None and len(row.fields) == width and width:
                found = tuple(row.fields[i] if 0 <= i < width else "" for i in key_at)
                if found in self.deletes:
                    continue
                keys.add(found)
                if found in self.upserts:
                    merged = dict(zip(old, row.fields)) | self.upserts[found]
                    emit(self.serialise([merged.get(c, "") for c in columns], newline))
                    done.add(found)
                    ends_with_break = True
                    continue
            if added and row.error is None and row.fields:
                # Widen untouched rows without re-quoting them; a row that had the wrong
                # column count keeps having it, so it stays a visible problem.
                body, end = line_ending(row.raw)
                row.raw = body + self.settings.delimiter * added + end
            emit(row.raw)  # untouched (even unreadable) rows are kept exactly as they were
            ends_with_break = line_ending(row.raw)[1] != ""
        new = [values for found, values in self.upserts.items() if found not in done]
        if new and not ends_with_break:
            emit(newline)
        if new:
            emit(self.serialise_many(([values.get(c, "") for c in columns] for values in new),
                                     newline))
        self._remember(columns, newline, ends_with_break or bool(new))

    def serialise(self, values: list[str], newline: str) -> str:
        return self.serialise_many([values], newline)

    def serialise_many(self, rows: Iterable[list[str]], newline: str) -> str:
        """The rows as CSV text. A value holding a line break is quoted (with ``quoting:
        none``, escaped), a bare CR as well: the csv module only protects the characters
        of its line terminator, and a reader takes a bare CR for the end of a line."""
        rows = list(rows)
        buf = io.StringIO()
        csv.writer(buf, lineterminator=newline, **dialect(self.settings)).writerows(rows)
        text = buf.getvalue()
        if newline == "\r\n" or "\r" not in text:
            return text  # the common case: decided by one scan in C
        # Some value holds a CR: write with "\r\n" (so CR and LF are both protected),
        # then turn each row's own terminator back into ``newline``.
        writer = csv.writer(buf, lineterminator="\r\n", **dialect(self.settings))
        parts = []
        for row in rows:
            buf.seek(0)
            buf.truncate()
            writer.writerow(row)
            parts.append(buf.getvalue()[:-2] + newline)
        return "".join(parts)
