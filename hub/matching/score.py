"""Probabilistic scoring of candidate pairs (Fellegi-Sunter style), a whole batch at once.

Each comparison (name, date of birth, address, phone, email) lands on a level, and each
level carries a weight in bits (log2 of how much likelier that level is for a true match
than for a random pair in the same block). The weights add up with a prior; the match
probability is ``1 / (1 + 2**-(prior + sum))``. A field missing on either side adds
nothing: absence is no evidence. Deployments scale a comparison's weights in kontor.yaml.

Pairs are scored column-wise: string similarities for all pairs of a batch come from one
``rapidfuzz.process.cpdist`` call each (Jaro-Winkler in C++, ~0.13 µs a pair; a Python
loop over jellyfish's Jaro-Winkler costs ~0.4 µs a pair before any other work, see
bench/matching_bench.py), and the levels are numpy selections, not per-pair Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter, eq, itemgetter
from typing import Any

import numpy as np
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

from hub.matching.profile import Profile

PRIOR = -12.0  # a random pair inside a block is a match roughly once in 4,000

# comparison -> [(level, bits)], in the order the levels are tested; tuned on
# bench/matching_bench.py (see its output for precision and recall)
LEVELS: dict[str, list[tuple[str, float]]] = {
    "last": [("exact", 5.5), ("close", 4.0), ("similar", 2.0), ("weak", 0.0),
             ("different", -4.0)],
    "first": [("exact", 4.0), ("initial", 1.0), ("close", 2.5), ("weak", -2.0),
              ("different", -8.0)],
    "date_of_birth": [("exact", 7.0), ("swapped", 3.0), ("typo", 2.0), ("different", -6.0)],
    "address": [("exact", 5.0), ("close", 4.0), ("street", 0.5), ("postal", 1.0),
                ("city", 0.5), ("different", -1.0)],
    "phone": [("exact", 6.0), ("suffix", 4.0), ("different", -1.5)],
    "email": [("exact", 7.0), ("local", 3.0), ("close", 1.5), ("different", -1.5)],
}
SWAP_PENALTY = 1.0


def _jw(a: list[str], b: list[str]) -> np.ndarray:
    return cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=1)


def _pick(conditions: list[np.ndarray], name: str) -> np.ndarray:
    """The index of the first true condition per pair (the last level otherwise)."""
    return np.select(conditions, np.arange(len(conditions)), default=len(conditions))


def _bits(levels: np.ndarray, name: str) -> np.ndarray:
    return np.array([b for _, b in LEVELS[name]])[levels]


# Column helpers: map() with C-level callables, no per-pair Python frames.
def _col(ps: Sequence[Profile], attr: str) -> list[str]:
    return list(map(attrgetter(attr), ps))


def _filled(xs: list[str]) -> np.ndarray:
    return np.fromiter(map(bool, xs), dtype=bool, count=len(xs))


def _same(xs: list[Any], ys: list[Any]) -> np.ndarray:
    return np.fromiter(map(eq, xs, ys), dtype=bool, count=len(xs))


def _cut(xs: list[str], part: slice) -> list[str]:
    return list(map(itemgetter(part), xs))


def _names(a: Sequence[Profile], b: Sequence[Profile], first_a: str, last_a: str
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bits, last level, first level, has last, has first) comparing a's fields
    ``first_a``/``last_a`` to b's first and last name."""
    fa, la = _col(a, first_a), _col(a, last_a)
    fb, lb = _col(b, "first"), _col(b, "last")
    ka = _col(a, "first_key") if first_a == "first" else fa
    kb = _col(b, "first_key")
    s_last = _jw(la, lb)
    s_plain, s_key = _jw(fa, fb), _jw(ka, kb)
    s_first = np.maximum(s_plain, s_key)
    has_last = _filled(la) & _filled(lb)
    has_first = _filled(fa) & _filled(fb)
    last = _pick([_same(la, lb), s_last >= 0.94, s_last >= 0.88, s_last >= 0.8], "last")
    one = slice(0, 1)
    initial = _same(_cut(fa, one), _cut(fb, one)) & (
        (np.fromiter(map(len, fa), dtype=np.int32, count=len(fa)) == 1)
        | (np.fromiter(map(len, fb), dtype=np.int32, count=len(fb)) == 1))
    first = _pick([_same(fa, fb) | _same(ka, kb), initial, s_first >= 0.94, s_first >= 0.8],
                  "first")
    bits = np.where(has_last, _bits(last, "last"), 0.0) + \
        np.where(has_first, _bits(first, "first"), 0.0)
    return bits, last, first, has_last, has_first


