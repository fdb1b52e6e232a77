"""Restricted fields are encrypted at rest: sealed on the way into the store, opened out.

Golden rows and history rows pass through a ``Sealer`` on every batch write and read, so
the database (and every backup of it) holds restricted values only as ciphertext bound to
their record and field, under the record's own data key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from hub.canonical import FieldSpec
from hub.store import bulk
from hub.store.tables import SubjectKey
from policies.envelope import Envelope, UnreadableValue, is_sealed, seal, unseal
from policies.keys import Keyring

_CACHE_LIMIT = 50_000


class Sealer:
    def __init__(self, keyring: Keyring, fields: Mapping[str, Mapping[str, FieldSpec]]):
        self.keyring = keyring
        self.envelope = Envelope(keyring)
        self.builtin = {e: [n for n, s in specs.items() if s.restricted and not s.custom]
                        for e, specs in fields.items()}
        self.custom = {e: [n for n, s in specs.items() if s.restricted and s.custom]
                       for e, specs in fields.items()}
        self._deks: dict[tuple[str, str], bytes | None] = {}

    # -- keys -------------------------------------------------------------------------------

    def _keys(self, conn: Connection, entity: str, ids: Sequence[str], *, create: bool
              ) -> dict[str, bytes | None]:
        missing = [g for g in ids if (entity, g) not in self._deks]
        if len(self._deks) + len(missing) > _CACHE_LIMIT:
            self._deks.clear()
            missing = list(ids)
        t = bulk.table_of(SubjectKey)
        for part in bulk.chunks(missing):
            for row in conn.execute(select(t).where(t.c.entity == entity,
                                                    t.c.golden_id.in_(part))):
                subject = f"{entity}|{row.golden_id}"
                self._deks[(entity, row.golden_id)] = self.envelope.unwrap(
                    row.wrapped, subject, row.key_id)
        new = [g for g in missing if (entity, g) not in self._deks]
        if new and create:
            now, rows = dt.datetime.now(dt.UTC), []
            for gid in new:
                dek, wrapped, kid = self.envelope.new_data_key(f"{entity}|{gid}")
                self._deks[(entity, gid)] = dek
                rows.append({"entity": entity, "golden_id": gid, "key_id": kid,
                             "wrapped": wrapped, "created_at": now})
            bulk.insert_rows(conn, t, rows)
        return {g: self._deks.get((entity, g)) for g in ids}

    def forget(self, conn: Connection, entity: str, golden_id: str) -> bool:
        """Crypto-shred one subject: its restricted values become unreadable for good."""
        t = bulk.table_of(SubjectKey)
        self._deks.pop((entity, golden_id), None)
        result = conn.execute(delete(t).where(t.c.entity == entity, t.c.golden_id == golden_id))
        return bool(result.rowcount)

    # -- rows -------------------------------------------------------------------------------

    def _apply(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]],
               id_key: str, values_of: Any, *, sealing: bool) -> None:
        fields, custom = self.builtin[entity], self.custom[entity]
        if not rows or not (fields or custom):
            return
        # Only rows that hold a restricted value need their subject's key.
        todo = []
        for row in rows:
            values, extra = values_of(row)
            if any(values.get(f) is not None for f in fields) or \
                    (extra and any(extra.get(f) is not None for f in custom)):
                todo.append(row)
        if not todo:
            return
        deks = self._keys(conn, entity, [r[id_key] for r in todo], create=sealing)
        for row in todo:
            gid = row[id_key]
            dek = deks[gid]
            values, extra = values_of(row)
            for name, holder in [(f, values) for f in fields] + \
                    [(f, extra) for f in custom if extra is not None]:
                value = holder.get(name)
                if value is None:
                    continue
                aad = f"{entity}|{gid}|{name}"
                if sealing:
                    if not is_sealed(value):
                        holder[name] = seal(dek, value, aad)  # type: ignore[arg-type]
                elif is_sealed(value):
                    holder[name] = self._open(dek, value, aad)

    @staticmethod
    def _open(dek: bytes | None, value: str, aad: str) -> Any:
        if dek is None:
            return None  # crypto-shredded: the value is gone
        try:
            return unseal(dek, value, aad)
        except UnreadableValue:
            return None

    def seal_goldens(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]]) -> None:
        self._apply(conn, entity, rows, "id", lambda r: (r, r.get("custom")), sealing=True)

    def open_goldens(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]]) -> None:
        self._apply(conn, entity, rows, "id", lambda r: (r, r.get("custom")), sealing=False)

    def seal_history(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]]) -> None:
        self._apply(conn, entity, rows, "golden_id",
                    lambda r: (r["data"], r["data"].get("custom")), sealing=True)

    def open_history(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]]) -> None:
        self._apply(conn, entity, rows, "golden_id",
                    lambda r: (r["data"], r["data"].get("custom")), sealing=False)

    # -- quarantined raw records ---------------------------------------------------------

    def seal_payload(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A refused raw record, sealed whole under its own data key (it may hold anything)."""
        dek, wrapped, kid = self.envelope.new_data_key("quarantine")
        return {"sealed": seal(dek, dict(raw), "quarantine"), "key": wrapped, "key_id": kid}

    def open_payload(self, payload: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The raw record of a quarantine entry, for a retry; None when unreadable."""
        if not payload or "sealed" not in payload:
            return dict(payload) if payload else None
        try:
            dek = self.envelope.unwrap(payload["key"], "quarantine", payload["key_id"])
            value = unseal(dek, payload["sealed"], "quarantine")
        except UnreadableValue:
            return None
        return value if isinstance(value, dict) else None
