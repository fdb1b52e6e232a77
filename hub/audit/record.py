"""Build audit entries for what the hub does; never with a value, only keyed hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from hub.audit import chain
from hub.records import to_json_bytes
from policies.engine import FieldDecision
from policies.keys import Keyring


class AuditLog:
    """Collects entries for one transaction and appends them to the chain on ``flush``."""

    def __init__(self, keyring: Keyring, actor: str):
        self.actor = actor
        self._key = keyring.derive("audit-value-hash")
        self._pending: list[dict[str, Any]] = []
        self._fields: dict[str, list[dict[str, Any]]] = {}  # decision sets by id
        self._ids: dict[tuple[FieldDecision, ...], str] = {}

    def value_hash(self, payload: Any) -> str:
        """Keyed hash of what was sent: proves it later, reveals nothing (not even to a
        dictionary attack on a 9-digit id, unlike a bare hash)."""
        return hmac.new(self._key, to_json_bytes(payload), hashlib.sha256).hexdigest()

    def decisions(self, decisions: Sequence[FieldDecision]) -> str:
        """The id of this decision set (most records of a stream share one or a few)."""
        key = tuple(decisions)
        sid = self._ids.get(key)
        if sid is None:
            fields = [{"field": d.field, "category": d.category, "action": d.action.value,
                       "rule": d.rule, "legal_basis": d.legal_basis} for d in decisions]
            sid = self.field_set(fields)
            if len(self._ids) < 10_000:
                self._ids[key] = sid
        return sid

    def field_set(self, fields: list[dict[str, Any]]) -> str:
        sid = chain.decision_set_id(fields)
        self._fields[sid] = fields
        return sid

    def add(self, kind: str, outcome: str, *, at: dt.datetime | None = None,
            **fields: Any) -> None:
        self._pending.append({"kind": kind, "outcome": outcome, "actor": self.actor,
                              "at": at or dt.datetime.now(dt.UTC), **fields})

    def flush(self, conn: Connection) -> int:
        entries, self._pending = self._pending, []
        # Store the sets these entries use, in their transaction: checked against the
        # database each time, so a rolled-back batch cannot leave a dangling reference.
        used = {e["decisions"] for e in entries if e.get("decisions")}
        chain.store_decision_sets(conn, [(sid, self._fields[sid]) for sid in used])
        chain.append(conn, entries)
        return len(entries)
