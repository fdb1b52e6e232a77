"""Walk a resource page by page: page numbers, offsets, body cursors or Link headers.

Page/offset reads end at the first empty page or, when ``total_path`` is configured, once
the reported total has arrived; never because a page is shorter than the size asked for
(APIs cap ``per_page`` silently). A page repeating the previous one stops the read (the
API ignores the page parameter).

Only one page is in memory at a time. A page that cannot be understood stops the read
with a ``FatalConnectorError`` naming the page: guessing would risk skipping records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests

from connectors._json import get_path
from connectors.rest.http import HttpClient
from connectors.rest.settings import ResourceOptions
from hub.errors import FatalConnectorError


@dataclass
class Page:
    number: int
    records: list[Any]
    body: Any


def _decode(client: HttpClient, response: requests.Response, path: str, number: int,
            options: ResourceOptions) -> Page:
    where = f"{client.system}: GET {path} page {number}"
    status = response.status_code
    if status == 404:
        raise FatalConnectorError(f"{where}: HTTP 404 Not Found (check the resource path)")
    if not 200 <= status < 300:
        raise FatalConnectorError(f"{where}: HTTP {status} {response.reason}")
    body = client.json(response, where)
    records = get_path(body, options.records_path)
    if records is None and options.records_path and isinstance(body, dict):
        records = []  # an API may leave the list out when it is empty
    if not isinstance(records, list):
        what = f"records_path {options.records_path!r}" if options.records_path else "the body"
        raise FatalConnectorError(f"{where}: {what} is not a JSON list")
    return Page(number, records, body)


def pages(client: HttpClient, path: str, params: dict[str, Any],
          options: ResourceOptions) -> Iterator[Page]:
    """Yield every page of ``path`` in order, following the configured pagination."""
    p = options.pagination
    params = dict(params)
    size = p.page_size
    if p.style == "page":
        params[p.size_param] = size
    elif p.style in ("offset", "cursor"):
        params[p.limit_param] = size
    number, offset, url, got = 1, 0, path, 0
    seen: set[str] = set()
    previous: str | None = None
    while True:
        if p.style == "page":
            params[p.page_param] = p.first_page + number - 1
        elif p.style == "offset":
            params[p.offset_param] = offset
        response = client.request("GET", url, params=params)
        page = _decode(client, response, path, number, options)
        if p.style in ("page", "offset") and page.records:
            fingerprint = _fingerprint(page.records)
            if fingerprint == previous:  # checked before yielding: no duplicates go out
                raise FatalConnectorError(
                    f"{client.system}: GET {path} page {number} repeats page {number - 1}; "
                    f"the API ignores the {p.page_param if p.style == 'page' else p.offset_param}"
                    " parameter (pagination does not advance)")
            previous = fingerprint
        yield page
        if p.style == "none":
            return
        if p.style in ("page", "offset"):
            if not page.records:
                return
            got += len(page.records)
            offset += len(page.records)
            if _reached_total(client, path, number, page, p.total_path, got):
                return
        elif p.style == "cursor":
            token = get_path(page.body, p.cursor_path)
            if token in (None, ""):
                return
            params[p.cursor_param] = token
            _advance(client, path, number, seen, str(token))
        else:  # link: the next URL carries every parameter itself
            nxt = response.links.get("next", {}).get("url")
            if not nxt:
                return
            url = urljoin(response.url, nxt)
            client.url(url)  # refuses another origin before anything is sent there
            params = {}
            _advance(client, path, number, seen, url)
        number += 1


def _fingerprint(records: list[Any]) -> str:
    return json.dumps(records, sort_keys=True, default=str)


def _reached_total(client: HttpClient, path: str, number: int, page: Page,
                   total_path: str | None, got: int) -> bool:
    if not total_path:
        return False
    total = get_path(page.body, total_path)
    if total is None:
        return False
    try:
        count = int(total)
    except (TypeError, ValueError):
        raise FatalConnectorError(f"{client.system}: GET {path} page {number}: total_path "
                                  f"{total_path!r} is not a number") from None
    return got >= count


def _advance(client: HttpClient, path: str, number: int, seen: set[str], token: str) -> None:
    """Stop a server that hands out the same next page twice (an endless loop)."""
    if token in seen:
        raise FatalConnectorError(f"{client.system}: GET {path} page {number}: the next-page "
                                  "pointer repeats an earlier one; pagination does not advance")
    seen.add(token)
