"""Records as normalised numpy columns, built once for every comparison and blocking rule.

Each field is normalised once per *distinct* raw value (names, cities, birth dates repeat
a lot), with the same functions as ``hub.matching.profile``, so the frame agrees with the
profile the fixed scoring reads. Exact comparisons read integer codes (one per distinct
normalised value, -1 where empty), never Python string compares per pair.

Dates are read from their digits, not through a calendar: "1985-02-30" still compares
(one bad field does not lose the record).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hub.matching import profile as prof
from mappings.splitjoin import split_street

_DATE = (re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"),
         re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})"))
_NOT_PLAIN = re.compile(r"[^a-z0-9 ]+")


def date_parts(value: Any) -> tuple[int, int, int]:
    """(year, month, day) from a date or its ISO / German text; (0, 0, 0) if unreadable."""
    if hasattr(value, "year"):
        return value.year, value.month, value.day
    text = "" if value is None else str(value)
    iso = _DATE[0].match(text)
    if iso:
        return int(iso[1]), int(iso[2]), int(iso[3])
    german = _DATE[1].match(text)
    if german:
        return int(german[3]), int(german[2]), int(german[1])
    return 0, 0, 0


def plain(text: str) -> str:
    """Lower case, umlauts spelled out, accents dropped, letters, digits and single
    spaces only: "Apt. 5/B" -> "apt 5 b"."""
    text = unicodedata.normalize("NFC", text).casefold().translate(prof._UMLAUTS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    return " ".join(_NOT_PLAIN.sub(" ", text).split())


def compact(text: str) -> str:
    """``plain`` without spaces: identifiers typed with and without separators agree."""
    return plain(text).replace(" ", "")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _split(text: str) -> tuple[str, str]:
    street, number = split_street(text)
    return street or "", (number or "").lower()


def _first(text: str) -> tuple[str, str]:
    folded = prof.fold(text)
    return folded, prof.first_name_key(folded)


def _date(value: Any) -> tuple[tuple[int, int, int], str]:
    y, m, d = date_parts(value)
    return (y, m, d), (f"{y:04d}-{m:02d}-{d:02d}" if y else "")


def _mapped(raw: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    """``fn`` of each value, called once per distinct value."""
    values = np.empty(len(raw), dtype=object)
    values[:] = raw
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    done = np.empty(len(uniques), dtype=object)
    done[:] = [fn(u) for u in uniques]
    return done[codes].tolist()  # type: ignore[no-any-return]


def custom_value(values: Mapping[str, Any], field: str) -> Any:
    """A field's value: a top-level key (canonical, or a custom field in a CSV or a
    mapped record), else the golden record's ``custom`` JSON."""
    if field in values:
        return values[field]
    custom = values.get("custom")
    return custom.get(field) if isinstance(custom, Mapping) else None


class Frame:
    """Normalised columns of records, as numpy object/int arrays.

    ``fields``: further (custom or canonical) fields to keep as raw text, for the custom
    comparisons and blocking rules that read them (``raw``)."""

    COLUMNS = ("first", "first_key", "last", "street", "number", "postal", "city", "phone",
               "email", "email_local")

    def __init__(self, rows: Sequence[Mapping[str, Any]], entity: str = "customer",
                 fields: Sequence[str] = ()):
        rows = list(rows)
        self.n = len(rows)
        self.entity = entity
        firsts = _mapped([_text(r.get("first_name")) for r in rows], _first)
        # split per distinct address, the street's name normalised per distinct name
        streets = _mapped([_text(r.get("street")) for r in rows], _split)
        emails = [next((e for e in (_text(r.get(f)).strip().lower()
                                    for f in prof.EMAIL_FIELDS[entity]) if e), "")
                  for r in rows]
        cols: dict[str, list[Any]] = {
            "first": [a for a, _ in firsts], "first_key": [b for _, b in firsts],
            "last": _mapped([_text(r.get("last_name")) for r in rows], prof.fold),
            "street": _mapped([a for a, _ in streets], prof._street),
            "number": [b for _, b in streets],
            "postal": _mapped([_text(r.get("postal_code")) for r in rows],
                              lambda t: t.replace(" ", "").upper()),
            "city": _mapped([_text(r.get("city")) for r in rows], prof.fold),
            "phone": _mapped([_text(r.get("phone")) for r in rows],
                             lambda t: re.sub(r"\D", "", t)),
            "email": emails, "email_local": [e.split("@", 1)[0] for e in emails]}
        self.col: dict[str, np.ndarray] = {c: np.array(v, dtype=object) for c, v in cols.items()}
        dates = _mapped([r.get("date_of_birth") for r in rows], _date)
        self.dob = np.array([d for d, _ in dates], dtype=np.int32).reshape(-1, 3)
        self.col["dob"] = np.array([t for _, t in dates], dtype=object)
        self.raw: dict[str, np.ndarray] = {
            f: np.array([_text(custom_value(r, f)) for r in rows], dtype=object)
            for f in fields}
        self._codes: dict[str, np.ndarray] = {}
        self._derived: dict[str, np.ndarray] = {}

    def strings(self, name: str, idx: np.ndarray) -> list[str]:
        return self.col[name][idx].tolist()  # type: ignore[no-any-return]

    def codes(self, name: str) -> np.ndarray:
        """One int per distinct value of column ``name``; -1 where it is empty."""
        found = self._codes.get(name)
        if found is None:
            column = self.col[name]
            found, _ = pd.factorize(column, use_na_sentinel=False)
            found = np.where(column == "", -1, found).astype(np.int64)
            self._codes[name] = found
        return found

    def derived(self, name: str, source: str, fn: Callable[[str], str]) -> np.ndarray:
        """A column computed from another once per distinct value (cached as ``name``)."""
        if name not in self.col:
            self.col[name] = np.array(_mapped(self.col[source].tolist(), fn), dtype=object)
        return self.col[name]

    def raw_column(self, field: str, name: str, fn: Callable[[str], str]) -> np.ndarray:
        """A normalised column of a raw field (``fn`` per distinct value), cached."""
        if name not in self.col:
            if field not in self.raw:
                raise KeyError(f"field {field!r} was not read into the frame")
            self.col[name] = np.array(_mapped(self.raw[field].tolist(), fn), dtype=object)
        return self.col[name]
