"""Survivorship: which value of which source a golden record keeps, field by field.

Rules (the default of each field by its data category, ``hub/survivorship/defaults.py``;
kontor.yaml ``survivorship`` overrides them per entity and per field):

- ``most_frequent``: the value most of the golden record's live source records hold (each
  record's latest values, as match & merge keeps them per xref); ties go to the more
  trusted system, then the more recent business time. One corrupted copy cannot win.
- ``trusted_source``: the value of the most trusted system that has one (``trust``, most
  trusted first); among equally trusted ones the most recent.
- ``most_recent``: the value observed last at its source, by the source's own business
  time, never by when Kontor read it.
- ``most_complete``: the fuller value ("Hauptstraße 5a" over "Hauptstr. 5"); among equally
  full ones the most recent.

Always: the address (street, postal code, city, and custom fields of that category) is
chosen as one, from one source record; a source without a value never blanks a field; a
source correcting its *own* earlier value counts with its latest values only; a write
through the hub's API or SCIM replaces what sources said before it; a data steward's
override beats every source until the steward clears it. Each field's provenance names
the record that won and the rule that chose it (``rule``; for most_frequent ``agree`` of
``of`` records hold the value).

Restricted fields: no source's value is kept apart from the golden record (only sealed,
inside it), so most_frequent cannot count them; they follow trusted_source, decided
between the golden record's value and the incoming one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.canonical import FieldSpec, builtin_fields
from hub.matching.settings import HUB_CHANNELS, EntitySurvivorship, address_parts
from hub.records import present
from hub.survivorship.choose import Candidate, Choice, choose, filler, superseded
from hub.survivorship.defaults import MOST_FREQUENT, address_rule, rule_of
from hub.survivorship.sources import Sources, record_of, typed

STEWARD = "steward"
_BY_NAME: dict[str, FieldSpec] = {**builtin_fields("employee"), **builtin_fields("customer")}


@dataclass(frozen=True)
class Unit:
    """What is decided at once: one field, or the address (all its parts together)."""

    name: str
    fields: tuple[str, ...]
    rule: str
    trust: dict[str, int]  # system -> rank, 0 most trusted
    voted: bool  # every source's value is at hand (no restricted part)


class Survivorship:
    """The configured rules of one entity, applied as records arrive.

    ``fields``: the entity's fields, name -> FieldSpec (their categories choose default
    rules and the address); bare names are looked up among the canonical fields.
    """

    def __init__(self, settings: EntitySurvivorship,
                 fields: Mapping[str, FieldSpec] | Iterable[str]):
        specs: dict[str, FieldSpec | None] = dict(fields) if isinstance(fields, Mapping) \
            else {n: _BY_NAME.get(n) for n in fields}
        self.fields = list(specs)
        parts = address_parts({n: s for n, s in specs.items() if s is not None})
        units: list[Unit] = []
        if parts:
            rule, trust = address_rule(settings, {p: specs[p] for p in parts})
            units.append(Unit("address", tuple(parts), rule, _ranks(trust),
                              not any(_restricted(specs[p]) for p in parts)))
        for name, spec in specs.items():
            if name not in parts:
                rule, trust = rule_of(settings, name, spec)
                units.append(Unit(name, (name,), rule, _ranks(trust), not _restricted(spec)))
        self.units = units
        self.voted = [f for u in units if u.voted for f in u.fields]
        self._voted_unit = {f: u.name for u in units if u.voted for f in u.fields}
        self._rule_of = {f: u.rule for u in units for f in u.fields}
        self._in_order = tuple(self._rule_of)  # every field, in the units' order
        self._voted_t = tuple(self.voted)

    def rule(self, field: str) -> str:
        """The rule ``field`` follows (for documentation and tests)."""
        return next(u.rule for u in self.units if field in u.fields)

    # -- merging --------------------------------------------------------------------------

    def merge(self, current: Mapping[str, Any], provenance: Mapping[str, Any],
              incoming: Mapping[str, Any], *, observed_at: str, source: Mapping[str, Any],
              overrides: Mapping[str, Any] | None = None, sources: Sources | None = None
              ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """Merge ``incoming`` into ``current``; return (values, provenance, changed).

        ``sources``: the golden record's live source records (``sources.load``); the
        incoming record joins them here. Without it (a write through the API) each field is
        decided between the golden record's value and the incoming one.
        """
        if sources is not None:
            sources.put(record_of(source, observed_at, incoming, self.voted))
        if not provenance and not overrides and (sources is None or len(sources) <= 1):
            # a new record: all of it wins
            return self._first(current, incoming, observed_at, source)
        came = Candidate(incoming, str(source.get("system")), str(source.get("key")),
                         source.get("run"), observed_at, 1)
        return self._decide(current, provenance, came, overrides or {}, sources)

    def first(self, incoming: Mapping[str, Any], *, observed_at: str,
              source: Mapping[str, Any], sources: Sources | None = None
              ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """``merge`` into a new, empty golden record (no provenance, no override, the
        incoming record its only source): all of it wins, so no rule has anything to
        decide. The sync's common case, without building the empty record first."""
        if sources is not None:  # the voted fields it has (a stream's records share them)
            sources.put(record_of(source, observed_at, incoming,
                                  present(self._voted_t, tuple(incoming))))
        return self._first(None, incoming, observed_at, source)

    def resolve(self, current: Mapping[str, Any], provenance: Mapping[str, Any],
                sources: Sources, overrides: Mapping[str, Any] | None = None
                ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """Every field decided again from ``sources`` (after a merge or an unmerge moved
        source records); restricted fields keep their value."""
        return self._decide(current, provenance, None, overrides or {}, sources)

    def _first(self, current: Mapping[str, Any] | None, incoming: Mapping[str, Any], at: str,
               source: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """``current``: None for an empty record (every field None)."""
        values = dict.fromkeys(self.fields) if current is None else \
            {f: current.get(f) for f in self.fields}
        prov: dict[str, Any] = {}
        changed = False
        origin = {"system": source.get("system"), "key": source.get("key"),
                  "run": source.get("run")}
        # One entry per rule, made only when a field under it is filled: every field a new
        # record fills names the same source and time (entries are replaced, never edited).
        stamps: dict[str, dict[str, Any]] = {}
        # only the fields the record fills (a few of many), in the units' order
        filled = [f for f in present(self._in_order, tuple(incoming))
                  if incoming[f] is not None]
        for name in filled:
            value, rule = incoming[name], self._rule_of[name]
            changed = changed or values[name] != value
            values[name] = value
            stamp = stamps.get(rule)
            if stamp is None:
                stamp = stamps[rule] = _entry(origin, at, rule, 1, 1)
            prov[name] = stamp
        return values, prov, changed

    def _decide(self, current: Mapping[str, Any], provenance: Mapping[str, Any],
                came: Candidate | None, overrides: Mapping[str, Any], sources: Sources | None
                ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        values = {f: current.get(f) for f in self.fields}
        prov = dict(provenance)
        changed = False
        for name, value in overrides.items():
            if name in values and values[name] != value:
                values[name] = value
                changed = True
        counted = self._counted(sources) if sources is not None else {}
        for unit in self.units:
            open_fields = [f for f in unit.fields if f not in overrides]
            if not open_fields:
                continue
            if sources is not None and unit.voted:
                candidates = self._with_held(unit, values, prov, sources,
                                             counted.get(unit.name, []))
            elif came is not None:
                candidates = self._pairwise(unit, values, prov, came)
            else:
                continue
            if not candidates:
                continue  # nobody has a value: null never overwrites
            if unit.rule == MOST_FREQUENT:
                candidates = superseded(candidates)
            choice = choose(unit.rule, candidates, unit.trust)
            changed = self._take(unit, choice, candidates, open_fields, values, prov) or changed
        return values, prov, changed

    # -- candidates -------------------------------------------------------------------------

    @staticmethod
    def _stamp(unit: Unit, values: Mapping[str, Any], prov: Mapping[str, Any]
               ) -> dict[str, Any] | None:
        """The provenance the golden record's value(s) came with (of the address: of the
        record it came from, not of a part filled in from another)."""
        stamps = [s for f in unit.fields if values.get(f) is not None
                  for s in [prov.get(f)] if isinstance(s, dict)]
        return next((s for s in stamps if not s.get("filled")), stamps[0] if stamps else None)

    def _held(self, unit: Unit, values: Mapping[str, Any], prov: Mapping[str, Any]
              ) -> Candidate | None:
        """The golden record's own value(s), with the provenance they came with."""
        stamp = self._stamp(unit, values, prov)
        if stamp is None or stamp.get("system") == STEWARD:
            return None  # no source known, or an override cleared: sources compete again
        return Candidate({f: values.get(f) for f in unit.fields}, str(stamp.get("system")),
                         str(stamp.get("key")), stamp.get("run"), str(stamp.get("at", "")), 0)

    def _pairwise(self, unit: Unit, values: Mapping[str, Any], prov: Mapping[str, Any],
                  came: Candidate) -> list[Candidate]:
        parts = {f: came.parts.get(f) for f in unit.fields}
        if all(v is None for v in parts.values()):
            return []
        held = self._held(unit, values, prov)
        if held is not None and len(unit.fields) > 1 and came.hub_edit:
            parts = {**held.parts, **{f: v for f, v in parts.items() if v is not None}}
        came = Candidate(parts, came.system, came.key, came.run, came.at, came.seq)
        if held is None:
            return [came]
        if (held.system, held.key) == (came.system, came.key):  # the record corrected itself
            return [came] if came.at >= held.at else [held]
        return [held, came]

    def _counted(self, sources: Sources) -> dict[str, list[Candidate]]:
        """unit name -> one candidate per source record holding a value of it (one pass
        over the records: a golden record has few, each with few values)."""
        found: dict[str, list[Candidate]] = {}
        for r in sources.records.values():
            parts: dict[str, dict[str, Any]] = {}
            for name, value in r.values.items():
                unit = self._voted_unit.get(name)
                if unit is not None:
                    parts.setdefault(unit, {})[name] = value
            for unit, held in parts.items():
                found.setdefault(unit, []).append(
                    Candidate(held, r.system, r.key, r.run, r.at, r.seq))
        return found

    def _with_held(self, unit: Unit, values: Mapping[str, Any], prov: Mapping[str, Any],
                   sources: Sources, found: list[Candidate]) -> list[Candidate]:
        """``found`` and the golden record's own value where no source record stands for
        it: a write through the hub (no xref), or an xref from before source values were
        kept. Without any source's value: nothing to decide (null never overwrites)."""
        stamp = self._stamp(unit, values, prov) if found else None
        if stamp is None:
            return found
        record = sources.records.get((str(stamp.get("system")), str(stamp.get("key"))))
        if (record is None and stamp.get("system") in HUB_CHANNELS) or \
                (record is not None and not record.known):
            held = self._held(unit, values, prov)
            return [*found, held] if held is not None else found
        return found

    # -- the winner into the golden record ------------------------------------------------

    def _take(self, unit: Unit, choice: Choice, candidates: list[Candidate],
              open_fields: list[str], values: dict[str, Any], prov: dict[str, Any]) -> bool:
        win = choice.winner
        entry = _entry(_source(win), win.at, unit.rule, choice.agree, choice.of)
        changed = False
        for name in open_fields:
            value, stamp = win.parts.get(name), entry
            if value is None and len(unit.fields) > 1:
                other = filler(win, name, candidates, unit.trust)
                if other is not None:
                    value = other.parts[name]
                    stamp = {**_entry(_source(other), other.at, unit.rule, None, None),
                             "filled": True}
            if value is None and len(unit.fields) == 1:
                continue
            if values.get(name) != value:
                values[name] = value
                changed = True
            if value is None:
                prov.pop(name, None)
            elif prov.get(name) != stamp:
                prov[name] = stamp
        return changed


def _restricted(spec: FieldSpec | None) -> bool:
    """Restricted, or unknown (a bare name that is no canonical field): not counted."""
    return spec is None or spec.restricted


def _ranks(trust: list[str]) -> dict[str, int]:
    return {system: i for i, system in enumerate(dict.fromkeys(trust))}


def _source(c: Candidate) -> dict[str, Any]:
    return {"system": c.system, "key": c.key, "run": c.run}


def _entry(source: dict[str, Any], at: str, rule: str, agree: int | None, of: int | None
           ) -> dict[str, Any]:
    """A provenance entry: who supplied the value, when, and by which rule it won."""
    entry = {**source, "at": at, "rule": rule}
    if rule == MOST_FREQUENT and agree is not None:
        entry["agree"], entry["of"] = agree, of
    return entry


__all__ = ["HUB_CHANNELS", "STEWARD", "Sources", "Survivorship", "typed"]
