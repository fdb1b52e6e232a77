"""Blocking for the Fellegi-Sunter model: which pairs are compared at all.

A rule gives each record a key; records sharing a key are a block, and every pair inside
a block is a candidate. Rules are unioned: a pair found by any rule is compared once.
Blocks larger than ``max_block`` are left out (a key that common says little, and its
pairs would grow with the square of its size): the candidate set stays bounded.

A rule is either the name of a built-in rule (``BLOCKING``) or a list of parts over any
canonical or custom field, all of which must be filled for a record to be blocked:

- ``field``: the normalised value (names folded, phone digits, the street's name, ...);
- ``first(field, n)`` / ``last(field, n)``: its first / last n characters (spaces out);
- ``initial(field)``: its first letter; ``soundex(field)``: its Soundex code;
- ``year(field)``: the year of a date; ``digits(field)``: its digits only.

Keys are integer codes computed column-wise (one function call per distinct value).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hub.matching.fs_frame import Frame, date_parts, plain
from hub.matching.settings import BLOCKING_RULES, KEY_FUNCTIONS, parse_part, rule_fields

_SOUNDEX = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556")


def soundex(name: str) -> str:
    """American Soundex of a folded name (letters a-z only): "mueller" -> m460."""
    name = "".join(c for c in name if "a" <= c <= "z")
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


#: canonical field -> the frame column blocking reads for it
COLUMN = {"first_name": "first_key", "last_name": "last", "date_of_birth": "dob",
          "street": "street", "postal_code": "postal", "city": "city", "phone": "phone",
          "email": "email", "work_email": "email", "private_email": "email"}
FUNCTIONS = KEY_FUNCTIONS


def _codes(values: np.ndarray) -> np.ndarray:
    """Object array of texts -> int64 codes, -1 where empty."""
    found, _ = pd.factorize(values, use_na_sentinel=False)
    return np.where(values == "", -1, found).astype(np.int64)


def _any_codes(values: np.ndarray) -> np.ndarray:
    """Object array of texts -> int64 codes, the empty text a value like any other."""
    found, _ = pd.factorize(values, use_na_sentinel=False)
    return found.astype(np.int64)


def _combine(parts: list[np.ndarray]) -> np.ndarray:
    """One code per distinct combination of part codes; -1 where any part is missing."""
    out = np.zeros(len(parts[0]), dtype=np.int64)
    missing = np.zeros(len(parts[0]), dtype=bool)
    for p in parts:
        missing |= p < 0
        out = out * (int(p.max(initial=0)) + 1) + np.maximum(p, 0)
        out, _ = pd.factorize(out)  # keep the numbers small: no overflow on many parts
        out = out.astype(np.int64)
    return np.where(missing, -1, out)


def _text_column(f: Frame, field: str) -> np.ndarray:
    if field in COLUMN:
        return f.col[COLUMN[field]]
    return f.raw_column(field, f"plain:{field}", plain)


def part_codes(f: Frame, text: str) -> np.ndarray:
    fn, field, n = parse_part(text)
    if fn == "year":
        if field == "date_of_birth":
            return np.where(f.dob[:, 0] > 0, f.dob[:, 0], -1).astype(np.int64)
        years = f.raw_column(field, f"year:{field}",
                             lambda s: str(date_parts(s)[0] or ""))
        return _codes(years)
    column = COLUMN.get(field, f"plain:{field}")
    _text_column(f, field)
    make: dict[str, Callable[[str], str]] = {
        "value": lambda s: s, "first": lambda s: s.replace(" ", "")[:n],
        "last": lambda s: s.replace(" ", "")[-n:], "initial": lambda s: s[:1],
        "soundex": soundex, "digits": lambda s: re.sub(r"\D", "", s)}
    derived = f.derived(f"{column}:{fn}:{n}", column, make[fn])
    return _codes(derived)


def _pair(f: Frame, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two texts per record in sorted order (swapped names share the key), as codes of
    one code space."""
    swap = a > b
    lo, hi = np.where(swap, b, a), np.where(swap, a, b)
    codes = _any_codes(np.concatenate([lo, hi]))
    return codes[:f.n], codes[f.n:]


def _where(cond: np.ndarray, codes: np.ndarray) -> np.ndarray:
    return np.where(cond, codes, -1)


def _dob_initials(f: Frame) -> np.ndarray:
    a, b = _pair(f, f.derived("first_key:head:1", "first_key", lambda s: s[:1]),
                 f.derived("last:head:1", "last", lambda s: s[:1]))
    return _combine([_codes(f.col["dob"]), a, b])


def _soundex_last_first_year(f: Frame) -> np.ndarray:
    initial = f.derived("first_key:head:1", "first_key", lambda s: s[:1])
    return _combine([part_codes(f, "soundex(last_name)"), part_codes(f, "year(date_of_birth)"),
                     _any_codes(initial)])


def _name_prefixes_year(f: Frame) -> np.ndarray:
    first = f.derived("first_key:head:3", "first_key", lambda s: s[:3])
    last = f.derived("last:head:3", "last", lambda s: s[:3])
    a, b = _pair(f, first, last)
    both = (f.codes("first_key") >= 0) & (f.codes("last") >= 0)
    return _where(both, _combine([a, b, part_codes(f, "year(date_of_birth)")]))


