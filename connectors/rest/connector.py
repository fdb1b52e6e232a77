"""The REST/JSON connector: one endpoint path (``/api/customers``) is one stream."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from connectors._cursor import later
from connectors._json import flatten, json_type
from connectors.base import (
    Capability,
    ConnectorSettings,
    ReadBatch,
    Record,
    SourceRecord,
    StreamSpec,
    WriteResult,
)
from connectors.rest.api_connector import ApiConnector
from connectors.rest.auth import build_auth
from connectors.rest.http import HttpClient
from connectors.rest.pagination import pages
from connectors.rest.settings import RestSettings
from connectors.rest.writes import RecordWriter
from hub.errors import FatalConnectorError, RecordProblem

#: How many records ``discover`` looks at to learn a resource's fields.
SAMPLE = 100


class RestConnector(ApiConnector):
    """Reads and writes JSON records through an HTTP API."""

    kind: ClassVar[str] = "rest"
    settings_model: ClassVar[type[ConnectorSettings]] = RestSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.READ, Capability.INCREMENTAL, Capability.WRITE, Capability.DELETE,
        Capability.DISCOVER})
    settings: RestSettings

    def new_client(self) -> HttpClient:
        s = self.settings
        client = HttpClient(system=self.system, base_url=s.base_url, retry=s.retry,
                            timeout=(s.connect_timeout, s.read_timeout),
                            headers=s.headers, verify=s.verify_tls,
                            idempotency_key_header=s.idempotency_key_header)
        client.auth = build_auth(s, self.system, lambda url, data, auth: client.send(
            "POST", client.configured_url(url), auth=auth, data=data,
            idempotent=True))  # a token request creates nothing: safe to repeat
        return client

    def check(self) -> None:
        """Read the first page of the first configured resource (or GET the base URL)."""
        path = next(iter(self.settings.resources), None)
        if path is not None:
            next(pages(self.client, path, dict(self.settings.options(path).params),
                       self.settings.options(path)))
            return
        response = self.client.request("GET", "/")
        if not 200 <= response.status_code < 300:
            raise FatalConnectorError(f"{self.system}: GET /: HTTP "
                                      f"{response.status_code} {response.reason}")

    def streams(self) -> list[str]:
        return list(self.settings.resources)

    def discover(self, stream: StreamSpec | None = None) -> list[dict[str, Any]]:
        """Fields and JSON types seen in the first records of each resource."""
        specs = [stream] if stream else [StreamSpec(r, ()) for r in self.streams()]
        found = []
        for spec in specs:
            types: dict[str, set[str]] = {}
            seen = 0
            for batch in self.read(spec, batch_size=SAMPLE):
                for rec in batch.records:
                    for name, value in rec.data.items():
                        types.setdefault(name, set()).add(json_type(value))
                seen += len(batch.records)
                if seen >= SAMPLE:
                    break
            fields = [{"name": n, "type": "|".join(sorted(t - {"null"}) or ["null"])}
                      for n, t in types.items()]
            found.append({"resource": spec.resource, "fields": fields, "key": list(spec.key)})
        return found

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        resource, field = stream.resource, stream.cursor_field
        opts = self.settings.options(resource)
        params: dict[str, Any] = dict(opts.params)
        if since is not None and opts.since_param:
            params[opts.since_param] = since
        # Without a server-side filter, unchanged records are dropped here instead.
        local_filter = since is not None and field is not None and not opts.since_param
        cursor = since
        batch = ReadBatch()
        for page in pages(self.client, resource, params, opts):
            for index, item in enumerate(page.records, start=1):
                location = f"{resource}:page {page.number} record {index}"
                if not isinstance(item, dict):
                    batch.problems.append(RecordProblem(
                        "record is not a JSON object", self.system, resource, location=location))
                else:
                    data: Record = flatten(item) if opts.flatten else item
                    value = data.get(field) if field else None
                    if local_filter and later(since, value) == since:
                        continue
                    cursor = later(cursor, value)
                    batch.records.append(SourceRecord(data=data, location=location))
                if len(batch.records) + len(batch.problems) >= batch_size:
                    # No cursor yet: an API's order is not the cursor's, so only the whole
                    # read proves that nothing older is still to come.
                    yield batch
                    batch = ReadBatch()
        if field is not None:
            batch.cursor = cursor
        if batch.records or batch.problems or (field and cursor != since):
            yield batch

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        """Upsert each record with PUT/PATCH on its item path or POST on the resource."""
        return RecordWriter(self.client, self.system, stream,
                            self.settings.options(stream.resource)).write(records)

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        """DELETE each record's item path; one already gone (404/410) counts as deleted."""
        return RecordWriter(self.client, self.system, stream,
                            self.settings.options(stream.resource)).delete(keys)
