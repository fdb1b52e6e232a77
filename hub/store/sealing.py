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
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select

from hub.canonical import FieldSpec
from hub.store import bulk
from hub.store.tables import SubjectKey
from policies.envelope import (
    BUCKETS,
    Cipher,
    Envelope,
    UnreadableValue,
    cipher,
    is_padded,
    is_sealed,
    nonces,
    seal,
    seal_with,
    unseal,
    unseal_with,
)
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


#: One kind of place in a row that holds restricted data: its (key, AAD field, bucket)s,
#: ``sparse`` (the holder keeps only what is present: custom values, provenance; an absent
#: value opens to a missing key) and ``wrapped`` (stored as ``{"sealed": token}``: a
#: provenance entry stays a mapping, so readers of the raw row that expect one find one).
@dataclass(frozen=True)
class _Place:
    slots: tuple[tuple[str, str, int], ...]
    sparse: bool
    wrapped: bool = False

    def get(self, holder: Mapping[str, Any], key: str) -> Any:
        value = holder.get(key)
        if self.wrapped and isinstance(value, dict) and "sealed" in value:
            return value["sealed"]
        return value

    def values(self, holder: Mapping[str, Any]) -> Iterator[Any]:
        return (self.get(holder, key) for key, _, _ in self.slots)


#: A row's restricted places: (holder dict, place) pairs.
_Held = list[tuple[dict[str, Any], _Place]]
#: A row -> (the dict holding its built-in values, its custom values).
ValuesOf = Callable[[dict[str, Any]], tuple[dict[str, Any], Any]]


