"""The LDAP connector passes the conformance kit against the real slapd of tests/ldap_server.

Left out on purpose: the incremental checks. They seed records with cursor values of
their choosing, but ``modifyTimestamp`` is stamped by the server, and the connector reads
``>=`` the last cursor (LDAP filters have no ``>``; one-second resolution), so the
entries of the cursor's own second come again by design. tests/connectors/test_ldap.py
covers incremental reads against the same server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest

from connectors.base import Capability, Record, StreamSpec
from connectors.ldap import LdapConnector
from connectors.ldap.dn import rdn
from hub.testing import ConnectorConformance, Harness
from tests.ldap_server import Slapd, slapd_fixture  # noqa: F401 - the session fixture

KEY = "employeeNumber"


class LdapHarness(Harness):
    """One ``ou=`` per check, seeded and inspected with ldap3 directly."""

    connector_class = LdapConnector
    capabilities = frozenset({Capability.READ, Capability.WRITE, Capability.DELETE,
                              Capability.DISCOVER})
    key_field = KEY
    text_fields = ("cn", "description")
    null_distinct = False  # LDAP has no empty values: absent is all it can hold
    detects_unchanged = False
    can_reject = True  # an inetOrgPerson without sn violates its object class

    def __init__(self, slapd: Slapd, base_dir: Path):
        super().__init__(base_dir)
        self.slapd = slapd
        self.unit = f"ou=kit{uuid.uuid4().hex[:10]}"
        self.container = f"{self.unit},{slapd.base_dn}"
        self.conn = ldap3.Connection(slapd.url, slapd.root_dn, slapd.password, auto_bind=True)
        self.conn.add(self.container, ["organizationalUnit"], {"ou": self.unit[3:]})

    def settings(self) -> dict[str, Any]:
        return {"url": self.slapd.url, "bind_dn": self.slapd.root_dn,
                "password": self.slapd.password, "base_dn": self.slapd.base_dn,
                "attributes": ["cn", "sn", "description"]}

    def bad_settings(self) -> dict[str, Any]:
        return {**self.settings(), "password": "not-the-password"}

    def invalid_settings(self) -> list[dict[str, Any]]:
        return [{**self.settings(), "url": "http://127.0.0.1"},
                {**self.settings(), "page_size": 0}]

    def stream(self, *, incremental: bool = False) -> StreamSpec:
        return StreamSpec(self.unit, (KEY,))

    def record(self, key: str, name: str | None, note: str | None,
               cursor: Any = None) -> Record:
        return {**super().record(key, name, note, cursor), "sn": "Kit"}

    def _entries(self) -> list[tuple[str, dict[str, list[bytes]]]]:
        self.conn.search(self.container, "(objectClass=inetOrgPerson)",
                         attributes=[KEY, "cn", "sn", "description"])
        return [(e["dn"], e["raw_attributes"]) for e in self.conn.response]

    def seed(self, records: list[Record]) -> None:
        for dn, _ in self._entries():
            self.conn.delete(dn)
        for r in records:
            values = {k: [v] for k, v in r.items() if v not in (None, "")}
            assert self.conn.add(f"{rdn(KEY, r[KEY])},{self.container}", ["inetOrgPerson"],
                                 values), self.conn.result

    def contents(self) -> list[Record]:
        return [{k: v[0].decode() for k, v in raw.items() if v} for _, raw in self._entries()]

    def rejected_record(self, key: str) -> Record:
        return {KEY: key, "cn": "kontor-private-name", "description": "kontor-private-note"}

    def close(self) -> None:
        for dn, _ in self._entries():
            self.conn.delete(dn)
        self.conn.delete(self.container)
        self.conn.unbind()


class TestLdapConformance(ConnectorConformance):
    harness = LdapHarness

    @pytest.fixture
    def kontor_harness(self, slapd: Slapd, tmp_path: Path) -> Iterator[LdapHarness]:
        harness = LdapHarness(slapd, tmp_path)
        try:
            yield harness
        finally:
            harness.close()
