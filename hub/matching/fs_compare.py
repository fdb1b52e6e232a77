"""Comparison levels for the Fellegi-Sunter model, column-wise over pairs.

Each comparison maps a pair list ``(i, j)`` of a ``Frame`` (``fs_frame``) to one level per
pair, -1 where a side lacks the field (absence is no evidence). Levels are tested in
order, the first that holds wins. Exact tests compare integer codes; string similarities
come from one rapidfuzz ``cpdist`` call per column; never a Python loop per pair.

The built-in comparisons (``COMPARISONS``) cover names, birth date, address, phone and
e-mail; ``fs_fields`` builds comparisons of any other field from a kind. Blocking lives in
``fs_blocking`` (re-exported here for the callers of the first version).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.process import cpdist

from hub.matching.fs_blocking import BLOCKING, block_keys, blocked_pairs, rule_pairs, soundex
from hub.matching.fs_frame import Frame, date_parts

__all__ = ["BLOCKING", "COMPARISONS", "Comparison", "Frame", "block_keys", "blocked_pairs",
           "date_parts", "gammas", "rule_pairs", "soundex"]


def jw(a: list[str], b: list[str], cutoff: float = 0.0) -> np.ndarray:
    """Jaro-Winkler similarity per pair; below ``cutoff`` it may read 0 (faster: only
    tests against thresholds at or above it read the result)."""
    # a hair below: the result is float32, and a pair right on a threshold must not fall
    # below it by a rounding the full computation does not make
    return cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=1,
                  score_cutoff=cutoff - 1e-4 if cutoff else None)


def same(f: Frame, column: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Equal values (both empty counts as equal: the presence mask decides)."""
    c = f.codes(column)
    return c[i] == c[j]  # type: ignore[no-any-return]


def filled(f: Frame, column: str, idx: np.ndarray) -> np.ndarray:
    return f.codes(column)[idx] >= 0  # type: ignore[no-any-return]


def levels(conditions: list[np.ndarray], present: np.ndarray) -> np.ndarray:
    """The first true condition's index per pair, the last level if none, -1 if absent."""
    level = np.select(conditions, np.arange(len(conditions)), default=len(conditions))
    return np.where(present, level, -1).astype(np.int8)


@dataclass(frozen=True)
class TermFrequency:
    """Where a comparison takes a term-frequency adjustment: at ``level``, by the value
    of frame column ``column`` (equal on both sides there)."""

    level: str
    column: str


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # the last one is "else"
    fields: tuple[str, ...]  # canonical fields it reads (a blocking rule on them skips it)
    compute: Callable[[Frame, np.ndarray, np.ndarray], np.ndarray]
    tf: TermFrequency | None = None
    #: a custom comparison's definition as the model file holds it (None: built in)
    spec: dict[str, object] | None = field(default=None, compare=False)


