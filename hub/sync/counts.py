"""Per-stream outcome counts: a run is never a success while any record failed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class StreamCounts:
    system: str
    stream: str
    direction: str
    entity: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    #: Inbound: invalid values left out of records that were stored (on_invalid: drop_field).
    dropped_fields: int = 0
    skipped: int = 0  # outbound: not eligible (condition not met, no key value)
    error: str | None = None  # the stream itself failed (connection, fatal)
    # The read ended before the end of the source (a fatal parse error, a cut-off file):
    # why, from the connector. Such a read is no snapshot: no deletes are inferred from it.
    incomplete: str | None = None
    unknown_columns: list[str] = field(default_factory=list)
    # Match & merge (inbound): records per situation (linked, unlinked, unmatched, disputed,
    # deleted), echoes of Kontor's own writes, deletes applied or held back by the threshold.
    situations: dict[str, int] = field(default_factory=dict)
    echoes: int = 0
    deleted: int = 0
    retired: int = 0
    held_deletes: int = 0
    # Outbound: records removed from the target because their golden record is gone.
    deactivated: int = 0
    kept: int = 0
    # Outbound, after the run: this stream's records still in the outbox, waiting for a
    # retry (``pending``: backoff, or the target failed this run) or given up on
    # (``dead``: dead letters, until `kontor outbox retry` or `discard`).
    pending: int = 0
    dead: int = 0
    #: Wall-clock seconds the stream took (its read and store, or its delivery).
    seconds: float | None = None

    @property
    def label(self) -> str:
        return f"{self.system}.{self.stream}"

    @property
    def merged(self) -> int:
        """Inbound: records matched to a golden record another source made, and merged in."""
        return self.situations.get("unlinked", 0)

    @property
    def ok(self) -> bool:
        return (self.failed == 0 and self.dropped_fields == 0 and self.error is None
                and self.incomplete is None)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
