"""Signed checkpoints: Ed25519 over the chain's tip, verifiable offline with a public key.

The signing key is derived from a master key in the keyring (never in the database), so
whoever can write the database but lacks the keyring cannot re-sign a rewritten chain.
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

from hub.audit.chain import canonical_time
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


def message(seq: int, chain_hash: str, at: dt.datetime) -> bytes:
    return f"kontor-audit-checkpoint|{seq}|{chain_hash}|{canonical_time(at)}".encode()


def checkpoint(conn: Connection, keyring: Keyring) -> dict[str, Any]:
    """Sign the chain's current tip — also when nothing happened, so gaps show."""
    head = bulk.table_of(AuditHead)
    conn.execute(update(head).where(head.c.id == 1).values(seq=head.c.seq))  # lock the tip
    tip = conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1)).one()
    private = _private(keyring)
    at = dt.datetime.now(dt.UTC)
    row = {"seq": tip.seq, "hash": tip.hash, "at": at,
           "key_id": fingerprint(private.public_key()),
           "signature": base64.b64encode(private.sign(message(tip.seq, tip.hash, at))).decode()}
    conn.execute(bulk.table_of(AuditCheckpoint).insert().values(**row))
    return row


def verify_signature(row: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> bool:
    public = keys.get(row["key_id"])
    if public is None:
        return False
    try:
        public.verify(base64.b64decode(row["signature"]),
                      message(row["seq"], row["hash"], row["at"]))
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
            fh.write(json.dumps({"id": r["id"], "seq": r["seq"], "hash": r["hash"],
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
            rows.append(row)
    return rows
