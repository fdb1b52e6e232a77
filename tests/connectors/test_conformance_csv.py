"""The CSV connector passes the conformance kit: CSV, TSV, header-less, and a drop folder."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Capability, Record, StreamSpec
from connectors.csv.connector import CsvConnector
from hub.testing import ConnectorConformance, Harness


class CsvHarness(Harness):
    """A folder of CSV files, seeded and inspected with the csv module itself."""

    connector_class = CsvConnector
    null_distinct = False  # CSV has no null: an empty field is all it can write
    can_reject = True  # a NUL byte cannot be written
    detects_unchanged = True  # the cursor is the file's content hash
    file_name: ClassVar[str] = "people.csv"
    extra: ClassVar[dict[str, Any]] = {}

    def __init__(self, base_dir: Path):
        super().__init__(base_dir)
        self.folder = base_dir / "data"
        self.folder.mkdir()

    def settings(self) -> dict[str, Any]:
        return {"directory": "data", **self.extra}

    def bad_settings(self) -> dict[str, Any]:
        return {**self.settings(), "directory": "no-such-folder"}

    def invalid_settings(self) -> list[dict[str, Any]]:
        return [{"delimiter": ";;"}, {"encoding": "klingon-8"}, {"quoting": "sometimes"}]

    def stream(self, *, incremental: bool = False) -> StreamSpec:
        return StreamSpec(self.file_name, ("id",))

    def _dialect(self) -> dict[str, Any]:
        return {"delimiter": "\t" if self.extra.get("delimiter") == "tab" else ","}

    def _columns(self, records: list[Record]) -> list[str]:
        return list(self.extra.get("columns") or dict.fromkeys(k for r in records for k in r))

    def seed(self, records: list[Record]) -> None:
        with open(self.folder / self.file_name, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, **self._dialect())
            columns = self._columns(records) or ["id", "name", "note"]
            if self.extra.get("header", True):
                writer.writerow(columns)
            writer.writerows([["" if r.get(c) is None else r[c] for c in columns]
                              for r in records])

    def contents(self) -> list[Record]:
        path = self.folder / self.file_name
        if not path.exists():
            return []
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh, **self._dialect()))
        header = self.extra.get("columns") or (rows.pop(0) if rows else [])
        return [dict(zip(header, row)) for row in rows if row]

    def rejected_record(self, key: str) -> Record:
        return self.record(key, "NUL\x00inside", "kontor-private-note")


class TsvHarness(CsvHarness):
    file_name = "people.tsv"
    extra: ClassVar[dict[str, Any]] = {"delimiter": "tab", "suffix": ".tsv"}


class HeaderlessHarness(CsvHarness):
    extra: ClassVar[dict[str, Any]] = {"header": False, "columns": ["id", "name", "note"]}


class DropFolderHarness(CsvHarness):
    """``resource: "people_*.csv"`` with an archive: records split over two files."""

    capabilities = frozenset({Capability.READ, Capability.DISCOVER})

    def settings(self) -> dict[str, Any]:
        (self.base_dir / "archive").mkdir(exist_ok=True)
        return {"directory": "data", "archive_directory": "archive"}

    def stream(self, *, incremental: bool = False) -> StreamSpec:
        return StreamSpec("people_*.csv", ("id",))

    def seed(self, records: list[Record]) -> None:
        for old in self.folder.glob("people_*.csv"):
            old.unlink()
        half = (len(records) + 1) // 2
        for name, part in (("people_1.csv", records[:half]), ("people_2.csv", records[half:])):
            self.file_name = name
            super().seed(part)


class TestCsvConformance(ConnectorConformance):
    harness = CsvHarness


class TestTsvConformance(ConnectorConformance):
    harness = TsvHarness


class TestHeaderlessCsvConformance(ConnectorConformance):
    harness = HeaderlessHarness


class TestDropFolderConformance(ConnectorConformance):
    harness = DropFolderHarness
