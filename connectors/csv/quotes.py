"""Telling a genuine multi-line value from a quote gone astray.

A quote opened and not closed where it should be (``1004,"Eve,...``) makes the csv module
read every following line into one value, up to the next quote in the file: good rows
vanish into one customer's first name, and when the stray quotes happen to pair up the
merged record even has the right number of columns. A genuine multi-line value (an
address in quotes) is told from such a stray quote by what it swallowed: lines that read
on their own as rows of this file, or more line breaks than ``max_field_lines``. Its
record is refused, naming its lines, and ``iter_rows`` reads the lines after its first
one again as rows of their own. Only records spanning several lines (and, with
``strict_quotes``, lines holding a quote) come here: a one-line row pays nothing.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace

from connectors.csv.settings import CsvSettings, dialect

MAX_FIELD = 1 << 20  # 1 MiB (in characters): longer fields are refused as problems
UNCLOSED = "a quoted field is never closed (the file ends inside it)"

_LETTERS = re.compile(r"[^\W\d_]+")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a record is refused, in plain words naming lines and columns, never a value."""

    reason: str
    field: str | None = None  # the column the stray quote opened in, if known
    head: tuple[str, ...] = ()  # the fields before that column (the key may be among them)
    again: bool = False  # read the lines after the record's first line again as rows
    early: str | None = None  # the read covers less than the file, and why


def kind(text: str) -> str:
    """What a value looks like, not what it is: ``1004`` and ``1005`` are both ``9``,
    ``C-0017`` is ``a-9``, ``eve@example.org`` is ``a@a.a``."""
    return _DIGITS.sub("9", _LETTERS.sub("a", text.strip()))


def line_breaks(value: str) -> int:
    return value.count("\n") + value.count("\r") - value.count("\r\n")


def csv_error_reason(error: str) -> str:
    if "field limit" in error:
        return f"a field is longer than {MAX_FIELD >> 20} MiB"
    return f"cannot parse the row: {error}"


