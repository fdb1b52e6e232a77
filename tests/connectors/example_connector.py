"""The example connector of docs/connectors.md: JSON Lines files, one file per stream.

Written the way a third-party package would write it: it imports only the connector
interface (``connectors.base``) and the error families (``hub.errors``).
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
)
from hub.errors import FatalConnectorError, RecordProblem


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
        """(line number, raw line, record or None when the line is not valid JSON)."""
        path = self._path(resource)
        if not path.exists():
            return
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    yield number, line, json.loads(line)
                except ValueError:
                    yield number, line, None  # a problem, reported without its text

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        batch = ReadBatch()
        for number, _, record in self._lines(stream.resource):
            where = f"{stream.resource}:{number}"
            if record is None:
                batch.problems.append(RecordProblem("not valid JSON", self.system,
                                                    stream.resource, location=where))
            else:
                batch.records.append(SourceRecord(record, where))
            if len(batch.records) + len(batch.problems) == batch_size:
                yield batch
                batch = ReadBatch()
        if batch.records or batch.problems:
            yield batch

    def discover(self, stream: StreamSpec | None = None) -> list[dict[str, Any]]:
        if stream is None:
            return []
        names = dict.fromkeys(k for _, _, r in self._lines(stream.resource) if r for k in r)
        return [{"resource": stream.resource, "key": list(stream.key),
                 "fields": [{"name": n, "type": "json"} for n in names]}]

    def _rewrite(self, stream: StreamSpec, upserts: dict[str, Record], deletes: set[str]
                 ) -> None:
        """Copy the file with the changes applied into a temp file, then swap it in."""
        path = self._path(stream.resource)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
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

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        result = WriteResult()
        upserts: dict[str, Record] = {}
        for index, record in enumerate(records, start=1):
            key = "|".join(str(record.get(k)) for k in stream.key)
            try:
                json.dumps(record)
            except (TypeError, ValueError):
                result.rejected.append((key, RecordProblem(
                    "a value cannot be written as JSON", self.system, stream.resource,
                    location=f"{stream.resource}:batch record {index}")))
                continue
            upserts[key] = record
            result.written += 1
        self._rewrite(stream, upserts, set())
        return result

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        texts = {k if isinstance(k, str) else "|".join(map(str, k)) for k in keys}
        self._rewrite(stream, {}, texts)
        return WriteResult(written=len(keys))
