"""An HTTP client that knows what the runner should do when a call fails.

Transient trouble (timeouts, dropped connections, 408/429/5xx) is retried a bounded
number of times by :func:`connectors.rest.retry.retrying` (tenacity: exponential backoff,
full jitter, ``Retry-After`` honoured up to a limit); when the tries run out it becomes a
``RetriableConnectorError``.

Non-idempotent requests (POST, PATCH) are repeated only when they provably never reached
the server (connection refused, name not resolved, connect timeout) or the server said it
did not take them (408, 429); after a read timeout, a dropped answer or a 5xx they fail at
once with a ``RetriableConnectorError``, so a create is never sent twice by us. An API
that deduplicates by ``Idempotency-Key`` (``idempotency_key_header``) gets one key per
logical write, the same on every try, and then those writes are repeated like a PUT.

Credentials go only under the base URL: redirects are never followed, and a next link or
redirect elsewhere is refused by name. A refused credential (401 after one token refresh,
403) is a ``FatalConnectorError``. Messages name the system, method and path, never a
response body: it may quote record values.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
from requests.auth import AuthBase
from urllib3.exceptions import NewConnectionError

from connectors.rest.retry import Transient, retry_after, retrying
from connectors.rest.settings import Retry
from hub.errors import FatalConnectorError, RetriableConnectorError

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Answers saying the request was not taken at all: safe to repeat for any method.
NOT_TAKEN = frozenset({408, 429})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Methods that get an Idempotency-Key when the API supports one.
KEYED = frozenset({"POST", "PATCH"})
_DEFAULT_PORT = {"http": 80, "https": 443}
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,40}/[A-Za-z0-9!#$&^_.+-]{1,60}")

__all__ = ["RETRY_STATUS", "HttpClient", "body_summary", "outside", "retry_after"]


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


def outside(base_url: str, url: str) -> str:
    """Why ``url`` is not under ``base_url`` (same scheme, host, port and path prefix,
    no dot segments), ready for a message; ``""`` when it is under it."""
    scheme, host, port, path = _scope(url)
    base = _scope(base_url)
    where = _where(scheme, host, port, path)
    sent_only = f"credentials are sent only under {_where(*base)}"
    if (scheme, host, port) != base[:3]:
        return f"on another origin ({where}); {sent_only}"
    prefix = base[3].rstrip("/")
    segments = unquote(path).split("/")
    if (prefix and path != prefix and not path.startswith(prefix + "/")) \
            or ".." in segments or "." in segments:
        return f"outside the base path ({where}); {sent_only}"
    return ""


def body_summary(response: requests.Response) -> str:
    """What a body is without quoting it: media type and size (``text/html, 312 bytes``)."""
    media = response.headers.get("Content-Type", "").split(";")[0].strip()
    if not _MEDIA_TYPE.fullmatch(media):
        media = "no usable Content-Type" if not media else "an odd Content-Type"
    return f"{media.lower()}, {len(response.content)} bytes"


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
                 headers: dict[str, str] | None = None, verify: bool = True,
                 idempotency_key_header: str | None = None):
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.timeout = timeout
        self.idempotency_key_header = idempotency_key_header
        self.auth: AuthBase | None = None
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        self.session.verify = verify
        self._own_headers = tuple(headers or ())  # configured: may carry a tenant secret
        #: How retries wait; tests put a recorder here instead of sleeping.
        self.sleep: Callable[[float], None] = time.sleep

    def url(self, path: str) -> str:
        """An absolute URL for ``path``; an absolute URL must stay under the base URL.

        Why: credentials ride along with every request, so a ``next`` link is followed only
        when its scheme, host, port and path prefix are the configured base URL's.
        """
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = urljoin(self.base_url + "/", path.lstrip("/"))
        problem = self._outside(url)
        if problem:
            raise FatalConnectorError(f"{self.system}: refusing to follow a URL {problem}")
        return url

    def configured_url(self, url: str) -> str:
        """A URL from the settings (the token endpoint): relative ones under the base URL,
        absolute ones as configured, on whatever origin the administrator chose."""
        if url.startswith(("http://", "https://")):
            return url
        return urljoin(self.base_url + "/", url.lstrip("/"))

    def _outside(self, url: str) -> str:
        return outside(self.base_url, url)

    def _same_origin(self, url: str) -> bool:
        return _scope(url)[:3] == _scope(self.base_url)[:3]

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json_body: bytes | None = None, content_type: str = "application/json",
                headers: dict[str, str] | None = None) -> requests.Response:
        """Send with the configured auth; return any answer but transient, redirect and
        credential ones (those raise)."""
        url = self.url(path)
        headers = dict(headers or {})
        if json_body is not None:
            headers["Content-Type"] = content_type
        key_header = self.idempotency_key_header
        keyed = key_header is not None and method.upper() in KEYED
        if key_header and keyed:
            # One key per logical write, kept for every try: the server answers a repeat
            # with the first outcome instead of acting twice.
            headers[key_header] = str(uuid.uuid4())
        refreshed = False
        while True:
            response = self.send(method, url, auth=self.auth, params=params, data=json_body,
                                 headers=headers, keyed=keyed)
            invalidate = getattr(self.auth, "invalidate", None)
            if response.status_code == 401 and not refreshed and invalidate is not None:
                invalidate()  # an expired or revoked token: fetch a new one, once
                refreshed = True
                continue
            where = f"{self.system}: {method} {urlsplit(url).path}"
            if response.status_code in (401, 403):
                raise FatalConnectorError(f"{where}: HTTP {response.status_code} "
                                          f"{response.reason}: the credentials were refused")
            if 300 <= response.status_code < 400:
                raise FatalConnectorError(f"{where}: {self._redirect(response)}")
            return response

    def _redirect(self, response: requests.Response) -> str:
        """Why a redirect is not followed, and where it pointed (no query: it may hold a
        token). Following it would resend the credentials, so it is always refused."""
        status = f"HTTP {response.status_code} redirect"
        location = response.headers.get("Location", "").strip()
        if not location:
            return f"{status} without a Location (redirects are not followed)"
        target = urljoin(response.url, location)
        problem = self._outside(target)
        if problem:
            return f"{status} {problem}; not followed"
        return (f"{status} to {_where(*_scope(target))}: not followed (the credentials would "
                "go along); put the final URL in base_url or the resource path")

    def json(self, response: requests.Response, where: str) -> Any:
        """The JSON body of a successful answer, or a plain error naming what came instead
        (an HTML error page, a login form) without quoting it."""
        try:
            return response.json()
        except ValueError:
            raise FatalConnectorError(f"{where}: the answer is not JSON "
                                      f"({body_summary(response)})") from None

    def send(self, method: str, url: str, *, auth: AuthBase | None,
             idempotent: bool | None = None, keyed: bool = False,
             **kwargs: Any) -> requests.Response:
        """One request, retried while the failure is transient and repeating it is safe.

        ``idempotent`` defaults by method (GET, PUT, DELETE: yes; POST, PATCH: no);
        ``keyed`` says an Idempotency-Key rides along, so the server dedupes repeats.
        """
        where = f"{self.system}: {method} {urlsplit(url).path}"
        repeatable = keyed or (method.upper() in IDEMPOTENT if idempotent is None
                               else idempotent)
        if not self._same_origin(url):  # a token endpoint elsewhere: no configured headers
            kwargs["headers"] = {**{h: None for h in self._own_headers},
                                 **(kwargs.get("headers") or {})}
        tries = 0

        def ambiguous(what: str) -> RetriableConnectorError:
            return RetriableConnectorError(
                f"{where}: {what}; the request may have reached the server, so it is not "
                f"repeated now ({method} is not idempotent and carries no idempotency key): "
                "the hub retries it later")

        def attempt() -> requests.Response:
            nonlocal tries
            tries += 1
            try:
                response = self.session.request(method, url, auth=auth, timeout=self.timeout,
                                                allow_redirects=False, **kwargs)
            except requests.exceptions.SSLError:
                raise FatalConnectorError(f"{where}: TLS handshake failed") from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                if repeatable or _never_sent(exc):
                    raise Transient(type(exc).__name__) from None
                raise ambiguous(type(exc).__name__) from None
            except requests.RequestException as exc:
                raise FatalConnectorError(f"{where}: {type(exc).__name__}") from None
            status = response.status_code
            if keyed and status == 409 and tries > 1:
                # draft-ietf-httpapi-idempotency-key-header: our earlier try with this key
                # is still being processed; its outcome is what the next try gets.
                response.close()
                raise Transient("HTTP 409 Conflict (an earlier try is still in progress)")
            if status not in RETRY_STATUS:
                return response
            wait = retry_after(response)
            response.close()
            reason = f"HTTP {status} {response.reason}".strip()
            if not repeatable and status not in NOT_TAKEN:
                raise ambiguous(reason)
            raise Transient(reason, wait)

        return retrying(attempt, self.retry, where, sleep=self.sleep)

    def close(self) -> None:
        self.session.close()
