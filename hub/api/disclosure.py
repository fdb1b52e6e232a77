"""What one caller may see of golden records: the privacy gate, applied per role.

API, SCIM and dashboard all release records through ``Disclosure``, so a role sees the
same fields everywhere, and every response that carries restricted fields is noted in the
access log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Result, Table

from hub.api import access_log
from hub.auth import roles
from hub.auth.tokens import Caller
from hub.context import Hub
from hub.records import jsonable
from policies.gate import Action, FieldDecision, PrivacyGate

BOOKKEEPING = ("id", "version", "created_at", "updated_at")


def dict_rows(result: Result[Any]) -> list[dict[str, Any]]:
    """A page's rows as dicts, from their tuples: half the cost of ``dict(row._mapping)``."""
    names = list(result.keys())
    return [dict(zip(names, row)) for row in result]


def business_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """A golden row's canonical and custom values, without bookkeeping or provenance."""
    values = {k: v for k, v in row.items()
              if k not in BOOKKEEPING and k not in ("custom", "provenance")}
    values.update(row.get("custom") or {})
    return values


class Disclosure:
    """Releases golden records to one caller through the gate; notes restricted reads."""

    def __init__(self, hub: Hub, gate: PrivacyGate, caller: Caller, channel: str):
        self.hub = hub
        self.gate = gate
        self.caller = caller
        self.channel = channel
        self.destination = roles.destination(caller.role)
        self._unreleased: dict[str, list[str]] = {}

    # -- single decisions -----------------------------------------------------------------

    def in_clear(self, entity: str, field: str) -> bool:
        """May the caller see ``field`` unchanged on every record? Filters, sorting and
        writes need this: filtering on a hidden or masked field would reveal its value."""
        if field not in self.hub.deployment.fields[entity]:
            return False
        return self.gate.decide(entity, field, self.destination).action is Action.ALLOW

    def unreleased(self, entity: str) -> list[str]:
        """Restricted fields this caller is refused on every record, which no released
        field's rule reads either: a page need not open (decrypt) them at all."""
        if entity not in self._unreleased:
            self._unreleased[entity] = self._refused_unread(entity)
        return self._unreleased[entity]

    def _refused_unread(self, entity: str) -> list[str]:
        specs = self.hub.deployment.fields[entity]
        refused: list[str] = []
        read: set[str] = set()
        for name, spec in specs.items():
            # The gate keeps one plan per field and destination: no rule is walked again.
            plan = self.gate._plan(entity, name, self.destination)
            if plan is None or (plan.constant is not None
                                and plan.constant[0].action is Action.DENY):
                if spec.restricted:
                    refused.append(name)
            else:
                read.update(plan.condition_fields)
        return [f for f in refused if f not in read]

    def columns(self, entity: str, table: Table, *, provenance: bool = True) -> list[Any]:
        """The columns of ``table`` a page for this caller reads: not those of restricted
        fields it is refused (``unreleased``), ciphertext it would only drop (``open``
        puts None in their place). ``provenance=False``: not the provenance either, for
        a page that does not return it (SCIM): its JSON is neither parsed nor opened."""
        skip = set(self.unreleased(entity))
        if not provenance:
            skip.add("provenance")
        return [c for c in table.c if c.name not in skip]

    def open(self, conn: Connection, entity: str, rows: list[dict[str, Any]]) -> None:
        """Open a page of golden rows (as read from the table) for release to this caller:
        restricted values the caller is refused are dropped unopened (with their
        provenance), the others opened in one batch. What ``records`` then releases is
        the same as from fully opened rows, at the cost of the fields it shows."""
        skip = self.unreleased(entity)
        if skip:
            custom = {f for f in skip if self.hub.deployment.fields[entity][f].custom}
            for row in rows:
                for f in skip:
                    if f not in custom:
                        row[f] = None
                if custom and row.get("custom"):
                    row["custom"] = {k: v for k, v in row["custom"].items() if k not in custom}
                if row.get("provenance"):
                    row["provenance"] = {k: v for k, v in row["provenance"].items()
                                         if k not in skip}
        self.hub.sealer.open_goldens(conn, entity, rows)

    # -- releases -------------------------------------------------------------------------

    def values(self, entity: str, rows: Iterable[tuple[str, Mapping[str, Any]]]
               ) -> list[tuple[dict[str, Any], list[FieldDecision]]]:
        """Release (golden id, business values) pairs; one access-log row for all of them."""
        out = []
        shown: dict[str, Iterable[str]] = {}
        fixed = self._fixed(entity)
        for golden_id, values in rows:
            released: dict[str, Any] = {}
            slots: list[FieldDecision | None] = []
            rest: dict[str, Any] = {}
            for field, value in values.items():
                decision = fixed.get(field)
                if decision is None:  # conditional, transformed or unknown: the gate
                    rest[field] = value
                elif decision.action is Action.ALLOW:
                    released[field] = value
                slots.append(decision)
            decisions = [d for d in slots if d is not None]
            if rest:
                more, theirs = self.gate.release(entity, rest, self.destination,
                                                 record=values, record_id=golden_id)
                released.update(more)
                given = iter(theirs)
                decisions = [d if d is not None else next(given) for d in slots]
                released = {f: released[f] for f in values if f in released}  # gate's order
            shown[golden_id] = [f for f, v in released.items() if v is not None]
            out.append((released, decisions))
        self.note_shown(entity, shown)
        return out

    def _fixed(self, entity: str) -> dict[str, FieldDecision]:
        """Fields the gate allows or denies this caller outright, whatever the record
        (the same decision the gate gives each record): decided once for a whole page."""
        fixed = {}
        for name in self.hub.deployment.fields[entity]:
            plan = self.gate._plan(entity, name, self.destination)
            if plan is not None and plan.constant is not None \
                    and plan.constant[0].action in (Action.ALLOW, Action.DENY):
                fixed[name] = plan.constant[0]
        return fixed

    def note_shown(self, entity: str, shown: Mapping[str, Iterable[str]]) -> None:
        """Log, in one row, the restricted fields among those shown per golden id."""
        specs = self.hub.deployment.fields[entity]
        ids: set[str] = set()
        fields: set[str] = set()
        for golden_id, names in shown.items():
            restricted = {f for f in names if f in specs and specs[f].restricted}
            if restricted:
                ids.add(golden_id)
                fields |= restricted
        if ids:
            access_log.record_restricted_read(
                self.hub.engine, caller=self.caller, channel=self.channel, entity=entity,
                golden_ids=ids, fields=fields, keyring=self.hub.sealer.envelope.keyring)

    def records(self, entity: str, rows: Sequence[Mapping[str, Any]], *, plain: bool = True
                ) -> list[dict[str, Any]]:
        """Golden rows as the caller may see them, with provenance of released fields only
        (the provenance of a withheld field would tell that a value exists). ``plain``:
        as JSON types; else dates and decimals stay Python values, for a page serialised
        in one pass with ``hub.records.json_default`` (the same JSON, one pass per page)."""
        released = self.values(entity, [(r["id"], business_values(r)) for r in rows])
        return [_public(row, values, plain) for row, (values, _) in zip(rows, released)]

    def record(self, entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
        return self.records(entity, [row])[0]


def _public(row: Mapping[str, Any], released: dict[str, Any], plain: bool = True
            ) -> dict[str, Any]:
    provenance = {k: v for k, v in (row.get("provenance") or {}).items() if k in released}
    public = {**{k: row[k] for k in BOOKKEEPING}, **released, "provenance": provenance}
    return jsonable(public, sort=False) if plain else public