def _dob(a: Sequence[Profile], b: Sequence[Profile]) -> tuple[np.ndarray, np.ndarray]:
    da = np.array([(p.dob.year, p.dob.month, p.dob.day) if p.dob else (0, 0, 0) for p in a]
                  ).reshape(-1, 3)
    db = np.array([(p.dob.year, p.dob.month, p.dob.day) if p.dob else (0, 0, 0) for p in b]
                  ).reshape(-1, 3)
    has = (da[:, 0] > 0) & (db[:, 0] > 0)
    same = (da == db)
    swapped = same[:, 0] & (da[:, 1] == db[:, 2]) & (da[:, 2] == db[:, 1])
    return has, _pick([same.all(axis=1), swapped, same.sum(axis=1) == 2], "date_of_birth")


def _address(a: Sequence[Profile], b: Sequence[Profile]) -> tuple[np.ndarray, np.ndarray]:
    pa, pb, ca, cb = _col(a, "postal"), _col(b, "postal"), _col(a, "city"), _col(b, "city")
    both_postal = _filled(pa) & _filled(pb)
    both_city = _filled(ca) & _filled(cb)
    same_postal = both_postal & _same(pa, pb)
    same_city = both_city & _same(ca, cb)
    same_place = same_postal | (~both_postal & same_city)
    sa, sb = _col(a, "street"), _col(b, "street")
    has_street = _filled(sa) & _filled(sb)
    close_street = has_street & (_jw(sa, sb) >= 0.9)
    same_number = _same(_col(a, "number"), _col(b, "number"))
    exact_street = _same(sa, sb) & has_street
    level = _pick([same_place & exact_street & same_number, same_place & close_street &
                   same_number, same_place & close_street, same_postal, same_city], "address")
    return both_postal | both_city, level


def _phone(a: Sequence[Profile], b: Sequence[Profile]) -> tuple[np.ndarray, np.ndarray]:
    xa, xb = _col(a, "phone"), _col(b, "phone")
    has = _filled(xa) & _filled(xb)
    nine, seven = slice(-9, None), slice(-7, None)
    return has, _pick([_same(_cut(xa, nine), _cut(xb, nine)),
                       _same(_cut(xa, seven), _cut(xb, seven))], "phone")


def _email(a: Sequence[Profile], b: Sequence[Profile]) -> tuple[np.ndarray, np.ndarray]:
    # up to two addresses per record (work and private); a missing one never matches
    a0, a1 = _col(a, "email"), [p.emails[1] if len(p.emails) > 1 else "\x00a" for p in a]
    b0, b1 = _col(b, "email"), [p.emails[1] if len(p.emails) > 1 else "\x00b" for p in b]
    has = _filled(a0) & _filled(b0)
    exact = _same(a0, b0) | _same(a0, b1) | _same(a1, b0) | _same(a1, b1)
    la, lb = _col(a, "email_local"), _col(b, "email_local")
    return has, _pick([exact, _same(la, lb) & _filled(la), _jw(la, lb) >= 0.92], "email")


def score_pairs(a: Sequence[Profile], b: Sequence[Profile],
                multipliers: Mapping[str, float] | None = None
                ) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Match probabilities of the pairs (a[i], b[i]), and per comparison (present, level)."""
    w = multipliers or {}
    if not a:
        return np.zeros(0), {}
    straight = _names(a, b, "first", "last")
    swapped = _names(a, b, "last", "first")
    use_swap = (swapped[0] - SWAP_PENALTY) > straight[0]
    name_bits = np.where(use_swap, swapped[0] - SWAP_PENALTY, straight[0])
    total = PRIOR + name_bits * w.get("name", 1.0)
    evidence: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "last": (np.where(use_swap, swapped[3], straight[3]),
                 np.where(use_swap, swapped[1], straight[1])),
        "first": (np.where(use_swap, swapped[4], straight[4]),
                  np.where(use_swap, swapped[2], straight[2])),
        "swapped": (use_swap, use_swap.astype(int))}
    for name, (has, level) in (("date_of_birth", _dob(a, b)), ("address", _address(a, b)),
                               ("phone", _phone(a, b)), ("email", _email(a, b))):
        total = total + np.where(has, _bits(level, name), 0.0) * w.get(name, 1.0)
        evidence[name] = (has, level)
    probability = 1.0 / (1.0 + np.exp2(-np.clip(total, -60, 60)))
    return probability, evidence


def explain(evidence: dict[str, tuple[np.ndarray, np.ndarray]], i: int) -> dict[str, str]:
    """Pair ``i``'s levels by comparison, for the steward: what agreed, never the values."""
    out = {}
    for name, (has, level) in evidence.items():
        if name == "swapped":
            if has[i]:
                out["name_order"] = "swapped"
        elif has[i]:
            out[name] = LEVELS[name][int(level[i])][0]
    return out


def score(a: Profile, b: Profile, multipliers: Mapping[str, float] | None = None
          ) -> tuple[float, dict[str, str]]:
    """(match probability, comparison -> level) of one pair."""
    probability, evidence = score_pairs([a], [b], multipliers)
    return float(probability[0]), explain(evidence, 0)
