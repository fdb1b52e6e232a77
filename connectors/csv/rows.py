"""CSV rows with their line numbers and raw text, and what makes a row unreadable.

Shared by reading (rows become records or problems) and rewriting (untouched rows are
copied byte for byte). Problem reasons name line, column and encoding, never a value.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.csv.settings import CsvSettings
from connectors.files.text import SUSPECT, Lines, first_raw_byte
from hub.errors import FatalConnectorError

MAX_FIELD = 1 << 20  # 1 MiB (in characters): longer fields are refused as problems

# The csv module's field limit is process-wide; raise it to our own limit, never lower it.
if csv.field_size_limit() < MAX_FIELD:
    csv.field_size_limit(MAX_FIELD)

QUOTING = {"minimal": csv.QUOTE_MINIMAL, "all": csv.QUOTE_ALL, "none": csv.QUOTE_NONE}

#: Fed to the parser after the last line: a quoted field still open at the end of the file
#: swallows it, otherwise it is a row of its own. (U+FDD0 is a noncharacter: never text.)
_END = "\ufdd0"
_UNCLOSED = "a quoted field is never closed (the file ends inside it)"


@dataclass
class Row:
    """One parsed record with the exact text it came from."""

    line: int  # physical line where the record starts (1-based)
    fields: list[str]
    raw: str
    error: str | None = None  # csv module error, if the row could not be parsed

    @property
    def blank(self) -> bool:
        return self.error is None and not self.fields


def dialect(settings: CsvSettings) -> dict[str, Any]:
    """``csv.reader``/``csv.writer`` keyword arguments for ``CsvSettings``."""
    return {"delimiter": settings.delimiter, "quotechar": settings.quotechar,
            "quoting": QUOTING[settings.quoting], "escapechar": settings.escapechar,
            "doublequote": settings.escapechar is None}


def iter_rows(lines: Lines, settings: CsvSettings) -> Iterator[Row]:
    """Every record of the file, blank lines included (as rows without fields)."""
    reader = csv.reader(iter(lines), **dialect(settings))
    while True:
        start = lines.count + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(start, [], lines.take(), error=str(exc))
            continue
        yield Row(start, fields, lines.take())


@dataclass
class Ending:
    """How a ``fast_rows`` read ended: physical lines read, and why it read less than the
    whole file, if it did (plain words naming lines, never a value)."""

    lines: int = 0
    early: list[str] = field(default_factory=list)


def _then_end(lines: Iterator[str], done: list[bool]) -> Iterator[str]:
    yield from lines
    done.append(True)
    yield _END + "\n"


def fast_rows(lines: Iterator[str], settings: CsvSettings,
              ending: Ending | None = None) -> Iterator[Row]:
    """Like ``iter_rows`` for reading only: no raw text kept, line numbers from the reader.

    Two ways a read covers less than the file, both noted in ``ending.early``: a quoted
    field that is never closed swallows every line after it up to the end of the file
    (the csv module would hand all of them out as one value of one row; here that row is
    an error), and one that runs past the field limit swallows the lines up to there.
    """
    done: list[bool] = []
    ending = ending if ending is not None else Ending()
    reader = csv.reader(_then_end(lines, done), **dialect(settings))
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last = reader.line_num - 1 if done else reader.line_num
            if last > start:  # a quoted field ran over several lines before it failed
                ending.early.append(
                    f"a quoted field opened at line {start} runs on to line {last} and "
                    f"cannot be read ({exc}); is a quote not closed? Lines {start}-{last} "
                    "were not read as records")
            yield Row(start, [], "", error=str(exc))
            if done:
                ending.lines = last
                return
            continue
        if done:  # this row took the end mark: the file has ended
            ending.lines = reader.line_num - 1
            if fields == [_END]:  # ... between two rows: the normal end
                return
            ending.early.append(f"a quoted field opened at line {start} is never closed (the "
                                f"file ends inside it), so lines {start}-{ending.lines} "
                                "could not be read as records")
            yield Row(start, [], "", error=_UNCLOSED)
            return
        yield Row(start, fields, "")


def row_problem(row: Row, header: list[str], encoding: str) -> tuple[str, str | None] | None:
    """Why this row cannot be read, as (reason, field); never mentions cell values."""
    if row.error is not None:
        if "field limit" in row.error:
            return f"a field is longer than {MAX_FIELD >> 20} MiB", None
        return f"cannot parse the row: {row.error}", None
    if len(row.fields) != len(header):
        return f"expected {len(header)} columns, found {len(row.fields)}", None
    joined = "".join(row.fields)
    if len(joined) <= MAX_FIELD and SUSPECT.search(joined) is None:
        return None  # the common case, decided without a Python loop over the fields
    for number, (name, value) in enumerate(zip(header, row.fields), start=1):
        bad = first_raw_byte(value)
        if bad is not None:
            return f"cannot decode byte 0x{bad:02x} at column {number} ({name}) as {encoding}", name
        if "\x00" in value:
            return f"NUL byte at column {number} ({name})", name
        if len(value) > MAX_FIELD:
            return f"column {number} ({name}) is longer than {MAX_FIELD >> 20} MiB", name
    return None


def read_header(rows: Iterator[Row], system: str, path: Path,
                encoding: str) -> tuple[Row | None, list[Row]]:
    """The header row (first non-blank row) and the blank rows before it."""
    blanks: list[Row] = []
    for row in rows:
        if row.blank:
            blanks.append(row)
            continue
        if row.error is not None:
            raise FatalConnectorError(f"{system}: {path}:{row.line}: cannot parse the header: "
                                      f"{row.error}")
        for number, name in enumerate(row.fields, start=1):
            bad = first_raw_byte(name)
            if bad is not None:
                raise FatalConnectorError(f"{system}: {path}:{row.line}: cannot decode byte "
                                          f"0x{bad:02x} in header column {number} as {encoding}")
        dupes = sorted({n for n in row.fields if row.fields.count(n) > 1})
        if dupes:
            raise FatalConnectorError(f"{system}: {path}: duplicate column names in the "
                                      f"header: {', '.join(repr(d) for d in dupes)}")
        return row, blanks
    return None, blanks
