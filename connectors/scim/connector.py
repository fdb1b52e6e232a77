"""The SCIM 2.0 client connector: Users (with the enterprise extension) of a SCIM
service provider (RFC 7643/7644), flattened as :mod:`connectors.scim.paths` describes.

Reads page with ``startIndex``/``count``; incremental reads filter on
``meta.lastModified gt "<cursor>"`` (the cursor field must be ``meta.lastModified``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from connectors._cursor import later
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
from connectors.rest.auth import HeaderAuth
from connectors.rest.http import HttpClient
from connectors.scim.paths import CORE_USER, ResourceProblem, to_record
from connectors.scim.schema import common_fields, fields_of, prefix_for
from connectors.scim.settings import ScimSettings
from connectors.scim.writes import ScimWriter, scim_type
from hub.errors import FatalConnectorError, RecordProblem

SCIM_ACCEPT = "application/scim+json, application/json"


class ScimConnector(ApiConnector):
    """Reads and writes SCIM resources (normally ``Users``)."""

    kind: ClassVar[str] = "scim"
    settings_model: ClassVar[type[ConnectorSettings]] = ScimSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.READ, Capability.INCREMENTAL, Capability.WRITE, Capability.DELETE,
        Capability.DISCOVER})
    settings: ScimSettings

    def new_client(self) -> HttpClient:
        s = self.settings
        token = s.token
        client = HttpClient(system=self.system, base_url=s.base_url, retry=s.retry,
                            timeout=(s.connect_timeout, s.read_timeout),
                            headers={"Accept": SCIM_ACCEPT}, verify=s.verify_tls)
        client.auth = HeaderAuth("Authorization", lambda: f"Bearer {token.get_secret_value()}")
        return client

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.client.request("GET", path, params=params)
        if response.status_code != 200:
            raise FatalConnectorError(f"{self.system}: GET {path}: HTTP {response.status_code} "
                                      f"{response.reason}{scim_type(response)}")
        return self.client.json(response, f"{self.system}: GET {path}")

    def check(self) -> None:
        """Ask for one user: proves the URL and the token."""
        self._get("/Users", {"count": 1, "startIndex": 1})

    def streams(self) -> list[str]:
        types = self._get("/ResourceTypes")
        listed = types.get("Resources", []) if isinstance(types, dict) else types
        return [t["endpoint"].strip("/") for t in listed if isinstance(t, dict)
                and t.get("endpoint")]

    def discover(self, stream: StreamSpec | None = None) -> list[dict[str, Any]]:
        """Fields from the resource type's schema and extensions (GET /Schemas/<urn>)."""
        types = self._get("/ResourceTypes")
        listed = types.get("Resources", []) if isinstance(types, dict) else types
        wanted = [stream.resource.strip("/")] if stream else self.streams()
        found = []
        for rtype in listed:
            resource = str(rtype.get("endpoint", "")).strip("/")
            if resource not in wanted:
                continue
            core = rtype.get("schema", CORE_USER)
            urns = [core] + [e["schema"] for e in rtype.get("schemaExtensions") or []]
            fields = [f for urn in urns
                      for f in fields_of(self._get(f"/Schemas/{urn}"), prefix_for(urn, core))]
            fields += common_fields({f["name"] for f in fields})
            if stream and self.settings.attributes:  # exactly what read returns
                typed = {f["name"]: f for f in fields}
                fields = [typed.get(n) or {"name": n, "type": "string", "read_only": False,
                                           "required": False, "list": False}
                          for n in self._named(stream)]
            found.append({"resource": resource, "fields": fields,
                          "key": list(stream.key) if stream else []})
        return found

    def _named(self, stream: StreamSpec) -> list[str]:
        """The configured fields plus key and cursor ([] when none are configured)."""
        if not self.settings.attributes:
            return []
        cursor = [stream.cursor_field] if stream.cursor_field else []
        return list(dict.fromkeys([*self.settings.attributes, *stream.key, *cursor]))

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        field, path = stream.cursor_field, "/" + stream.resource.strip("/")
        if field not in (None, "meta.lastModified"):
            raise FatalConnectorError(f"{self.system}: SCIM reads incrementally only by "
                                      "meta.lastModified")
        filters = [f"({self.settings.filter})"] if self.settings.filter else []
        if field and since:
            filters.append(f"meta.lastModified gt {json.dumps(str(since))}")
        params: dict[str, Any] = {"count": self.settings.page_size}
        if filters:
            params["filter"] = " and ".join(filters)
        named = self._named(stream)
        cursor, start, batch = since, 1, ReadBatch()
        while True:
            page = self._get(path, {**params, "startIndex": start})
            resources = page.get("Resources") or [] if isinstance(page, dict) else []
            for offset, resource in enumerate(resources):
                location = f"{stream.resource}:resource {start + offset}"
                try:
                    if not isinstance(resource, dict):
                        raise ResourceProblem("not a JSON object", "")
                    data: Record = to_record(resource)
                    if named:
                        data = {n: data.get(n) for n in named}
                except ResourceProblem as exc:
                    batch.problems.append(RecordProblem(exc.reason, self.system,
                                                        stream.resource, location=location,
                                                        field=exc.field or None))
                else:
                    cursor = later(cursor, data.get("meta.lastModified")) if field else None
                    batch.records.append(SourceRecord(data, location))
                if len(batch.records) + len(batch.problems) >= batch_size:
                    yield batch  # the cursor waits for the end: pages are not in its order
                    batch = ReadBatch()
            start += len(resources)
            total = page.get("totalResults", 0) if isinstance(page, dict) else 0
            if not resources or start > int(total):
                break
        if field:
            batch.cursor = cursor
        if batch.records or batch.problems or (field and cursor != since):
            yield batch

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        """Create or update each resource found by the stream's key field."""
        return ScimWriter(self.client, self.settings, self.system, stream).write(records)

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        """Delete the resources with these key values; one already gone counts as deleted."""
        return ScimWriter(self.client, self.settings, self.system, stream).delete(keys)
