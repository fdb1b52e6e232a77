"""The layout of a fixed-width file (the COBOL-era export): which columns hold which field.

```yaml
settings:
  directory: data/payroll
  encoding: cp1252
  fields:                                   # start is 1-based; omitted = right after the last
    - {name: PERSNR, width: 8}
    - {name: NAME, width: 30}
    - {name: GEHALT, start: 40, width: 10, align: right, pad: "0"}
  # or, for back-to-back fields:  names: [PERSNR, NAME]  widths: [8, 30]
```
Widths count characters after decoding (for single-byte encodings that is bytes).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.files.base import FileSettings, validate_codec


class FixedField(BaseModel):
    """One field of the layout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    width: int = Field(ge=1, le=1 << 20)
    #: 1-based column where the field starts; None = right after the previous field.
    start: int | None = Field(default=None, ge=1)
    #: Writing: "left" pads on the right (text), "right" pads on the left (numbers).
    align: Literal["left", "right"] = "left"
    pad: str = " "

    @field_validator("pad")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n":
            raise ValueError("must be exactly one character (not a line break)")
        return value


@dataclass(frozen=True)
class Slot:
    """A field's place in a line: [begin, end) in characters (0-based)."""

    name: str
    begin: int
    end: int
    align: str
    pad: str

    @property
    def width(self) -> int:
        return self.end - self.begin


class FixedWidthSettings(FileSettings):
    """Fixed-width files in a directory, all with the same layout."""

    suffix: str = ".txt"
    encoding: str = "utf-8"
    fields: list[FixedField] = Field(min_length=1)
    #: What reading strips from each value: spaces on "both" sides, on the "right", or "none".
    trim: Literal["both", "right", "none"] = "both"
    #: Lines at the top that are not records (titles, column rulers); kept on rewrite.
    header_lines: int = Field(default=0, ge=0)
    #: True: a line whose length differs from the layout's is a problem, not a record.
    strict_length: bool = False
    #: Line ending for files this connector creates; existing files keep their own.
    newline: Literal["\n", "\r\n"] = "\n"

    @model_validator(mode="before")
    @classmethod
    def _names_and_widths(cls, data: Any) -> Any:
        """``names`` + ``widths`` is shorthand for back-to-back ``fields``."""
        if isinstance(data, dict) and ("widths" in data or "names" in data):
            data = dict(data)
            names, widths = data.pop("names", None), data.pop("widths", None)
            if "fields" in data or not isinstance(names, list) or not isinstance(widths, list) \
                    or len(names) != len(widths):
                raise ValueError("give either `fields`, or `names` and `widths` of equal length")
            data["fields"] = [{"name": n, "width": w} for n, w in zip(names, widths)]
        return data

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str) -> str:
        return validate_codec(value)

    @model_validator(mode="after")
    def _layout_fits(self) -> Self:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate field names: {', '.join(dupes)}")
        for before, after in itertools.pairwise(self.ordered_slots):
            if after.begin < before.end:
                raise ValueError(f"fields {before.name} and {after.name} overlap "
                                 f"(columns {before.begin + 1}-{before.end} and "
                                 f"{after.begin + 1}-{after.end})")
        return self

    @cached_property
    def slots(self) -> list[Slot]:
        """The fields in layout order, with their columns resolved."""
        out: list[Slot] = []
        end = 0
        for f in self.fields:
            begin = f.start - 1 if f.start is not None else end
            end = begin + f.width
            out.append(Slot(f.name, begin, end, f.align, f.pad))
        return out

    @cached_property
    def ordered_slots(self) -> list[Slot]:
        """The fields in column order (the layout may list them in any order)."""
        return sorted(self.slots, key=lambda s: s.begin)

    @cached_property
    def widths(self) -> dict[str, int]:
        return {s.name: s.width for s in self.slots}

    @cached_property
    def line_length(self) -> int:
        return max(s.end for s in self.slots)


def cut(line: str, slots: list[Slot], trim: str) -> dict[str, str]:
    """A line's values by field; a short line (trailing spaces cut off) reads as padded."""
    values = {}
    for slot in slots:
        value = line[slot.begin:slot.end]
        if trim == "both":
            value = value.strip(" ")
        elif trim == "right":
            value = value.rstrip(" ")
        values[slot.name] = value
    return values


def layout_line(values: dict[str, str], slots: list[Slot]) -> str:
    """One line with every value padded into its slot (values must already fit).

    ``slots`` in column order: ``FixedWidthSettings.ordered_slots``.
    """
    parts: list[str] = []
    at = 0
    for slot in slots:
        parts.append(" " * (slot.begin - at))
        value = values.get(slot.name, "")
        pad = slot.pad if value else " "  # an empty value stays blank, not "0000"
        parts.append(value.ljust(slot.width, pad) if slot.align == "left"
                     else value.rjust(slot.width, pad))
        at = slot.end
    return "".join(parts)