def _golden_values(row: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    return row, row.get("custom")


def _history_values(row: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    return row["data"], row["data"].get("custom")


def _any_plain(held: _Held) -> bool:
    """Whether a row holds a restricted value not sealed yet (so it needs its data key)."""
    for holder, place in held:
        for key, _, _ in place.slots:
            value = holder.get(key)
            if place.wrapped and isinstance(value, dict) and "sealed" in value:
                value = value["sealed"]
            if value is not None and not is_sealed(value):
                return True
    return False


@dataclass(frozen=True)
class _Layout:
    """Where an entity's rows hold restricted data, worked out once per entity."""

    builtin: _Place
    custom: _Place
    provenance: _Place

    @classmethod
    def of(cls, fields: list[str], custom: list[str], buckets: Mapping[str, int]) -> _Layout:
        return cls(_Place(tuple((f, f, buckets[f]) for f in fields), False),
                   _Place(tuple((f, f, buckets[f]) for f in custom), True),
                   _Place(tuple((f, f"provenance.{f}", PROVENANCE_BUCKET)
                                for f in fields + custom), True, wrapped=True))


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
        self._layouts = {e: _Layout.of(self.builtin[e], self.custom[e], self.buckets[e])
                         for e in fields}
        self._deks: dict[tuple[str, str], bytes | None] = {}

    # -- keys -------------------------------------------------------------------------------

    def _keys(self, conn: Connection, entity: str, ids: Sequence[str], *,
              create: bool | Collection[str] = False) -> dict[str, bytes | None]:
        """The data keys of ``ids`` (None: the record has none); a new key for each id
        that has none yet when ``create`` is True or holds that id."""
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
        new = [g for g in missing if (entity, g) not in self._deks and
               (create is True or (create is not False and g in create))]
        if new:
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

    def _held(self, entity: str, row: dict[str, Any], values_of: ValuesOf, *, copy: bool
              ) -> _Held:
        """Where a row holds restricted data: built-in values, custom values and, in golden
        rows, the provenance of restricted fields (which would tell that a value exists).
        ``copy``: the custom and provenance dicts are copied first (they may be shared
        with other rows)."""
        values, extra = values_of(row)
        if not values and not extra:
            return []  # an empty history version (a deleted record): nothing to seal
        layout = self._layouts[entity]
        if copy and isinstance(extra, dict):
            values["custom"] = extra = dict(extra)
        held: _Held = [(values, layout.builtin)]
        if isinstance(extra, dict) and layout.custom.slots:
            held.append((extra, layout.custom))
        prov = row.get("provenance") if values is row else None
        if isinstance(prov, dict):
            if copy:
                row["provenance"] = prov = dict(prov)
            held.append((prov, layout.provenance))
        return held

    def _apply(self, conn: Connection, entity: str,
               parts: Sequence[tuple[Sequence[dict[str, Any]], str, ValuesOf]], *,
               sealing: bool) -> None:
        """Seal (or open) the rows of ``parts``: (rows, their golden id's key, where their
        values are). One write's golden rows and history rows are one call, so their data
        keys are looked up once."""
        if not (self.builtin[entity] or self.custom[entity]):
            return
        # Sealing: every row, absent values included. Opening: rows holding a sealed value.
        todo: list[tuple[str, _Held]] = []
        filled: set[str] = set()
        for rows, id_key, values_of in parts:
            for row in rows:
                held = self._held(entity, row, values_of, copy=sealing)
                if not held:
                    continue
                if sealing:
                    todo.append((row[id_key], held))
                    if row[id_key] not in filled and _any_plain(held):
                        filled.add(row[id_key])
                elif any(is_sealed(v) for holder, place in held for v in place.values(holder)):
                    todo.append((row[id_key], held))
        if not todo:
            return
        # A record gets its data key with its first restricted value; the empty fields of
        # a record without one are sealed under a throwaway key (they open to nothing).
        deks = self._keys(conn, entity, sorted({g for g, _ in todo}), create=filled)
        if sealing:
            self._seal_rows(entity, todo, deks)
        else:
            self._open_rows(entity, todo, deks)

    def _seal_rows(self, entity: str, todo: list[tuple[str, _Held]],
                   deks: Mapping[str, bytes | None]) -> None:
        # One cipher per data key: every value still gets its own random nonce and an AAD
        # naming its record and field, exactly as ``seal`` gives it.
        throwaway = os.urandom(32)
        ciphers: dict[bytes, Cipher] = {}
        # every value its own random nonce, drawn for the whole write at once (at most
        # one per place a value can be)
        fresh = nonces(sum(len(place.slots) for _, held in todo for _, place in held))
        for gid, held in todo:
            dek = deks[gid] or throwaway
            aead = ciphers.get(dek)
            if aead is None:
                aead = ciphers[dek] = cipher(dek)
            prefix = f"{entity}|{gid}|"
            for holder, place in held:
                wrapped = place.wrapped
                for key, field, bucket in place.slots:
                    value = holder.get(key)
                    if wrapped and isinstance(value, dict) and "sealed" in value:
                        value = value["sealed"]
                    if value is None or not is_sealed(value):
                        token = seal_with(aead, value, (prefix + field).encode(), bucket,
                                          nonce=next(fresh))
                    elif not is_padded(value):  # the legacy format: upgrade it if it opens
                        aad = (prefix + field).encode()
                        try:
                            token = seal_with(aead, unseal_with(aead, str(value), aad), aad,
                                              bucket, nonce=next(fresh))
                        except UnreadableValue:
                            continue
                    else:
                        continue
                    holder[key] = {"sealed": token} if wrapped else token

    def _open_rows(self, entity: str, todo: list[tuple[str, _Held]],
                   deks: Mapping[str, bytes | None]) -> None:
        for gid, held in todo:
            dek = deks[gid]
            aead = cipher(dek) if dek is not None else None
            prefix = f"{entity}|{gid}|"
            for holder, place in held:
                for key, field, _ in place.slots:
                    value = place.get(holder, key)
                    if not is_sealed(value):
                        continue
                    opened = None  # crypto-shredded (no key) or unreadable: the value is gone
                    if aead is not None:
                        with contextlib.suppress(UnreadableValue):
                            opened = unseal_with(aead, value, (prefix + field).encode())
                    if opened is None and place.sparse:
                        holder.pop(key, None)
                    else:
                        holder[key] = opened

    @staticmethod
    def _open(dek: bytes | None, value: str, aad: str) -> Any:
        if dek is None:
            return None  # crypto-shredded: the value is gone
        try:
            return unseal(dek, value, aad)
        except UnreadableValue:
            return None

    def seal_goldens(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]]) -> None:
        self._apply(conn, entity, [(rows, "id", _golden_values)], sealing=True)

    def open_goldens(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]],
                     fields: Collection[str] | None = None) -> None:
        """Open the restricted values of golden rows, in place. ``fields``: open only these
        (a reader that releases a few fields decrypts nothing else); rows read with only
        those columns (``bulk.fetch_goldens(columns=...)``) then hold no sealed value."""
        if fields is None:
            self._apply(conn, entity, [(rows, "id", _golden_values)], sealing=False)
            return
        layout = self._layouts[entity]
        builtin = _Place(tuple(s for s in layout.builtin.slots if s[0] in fields), False)
        custom = _Place(tuple(s for s in layout.custom.slots if s[0] in fields), True)
        todo: list[tuple[str, _Held]] = []
        for row in rows:
            held: _Held = [(row, builtin)] if builtin.slots else []
            extra = row.get("custom")
            if custom.slots and isinstance(extra, dict):
                held.append((extra, custom))
            prov = row.get("provenance")
            if isinstance(prov, dict):  # read whole: opened whole, as ``_apply`` does
                held.append((prov, layout.provenance))
            if held and any(is_sealed(v) for holder, place in held
                            for v in place.values(holder)):
                todo.append((row["id"], held))
        if todo:
            self._open_rows(entity, todo, self._keys(conn, entity, sorted({g for g, _ in todo})))

    def seal_history(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]]) -> None:
        self._apply(conn, entity, [(rows, "golden_id", _history_values)], sealing=True)

    def open_history(self, conn: Connection, entity: str, rows: Sequence[dict[str, Any]]) -> None:
        self._apply(conn, entity, [(rows, "golden_id", _history_values)], sealing=False)

    def seal_write(self, conn: Connection, entity: str, goldens: Sequence[dict[str, Any]],
                   history: Sequence[dict[str, Any]]) -> None:
        """``seal_goldens`` and ``seal_history`` of one write at once: one look-up of the
        records' data keys, one cipher per key."""
        self._apply(conn, entity, [(goldens, "id", _golden_values),
                                   (history, "golden_id", _history_values)], sealing=True)

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
            held = self._held(entity, row, values_of, copy=False)
            if any(not is_padded(v) for holder, place in held for v in place.values(holder)):
                todo.append((row, held))
        if not todo:
            return []
        ids = sorted({r[id_key] for r, _ in todo})
        deks = self._keys(conn, entity, ids)
        throwaway = os.urandom(32)
        for row, held in todo:
            gid = row[id_key]
            dek = deks.get(gid)
            for holder, place in held:
                for key, field, bucket in place.slots:
                    value = place.get(holder, key)
                    if is_padded(value):
                        continue
                    aad = f"{entity}|{gid}|{field}"
                    plain = self._open(dek, value, aad) \
                        if isinstance(value, str) and is_sealed(value) else value
                    token = seal(dek or throwaway, plain, aad, bucket=bucket)
                    holder[key] = {"sealed": token} if place.wrapped else token
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
