"""One bound connection to a directory, with LDAP result codes turned into hub errors.

Which failures are whose: a refused bind or missing rights stop the system (Fatal); a
busy or unreachable server may answer later (Retriable); a value or object class the
server refuses concerns one entry (a ``RecordProblem``, built by the caller from
:func:`record_reason`). Server messages can quote values, so only the attribute names
they mention are kept.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from typing import Any

import ldap3
from ldap3.core import exceptions as lx

from connectors.ldap.settings import LdapSettings
from hub.errors import FatalConnectorError, RetriableConnectorError

PAGED_RESULTS = "1.2.840.113556.1.4.319"
SUCCESS, NO_SUCH_OBJECT = 0, 32
_RETRY = {3: "time limit exceeded", 51: "server busy", 52: "server unavailable",
          80: "server error"}
_FATAL = {49: "invalid credentials", 50: "insufficient access rights",
          48: "inappropriate authentication", 8: "strong authentication required",
          13: "confidentiality (TLS) required", 53: "server unwilling to perform"}
_ATTRIBUTE = re.compile(r"attribute '?([A-Za-z][\w-]*)'?|^([A-Za-z][\w-]*): value #\d")


def record_reason(result: dict[str, Any]) -> tuple[str, str | None]:
    """(reason, attribute) for a refused entry: the result name plus the attribute named."""
    match = _ATTRIBUTE.search(str(result.get("message") or ""))
    field = (match.group(1) or match.group(2)) if match else None
    return f"LDAP {result.get('description', 'error')} ({result.get('result')})", field


class Directory:
    """A lazily bound ``ldap3`` connection for one system."""

    def __init__(self, settings: LdapSettings, system: str):
        self.settings = settings
        self.system = system
        self._conn: ldap3.Connection | None = None

    @property
    def conn(self) -> ldap3.Connection:
        if self._conn is None:
            self._conn = self._bind()
        return self._conn

    @property
    def schema(self) -> Any:
        schema = self.conn.server.schema
        if schema is None:
            raise FatalConnectorError(f"{self.system}: the directory does not publish its "
                                      "schema (subschemaSubentry), which the connector needs")
        return schema

    def _bind(self) -> ldap3.Connection:
        s = self.settings
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED)
        server = ldap3.Server(s.url, get_info=ldap3.SCHEMA, connect_timeout=s.connect_timeout,
                              tls=tls)
        conn = ldap3.Connection(server, s.bind_dn, s.password.get_secret_value(),
                                receive_timeout=s.timeout, raise_exceptions=False)
        try:
            conn.open()
            if s.start_tls and not conn.start_tls():
                raise FatalConnectorError(f"{self.system}: StartTLS refused by {s.url}")
            if not conn.bind():
                result = conn.result
                conn.unbind()
                self.check_result(result, f"bind as {s.bind_dn}")
                raise FatalConnectorError(f"{self.system}: bind as {s.bind_dn}: "
                                          f"{result.get('description')} ({result.get('result')})")
        except lx.LDAPException as exc:
            conn.unbind()
            raise self.communication_error(exc, f"connect to {s.url}") from None
        return conn

    def communication_error(self, exc: Exception, action: str) -> Exception:
        if isinstance(exc, (lx.LDAPSocketOpenError, lx.LDAPSocketReceiveError,
                            lx.LDAPSessionTerminatedByServerError, lx.LDAPSocketSendError,
                            lx.LDAPCommunicationError)):
            return RetriableConnectorError(f"{self.system}: {action}: {type(exc).__name__}")
        return FatalConnectorError(f"{self.system}: {action}: {type(exc).__name__}")

    def check_result(self, result: dict[str, Any], action: str) -> None:
        """Raise for a result that concerns the whole system (not one entry)."""
        code = result.get("result")
        if code in _FATAL:
            raise FatalConnectorError(f"{self.system}: {action}: {_FATAL[code]} ({code})")
        if code in _RETRY:
            raise RetriableConnectorError(f"{self.system}: {action}: {_RETRY[code]} ({code})")

    def call(self, action: str, method: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Run one operation; return its result, raising for system-wide failures."""
        try:
            getattr(self.conn, method)(*args, **kwargs)
        except lx.LDAPInvalidValueError:
            raise  # ldap3 refused one value before sending: the caller's record problem
        except lx.LDAPException as exc:
            self.close()  # the connection is in doubt: start afresh next time
            raise self.communication_error(exc, action) from None
        result: dict[str, Any] = self.conn.result
        self.check_result(result, action)
        return result

    def paged_search(self, base: str, search_filter: str, attributes: list[str], *,
                     scope: str = ldap3.SUBTREE) -> Iterator[list[dict[str, Any]]]:
        """Yield the entries page by page (simple paged results, RFC 2696)."""
        cookie: bytes | None = None
        while True:
            result = self.call(f"search {base}", "search", base, search_filter, scope,
                               attributes=attributes, paged_size=self.settings.page_size,
                               paged_cookie=cookie)
            if result["result"] == NO_SUCH_OBJECT:
                raise FatalConnectorError(f"{self.system}: search base {base!r} not found")
            if result["result"] != SUCCESS:
                raise FatalConnectorError(f"{self.system}: search {base}: "
                                          f"{result['description']} ({result['result']})")
            yield [e for e in self.conn.response or [] if e.get("type") == "searchResEntry"]
            control = (result.get("controls") or {}).get(PAGED_RESULTS) or {}
            cookie = control.get("value", {}).get("cookie")
            if not cookie:
                return

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.unbind()
            except lx.LDAPException:
                pass  # already gone: nothing to release
            self._conn = None
