"""An HTTP client that knows what the runner should do when a call fails.

Transient trouble (timeouts, dropped connections, 408/429/5xx) is retried a bounded
number of times with exponential backoff and full jitter, waiting what ``Retry-After``
asks for; when the tries run out it becomes a ``RetriableConnectorError``. A refused
credential (401 after one token refresh, 403) is a ``FatalConnectorError``. Messages
name the system, method and path, never a response body: it may quote record values.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.auth import AuthBase

from connectors.rest.settings import Retry
from hub.errors import FatalConnectorError, RetriableConnectorError

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def retry_after(response: requests.Response) -> float | None:
    """Seconds the server asks us to wait (delta-seconds or an HTTP date), if it says."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class HttpClient:
    """One session to one API, with timeouts, retries and error translation."""

    def __init__(self, *, system: str, base_url: str, retry: Retry, timeout: tuple[float, float],
                 headers: dict[str, str] | None = None, verify: bool = True):
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.timeout = timeout
        self.auth: AuthBase | None = None
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        self.session.verify = verify

    def url(self, path: str) -> str:
        """An absolute URL for ``path``; an absolute URL must stay on the API's origin.

        Why: credentials ride along with every request, so a ``next`` link pointing at
        another host must not be followed.
        """
        if path.startswith(("http://", "https://")):
            if _origin(path) != _origin(self.base_url):
                raise FatalConnectorError(
                    f"{self.system}: refusing to follow a URL on another origin "
                    f"({urlsplit(path).netloc}); credentials stay with {self.base_url}")
            return path
        return urljoin(self.base_url + "/", path.lstrip("/"))

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json_body: bytes | None = None, content_type: str = "application/json",
                headers: dict[str, str] | None = None) -> requests.Response:
        """Send with the configured auth; return any answer but transient/credential ones."""
        url = self.url(path)
        headers = dict(headers or {})
        if json_body is not None:
            headers["Content-Type"] = content_type
        refreshed = False
        while True:
            response = self.send(method, url, auth=self.auth, params=params, data=json_body,
                                 headers=headers)
            invalidate = getattr(self.auth, "invalidate", None)
            if response.status_code == 401 and not refreshed and invalidate is not None:
                invalidate()  # an expired or revoked token: fetch a new one, once
                refreshed = True
                continue
            if response.status_code in (401, 403):
                raise FatalConnectorError(
                    f"{self.system}: {method} {urlsplit(url).path}: HTTP {response.status_code} "
                    f"{response.reason}: the credentials were refused")
            return response

    def send(self, method: str, url: str, *, auth: AuthBase | None, **kwargs: Any
             ) -> requests.Response:
        """One request, retried while the failure is transient."""
        where = f"{self.system}: {method} {urlsplit(url).path}"
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                response = self.session.request(method, url, auth=auth, timeout=self.timeout,
                                                allow_redirects=False, **kwargs)
            except requests.exceptions.SSLError:
                raise FatalConnectorError(f"{where}: TLS handshake failed") from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                if last:
                    raise RetriableConnectorError(
                        f"{where}: {type(exc).__name__} after {attempt} tries") from None
                self._pause(attempt, None, where)
                continue
            except requests.RequestException as exc:
                raise FatalConnectorError(f"{where}: {type(exc).__name__}") from None
            if response.status_code not in RETRY_STATUS:
                return response
            wait = retry_after(response)
            response.close()
            if last:
                raise RetriableConnectorError(
                    f"{where}: HTTP {response.status_code} {response.reason} after "
                    f"{attempt} tries")
            self._pause(attempt, wait, where)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _pause(self, attempt: int, asked: float | None, where: str) -> None:
        if asked is not None:
            if asked > self.retry.max_retry_after:
                raise RetriableConnectorError(
                    f"{where}: the server asks to retry after {asked:.0f} s")
            time.sleep(asked)
            return
        ceiling = min(self.retry.max_backoff, self.retry.backoff * 2 ** (attempt - 1))
        time.sleep(random.uniform(0, ceiling))  # full jitter spreads a crowd of clients

    def close(self) -> None:
        self.session.close()
