"""Record configuration and policy changes in the trail, as the hub first sees them."""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from sqlalchemy import Engine, select

from hub.audit.record import AuditLog
from hub.audit.tables import AuditEntry
from hub.config import Deployment
from hub.store import bulk


def fingerprint(deployment: Deployment) -> dict[str, str]:
    """Content hashes of kontor.yaml and every mapping; the policy set's own version."""
    files = [deployment.path] + sorted({Path(s.mapping.source) for s in
                                        deployment.streams("inbound") +
                                        deployment.streams("outbound")})
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return {"config": "sha256:" + digest.hexdigest()[:16],
            "policy_version": deployment.policy_set.version}


def record_if_changed(engine: Engine, deployment: Deployment) -> bool:
    """Append a `change.config` entry when configuration or policies differ from the last
    one recorded; returns whether it did."""
    current = fingerprint(deployment)
    t = bulk.table_of(AuditEntry)
    with engine.begin() as conn:
        last = conn.execute(select(t.c.detail).where(t.c.kind == "change.config")
                            .order_by(t.c.seq.desc()).limit(1)).scalar()
        if last is not None and {k: last.get(k) for k in current} == current:
            return False
        log = AuditLog(deployment.keyring(), f"cli:{getpass.getuser()}")
        log.add("change.config", "seen", policy_version=current["policy_version"],
                detail={**current, "previous": last})
        log.flush(conn)
    return True
