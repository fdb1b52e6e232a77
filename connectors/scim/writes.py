"""Idempotent upserts and deletes of SCIM resources, found by their key field.

Existing resources are looked up with one ``or`` filter per chunk of keys. A record is
merged into its resource; when nothing changes nothing is sent (so ``meta.lastModified``
stays put), else PUT (with If-Match when the server versions resources, so a change made
meanwhile by someone else is never overwritten) or PATCH with just the changed
attributes. Refusals become per-record problems with status and ``scimType``, never the
server's ``detail``: it may quote values.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import requests

from connectors._json import dumps
from connectors._keys import key_text, key_values
from connectors.base import Record, StreamSpec, WriteResult
from connectors.rest.http import HttpClient
from connectors.scim.paths import CORE_USER, apply, filter_path, to_record
from connectors.scim.settings import ScimSettings
from hub.errors import FatalConnectorError, RecordProblem

SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LOOKUP_CHUNK = 20  # keys per filter: keeps the URL short
_KEYWORD = re.compile(r"[A-Za-z]{1,40}")


def scim_type(response: requests.Response) -> str:
    """The error's ``scimType`` keyword (e.g. uniqueness), if the body has a sane one."""
    try:
        value = response.json().get("scimType")
    except (ValueError, AttributeError):
        return ""
    return f" ({value})" if isinstance(value, str) and _KEYWORD.fullmatch(value) else ""