def _letters(f: Frame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Per record: the code point of the value's first letter (-1 if empty), and whether
    the value is that letter alone (an initial). Code points compare across columns."""
    key = f"{column}:initial"
    if key not in f.col:
        f.derived(key, column, lambda s: s[:1] + ("1" if len(s) == 1 else ""))
    found = f._derived.get(key)
    if found is None:
        values = f.col[key].tolist()
        first = np.fromiter((ord(v[0]) if v else -1 for v in values), np.int64, len(values))
        alone = np.fromiter((len(v) == 2 for v in values), bool, len(values))
        found = np.stack([first, alone.astype(np.int64)])
        f._derived[key] = found
    return found[0], found[1].astype(bool)


def _initial(f: Frame, a: str, b: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """One side is a single letter, the other starts with it."""
    fa, alone_a = _letters(f, a)
    fb, alone_b = _letters(f, b)
    return (alone_a[i] | alone_b[j]) & (fa[i] == fb[j]) & (fa[i] >= 0)


def _keyed(f: Frame) -> np.ndarray:
    """Per record: its nickname-resolved first name differs from its first name."""
    found = f._derived.get("first:keyed")
    if found is None:
        found = f.col["first"] != f.col["first_key"]
        f._derived["first:keyed"] = found
    return found


def _names(f: Frame, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fa, fb = f.strings("first", i), f.strings("first", j)
    ka, kb = f.strings("first_key", i), f.strings("first_key", j)
    la, lb = f.strings("last", i), f.strings("last", j)
    s_first = jw(fa, fb, 0.8)
    # the nickname-resolved names differ from the names only for some records
    other = _keyed(f)[i] | _keyed(f)[j]
    if other.any():
        at = np.flatnonzero(other)
        s_first[at] = np.maximum(s_first[at], jw([ka[n] for n in at], [kb[n] for n in at],
                                                 0.8))
    s_last = jw(la, lb, 0.8)
    has_f = filled(f, "first", i) & filled(f, "first", j)
    has_l = filled(f, "last", i) & filled(f, "last", j)
    initial = _initial(f, "first", "first", i, j) | _initial(f, "first_key", "first_key", i, j)
    # swapped: each name close to the other side's other name (an initial counts)
    cross_fl, cross_lf = jw(fa, lb, 0.9) >= 0.9, jw(la, fb, 0.9) >= 0.9
    swapped = has_f & has_l & ~same(f, "first", i, j) & (
        (cross_fl & cross_lf) | (cross_fl & _initial(f, "last", "first", i, j))
        | (cross_lf & _initial(f, "first", "last", i, j)))
    first = levels([swapped, same(f, "first", i, j), same(f, "first_key", i, j),
                    s_first >= 0.92, initial, (s_first >= 0.8) | _one_slip(fa, fb, s_first)],
                   has_f)
    last = levels([swapped, same(f, "last", i, j), s_last >= 0.92, s_last >= 0.8], has_l)
    return first, last


def _one_slip(a: list[str], b: list[str], similarity: np.ndarray) -> np.ndarray:
    """Short names one keystroke apart ("ewa"/"wea", "dan"/"dn") or one OCR misreading
    ("amy"/"arny"): Jaro-Winkler rates them far apart because the names are short. Only
    for pairs below the lowest Jaro-Winkler level, names of three letters or more."""
    out = np.zeros(len(a), dtype=bool)
    low = np.flatnonzero(similarity < 0.8)
    if not len(low):
        return out
    pa = [a[n].replace("rn", "m") for n in low]
    pb = [b[n].replace("rn", "m") for n in low]
    near = cpdist(pa, pb, scorer=OSA.distance, workers=1, score_cutoff=1) <= 1
    long_enough = np.array([min(len(x), len(y)) >= 2 and max(len(x), len(y)) >= 3
                            for x, y in zip(pa, pb)], dtype=bool)
    out[low] = near & long_enough
    return out


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


def date_levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Levels of two (year, month, day) arrays: exact, day and month swapped, one part one
    apart, two of three parts, same year, else; -1 where a date is unreadable."""
    has = (a[:, 0] > 0) & (b[:, 0] > 0)
    eq = a == b
    swapped = eq[:, 0] & (a[:, 1] == b[:, 2]) & (a[:, 2] == b[:, 1])
    off = np.abs(a - b).sum(axis=1) == 1  # one day, month or year apart
    return levels([eq.all(axis=1), swapped, off, eq.sum(axis=1) == 2, eq[:, 0]], has)


DATE_LEVELS = ("exact", "day_month_swapped", "off_by_one", "two_of_three", "year", "else")


def _dob(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return date_levels(f.dob[i], f.dob[j])


def _address(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """One comparison for street, number, postal code and city: they agree together
    (a household, a move), so counting them apart would count one fact three times."""
    has_street = filled(f, "street", i) & filled(f, "street", j)
    has_postal = filled(f, "postal", i) & filled(f, "postal", j)
    has_city = filled(f, "city", i) & filled(f, "city", j)
    same_postal = has_postal & same(f, "postal", i, j)
    same_city = has_city & same(f, "city", i, j)
    place = same_postal | (~has_postal & same_city)
    close = has_street & (jw(f.strings("street", i), f.strings("street", j), 0.9) >= 0.9)
    number = same(f, "number", i, j)
    return levels([place & has_street & same(f, "street", i, j) & number, place & close & number,
                   close & number, place & close, same_postal, same_city],
                  has_street | has_postal | has_city)


def _phone(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    f.derived("phone9", "phone", lambda s: s[-9:])
    f.derived("phone6", "phone", lambda s: s[-6:])
    return levels([same(f, "phone9", i, j), same(f, "phone6", i, j),
                   jw(f.strings("phone9", i), f.strings("phone9", j), 0.88) >= 0.88],
                  filled(f, "phone", i) & filled(f, "phone", j))


def _email(f: Frame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return levels([same(f, "email", i, j), same(f, "email_local", i, j),
                   jw(f.strings("email", i), f.strings("email", j), 0.92) >= 0.92],
                  filled(f, "email", i) & filled(f, "email", j))


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("first_name", ("swapped", "exact", "nickname", "jw_0.92", "initial", "jw_0.80",
                              "else"), ("first_name",),
               lambda f, i, j: _name_levels(f, i, j)[0], TermFrequency("exact", "first")),
    Comparison("last_name", ("swapped", "exact", "jw_0.92", "jw_0.80", "else"), ("last_name",),
               lambda f, i, j: _name_levels(f, i, j)[1], TermFrequency("exact", "last")),
    Comparison("date_of_birth", DATE_LEVELS, ("date_of_birth",), _dob,
               TermFrequency("exact", "dob")),
    Comparison("address", ("exact", "close_same_number", "street_number_other_place",
                           "same_street_other_number", "postal_code", "city", "else"),
               ("street", "postal_code", "city"), _address),
    Comparison("phone", ("last_nine", "last_six", "jw_0.88", "else"), ("phone",), _phone),
    Comparison("email", ("exact", "local_part", "jw_0.92", "else"), ("email",), _email),
)


def gammas(f: Frame, i: np.ndarray, j: np.ndarray,
           comparisons: tuple[Comparison, ...] = COMPARISONS) -> np.ndarray:
    """The comparison-level matrix: one row per pair, one int8 column per comparison."""
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    out = np.empty((len(i), len(comparisons)), dtype=np.int8)
    for k, c in enumerate(comparisons):
        out[:, k] = c.compute(f, i, j) if len(i) else np.zeros(0)
    _name_cache.clear()
    return out
