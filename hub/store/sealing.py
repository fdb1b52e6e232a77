"""Restricted fields are encrypted at rest: sealed on the way into the store, opened out.

Golden rows and history rows pass through a ``Sealer`` on every batch write and read, so
the database (and every backup of it) holds restricted values only as ciphertext bound to
their record and field, under the record's own data key.

Sealing hides length and presence (issue 14): every restricted field is sealed whether it
holds a value or not ("absent" is sealed as ``null``), padded to the field's bucket
(``field_bucket``), so all envelopes of one field have one length in golden rows, history
and quarantine. A record gets its data key with its first restricted value; until then its
empty fields are sealed under a throwaway key (see docs/privacy.md for what that shows).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select

from hub.canonical import FieldSpec
from hub.store import bulk
from hub.store.tables import SubjectKey
from policies.envelope import BUCKETS, Envelope, UnreadableValue, is_padded, is_sealed, seal, unseal
from policies.keys import Keyring

_CACHE_LIMIT = 50_000

#: Categories whose values are short identifiers (ids, account numbers), not free text.
_SHORT_CATEGORIES = ("user.government_id", "user.financial", "user.authorization",
                     "user.unique_id")
#: The padded size of a quarantined raw record (the smallest; bigger ones take the next).
QUARANTINE_BUCKET = 1024
#: The padded size of the provenance of one restricted field (system, run, key, time).
PROVENANCE_BUCKET = 256


#: Canonical text fields whose values are a short status, not free text.
_SHORT_FIELDS = frozenset({"criminal_record_check"})  # "clear", "pending", "record found"


def field_bucket(spec: FieldSpec) -> int:
    """The plaintext bucket of a restricted field, chosen so that all its normal values
    share it: dates, numbers, booleans, identifiers (national ids, IBANs, tax ids) and
    short statuses fit 64 bytes of JSON; free text (sick-leave reason, disability status,
    disciplinary notes, custom text fields) 256. A longer value goes to the next bucket:
    only "unusually long" shows."""
    key = spec.category.key
    if spec.type != "str" or (spec.name in _SHORT_FIELDS and not spec.custom) or \
            any(key == p or key.startswith(p + ".") for p in _SHORT_CATEGORIES):
        return BUCKETS[0]
    return BUCKETS[1]


@dataclass
class Slot:
    """One place in a row that holds restricted data, sealed at rest.

    ``field``: the name bound into the AAD; ``sparse``: the holder keeps only what is
    present (custom values, provenance), so an absent value opens to a missing key;
    ``wrapped``: stored as ``{"sealed": token}`` (a provenance entry stays a mapping, so
    readers of the raw row that expect one still find one)."""

    holder: dict[str, Any]
    key: str
    field: str
    bucket: int
    sparse: bool
    wrapped: bool = False

    def get(self) -> Any:
        value = self.holder.get(self.key)
        if self.wrapped and isinstance(value, dict) and "sealed" in value:
            return value["sealed"]
        return value

    def put(self, token: str) -> None:
        self.holder[self.key] = {"sealed": token} if self.wrapped else token

    def open(self, value: Any) -> None:
        if value is None and self.sparse:
            self.holder.pop(self.key, None)
        else:
            self.holder[self.key] = value


class Sealer:
    def __init__(self, keyring: Keyring, fields: Mapping[str, Mapping[str, FieldSpec]]):
        self.keyring = keyring
        self.envelope = Envelope(keyring)
        self.builtin = {e: [n for n, s in specs.items() if s.restricted and not s.custom]
                        for e, specs in fields.items()}
        self.custom = {e: [n for n, s in specs.items() if s.restricted and s.custom]
                       for e, specs in fields.items()}
        self.buckets = {e: {n: field_bucket(s) for n, s in specs.items() if s.restricted}
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

    def _slots(self, entity: str, row: dict[str, Any], values_of: Any, *, copy: bool
               ) -> list[Slot]:
        """Where a row holds restricted data: built-in values, custom values and, in golden
        rows, the provenance of restricted fields (which would tell that a value exists).
        ``copy``: the custom and provenance dicts are copied first (they may be shared
        with other rows)."""
        values, extra = values_of(row)
        if not values and not extra:
            return []  # an empty history version (a deleted record): nothing to seal
        fields, custom = self.builtin[entity], self.custom[entity]
        buckets = self.buckets[entity]
        if copy and isinstance(extra, dict):
            values["custom"] = extra = dict(extra)
        slots = [Slot(values, f, f, buckets[f], False) for f in fields]
        if isinstance(extra, dict):
            slots += [Slot(extra, f, f, buckets[f], True) for f in custom]
        prov = row.get("provenance") if values is row else None
        if isinstance(prov, dict):
            if copy:
                row["provenance"] = prov = dict(prov)
            slots += [Slot(prov, f, f"provenance.{f}", PROVENANCE_BUCKET, True, wrapped=True)
                      for f in fields + custom]
        return slots

    def _apply(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]],
               id_key: str, values_of: Any, *, sealing: bool) -> None:
        if not rows or not (self.builtin[entity] or self.custom[entity]):
            return
        # Sealing: every row, absent values included. Opening: rows holding a sealed value.
        todo = []
        for row in rows:
            slots = self._slots(entity, row, values_of, copy=sealing)
            if slots and (sealing or any(is_sealed(slot.get()) for slot in slots)):
                todo.append((row, slots))
        if not todo:
            return
        # A record gets its data key with its first restricted value; the empty fields of
        # a record without one are sealed under a throwaway key (they open to nothing).
        ids = [r[id_key] for r, _ in todo]
        filled = {r[id_key] for r, slots in todo
                  if sealing and any(slot.get() is not None and not is_sealed(slot.get())
                                     for slot in slots)}
        deks = self._keys(conn, entity, [g for g in ids if g not in filled], create=False)
        if filled:
            deks.update(self._keys(conn, entity, sorted(filled), create=True))
        throwaway = os.urandom(32) if sealing else None
        for row, slots in todo:
            gid = row[id_key]
            dek = deks[gid] or throwaway
            for slot in slots:
                value = slot.get()
                aad = f"{entity}|{gid}|{slot.field}"
                if sealing:
                    if dek is None:
                        raise RuntimeError(f"no data key for {entity} {gid}")
                    if not is_sealed(value):
                        slot.put(seal(dek, value, aad, bucket=slot.bucket))
                    elif not is_padded(value):  # the legacy format: upgrade it if it opens
                        with contextlib.suppress(UnreadableValue):
                            slot.put(seal(dek, unseal(dek, str(value), aad), aad,
                                          bucket=slot.bucket))
                elif is_sealed(value):
                    slot.open(self._open(dek, str(value), aad))

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

    # -- re-sealing a store written before padding ---------------------------------------

    def reseal(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]],
               id_key: str, values_of: Any) -> list[dict[str, Any]]:
        """Rewrite, in place, every restricted value of ``rows`` (raw, as stored) that is not
        in the padded format: legacy sealed values, and absent ones (NULL, missing).
        Returns the rows that changed; no value changes.

        A record without a data key has nothing to open (it never held a restricted value,
        or it was crypto-shredded): its fields, and the provenance of its restricted fields,
        are sealed under a throwaway key, so they open to nothing; it gets no key."""
        todo = []
        for row in rows:
            slots = self._slots(entity, row, values_of, copy=False)
            if any(not is_padded(slot.get()) for slot in slots):
                todo.append((row, slots))
        if not todo:
            return []
        ids = sorted({r[id_key] for r, _ in todo})
        deks = self._keys(conn, entity, ids, create=False)
        throwaway = os.urandom(32)
        for row, slots in todo:
            gid = row[id_key]
            dek = deks.get(gid)
            for slot in slots:
                value = slot.get()
                if is_padded(value):
                    continue
                aad = f"{entity}|{gid}|{slot.field}"
                plain = self._open(dek, value, aad) \
                    if isinstance(value, str) and is_sealed(value) else value
                slot.put(seal(dek or throwaway, plain, aad, bucket=slot.bucket))
        return [row for row, _ in todo]

    def reseal_payload(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """A quarantine payload in the padded format; None when it already is one (or it is
        no longer readable: it then stays as it is)."""
        if "sealed" in payload and is_padded(payload["sealed"]):
            return None
        raw = self.open_payload(payload)
        return self.seal_payload(raw) if raw is not None else None

    # -- quarantined raw records ---------------------------------------------------------

    def seal_payload(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A refused raw record, sealed whole under its own data key (it may hold anything)."""
        dek, wrapped, kid = self.envelope.new_data_key("quarantine")
        return {"sealed": seal(dek, dict(raw), "quarantine", bucket=QUARANTINE_BUCKET),
                "key": wrapped, "key_id": kid}

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