class QuoteCheck:
    """Judges the records that span several lines, once the header's columns are known."""

    def __init__(self, settings: CsvSettings):
        self._dialect = dialect(settings)
        self.strict = settings.strict_quotes and settings.quoting != "none"
        self.limit = settings.max_field_lines
        #: Column names: the configured ones, or the header's once ``iter_rows`` read it.
        self.names: list[str] = [] if settings.header else list(settings.columns or [])
        self._delimiter = settings.delimiter
        self._field = _field_pattern(settings)

    def _alone(self, text: str) -> list[str] | None:
        """``text`` read on its own as CSV (None: not readable as a row at all)."""
        try:
            return next(csv.reader([text], **self._dialect), [])
        except csv.Error:
            return None

    def _row_like(self, line: str, first: str | None) -> bool:
        """Does ``line`` read as a row of this file: the header's number of fields and
        (unless strict, or unknown) a first field of the same kind as the record's own?"""
        fields = self._alone(line)
        return fields is not None and len(fields) == len(self.names) and (
            first is None or self.strict or kind(fields[0]) == kind(first))

    def judge(self, start: int, lines: list[str], fields: list[str] | None,
              error: str | None, unclosed: bool) -> Refusal | None:
        """None: read the record as parsed (``fields``, or ``error``). ``lines``: its raw
        physical lines; ``unclosed``: the file ended inside it."""
        if len(lines) == 1 and not unclosed:  # strict_quotes: a one-line row with a quote
            bad = self.malformed(lines[0]) if self.strict else None
            if bad is None:
                return None
            column, reason = bad
            return Refusal(reason, head=tuple(fields[:column - 1]) if fields else ())
        last = start + len(lines) - 1
        opening = self._alone(lines[0]) or [""]
        column = len(opening)  # the value still open at the end of the first line
        name = self.names[column - 1] if column <= len(self.names) else None
        where = f"a quoted field opened at line {start} column {column}" + \
            (f" ({name})" if name else "")
        head = tuple(opening[:-1])
        breaks = len(lines) - 1
        closed = not unclosed and error is None
        first = opening[0] if column > 1 else None
        inner = lines[1:-1] if closed else lines[1:]
        row_like = [self._row_like(line, first) for line in inner if line.strip("\r\n")]
        width = len(self.names)
        swallowed = width >= (2 if self.strict else 3) and (any(row_like) or (
            closed and self._row_like(lines[-1], first)
            and column - 1 + len(self._alone(opening[-1].rstrip("\r\n")) or []) == width))
        broken = self._broken(start, last, lines, fields, error, unclosed)
        # A record refused anyway: its lines are read again when every one reads as a row.
        if swallowed or (broken is not None and width >= 2 and row_like and all(row_like)):
            over = f"{breaks} line break{'s' if breaks > 1 else ''}"
            if unclosed:
                how = f"is never closed: it runs over {over} to the end of the file, into"
            elif error is not None:
                how = f"runs over {over}, past the field limit ({error}), into"
            else:
                how = f"runs over {over} into"
            hint = "" if unclosed else " (is a quote not closed?)"
            return Refusal(f"{where} {how} what look like further records{hint}; "
                           f"{_after(start, last)}", name, head, again=True)
        if broken is None:
            return None
        if self.strict:  # strict: every line of a refused record gets its own chance
            return Refusal(f"{broken.reason}; {_after(start, last)}", broken.field or name,
                           head, again=True)
        return replace(broken, head=head)

    def _broken(self, start: int, last: int, lines: list[str], fields: list[str] | None,
                error: str | None, unclosed: bool) -> Refusal | None:
        """Why a multi-line record is refused whatever it swallowed, if it is."""
        if unclosed:
            return Refusal(UNCLOSED, early=(
                f"a quoted field opened at line {start} is never closed (the file ends "
                f"inside it), so lines {start}-{last} could not be read as records"))
        if error is not None:
            return Refusal(csv_error_reason(error), early=(
                f"a quoted field opened at line {start} runs on to line {last} and cannot "
                f"be read ({error}); is a quote not closed? Lines {start}-{last} were not "
                "read as records"))
        assert fields is not None
        breaks = [line_breaks(value) for value in fields]
        most = max(breaks, default=0)
        if most > self.limit:
            column = breaks.index(most) + 1
            name = self.names[column - 1] if column <= len(self.names) else None
            return Refusal(f"the quoted value at column {column}"
                           + (f" ({name})" if name else "") + f" runs over {most} line "
                           f"breaks, more than max_field_lines ({self.limit}); is a quote "
                           "not closed?", name)
        if self.strict:
            bad = self.malformed("".join(lines))
            if bad is not None:
                return Refusal(bad[1])
            if len(fields) != len(self.names):
                return Refusal(f"expected {len(self.names)} columns, found {len(fields)}")
        return None

    def malformed(self, raw: str) -> tuple[int, str] | None:
        """Where the quotes of one record's raw text break RFC 4180 (``strict_quotes``):
        the column, and "column N (name): ..."; or None."""
        body = raw.rstrip("\r\n")
        pos, column = 0, 1
        while True:
            match = self._field.match(body, pos)
            assert match is not None  # the unquoted alternative matches the empty text
            end = match.end()
            if end >= len(body):
                return None
            if body[end] == self._delimiter:
                pos, column = end + 1, column + 1
                continue
            name = self.names[column - 1] if column <= len(self.names) else None
            at = f"column {column}" + (f" ({name})" if name else "")
            if match.group(1) is not None:
                return column, f"{at}: text follows the closing quote (strict_quotes)"
            return column, (f"{at}: a quote inside an unquoted value (strict_quotes: a "
                            "quote may only open a value)")


def _after(start: int, last: int) -> str:
    """The lines after a refused record's first one, which are read again."""
    if last == start + 1:
        return f"line {last} is read as a record of its own"
    return f"lines {start + 1}-{last} are read as records of their own"


def _field_pattern(settings: CsvSettings) -> re.Pattern[str]:
    """One field: group 1 a quoted value, else an unquoted one (RFC 4180, or with
    ``escapechar`` the escaped characters)."""
    d, q = re.escape(settings.delimiter), re.escape(settings.quotechar)
    if settings.escapechar is None:
        quoted, plain = f"{q}(?:[^{q}]|{q}{q})*{q}", f"[^{d}{q}\r\n]*"
    else:
        e = re.escape(settings.escapechar)
        quoted = f"{q}(?:[^{q}{e}]|{e}[\\s\\S])*{q}"
        plain = f"(?:[^{d}{q}{e}\r\n]|{e}[\\s\\S])*"
    return re.compile(f"({quoted})|{plain}")
