"""Comparison levels and blocking for the Fellegi-Sunter model, column-wise over pairs.

A ``Frame`` holds every record's normalised fields as numpy columns (built once). Each
comparison maps a pair list ``(i, j)`` to one level per pair, -1 where a side lacks the
field (absence is no evidence). Levels are tested in order, the first that holds wins;
string similarities come from one rapidfuzz ``cpdist`` call per column, never a Python
loop per pair. Blocking keys are computed per record; pairs are records sharing a key of
any rule (rules unioned), blocks larger than ``max_block`` left out.

Dates are read from their digits, not through a calendar: "1985-02-30" still compares
(one bad field does not lose the record).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

from hub.matching import profile as prof

_DATE = (re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"),
         re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})"))


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


_SOUNDEX = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556")


def soundex(name: str) -> str:
    """American Soundex of a folded name (letters a-z only): "mueller" -> m460."""
    name = name.replace(" ", "")
    if not name:
        return ""
    codes = name.translate(_SOUNDEX)
    out, last = name[0], codes[0]
    for c in codes[1:]:
        if c.isdigit() and c != last:
            out += c
        if c not in "hw":
            last = c
    return (out + "000")[:4]


class Frame:
    """Normalised columns of records, as numpy object/int arrays."""

    COLUMNS = ("first", "first_key", "last", "street", "number", "postal", "city", "phone",
               "email", "email_local")

    def __init__(self, rows: Sequence[Mapping[str, Any]], entity: str = "customer"):
        cols: dict[str, list[Any]] = {c: [] for c in self.COLUMNS}
        dates: list[tuple[int, int, int]] = []
        for values in rows:
            p = prof.profile(entity, values)
            for c in self.COLUMNS:
                cols[c].append(getattr(p, c))
            dates.append(date_parts(values.get("date_of_birth")))
        self.n = len(dates)
        self.col: dict[str, np.ndarray] = {c: np.array(v, dtype=object) for c, v in cols.items()}
        self.dob = np.array(dates, dtype=np.int32).reshape(-1, 3)
        self.col["dob"] = np.array([f"{y:04d}-{m:02d}-{d:02d}" if y else "" for y, m, d in dates],
                                   dtype=object)

    def strings(self, name: str, idx: np.ndarray) -> list[str]:
        return self.col[name][idx].tolist()  # type: ignore[no-any-return]


def _jw(a: list[str], b: list[str]) -> np.ndarray:
    return cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=1)


def _eq(a: list[str], b: list[str]) -> np.ndarray:
    return np.fromiter(map(str.__eq__, a, b), dtype=bool, count=len(a))


def _filled(a: list[str]) -> np.ndarray:
    return np.fromiter(map(bool, a), dtype=bool, count=len(a))


def _levels(conditions: list[np.ndarray], present: np.ndarray) -> np.ndarray:
    """The first true condition's index per pair, the last level if none, -1 if absent."""
    level = np.select(conditions, np.arange(len(conditions)), default=len(conditions))
    return np.where(present, level, -1).astype(np.int8)


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # the last one is "else"
    fields: tuple[str, ...]  # the frame columns it reads (a blocking rule on them skips it)
    compute: Callable[[Frame, np.ndarray, np.ndarray], np.ndarray]


def _initial(a: list[str], b: list[str]) -> np.ndarray:
    """One side is a single letter, the other starts with it."""
    return np.fromiter(((len(x) == 1 or len(y) == 1) and x[:1] == y[:1] for x, y in zip(a, b)),
                       dtype=bool, count=len(a))


