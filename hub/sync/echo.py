"""Echo suppression: a record Kontor wrote to a system and reads back unchanged is no news.

In a bidirectional set-up (the CRM is a source and a target) every value Kontor sends
comes back on the next inbound read, stamped with the CRM's own "changed at" time. Taken
as a change, it would beat a newer value from another system and start a loop. The
``Delivery`` table holds, per target stream and golden record, the hash of the payload the
target acknowledged; an inbound record whose columns, rendered the way that outbound
stream renders them, hash to the same value is Kontor's own echo.

The released fields (which columns were sent) come from the privacy gate with the same
arguments the outbound sync uses; the values come from what was read, so a masked or
pseudonymised value read back compares equal to what was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from hub.config import Deployment, Stream
from hub.records import Incoming, content_hash
from hub.store import bulk
from policies.gate import Destination


class EchoCheck:
    """Recognises echoes for one inbound stream (no-op when its system is no target)."""

    def __init__(self, deployment: Deployment, stream: Stream):
        self.deployment = deployment
        self.system = stream.system
        self.targets = [s for s in deployment.streams("outbound", [stream.system])
                        if s.entity == stream.entity]
        self._gate: Any = None

    @property
    def active(self) -> bool:
        return bool(self.targets)

    def _payload(self, target: Stream, golden: Mapping[str, Any], values: Mapping[str, Any]
                 ) -> dict[str, Any]:
        if self._gate is None:
            self._gate = self.deployment.gate()
        fields = target.mapping.canonical_fields
        custom = golden.get("custom") or {}
        record = {**{k: v for k, v in golden.items() if k != "custom"}, **custom}
        released, _ = self._gate.release(
            target.entity, {f: record.get(f) for f in fields},
            Destination(target.label, "system", target.config.purpose),
            record=record, record_id=golden.get("id"))
        return target.mapping.outbound({f: values.get(f) for f in released})

    def echoes(self, conn: Connection, items: list[Incoming],
               goldens: Mapping[str, Mapping[str, Any]]) -> set[str]:
        """Source keys of ``items`` that are exactly what a target stream last received."""
        if not self.targets:
            return set()
        ids = sorted({i.golden_id for i in items if i.golden_id and i.golden_id in goldens})
        found: set[str] = set()
        for target in self.targets:
            sent = bulk.fetch_delivery_rows(conn, self.system, target.name, ids)
            for item in items:
                gid = item.golden_id
                if gid is None or gid not in sent or item.source_key in found:
                    continue
                payload = self._payload(target, goldens[gid], item.values)
                if content_hash(payload) == sent[gid][1]:
                    found.add(item.source_key)
        return found
