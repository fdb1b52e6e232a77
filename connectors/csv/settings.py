"""Settings of the CSV connector: folder, dialect, header, encoding and quote checks."""

from __future__ import annotations

import csv
from typing import Any, Literal, Self

from pydantic import AliasChoices, Field, field_validator, model_validator

from connectors.files.base import FileSettings, validate_codec

QUOTING = {"minimal": csv.QUOTE_MINIMAL, "all": csv.QUOTE_ALL, "none": csv.QUOTE_NONE}


class CsvSettings(FileSettings):
    """A CSV/TSV folder. ``delimiter: tab`` (or ``"\\t"``) reads tab-separated files."""

    suffix: str = ".csv"
    delimiter: str = ","
    encoding: str = "utf-8"
    quotechar: str = '"'
    #: "minimal" quotes only where needed, "all" every field, "none" never (needs
    #: ``escapechar``). Reading accepts whatever quoting the file uses, except with "none".
    quoting: Literal["minimal", "all", "none"] = "minimal"
    #: Escapes delimiter and quote characters instead of doubling quotes, e.g. "\\".
    escapechar: str | None = None
    #: False for files without a header row; then ``columns`` names the fields in order.
    header: bool = True
    columns: list[str] | None = None
    #: Line ending for files this connector creates; existing files keep their own.
    newline: str = "\n"
    #: Writing: a value a spreadsheet would run as a formula (starting with ``=``, ``+``,
    #: ``-``, ``@``, tab or CR) gets a leading ``'`` (CSV injection, OWASP). Plain numbers
    #: (``-2.50``, ``+4930123456``) stay as they are. False writes every value raw.
    #: ``neutralise_formulas`` is the older name, still accepted.
    spreadsheet_safe: bool = Field(
        default=True, validation_alias=AliasChoices("spreadsheet_safe", "neutralise_formulas"))
    #: Reading: the most line breaks one quoted value may hold; a value with more is
    #: refused (its record becomes a problem naming its lines).
    max_field_lines: int = Field(default=100, ge=0)
    #: Reading: False (default) accepts quotes the way spreadsheets do (a quote inside an
    #: unquoted value is a plain character, text after a closing quote is kept). True wants
    #: RFC 4180 quotes: a quote opens a value and closes it right before a delimiter or the
    #: line end, or the row is refused; the stray-quote check also covers two-column files,
    #: and the lines of a refused multi-line record are always read again as rows.
    strict_quotes: bool = False

    @model_validator(mode="before")
    @classmethod
    def _one_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "spreadsheet_safe" in data \
                and "neutralise_formulas" in data:
            raise ValueError("set `spreadsheet_safe` only (`neutralise_formulas` is its old "
                             "name)")
        return data

    @field_validator("delimiter", mode="before")
    @classmethod
    def _tab(cls, value: object) -> object:
        return "\t" if isinstance(value, str) and value.lower() in ("tab", "\\t") else value

    @field_validator("delimiter", "quotechar", "escapechar")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value in "\r\n"):
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

    @field_validator("columns")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value or any(not n.strip() for n in value):
                raise ValueError("must list at least one column, none of them empty")
            dupes = sorted({n for n in value if value.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate column names: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.header and not self.columns:
            raise ValueError("header: false needs `columns` (the field names, in order)")
        if self.header and self.columns:
            raise ValueError("`columns` is only for files without a header row "
                             "(header: false); with a header the file names its columns")
        if self.quoting == "none" and self.escapechar is None:
            raise ValueError('quoting: "none" needs an `escapechar` for delimiters in values')
        special = [c for c in (self.delimiter, self.quotechar, self.escapechar) if c]
        if len(set(special)) < len(special):
            raise ValueError("delimiter, quotechar and escapechar must differ")
        return self


def dialect(settings: CsvSettings) -> dict[str, Any]:
    """``csv.reader``/``csv.writer`` keyword arguments for ``CsvSettings``."""
    return {"delimiter": settings.delimiter, "quotechar": settings.quotechar,
            "quoting": QUOTING[settings.quoting], "escapechar": settings.escapechar,
            "doublequote": settings.escapechar is None}
