"""Fetching an XML export over HTTP(S): streamed to a temp file, errors mapped for the runner.

The body is streamed to disk in chunks (memory stays flat for any size), then parsed from
there like a local file. So an unchanged export (same content hash as the last run's
cursor) is recognised before a single record is handed out, and a download that breaks
off half-way hands out nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from hub.errors import ConnectorError, FatalConnectorError, RetriableConnectorError

_CHUNK = 1 << 16
#: Worth another try later: request timeout, rate limit, server trouble.
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


def safe_url(url: str) -> str:
    """The url for messages: no user info, no query (it may carry a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def resource_url(base: str, resource: str) -> str:
    """The stream's url: ``resource`` relative to the configured ``url``."""
    return urljoin(base if base.endswith("/") else base + "/", resource) if resource else base


def _status_error(system: str, url: str, response: requests.Response) -> ConnectorError:
    status = response.status_code
    where = f"{system}: GET {safe_url(url)}"
    if status in (401, 403):
        return FatalConnectorError(f"{where}: the server refused the credentials "
                                   f"(HTTP {status}); check username and password")
    if status in _RETRY_STATUS:
        wait = response.headers.get("Retry-After")
        hint = f"; the server asks to retry after {wait}" if wait and len(wait) < 40 else ""
        return RetriableConnectorError(f"{where}: HTTP {status} {response.reason}{hint}")
    return FatalConnectorError(f"{where}: HTTP {status} {response.reason}")


def _request(system: str, url: str, *, auth: tuple[str, str] | None,
             timeout: float) -> requests.Response:
    try:
        # With credentials, redirects are not followed: requests would send basic auth
        # along to any other path of the same server.
        response = requests.get(url, stream=True, timeout=timeout, auth=auth,
                                allow_redirects=auth is None,
                                headers={"Accept": "application/xml, text/xml;q=0.9, */*;q=0.1"})
    except requests.Timeout:
        raise RetriableConnectorError(f"{system}: GET {safe_url(url)}: no answer within "
                                      f"{timeout:g} s (timeout)") from None
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise FatalConnectorError(f"{system}: cannot connect to {safe_url(url)} "
                                  f"({reason})") from None
    if response.is_redirect:
        response.close()
        target = urljoin(url, response.headers.get("Location", ""))
        raise FatalConnectorError(
            f"{system}: GET {safe_url(url)} redirects to {safe_url(target)}; credentials are "
            "never sent along a redirect: put the final URL in the settings")
    return response


def probe(system: str, url: str, *, auth: tuple[str, str] | None, timeout: float) -> None:
    """``check``: the server answers and accepts the credentials (a 404 on the base url
    is fine: exports often live only below it)."""
    with _request(system, url, auth=auth, timeout=timeout) as response:
        if response.status_code >= 400 and response.status_code not in (404, 405):
            raise _status_error(system, url, response)


@contextmanager
def download(system: str, url: str, *, auth: tuple[str, str] | None,
             timeout: float) -> Iterator[Path]:
    """The body of ``url`` in a temp file, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="kontor-xml-") as folder:
        target = Path(folder) / "download.xml"
        with _request(system, url, auth=auth, timeout=timeout) as response:
            if response.status_code >= 400:
                raise _status_error(system, url, response)
            try:
                with open(target, "wb") as out:
                    out.writelines(response.iter_content(_CHUNK))
            except requests.Timeout:
                raise RetriableConnectorError(f"{system}: GET {safe_url(url)}: the download "
                                              "stalled (timeout)") from None
            except requests.RequestException as exc:
                raise RetriableConnectorError(f"{system}: GET {safe_url(url)}: the download "
                                              f"broke off ({type(exc).__name__})") from None
        yield target
