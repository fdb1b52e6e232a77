"""The worked example of docs/connectors.md: a JSON Lines connector and its kit harness.

``JsonLinesConnector`` is written the way a third-party package writes a connector: it
imports only the connector interface (``connectors.base``) and the error families
(``hub.errors``). ``JsonLinesHarness`` is what the author's test file holds; with it,
running the conformance kit on the example is two lines::

    from hub.testing import ConnectorConformance
    from hub.testing.example import JsonLinesHarness

    class TestJsonLines(ConnectorConformance):
        harness = JsonLinesHarness

It ships inside kontor so that an author can read, copy and run it as installed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import (
    Capability,
    Connector,
    ConnectorSettings,
    ReadBatch,
    Record,
    SourceRecord,
    StreamSpec,
    WriteResult,
    key_text,
    key_values,
)
from hub.errors import FatalConnectorError, RecordProblem
from hub.testing.harness import Harness

# -- the connector: what a plugin package ships ----------------------------------------------


class JsonLinesSettings(ConnectorSettings):
    directory: str  # relative paths are relative to the deployment folder


class JsonLinesConnector(Connector):
    """Reads, upserts and deletes records of ``*.jsonl`` files in one directory."""

    kind: ClassVar[str] = "jsonl"
    settings_model: ClassVar[type[ConnectorSettings]] = JsonLinesSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.READ, Capability.WRITE, Capability.DELETE, Capability.DISCOVER})
    settings: JsonLinesSettings

    def _path(self, resource: str) -> Path:
        folder = self.base_dir / self.settings.directory
        if Path(resource).name != resource:
            raise FatalConnectorError(f"{self.system}: {resource!r} is not a file name")
        return folder / resource

    def check(self) -> None:
        folder = self.base_dir / self.settings.directory
        if not folder.is_dir():
            raise FatalConnectorError(f"{self.system}: directory not found: {folder}")

    def _lines(self, resource: str) -> Iterator[tuple[int, str, Record | None]]:
        """(line number, raw line, record or None when the line is not a JSON object)."""
        path = self._path(resource)
        if not path.exists():
            return
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None  # a problem, reported without the line's text
                yield number, line, record if isinstance(record, dict) else None

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        batch = ReadBatch()
        last = ""
        for number, line, record in self._lines(stream.resource):
            last, where = line, f"{stream.resource}:{number}"
            if record is None:
                batch.problems.append(RecordProblem("not a JSON object", self.system,
                                                    stream.resource, location=where))
            else:
                batch.records.append(SourceRecord(record, where))
            if len(batch.records) + len(batch.problems) == batch_size:
                yield batch
                batch = ReadBatch()
        if last and not last.endswith("\n"):
            # A file cut off mid-line: no snapshot, so the hub must infer no deletes.
            batch.incomplete = (f"{stream.resource}: the last line has no line break, "
                                "so the file may have been cut off while being written")
        if batch.records or batch.problems or batch.incomplete:
            yield batch

    def discover(self, stream: StreamSpec | None = None) -> list[dict[str, Any]]:
        if stream is None:
            return []
        names = dict.fromkeys(k for _, _, r in self._lines(stream.resource) if r for k in r)
        return [{"resource": stream.resource, "key": list(stream.key),
                 "fields": [{"name": n, "type": "json"} for n in names]}]

    def _rewrite(self, stream: StreamSpec, upserts: dict[str, Record], deletes: set[str]
                 ) -> None:
        """Copy the file with the changes applied into a temp file, then swap it in, so a
        reader sees the old file or the new one, never half of one."""
        path = self._path(stream.resource)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for _, line, record in self._lines(stream.resource):
                    if record is None:
                        out.write(line)  # keep what we cannot read, exactly
                        continue
                    key = "|".join(str(record.get(k)) for k in stream.key)
                    if key not in deletes:
                        out.write(json.dumps(upserts.pop(key, record)) + "\n")
                out.writelines(json.dumps(r) + "\n" for r in upserts.values())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        result = WriteResult()
        upserts: dict[str, Record] = {}
        for index, record in enumerate(records, start=1):
            key = key_text(stream.key, record, index)  # "#index" when a key value is missing
            where = f"{stream.resource}:batch record {index}"
            reason = None
            if any(record.get(k) in (None, "") for k in stream.key):
                reason = f"a key field ({', '.join(stream.key)}) is empty"
            else:
                try:
                    json.dumps(record)
                except (TypeError, ValueError):
                    reason = "a value cannot be written as JSON"  # never the value itself
            if reason:
                result.rejected.append((key, RecordProblem(reason, self.system, stream.resource,
                                                           location=where)))
                continue
            upserts[key] = record
            result.written += 1
        self._rewrite(stream, upserts, set())
        return result

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        # Tuples and key texts alike become the key text the file lines are compared by.
        texts = {"|".join(key_values(stream.key, k)) for k in keys}
        self._rewrite(stream, {}, texts)
        return WriteResult(written=len(keys))


# -- the harness: what the author's tests hold -----------------------------------------------


class JsonLinesHarness(Harness):
    """Drives ``JsonLinesConnector`` for the kit; looks at the file with ``json`` itself."""

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
