"""Walk a resource page by page: page numbers, offsets, body cursors or Link headers.

Only one page is in memory at a time. A page that cannot be understood stops the read
with a ``FatalConnectorError`` naming the page: guessing would risk skipping records.
"""

from __future__ import annotations

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
    if 300 <= status < 400:
        raise FatalConnectorError(f"{where}: HTTP {status} redirect (redirects are not "
                                  "followed; use the final URL in base_url)")
    if status >= 300 or status < 200:
        raise FatalConnectorError(f"{where}: HTTP {status} {response.reason}")
    try:
        body = response.json()
    except ValueError:
        raise FatalConnectorError(f"{where}: the answer is not JSON") from None
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
    number, offset, url = 1, 0, path
    seen: set[str] = set()
    while True:
        if p.style == "page":
            params[p.page_param] = p.first_page + number - 1
        elif p.style == "offset":
            params[p.offset_param] = offset
        response = client.request("GET", url, params=params)
        page = _decode(client, response, path, number, options)
        yield page
        if p.style == "none":
            return
        if p.style in ("page", "offset"):
            if len(page.records) < size:
                return
            offset += len(page.records)
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


def _advance(client: HttpClient, path: str, number: int, seen: set[str], token: str) -> None:
    """Stop a server that hands out the same next page twice (an endless loop)."""
    if token in seen:
        raise FatalConnectorError(f"{client.system}: GET {path} page {number}: the next-page "
                                  "pointer repeats an earlier one; pagination does not advance")
    seen.add(token)