def _phone(f: Frame) -> np.ndarray:
    nine = f.derived("phone:last9+", "phone", lambda s: s[-9:] if len(s) >= 7 else "")
    return _codes(nine)


# rule -> (canonical fields it uses, codes per record: -1 where the record is not blocked)
_KEYS: dict[str, Callable[[Frame], np.ndarray]] = {
    "dob": lambda f: _codes(f.col["dob"]),
    # the birth date and both initials, in either order (swapped names stay together):
    # a same-day block grows with the records, this one stays small
    "dob_initials": _dob_initials,
    "soundex_last_first_year": _soundex_last_first_year,
    "name_prefixes_year": _name_prefixes_year,
    "postal_soundex_last": lambda f: _combine(
        [part_codes(f, "postal_code"), part_codes(f, "soundex(last_name)")]),
    "email": lambda f: _codes(f.col["email"]),
    "phone": _phone,
}
#: rule -> (canonical fields it uses (settings.BLOCKING_RULES), codes per record: -1
#: where the record is not blocked by it)
BLOCKING: dict[str, tuple[tuple[str, ...], Callable[[Frame], np.ndarray]]] = {
    name: (BLOCKING_RULES[name], keys) for name, keys in _KEYS.items()}


#: a rule as the model file and kontor.yaml hold it: a built-in name, or key parts
RuleSpec = str | tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec

    @property
    def name(self) -> str:
        return self.spec if isinstance(self.spec, str) else " + ".join(self.spec)

    @property
    def fields(self) -> tuple[str, ...]:
        if isinstance(self.spec, str):
            return BLOCKING[self.spec][0]
        return tuple(parse_part(p)[1] for p in self.spec)

    def keys(self, f: Frame) -> np.ndarray:
        if isinstance(self.spec, str):
            return BLOCKING[self.spec][1](f)
        return _combine([part_codes(f, p) for p in self.spec])

    def to_json(self) -> str | list[str]:
        return self.spec if isinstance(self.spec, str) else list(self.spec)


def rule(spec: str | Sequence[str]) -> Rule:
    """A rule from its name or its key parts; ValueError naming what is wrong."""
    rule_fields(spec)  # the grammar lives with the settings (kontor.yaml checks it)
    return Rule(spec if isinstance(spec, str) else tuple(str(p) for p in spec))


def rules(specs: Sequence[str | Sequence[str] | Rule]) -> tuple[Rule, ...]:
    return tuple(s if isinstance(s, Rule) else rule(s) for s in specs)


def fields_of(specs: Sequence[Rule]) -> set[str]:
    return {name for r in specs for name in r.fields}


def block_keys(f: Frame, spec: str | Sequence[str] | Rule) -> np.ndarray:
    """Per record, the rule's key as an int code (-1: not blocked by this rule)."""
    return (spec if isinstance(spec, Rule) else rule(spec)).keys(f)


def rule_pairs(keys: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs inside each block of equal keys (i < j), vectorised by offset. Keys are
    int codes (-1: none) or texts ("" : none); blocks over ``max_block`` are left out."""
    if keys.dtype == object:
        keys = _codes(keys)
    present = np.flatnonzero(keys >= 0)
    if not len(present):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    codes, _ = pd.factorize(keys[present])  # hashing: no sort of the keys
    sizes = np.bincount(codes)
    keep = sizes[codes] <= max_block
    rec, codes = present[keep], codes[keep]
    order = np.lexsort((rec, codes))
    rec, codes = rec[order], codes[order]
    if not len(rec):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # per sorted record: how many records of its block follow it; pair each with the one
    # k places on while k is no more than that (work in proportion to the pairs made)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    after = np.repeat(ends, ends - starts) - np.arange(len(codes)) - 1
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    at = np.flatnonzero(after >= 1)
    k = 1
    while len(at):
        out_i.append(rec[at])
        out_j.append(rec[at + k])
        k += 1
        at = at[after[at] >= k]
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_i), np.concatenate(out_j)


def _distinct(codes: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort and a compare: cheaper than np.unique here)."""
    codes = np.sort(codes)
    return codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes


def _split(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    n = max(n, 1)
    return codes // n, codes % n


def rule_codes(f: Frame, r: Rule, max_block: int, source: np.ndarray | None = None
               ) -> np.ndarray:
    """One rule's pairs as sorted codes ``i * n + j`` (only pairs of two systems when
    ``source`` is given)."""
    i, j = rule_pairs(r.keys(f), max_block)
    if source is not None:
        keep = source[i] != source[j]
        i, j = i[keep], j[keep]
    return _distinct(i.astype(np.int64) * f.n + j)


def blocked_pairs(f: Frame, specs: Sequence[str | Sequence[str] | Rule], max_block: int = 200,
                  source: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) sharing a key of any rule, sorted, each once.

    ``source``: per record, its system; then only pairs of two systems (linkage)."""
    found = [rule_codes(f, r, max_block, source) for r in rules(specs)]
    codes = _distinct(np.concatenate(found)) if found else np.zeros(0, np.int64)
    return _split(codes, f.n)
