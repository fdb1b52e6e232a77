"""Drivers are extras (pyproject.toml): a user without one gets one line naming the extra.

A missing package is simulated in-process: ``sys.modules[name] = None`` makes every
``import name`` raise ImportError (ModuleNotFoundError) exactly as an uninstalled package
does, and monkeypatch puts the real module back afterwards.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import connectors
from connectors.sql import SqlConnector, SqlSettings
from hub import registry
from hub.cli.main import app
from hub.errors import FatalConnectorError, StoreError
from hub.store.db import make_engine

runner = CliRunner()
POSTGRES_STORE = "postgresql://kontor@db.example.org/kontor"  # never reached: no driver
NEEDS_POSTGRES = ("the PostgreSQL master store (postgresql+psycopg://kontor@db.example.org/"
                  "kontor) needs the postgres extra: pip install 'kontor[postgres]'")


def _uninstall(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Simulate a package that is not installed (see the module docstring)."""
    monkeypatch.setitem(sys.modules, name, None)


def test_the_postgres_store_without_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    _uninstall(monkeypatch, "psycopg")
    with pytest.raises(StoreError) as caught:
        make_engine(POSTGRES_STORE)
    assert str(caught.value) == NEEDS_POSTGRES
    make_engine("sqlite://").dispose()  # the default store needs no extra


@pytest.mark.parametrize("command", [["check"], ["sync"], ["serve"]])
def test_check_sync_and_serve_name_the_postgres_extra(
        command: list[str], starter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _uninstall(monkeypatch, "psycopg")
    monkeypatch.setenv("KONTOR_DATABASE_URL", POSTGRES_STORE)
    result = runner.invoke(app, ["--config", str(starter), *command])
    assert result.exit_code == 1, result.output
    assert NEEDS_POSTGRES in " ".join(result.output.split())  # Rich may wrap the line
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("url", "module", "extra"), [
    ("mysql://root@127.0.0.1:3306/test", "pymysql", "mysql"),
    ("mariadb+pymysql://root@127.0.0.1:3306/test", "pymysql", "mysql"),
    ("postgresql://app@127.0.0.1/crm", "psycopg", "postgres"),
])
def test_the_sql_connector_without_its_driver(url: str, module: str, extra: str,
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _uninstall(monkeypatch, module)
    connector = SqlConnector(SqlSettings(url=url), system="billing", base_dir=tmp_path)
    with pytest.raises(FatalConnectorError) as caught:
        connector.check()
    message = str(caught.value)
    assert message.startswith("billing: the database ")
    assert message.endswith(f"needs the {extra} extra: pip install 'kontor[{extra}]'")


def test_a_driverless_sql_url_gets_the_driver_of_its_extra(tmp_path: Path) -> None:
    for url, driver in [("mysql://root@h/db", "pymysql"), ("mariadb://root@h/db", "pymysql"),
                        ("postgresql://app@h/db", "psycopg")]:
        connector = SqlConnector(SqlSettings(url=url), system="s", base_dir=tmp_path)
        assert connector.engine.dialect.driver == driver, url
        connector.close()


@pytest.fixture
def without_ldap3(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The connectors as an install without the ldap extra finds them."""
    _uninstall(monkeypatch, "ldap3")
    for name in [n for n in sys.modules if n == "connectors.ldap" or
                 n.startswith("connectors.ldap.")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, then put back
    monkeypatch.delattr(connectors, "ldap", raising=False)  # put back afterwards
    registry._load.cache_clear()
    yield
    registry._load.cache_clear()


LDAP_SYSTEM = """
  directory:
    connector: ldap
    settings:
      url: ldap://ldap.example.org
      base_dn: ou=people,dc=example,dc=org
      bind_dn: cn=kontor,dc=example,dc=org
      password: ${env:LDAP_PASSWORD}
    streams:
      people:
        entity: customer
        direction: inbound
        resource: people
        key: [id]
        mapping: mappings/shop_customer.yaml
"""
NEEDS_LDAP = "directory: the LDAP connector needs the ldap extra: pip install 'kontor[ldap]'"


def test_an_ldap_system_without_ldap3(without_ldap3: None, starter: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDAP_PASSWORD", "not-used")
    text = starter.read_text(encoding="utf-8")
    starter.write_text(text.replace("\nsystems:\n", "\nsystems:" + LDAP_SYSTEM, 1),
                       encoding="utf-8")
    assert registry.connectors()["ldap"].__module__ == "connectors.ldap.unavailable"
    assert not registry.broken_connectors()  # no "failed to load" warning on every command

    check = runner.invoke(app, ["--config", str(starter), "check"])
    assert check.exit_code == 1
    assert f"systems.directory: connection failed: {NEEDS_LDAP}" in \
        " ".join(check.output.split())

    sync = runner.invoke(app, ["--config", str(starter), "sync", "--json"])
    assert sync.exit_code == 1, sync.output
    streams = json.loads(sync.stdout)["streams"]
    failed = [s for s in streams if s.get("error")]
    assert [s["error"] for s in failed] == [NEEDS_LDAP]
    assert "Traceback" not in sync.output
