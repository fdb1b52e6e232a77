"""Per-record writes and deletes for the REST connector.

An API acknowledges or refuses each record on its own, so one refused record becomes a
``RecordProblem`` (status code and reason phrase, never the body: it may quote values)
while the rest of the batch is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import requests

from connectors._json import dumps, unflatten
from connectors._keys import key_text, key_values
from connectors.base import Record, StreamSpec, WriteResult
from connectors.rest.http import HttpClient
from connectors.rest.settings import ResourceOptions
from hub.errors import FatalConnectorError, RecordProblem


def _segment(value: str) -> str:
    """A key value as one path segment (``/`` and everything but unreserved encoded)."""
    if value in (".", ".."):
        # Any HTTP stack normalises these away (to the collection or its parent).
        raise ValueError("a key of '.' or '..' cannot name an item in a URL path")
    return quote(value, safe="")


class RecordWriter:
    """Sends one stream's records, one request each."""

    def __init__(self, client: HttpClient, system: str, stream: StreamSpec,
                 options: ResourceOptions):
        if not stream.key:
            raise FatalConnectorError(f"{system}: stream {stream.resource!r} needs a key "
                                      "to write (upsert by key)")
        self.client, self.system, self.stream, self.options = client, system, stream, options
        self.resource = stream.resource.rstrip("/")

    def _problem(self, reason: str, key: str, index: int, field: str | None = None
                 ) -> tuple[str, RecordProblem]:
        return key, RecordProblem(reason, self.system, self.stream.resource, source_key=key,
                                  location=f"{self.stream.resource}:batch record {index}",
                                  field=field)

    def item_path(self, values: dict[str, str]) -> str:
        """``item_path`` with ``{resource}``, ``{key}`` and ``{<key field>}`` filled in."""
        quoted = {k: _segment(v) for k, v in values.items()}
        try:
            return self.options.item_path.format_map(
                {"resource": self.resource, "key": _segment("|".join(values.values())),
                 **quoted})
        except (KeyError, IndexError, AttributeError) as exc:
            raise FatalConnectorError(f"{self.system}: item_path "
                                      f"{self.options.item_path!r} cannot be filled "
                                      f"({type(exc).__name__}: {exc})") from None

    def _refused(self, response: requests.Response, method: str, path: str) -> str:
        """The reason for a non-2xx answer; raise when it concerns the whole resource."""
        status = response.status_code
        if status == 404 and method == "POST":
            raise FatalConnectorError(f"{self.system}: POST {path}: HTTP 404 Not Found "
                                      "(check the resource path)")
        return f"HTTP {status} {response.reason}".strip()

    def write(self, records: list[Record]) -> WriteResult:
        key, method = self.stream.key, self.options.write_method
        result = WriteResult()
        for index, record in enumerate(records, start=1):
            name = key_text(key, record, index)
            missing = [k for k in key if record.get(k) in (None, "")]
            if missing:
                result.rejected.append(self._problem("key field is missing", name, index,
                                                     missing[0]))
                continue
            try:
                body = dumps(unflatten(record) if self.options.flatten else record)
            except (ValueError, TypeError) as exc:
                result.rejected.append(self._problem(f"cannot be sent as JSON: {exc}",
                                                     name, index))
                continue
            try:
                path = self.resource if method == "POST" else \
                    self.item_path({k: str(record[k]) for k in key})
            except ValueError as exc:
                result.rejected.append(self._problem(str(exc), name, index))
                continue
            response = self.client.request(method, path, json_body=body)
            if 200 <= response.status_code < 300:
                result.written += 1
            else:
                result.rejected.append(self._problem(self._refused(response, method, path),
                                                     name, index))
        return result

    def delete(self, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        result = WriteResult()
        for index, given in enumerate(keys, start=1):
            values = key_values(self.stream.key, given)
            try:
                path = self.item_path(dict(zip(self.stream.key, values)))
            except ValueError as exc:
                result.rejected.append(self._problem(str(exc), "|".join(values), index))
                continue
            response = self.client.request("DELETE", path)
            if 200 <= response.status_code < 300 or response.status_code in (404, 410):
                result.written += 1  # already gone is as good as deleted
            else:
                result.rejected.append(self._problem(
                    self._refused(response, "DELETE", path), "|".join(values), index))
        return result
