"""An HTTP client that knows what the runner should do when a call fails.

Transient trouble (timeouts, dropped connections, 408/429/5xx) is retried a bounded
number of times by :func:`connectors.rest.retry.retrying` (exponential backoff, full
jitter, ``Retry-After`` honoured); when the tries run out it becomes a
``RetriableConnectorError``. Non-idempotent requests (POST, PATCH) are repeated only when
they provably never reached the server (connection refused, connect timeout) or the server
said it did not take them (408, 429); after a read timeout, a dropped answer or a 5xx they
fail at once with a ``RetriableConnectorError``, so a create is never sent twice by us.
A refused credential (401 after one token refresh, 403) is a ``FatalConnectorError``.
Messages name the system, method and path, never a response body: it may quote record
values.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
from requests.auth import AuthBase
from urllib3.exceptions import NewConnectionError

from connectors.rest.retry import TryAgain, retry_after, retrying
from connectors.rest.settings import Retry
from hub.errors import FatalConnectorError, RetriableConnectorError

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Answers saying the request was not taken at all: safe to repeat for any method.
NOT_TAKEN = frozenset({408, 429})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_DEFAULT_PORT = {"http": 80, "https": 443}

__all__ = ["RETRY_STATUS", "HttpClient", "retry_after"]


def _scope(url: str) -> tuple[str, str, int | None, str]:
    """Scheme, host, port (default filled in) and path of ``url``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORT.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port, parts.path


def _where(scheme: str, host: str, port: int | None, path: str) -> str:
    """``scheme://host:port/path`` without userinfo or query (they may hold secrets)."""
    return f"{scheme}://{host}{f':{port}' if port else ''}{path}"


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request provably did not reach the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, NewConnectionError):  # refused, unreachable, name unknown
            return True
        todo += [a for a in err.args if isinstance(a, BaseException)]
        reason = getattr(err, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        for linked in (err.__cause__, err.__context__):
            if linked is not None:
                todo.append(linked)
    return False


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

    def url(self, path: str, *, under_base: bool = True) -> str:
        """An absolute URL for ``path``; an absolute URL must stay under the base URL.

        Why: credentials ride along with every request, so a ``next`` link is followed only
        when its scheme, host, port and path prefix are the configured base URL's.
        ``under_base=False`` (a configured URL such as the token endpoint) checks only the
        origin.
        """
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = urljoin(self.base_url + "/", path.lstrip("/"))
        self._check_scope(url, under_base)
        return url

    def _check_scope(self, url: str, under_base: bool = True) -> None:
        scheme, host, port, path = _scope(url)
        base = _scope(self.base_url)
        where = _where(scheme, host, port, path)
        if (scheme, host, port) != base[:3]:
            raise FatalConnectorError(
                f"{self.system}: refusing to follow a URL on another origin ({where}); "
                f"credentials are sent only under {_where(*base)}")
        if not under_base:
            return
        prefix = base[3].rstrip("/")
        segments = unquote(path).split("/")
        if (prefix and path != prefix and not path.startswith(prefix + "/")) \
                or ".." in segments or "." in segments:
            raise FatalConnectorError(
                f"{self.system}: refusing to follow a URL outside the base path ({where}); "
                f"credentials are sent only under {_where(*base)}")

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

    def send(self, method: str, url: str, *, auth: AuthBase | None,
             idempotent: bool | None = None, **kwargs: Any) -> requests.Response:
        """One request, retried while the failure is transient and repeating it is safe.

        ``idempotent`` defaults by method (GET, PUT, DELETE: yes; POST, PATCH: no).
        """
        where = f"{self.system}: {method} {urlsplit(url).path}"
        repeatable = method.upper() in IDEMPOTENT if idempotent is None else idempotent

        def ambiguous(what: str) -> RetriableConnectorError:
            return RetriableConnectorError(
                f"{where}: {what}; the request may have reached the server, so it is not "
                f"repeated now ({method} is not idempotent): the hub retries it later, after "
                "it can check what the target holds")

        def attempt(n: int) -> requests.Response:
            try:
                response = self.session.request(method, url, auth=auth, timeout=self.timeout,
                                                allow_redirects=False, **kwargs)
            except requests.exceptions.SSLError:
                raise FatalConnectorError(f"{where}: TLS handshake failed") from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                if repeatable or _never_sent(exc):
                    raise TryAgain(type(exc).__name__) from None
                raise ambiguous(type(exc).__name__) from None
            except requests.RequestException as exc:
                raise FatalConnectorError(f"{where}: {type(exc).__name__}") from None
            status = response.status_code
            if status not in RETRY_STATUS:
                return response
            wait = retry_after(response) if status in (429, 503) else None
            response.close()
            reason = f"HTTP {status} {response.reason}".strip()
            if not repeatable and status not in NOT_TAKEN:
                raise ambiguous(reason)
            raise TryAgain(reason, wait)

        return retrying(attempt, self.retry, where)

    def close(self) -> None:
        self.session.close()