class ScimWriter:
    def __init__(self, client: HttpClient, settings: ScimSettings, system: str,
                 stream: StreamSpec):
        if len(stream.key) != 1:
            raise FatalConnectorError(f"{system}: stream {stream.resource!r} needs exactly one "
                                      "key field (e.g. externalId or userName)")
        self.client, self.settings, self.system, self.stream = client, settings, system, stream
        self.key = stream.key[0]
        self.path = "/" + stream.resource.strip("/")
        self.result = WriteResult()

    def _reject(self, reason: str, key: str, index: int, field: str | None = None) -> None:
        self.result.rejected.append((key, RecordProblem(
            reason, self.system, self.stream.resource, source_key=key,
            location=f"{self.stream.resource}:batch record {index}", field=field)))

    def _answer(self, response: requests.Response, key: str, index: int) -> bool:
        status = response.status_code
        if 200 <= status < 300:
            return True
        if status == 404 and response.request.method == "POST":
            raise FatalConnectorError(f"{self.system}: POST {self.path}: HTTP 404 Not Found "
                                      "(check the resource endpoint)")
        reason = f"HTTP {status} {response.reason}{scim_type(response)}"
        if status == 412:
            reason += ": changed on the server meanwhile; sent again next run"
        self._reject(reason, key, index)
        return False

    def lookup(self, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Existing resources by key value."""
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        path = filter_path(self.key)
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start:start + LOOKUP_CHUNK]
            query = " or ".join(f"{path} eq {json.dumps(k)}" for k in chunk)
            for resource in self._matches(query, len(chunk) * 2):
                value = to_record(resource).get(self.key)
                if value is not None:
                    found[str(value)].append(resource)
        return found

    def _matches(self, query: str, count: int) -> list[dict[str, Any]]:
        """Every resource the filter matches, over as many pages as the server needs: it
        may return fewer than ``count`` (RFC 7644 §3.4.2.4), and a match left unseen would
        be created a second time."""
        where = f"{self.system}: GET {self.path} with a filter on {self.key}"
        matches: list[dict[str, Any]] = []
        while True:
            response = self.client.request("GET", self.path, params={
                "filter": query, "count": count, "startIndex": len(matches) + 1})
            if response.status_code != 200:
                raise FatalConnectorError(f"{where}: HTTP {response.status_code} "
                                          f"{response.reason}{scim_type(response)}")
            page = self.client.json(response, where)
            listed = page.get("Resources") or [] if isinstance(page, dict) else None
            if not isinstance(listed, list) or not all(isinstance(r, dict) for r in listed):
                raise FatalConnectorError(f"{where}: the answer is not a SCIM ListResponse")
            matches += listed
            total = page.get("totalResults")
            if not listed or not isinstance(total, int) or len(matches) >= total:
                return matches

    def write(self, records: list[Record]) -> WriteResult:
        rows = []
        for index, record in enumerate(records, start=1):
            value = record.get(self.key)
            if value in (None, ""):
                self._reject("key field is missing", key_text((self.key,), record, index),
                             index, self.key)
            else:
                rows.append((index, str(value), record))
        found = self.lookup(list(dict.fromkeys(k for _, k, _ in rows)))
        for index, key, record in rows:
            existing = found.get(key) or _ignoring_case(found, key)
            if len(existing) > 1:
                self._reject(f"{len(existing)} resources have this key", key, index, self.key)
            elif existing:
                self._update(existing[0], record, key, index)
            else:
                new = apply({"schemas": [CORE_USER]}, record)
                response = self.client.request("POST", self.path, json_body=dumps(new),
                                               content_type=SCIM_JSON)
                if self._answer(response, key, index):
                    self.result.written += 1
                    found[key] = _created(response)  # the same key later in this batch
        return self.result

    def _update(self, current: dict[str, Any], record: Record, key: str, index: int) -> None:
        wanted = apply(current, record)
        if wanted == current:
            self.result.written += 1  # already as wanted: nothing sent
            return
        item = f"{self.path}/{quote(str(current['id']), safe='')}"
        if self.settings.write_mode == "patch":
            body = {"schemas": [PATCH_OP], "Operations": _operations(current, wanted)}
            response = self.client.request("PATCH", item, json_body=dumps(body),
                                           content_type=SCIM_JSON)
        else:
            version = (current.get("meta") or {}).get("version")
            body = {k: v for k, v in wanted.items() if k != "meta"}
            response = self.client.request(
                "PUT", item, json_body=dumps(body), content_type=SCIM_JSON,
                headers={"If-Match": version} if version else None)
        if self._answer(response, key, index):
            self.result.written += 1

    def delete(self, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        wanted = [key_values(self.stream.key, k)[0] for k in keys]
        found = self.lookup(list(dict.fromkeys(wanted)))
        for index, key in enumerate(wanted, start=1):
            ok = True
            for resource in found.pop(key, []):
                item = f"{self.path}/{quote(str(resource['id']), safe='')}"
                response = self.client.request("DELETE", item)
                if response.status_code != 404:  # already gone is as good as deleted
                    ok = self._answer(response, key, index) and ok
            self.result.written += ok
        return self.result


def _ignoring_case(found: dict[str, list[dict[str, Any]]], key: str
                   ) -> list[dict[str, Any]]:
    """Matches that differ only in case (userName is case-insensitive in SCIM)."""
    folded = key.casefold()
    return [r for k, rs in found.items() if k.casefold() == folded for r in rs]


def _created(response: requests.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    return [body] if isinstance(body, dict) and body.get("id") else []


def _operations(current: dict[str, Any], wanted: dict[str, Any]) -> list[dict[str, Any]]:
    """PATCH operations turning ``current`` into ``wanted``, attribute by attribute."""
    ops: list[dict[str, Any]] = []
    for name in sorted(set(current) | set(wanted) - {"meta", "schemas", "id"}):
        if name in ("meta", "schemas", "id"):
            continue
        old, new = current.get(name), wanted.get(name)
        if name.startswith("urn:") and isinstance(new, dict):
            old = old if isinstance(old, dict) else {}
            for attr in sorted(set(old) | set(new)):
                if old.get(attr) != new.get(attr):
                    ops.append(_op(f"{name}:{attr}", new.get(attr)))
        elif old != new:
            ops.append(_op(name, new))
    return ops


def _op(path: str, value: Any) -> dict[str, Any]:
    return {"op": "remove", "path": path} if value is None else \
        {"op": "replace", "path": path, "value": value}
