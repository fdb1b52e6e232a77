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
    skipped: int = 0  # outbound: not eligible (condition not met, no key value)
    error: str | None = None  # the stream itself failed (connection, fatal)
    unknown_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.error is None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
