"""CSV rows with their line numbers and raw text, and what makes a row unreadable.

Shared by reading (rows become records or problems) and rewriting (untouched rows are
copied byte for byte). Problem reasons name line, column and encoding, never a value.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from connectors.csv.quotes import MAX_FIELD, UNCLOSED, QuoteCheck, Refusal, csv_error_reason
from connectors.csv.settings import QUOTING, CsvSettings, dialect
from connectors.files.text import SUSPECT, first_raw_byte
from hub.errors import FatalConnectorError

__all__ = ["MAX_FIELD", "QUOTING", "Ending", "Row", "dialect", "iter_rows", "read_header",
           "row_problem"]

# The csv module's field limit is process-wide; raise it to our own limit, never lower it.
if csv.field_size_limit() < MAX_FIELD:
    csv.field_size_limit(MAX_FIELD)

#: Fed to the parser after the last line: a quoted field still open at the end of the file
#: swallows it, otherwise it is a row of its own. (U+FDD0 is a noncharacter: never text.)
_END = "\ufdd0\n"


@dataclass(slots=True)
class Row:
    """One parsed record with the exact text it came from."""

    line: int  # physical line where the record starts (1-based)
    fields: list[str]
    raw: str
    error: str | None = None  # csv module error, if the row could not be parsed
    last: int = 0  # the last physical line of a record spanning several (0: ``line``)
    refused: Refusal | None = None  # why its quotes got the record refused (QuoteCheck)

    @property
    def blank(self) -> bool:
        return self.error is None and self.refused is None and not self.fields


@dataclass
class Ending:
    """How a read ended: physical lines read, and why it read less than the whole file,
    if it did (plain words naming lines, never a value)."""

    lines: int = 0
    early: list[str] = field(default_factory=list)


def _feed(lines: Iterable[str], kept: list[str], again: deque[str]) -> Iterator[str]:
    """The lines for the parser, each also put in ``kept`` (the caller empties it per
    record, so it holds the current record's lines). Lines put in ``again`` (a
    resynchronisation) are handed out before the next new one; the end mark comes last."""
    for line in lines:
        kept.append(line)
        yield line
        while again:
            repeat = again.popleft()
            kept.append(repeat)
            yield repeat
    kept.append(_END)
    yield _END


def iter_rows(lines: Iterable[str], settings: CsvSettings,
              ending: Ending | None = None) -> Iterator[Row]:
    """Every record of the file, blank lines included (as rows without fields).

    ``lines`` are the file's physical lines with their line breaks (``text_lines`` for
    reading, ``Lines(..., keep=False)`` for rewriting). A record spanning several lines
    is judged by ``QuoteCheck``: one refused as a stray quote comes out as a refused row
    holding only its first line, and the lines after that are read again as rows of their
    own, so the good rows that follow still arrive. ``ending`` learns where the read
    ended and why it covered less than the file, if it did (a quoted field never closed,
    or running past the field limit, that does not look like swallowed rows).
    """
    ending = ending if ending is not None else Ending()
    check = QuoteCheck(settings)
    kept: list[str] = []
    again: deque[str] = deque()
    reader = csv.reader(_feed(lines, kept, again), **dialect(settings))
    width = len(check.names)  # 0 until the header is read
    lean, quote, end = not check.strict, settings.quotechar, _END
    line = 1
    while True:
        kept.clear()
        error = None
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            fields, error = [], str(exc)
        else:  # the common case, kept lean: one line, header known, no strict quote check
            if len(kept) == 1 and width and kept[0] is not end and (lean or quote not in kept[0]):
                yield Row(line, fields, kept[0])
                line += 1
                continue
        unclosed = kept[-1] is end
        if unclosed and len(kept) == 1:  # the end mark as a row of its own: the normal end
            ending.lines = line - 1
            return
        real = kept[:-1] if unclosed else kept[:]
        last = line + len(real) - 1
        if not width or (error is not None and len(real) == 1):
            if unclosed:  # before the header: nothing to judge the record against
                fields, error = [], UNCLOSED
            elif not width and settings.header and error is None and fields:
                check.names = list(fields)  # the header
                width = len(fields)
            yield Row(line, fields, "".join(real), error, last if last > line else 0)
            if unclosed:
                ending.lines = last
                return
            line += len(real)
            continue
        refusal = check.judge(line, real, None if error else fields, error, unclosed)
        if refusal is None:
            yield Row(line, fields, "".join(real), error, last if last > line else 0)
            line += len(real)
            continue
        if refusal.again:  # resynchronise: the lines after the first are read again
            if unclosed:  # the parser asked past the end mark: that feed is over
                reader = csv.reader(_feed(real[1:], kept, again), **dialect(settings))
            else:
                again.extendleft(reversed(kept[1:]))
            yield Row(line, [], real[0], last=last, refused=refusal)
            line += 1
            continue
        if refusal.early:
            ending.early.append(refusal.early)
        yield Row(line, [], "".join(real), last=last if last > line else 0, refused=refusal)
        if unclosed:
            ending.lines = last
            return
        line += len(real)


def row_problem(row: Row, header: list[str], encoding: str) -> tuple[str, str | None] | None:
    """Why this row cannot be read, as (reason, field); never mentions cell values."""
    if row.refused is not None:
        return row.refused.reason, row.refused.field
    if row.error is not None:
        return csv_error_reason(row.error), None
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
