"""What one caller may see of golden records: the privacy gate, applied per role.

API, SCIM and dashboard all release records through ``Disclosure``, so a role sees the
same fields everywhere, and every response that carries restricted fields is noted in the
access log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hub.api import access_log
from hub.auth import roles
from hub.auth.tokens import Caller
from hub.context import Hub
from hub.records import jsonable
from policies.gate import Action, FieldDecision, PrivacyGate

BOOKKEEPING = ("id", "version", "created_at", "updated_at")


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

    # -- single decisions -----------------------------------------------------------------

    def in_clear(self, entity: str, field: str) -> bool:
        """May the caller see ``field`` unchanged on every record? Filters, sorting and
        writes need this: filtering on a hidden or masked field would reveal its value."""
        if field not in self.hub.deployment.fields[entity]:
            return False
        return self.gate.decide(entity, field, self.destination).action is Action.ALLOW

    # -- releases -------------------------------------------------------------------------

    def values(self, entity: str, rows: Iterable[tuple[str, Mapping[str, Any]]]
               ) -> list[tuple[dict[str, Any], list[FieldDecision]]]:
        """Release (golden id, business values) pairs; one access-log row for all of them."""
        out = []
        shown: dict[str, Iterable[str]] = {}
        for golden_id, values in rows:
            released, decisions = self.gate.release(entity, values, self.destination,
                                                    record=values, record_id=golden_id)
            shown[golden_id] = [f for f, v in released.items() if v is not None]
            out.append((released, decisions))
        self.note_shown(entity, shown)
        return out

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

    def records(self, entity: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Golden rows as the caller may see them, with provenance of released fields only
        (the provenance of a withheld field would tell that a value exists)."""
        released = self.values(entity, [(r["id"], business_values(r)) for r in rows])
        return [_public(row, values) for row, (values, _) in zip(rows, released)]

    def record(self, entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
        return self.records(entity, [row])[0]


def _public(row: Mapping[str, Any], released: dict[str, Any]) -> dict[str, Any]:
    provenance = {k: v for k, v in (row.get("provenance") or {}).items() if k in released}
    return jsonable({**{k: row[k] for k in BOOKKEEPING}, **released,
                     "provenance": provenance}, sort=False)
