"""A trained model's blocking keys as texts, per record, so they can be stored.

``fs_blocking`` gives each record of a frame an integer code per rule: equal codes, equal
keys, but only inside that frame. The sync meets records of earlier batches through keys
stored with each source record (as keyed digests), so it needs the key itself: the same
parts the rule combines, as "rule|part|part". Two records share a text exactly when they
share a code in one frame (``tests/matching/test_key_texts.py`` holds the two together).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from hub.matching import fs_blocking as fb
from hub.matching.fs_frame import Frame, date_parts, plain

Parts = Callable[[Frame, int], "list[str] | None"]


def _year(f: Frame, n: int) -> str:
    return str(f.dob[n, 0]) if f.dob[n, 0] > 0 else ""


def _pair(a: str, b: str) -> list[str]:
    return [a, b] if a <= b else [b, a]


def _col(f: Frame, name: str, n: int) -> str:
    return str(f.col[name][n])


def _dob_initials(f: Frame, n: int) -> list[str] | None:
    dob = _col(f, "dob", n)
    if not dob:
        return None
    return [dob, *_pair(_col(f, "first_key", n)[:1], _col(f, "last", n)[:1])]


def _soundex_last_first_year(f: Frame, n: int) -> list[str] | None:
    code, year = fb.soundex(_col(f, "last", n)), _year(f, n)
    return [code, year, _col(f, "first_key", n)[:1]] if code and year else None


def _name_prefixes_year(f: Frame, n: int) -> list[str] | None:
    first, last, year = _col(f, "first_key", n), _col(f, "last", n), _year(f, n)
    if not (first and last and year):
        return None
    return [*_pair(first[:3], last[:3]), year]


def _postal_soundex_last(f: Frame, n: int) -> list[str] | None:
    postal, code = _col(f, "postal", n), fb.soundex(_col(f, "last", n))
    return [postal, code] if postal and code else None


def _phone(f: Frame, n: int) -> list[str] | None:
    phone = _col(f, "phone", n)
    return [phone[-9:]] if len(phone) >= 7 else None


def _single(column: str) -> Parts:
    def parts(f: Frame, n: int) -> list[str] | None:
        value = _col(f, column, n)
        return [value] if value else None
    return parts


#: fs_blocking's built-in rules, part by part.
BUILT_IN: dict[str, Parts] = {
    "dob": _single("dob"),
    "dob_initials": _dob_initials,
    "soundex_last_first_year": _soundex_last_first_year,
    "name_prefixes_year": _name_prefixes_year,
    "postal_soundex_last": _postal_soundex_last,
    "email": _single("email"),
    "phone": _phone,
}

_MAKE: dict[str, Callable[[str, int], str]] = {
    "value": lambda s, n: s, "first": lambda s, n: s.replace(" ", "")[:n],
    "last": lambda s, n: s.replace(" ", "")[-n:], "initial": lambda s, n: s[:1],
    "soundex": lambda s, n: fb.soundex(s), "digits": lambda s, n: re.sub(r"\D", "", s)}


def _part_column(f: Frame, text: str) -> np.ndarray:
    """One key part of a custom rule, per record ("" where the record has none)."""
    fn, field, n = fb.parse_part(text)
    if fn == "year":
        if field == "date_of_birth":
            return np.array([_year(f, k) for k in range(f.n)], dtype=object)
        return f.raw_column(field, f"year:{field}", lambda s: str(date_parts(s)[0] or ""))
    column = f.col[fb.COLUMN[field]] if field in fb.COLUMN else \
        f.raw_column(field, f"plain:{field}", plain)
    return np.array([_MAKE[fn](str(s), n) for s in column.tolist()], dtype=object)


def texts(f: Frame, rules: Sequence[fb.RuleSpec], rows: Sequence[int] | None = None
          ) -> list[list[str]]:
    """Per record of ``f`` (or of ``rows``), "rule|part|..." for each rule blocking it."""
    wanted = range(f.n) if rows is None else rows
    out: list[list[str]] = [[] for _ in wanted]
    for spec in rules:
        rule = fb.rule(spec)
        if isinstance(rule.spec, str):
            parts = BUILT_IN.get(rule.spec) or _by_fields(rule)
            for k, n in enumerate(wanted):
                found = parts(f, n)
                if found is not None:
                    out[k].append("|".join([rule.name, *found]))
            continue
        columns = [_part_column(f, p) for p in rule.spec]
        for k, n in enumerate(wanted):
            found = [str(c[n]) for c in columns]
            if all(found):
                out[k].append("|".join([rule.name, *found]))
    return out


def _by_fields(rule: fb.Rule) -> Parts:
    """A built-in rule this module does not know yet: the full values of its fields, a
    stricter key (fewer pairs, never a wrong one) until it is added to ``BUILT_IN``."""
    columns = [fb.COLUMN.get(field, "") for field in rule.fields]

    def parts(f: Frame, n: int) -> list[str] | None:
        found = [_col(f, c, n) if c else "" for c in columns]
        return found if all(found) else None
    return parts
