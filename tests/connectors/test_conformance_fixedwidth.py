"""The fixed-width connector passes the conformance kit (cp1252 and UTF-8 files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Record, StreamSpec
from connectors.fixedwidth import FixedWidthConnector
from hub.testing import ConnectorConformance, Harness

WIDTHS = {"id": 12, "name": 60, "note": 100_000}


class FixedWidthHarness(Harness):
    """Lines laid out and cut with plain string slicing, trailing blanks cut off."""

    connector_class = FixedWidthConnector
    null_distinct = False  # blanks are all a fixed-width field can hold
    multiline = False  # a record is one line
    can_reject = True  # a value wider than its field
    detects_unchanged = True  # the cursor is the file's content hash
    encoding: ClassVar[str] = "utf-8"

    def __init__(self, base_dir: Path):
        super().__init__(base_dir)
        self.path = base_dir / "legacy" / "PERSONAL.TXT"
        self.path.parent.mkdir()

    def settings(self) -> dict[str, Any]:
        return {"directory": "legacy", "encoding": self.encoding,
                "names": list(WIDTHS), "widths": list(WIDTHS.values())}

    def bad_settings(self) -> dict[str, Any]:
        return {**self.settings(), "directory": "no-such-folder"}

    def invalid_settings(self) -> list[dict[str, Any]]:
        return [{"fields": [{"name": "a", "width": 0}]}, {"fields": [], "trim": "middle"}]

    def stream(self, *, incremental: bool = False) -> StreamSpec:
        return StreamSpec("PERSONAL.TXT", ("id",))

    def seed(self, records: list[Record]) -> None:
        lines = ["".join(str(r.get(f) or "").ljust(w) for f, w in WIDTHS.items()).rstrip()
                 for r in records]
        self.path.write_bytes("".join(f"{line}\r\n" for line in lines).encode(self.encoding))

    def contents(self) -> list[Record]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_bytes().decode(self.encoding).splitlines():
            at, record = 0, {}
            for field, width in WIDTHS.items():
                record[field] = line[at:at + width].strip()
                at += width
            out.append(record)
        return out

    def rejected_record(self, key: str) -> Record:
        return self.record(key, "kontor-private-" + "x" * 60, "note")


class TestFixedWidthConformance(ConnectorConformance):
    harness = FixedWidthHarness
