"""The choice itself: which of a field's candidate values wins under a rule, and why.

A candidate is one source's value for one field, or for the address (all its parts, from
one record). Pure functions, no store: ``hub.survivorship.rules`` gathers the candidates.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hub.matching.settings import HUB_CHANNELS
from hub.survivorship.defaults import MOST_COMPLETE, MOST_FREQUENT, MOST_RECENT, TRUSTED_SOURCE

_STREET_WORDS = ((re.compile(r"(strasse|str\.)(?=\s|$)"), "str"),
                 (re.compile(r"\b(street|st\.)(?=\s|$)"), "st"),
                 (re.compile(r"\b(road|rd\.)(?=\s|$)"), "rd"))


class Candidate:
    """One source's value(s) for a field or the address; ``seq``: arrival order.

    A plain class with slots: a sync builds one per field and source record it merges."""

    __slots__ = ("_form", "at", "key", "parts", "present", "run", "seq", "system")

    def __init__(self, parts: Mapping[str, Any], system: str, key: str, run: Any, at: str,
                 seq: int):
        self.parts, self.system, self.key, self.run, self.at, self.seq = \
            parts, system, key, run, at, seq
        self.present = {f: v for f, v in parts.items() if v is not None}
        self._form: tuple[tuple[str, Any], ...] | None = None

    @property
    def form(self) -> tuple[tuple[str, Any], ...]:
        """The parts as votes count them (``same_form``), in field order."""
        if self._form is None:
            self._form = tuple(sorted((f, same_form(f, v)) for f, v in self.present.items()))
        return self._form

    @property
    def spelling(self) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted(self.present.items(), key=lambda kv: kv[0]))

    @property
    def hub_edit(self) -> bool:
        return self.system in HUB_CHANNELS

    def __repr__(self) -> str:  # names the source, never the values
        return f"Candidate({self.system}:{self.key} at {self.at})"


@dataclass(frozen=True)
class Choice:
    winner: Candidate
    agree: int  # candidates holding the winner's value (most_frequent: its votes)
    of: int  # candidates counted


@lru_cache(maxsize=100_000)
def _text_form(field: str, value: str) -> str:
    text = " ".join(unicodedata.normalize("NFC", value).casefold().split())
    if field == "street":
        text = text.replace("ß", "ss")
        for pattern, short in _STREET_WORDS:
            text = pattern.sub(short, text)
    return text


def same_form(field: str, value: Any) -> Any:
    """What counts as one value when votes are counted: case, spacing, Unicode form and,
    in streets, "Straße"/"Str." (and "Street"/"St.", "Road"/"Rd.") do not split votes."""
    return _text_form(field, value) if isinstance(value, str) else value


def completeness(value: Any) -> int:
    return len(str(value).strip()) if isinstance(value, str) else 1


def _within(small: tuple[tuple[str, Any], ...], big: tuple[tuple[str, Any], ...]) -> bool:
    """``small``'s parts are all in ``big`` (an address that lacks a part still agrees)."""
    return set(small) <= set(big)


def superseded(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Without the values a write through the hub's API or SCIM has replaced: that write
    goes out to every subscribing system, so what they said before it is no vote."""
    edits = [c.at for c in candidates if c.hub_edit]
    if not edits:
        return list(candidates)
    latest = max(edits)
    return [c for c in candidates if c.at >= latest]


def choose(rule: str, candidates: Sequence[Candidate], trust: Mapping[str, int]) -> Choice:
    """The winner among ``candidates`` (not empty) under ``rule``; ``trust``: system ->
    rank (lower is more trusted; systems not in it rank after all that are). Ties go to
    the earlier (system, key), so the same candidates give the same winner in any order."""
    if len(candidates) == 1:
        return Choice(candidates[0], 1, 1)
    ranked = sorted(candidates, key=lambda c: (c.system, c.key))
    last = len(trust)

    def rank(c: Candidate) -> int:
        return -trust.get(c.system, last)

    def recency(c: Candidate) -> tuple[str, int]:
        return c.at, c.seq

    if rule == MOST_FREQUENT:
        return _most_frequent(ranked, rank, recency)
    if rule == TRUSTED_SOURCE:
        best = max(ranked, key=lambda c: (rank(c), len(c.present), recency(c)))
    elif rule == MOST_COMPLETE:
        best = max(ranked, key=lambda c: (sum(completeness(v) for v in c.present.values()),
                                          recency(c)))
    elif rule == MOST_RECENT:
        best = max(ranked, key=lambda c: (recency(c), len(c.present), rank(c)))
    else:
        raise ValueError(f"unknown survivorship rule {rule!r}")
    form = best.form
    return Choice(best, sum(1 for c in ranked if c.form == form), len(ranked))


def _most_frequent(ranked: list[Candidate], rank: Any, recency: Any) -> Choice:
    """Most votes; then the fuller address; then the most trusted; then the most recent.
    A record lacking a part of an address votes for every address it agrees with."""
    groups: dict[tuple[tuple[str, Any], ...], list[Candidate]] = {}
    for c in ranked:
        groups.setdefault(c.form, []).append(c)
    if len(groups) == 1:  # all agree (the common case): only the spelling to choose
        won = next(iter(groups))
        votes = len(ranked)
    else:
        if all(len(f) == 1 for f in groups):  # one field (or one part): equal ones agree
            count = {f: len(h) for f, h in groups.items()}
        else:
            count = {f: sum(len(h) for g, h in groups.items() if _within(g, f))
                     for f in groups}
        won = max(groups, key=lambda f: (count[f], len(f), max(rank(c) for c in groups[f]),
                                         max(recency(c) for c in groups[f])))
        votes = count[won]
    holders = groups[won]
    if len(holders) == 1:
        return Choice(holders[0], votes, len(ranked))
    # its most common spelling ("Müller" twice beats "MÜLLER" once), then trust, recency
    spelled = [(c, c.spelling) for c in holders]
    times = Counter(sp for _, sp in spelled)
    best = max(spelled, key=lambda cs: (times[cs[1]], rank(cs[0]), recency(cs[0])))[0]
    return Choice(best, votes, len(ranked))


def filler(winner: Candidate, field: str, candidates: Sequence[Candidate],
           trust: Mapping[str, int]) -> Candidate | None:
    """For a part the winning address lacks: the most trusted, then most recent, record
    holding that part and agreeing with the winner on every part both hold (the same
    place, told more fully); None when there is none."""
    mine = winner.form
    agreeing = [c for c in candidates if c.parts.get(field) is not None and c is not winner
                and all(dict(c.form).get(f, v) == v for f, v in mine)]
    if not agreeing:
        return None
    last = len(trust)
    return max(sorted(agreeing, key=lambda c: (c.system, c.key)),
               key=lambda c: (-trust.get(c.system, last), c.at, c.seq))
