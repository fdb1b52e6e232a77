"""Write one batch to a target, retrying transient failures with backoff and jitter."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector, StreamSpec
from hub.errors import RecordProblem, RetriableConnectorError

ATTEMPTS = 3
BASE_DELAY = 0.5


@dataclass
class Delivered:
    sent: dict[str, tuple[dict[str, Any], str, str]]  # golden id -> (record, key, hash)
    written: list[str] = field(default_factory=list)
    rejected: dict[str, RecordProblem] = field(default_factory=dict)


def deliver(connector: Connector, spec: StreamSpec,
            sent: dict[str, tuple[dict[str, Any], str, str]]) -> Delivered:
    """Upsert ``sent`` (golden id -> prepared record); raises ConnectorError when the target
    stays unavailable after the retries (the caller leaves the records in the outbox)."""
    ids = list(sent)
    records = [sent[g][0] for g in ids]
    for attempt in range(ATTEMPTS):
        try:
            result = connector.write(spec, records)
            break
        except RetriableConnectorError:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, BASE_DELAY * 2 ** attempt))  # full jitter
    out = Delivered(sent)
    if not result.rejected:  # the common case: every record written
        out.written = ids
        return out
    by_key = {sent[g][1]: g for g in ids}
    for key, problem in result.rejected:
        out.rejected[by_key.get(key, key)] = problem
    out.written = [g for g in ids if g not in out.rejected]
    return out
