"""Signed checkpoints: Ed25519 over the chain's tip, verifiable offline with a public key.

The signing key is derived from a master key in the keyring (never in the database), so
whoever can write the database but lacks the keyring cannot re-sign a rewritten chain.

Checkpoints form a chain of their own: checkpoint ``n`` signs (n, the digest of checkpoint
n - 1, the number of entries it covers, the chain's hash there, the time). In the same
transaction an entry of kind ``audit.checkpoint`` records (n, digest) in the hash chain, so
deleting a checkpoint — the last one included — leaves a signed successor or a chained
entry that names it. Checkpoints signed before the chain existed (``n`` is NULL) are
legacy: signed over (seq, hash, time), accepted as the start; the first chained checkpoint
links to the last of them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, select, update

from hub.audit import chain
from hub.audit.chain import GENESIS, canonical_time
from hub.audit.tables import AuditCheckpoint, AuditHead
from hub.store import bulk
from policies.keys import Keyring


def _private(keyring: Keyring, key_id: str | None = None) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(keyring.derive("audit-signing", key_id=key_id))


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_keys(keyring: Keyring) -> dict[str, Ed25519PublicKey]:
    """Every signing key the keyring can derive (old master keys verify old checkpoints)."""
    keys = {}
    for kid in keyring.keys:
        public = _private(keyring, kid).public_key()
        keys[fingerprint(public)] = public
    return keys


RECORD_KIND = "audit.checkpoint"  # the chain's own entry for each chained checkpoint


def message(seq: int, chain_hash: str, at: dt.datetime) -> bytes:
    """What a legacy (unchained) checkpoint signs."""
    return f"kontor-audit-checkpoint|{seq}|{chain_hash}|{canonical_time(at)}".encode()


def chained_message(n: int, prev: str, seq: int, chain_hash: str, at: dt.datetime) -> bytes:
    """What checkpoint ``n`` signs: its number, the digest of checkpoint n - 1 (GENESIS for
    the first with no legacy one before it), the entries it covers (seq: entries are
    numbered densely from 1, so this is their count) and the chain's hash there."""
    return (f"kontor-audit-checkpoint/2|{n}|{prev}|{seq}|{chain_hash}|"
            f"{canonical_time(at)}").encode()


def signed_message(row: Mapping[str, Any]) -> bytes:
    if row.get("n") is None:
        return message(row["seq"], row["hash"], row["at"])
    return chained_message(row["n"], row.get("prev") or "", row["seq"], row["hash"], row["at"])


def digest(row: Mapping[str, Any]) -> str:
    """Names one checkpoint exactly: what it signs plus its signature."""
    return hashlib.sha256(signed_message(row) + b"|" + row["signature"].encode()).hexdigest()


def checkpoint(conn: Connection, keyring: Keyring) -> dict[str, Any]:
    """Sign the chain's current tip — also when nothing happened, so gaps show — link it to
    the previous checkpoint, and record it in the chain (one transaction)."""
    head = bulk.table_of(AuditHead)
    conn.execute(update(head).where(head.c.id == 1).values(seq=head.c.seq))  # lock the tip
    tip = conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1)).one()
    t = bulk.table_of(AuditCheckpoint)
    last = conn.execute(select(t).order_by(t.c.n.desc().nulls_last(), t.c.id.desc())
                        .limit(1)).first()
    n, prev = 1, GENESIS
    if last is not None:
        n, prev = (last.n or 0) + 1, digest(dict(last._mapping))
    private = _private(keyring)
    at = dt.datetime.now(dt.UTC)
    row = {"n": n, "prev": prev, "seq": tip.seq, "hash": tip.hash, "at": at,
           "key_id": fingerprint(private.public_key()),
           "signature": base64.b64encode(private.sign(
               chained_message(n, prev, tip.seq, tip.hash, at))).decode()}
    conn.execute(t.insert().values(**row))
    chain.append(conn, [{"kind": RECORD_KIND, "outcome": "signed", "actor": "audit", "at": at,
                         "detail": {"checkpoint": n, "digest": digest(row)}}])
    return row


def verify_signature(row: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> bool:
    public = keys.get(row["key_id"])
    if public is None:
        return False
    try:
        public.verify(base64.b64decode(row["signature"]), signed_message(row))
    except (InvalidSignature, ValueError):
        return False
    return True


def export_public_keys(keyring: Keyring, path: Path) -> None:
    path.write_text(json.dumps({kid: base64.b64encode(k.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
        for kid, k in public_keys(keyring).items()}, indent=2) + "\n", encoding="utf-8")


def load_public_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {kid: Ed25519PublicKey.from_public_bytes(base64.b64decode(v))
            for kid, v in data.items()}


def export_checkpoints(rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    """JSON lines, to keep elsewhere (a file, a write-once bucket)."""
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({"id": r["id"], "n": r.get("n"), "prev": r.get("prev"),
                                 "seq": r["seq"], "hash": r["hash"],
                                 "at": canonical_time(r["at"]), "key_id": r["key_id"],
                                 "signature": r["signature"]}) + "\n")
            count += 1
    return count


def load_checkpoints(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            row["at"] = dt.datetime.fromisoformat(row["at"])
            row.setdefault("n", None)  # exported before checkpoints were chained
            row.setdefault("prev", None)
            rows.append(row)
    return rows
