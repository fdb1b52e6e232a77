"""The example connector of docs/connectors.md passes the conformance kit.

This file is what the docs show a connector author: a harness and two lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.base import Record, StreamSpec
from hub.testing import ConnectorConformance, Harness
from tests.connectors.example_connector import JsonLinesConnector


class JsonLinesHarness(Harness):
    connector_class = JsonLinesConnector
    can_reject = True  # bytes are not JSON

    def __init__(self, base_dir: Path):
        super().__init__(base_dir)
        self.file = base_dir / "data" / "people.jsonl"
        self.file.parent.mkdir()

    def settings(self) -> dict[str, Any]:
        return {"directory": "data"}

    def bad_settings(self) -> dict[str, Any]:
        return {"directory": "missing"}

    def stream(self, *, incremental: bool = False) -> StreamSpec:
        return StreamSpec("people.jsonl", ("id",))

    def seed(self, records: list[Record]) -> None:
        self.file.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    def contents(self) -> list[Record]:
        text = self.file.read_text(encoding="utf-8") if self.file.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def rejected_record(self, key: str) -> Record:
        return {"id": key, "name": b"raw bytes", "note": "kontor-private-note"}


class TestJsonLinesConformance(ConnectorConformance):
    harness = JsonLinesHarness
