"""Schema drift: source columns a mapping does not know, found by reading a small sample.

``kontor check`` reports them (the run summary does too, as ``unknown_columns``); they are
never passed through, only dropped until someone maps them.
"""

from __future__ import annotations

from connectors.base import Connector
from hub.config import System

SAMPLE = 100


def unknown_columns(system: System, connector: Connector, sample: int = SAMPLE
                    ) -> dict[str, list[str]]:
    """stream label -> columns of the first ``sample`` records that its mapping ignores."""
    found: dict[str, list[str]] = {}
    for stream in system.streams:
        if stream.config.direction != "inbound":
            continue
        columns: set[str] = set()
        for batch in connector.read(stream.spec, since=None, batch_size=sample):
            for record in batch.records:
                columns.update(record.data)
            break  # one batch is the sample
        spec = stream.spec
        known = set(spec.key) | ({spec.cursor_field} if spec.cursor_field else set())
        unknown = sorted(stream.mapping.unknown_columns(columns) - known)
        if unknown:
            found[stream.label] = unknown
    return found