def _names(f: Frame, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fa, fb = f.strings("first", i), f.strings("first", j)
    ka, kb = f.strings("first_key", i), f.strings("first_key", j)
    la, lb = f.strings("last", i), f.strings("last", j)
    s_first = np.maximum(_jw(fa, fb), _jw(ka, kb))
    s_last = _jw(la, lb)
    has_f = _filled(fa) & _filled(fb)
    has_l = _filled(la) & _filled(lb)
    initial = _initial(fa, fb) | _initial(ka, kb)
    # swapped: each name close to the other side's other name (an initial counts)
    cross_fl, cross_lf = _jw(fa, lb) >= 0.9, _jw(la, fb) >= 0.9
    swapped = has_f & has_l & ~_eq(fa, fb) & (
        (cross_fl & cross_lf) | (cross_fl & _initial(la, fb)) | (cross_lf & _initial(fa, lb)))
    first = _levels([swapped, _eq(fa, fb), _eq(ka, kb), s_first >= 0.92, initial,
                     s_first >= 0.8], has_f)
    last = _levels([swapped, _eq(la, lb), s_last >= 0.92, s_last >= 0.8], has_l)
    return first, last


_name_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _name_levels(f: Frame, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last levels come from one pass; the second caller reuses the first's."""
    key = id(f)
    hit = _name_cache.get(key)
    if hit is not None and hit[0] is i and hit[1] is j:
        return hit[2], hit[3]
    first, last = _names(f, i, j)
    _name_cache.clear()
    _name_cache[key] = (i, j, first, last)
    return first, last


def _dob(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    a, b = f.dob[i], f.dob[j]
    has = (a[:, 0] > 0) & (b[:, 0] > 0)
    same = a == b
    swapped = same[:, 0] & (a[:, 1] == b[:, 2]) & (a[:, 2] == b[:, 1])
    off = np.abs(a - b).sum(axis=1) == 1  # one day, month or year apart
    return _levels([same.all(axis=1), swapped, off, same.sum(axis=1) == 2, same[:, 0]], has)


def _address(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """One comparison for street, number, postal code and city: they agree together
    (a household, a move), so counting them apart would count one fact three times."""
    sa, sb = f.strings("street", i), f.strings("street", j)
    pa, pb = f.strings("postal", i), f.strings("postal", j)
    ca, cb = f.strings("city", i), f.strings("city", j)
    has_street, has_postal = _filled(sa) & _filled(sb), _filled(pa) & _filled(pb)
    has_city = _filled(ca) & _filled(cb)
    same_postal = has_postal & _eq(pa, pb)
    same_city = has_city & _eq(ca, cb)
    place = same_postal | (~has_postal & same_city)
    close = has_street & (_jw(sa, sb) >= 0.9)
    number = _eq(f.strings("number", i), f.strings("number", j))
    return _levels([place & has_street & _eq(sa, sb) & number, place & close & number,
                    close & number, place & close, same_postal, same_city],
                   has_street | has_postal | has_city)


def _phone(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    pa, pb = f.strings("phone", i), f.strings("phone", j)
    nine = np.fromiter((x[-9:] == y[-9:] for x, y in zip(pa, pb)), dtype=bool, count=len(pa))
    six = np.fromiter((x[-6:] == y[-6:] for x, y in zip(pa, pb)), dtype=bool, count=len(pa))
    a9 = [x[-9:] for x in pa]
    b9 = [y[-9:] for y in pb]
    return _levels([nine, six, _jw(a9, b9) >= 0.88], _filled(pa) & _filled(pb))


def _email(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    ea, eb = f.strings("email", i), f.strings("email", j)
    la, lb = f.strings("email_local", i), f.strings("email_local", j)
    return _levels([_eq(ea, eb), _eq(la, lb), _jw(ea, eb) >= 0.92], _filled(ea) & _filled(eb))


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("first_name", ("swapped", "exact", "nickname", "jw_0.92", "initial", "jw_0.80",
                              "else"), ("first", "first_key"),
               lambda f, i, j: _name_levels(f, i, j)[0]),
    Comparison("last_name", ("swapped", "exact", "jw_0.92", "jw_0.80", "else"), ("last",),
               lambda f, i, j: _name_levels(f, i, j)[1]),
    Comparison("date_of_birth", ("exact", "day_month_swapped", "off_by_one", "two_of_three",
                                 "year", "else"), ("dob",), _dob),
    Comparison("address", ("exact", "close_same_number", "street_number_other_place",
                           "same_street_other_number", "postal_code", "city", "else"),
               ("street", "postal", "city"), _address),
    Comparison("phone", ("last_nine", "last_six", "jw_0.88", "else"), ("phone",), _phone),
    Comparison("email", ("exact", "local_part", "jw_0.92", "else"), ("email",), _email),
)


def gammas(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The comparison-level matrix: one row per pair, one int8 column per comparison."""
    out = np.empty((len(i), len(COMPARISONS)), dtype=np.int8)
    for k, c in enumerate(COMPARISONS):
        out[:, k] = c.compute(f, i, j) if len(i) else np.zeros(0)
    _name_cache.clear()
    return out


# -- blocking ------------------------------------------------------------------------------


def _keys(f: Frame, parts: Callable[[int], str | None]) -> np.ndarray:
    return np.array([parts(n) or "" for n in range(f.n)], dtype=object)


def _year(f: Frame, n: int) -> str:
    return str(f.dob[n, 0]) if f.dob[n, 0] else ""


BLOCKING: dict[str, tuple[tuple[str, ...], Callable[[Frame, int], str | None]]] = {
    # rule -> (frame columns it uses, key of record n; empty: not blocked by this rule)
    "dob": (("dob",), lambda f, n: f.col["dob"][n]),
    # the birth date and both initials, in either order (swapped names stay together):
    # a same-day block grows with the records, this one stays small
    "dob_initials": (("dob", "first", "first_key", "last"), lambda f, n: (
        f.col["dob"][n] + "|" + "".join(sorted((f.col["first_key"][n][:1],
                                                 f.col["last"][n][:1])))
        if f.col["dob"][n] else None)),
    "soundex_last_first_year": (("last", "first", "first_key", "dob"), lambda f, n: (
        f"{soundex(f.col['last'][n])}|{f.col['first_key'][n][:1]}|{_year(f, n)}"
        if f.col["last"][n] and _year(f, n) else None)),
    "name_prefixes_year": (("last", "first", "first_key", "dob"), lambda f, n: (
        "|".join(sorted((f.col["first_key"][n][:3], f.col["last"][n][:3]))) + "|"
        + _year(f, n) if f.col["first_key"][n] and f.col["last"][n] and _year(f, n)
        else None)),
    "postal_soundex_last": (("postal", "last"), lambda f, n: (
        f"{f.col['postal'][n]}|{soundex(f.col['last'][n])}"
        if f.col["postal"][n] and f.col["last"][n] else None)),
    "email": (("email",), lambda f, n: f.col["email"][n]),
    "phone": (("phone",), lambda f, n: f.col["phone"][n][-9:]
              if len(f.col["phone"][n]) >= 7 else None),
}


def block_keys(f: Frame, rule: str) -> np.ndarray:
    _, key = BLOCKING[rule]
    return _keys(f, lambda n: key(f, n))


def blocked_pairs(f: Frame, rules: Sequence[str], max_block: int = 200,
                  source: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) sharing a key of any rule, sorted, each once.

    ``source``: per record, its system; then only pairs of two systems (linkage)."""
    found: list[np.ndarray] = []
    for rule in rules:
        i, j = rule_pairs(block_keys(f, rule), max_block)
        found.append(i.astype(np.int64) * f.n + j)
    codes = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
    i, j = codes // max(f.n, 1), codes % max(f.n, 1)
    if source is not None:
        keep = source[i] != source[j]
        i, j = i[keep], j[keep]
    return i, j


def rule_pairs(keys: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs inside each block of equal non-empty keys (i < j), vectorised by offset."""
    present = np.flatnonzero(keys != "")
    if not len(present):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, codes, sizes = np.unique(keys[present], return_inverse=True, return_counts=True)
    keep = sizes[codes] <= max_block
    rec, codes = present[keep], codes[keep]
    order = np.lexsort((rec, codes))
    rec, codes = rec[order], codes[order]
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    for k in range(1, max_block):
        if k >= len(codes):
            break
        same = codes[:-k] == codes[k:]
        if not same.any():
            break
        out_i.append(rec[:-k][same])
        out_j.append(rec[k:][same])
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_i), np.concatenate(out_j)
