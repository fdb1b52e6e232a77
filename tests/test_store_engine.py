"""The store engine: connection settings, bulk rows through the driver (executemany, COPY),
one-parameter IN lists, and migration 0012 (leaner indexes, WITHOUT ROWID on SQLite)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, event, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from hub.canonical import Customer
from hub.golden.writer import writing
from hub.store import bulk, driver_rows
from hub.store.db import make_engine
from hub.store.migrate import alembic_config, upgrade
from hub.store.tables import Delivery, Xref

NOW = dt.datetime(2026, 11, 29, 23, 5, 7, 123456, tzinfo=dt.UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def as_writer() -> Iterator[None]:
    """These tests write golden rows directly (the suite's guard allows only the writer)."""
    token = writing.set(True)
    yield
    writing.reset(token)


def test_sqlite_connections_get_every_setting(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        got = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in (
            "journal_mode", "synchronous", "cache_size", "temp_store", "page_size",
            "foreign_keys", "busy_timeout", "journal_size_limit")}
    engine.dispose()
    assert got == {"journal_mode": "wal", "synchronous": 1, "cache_size": -65536,
                   "temp_store": 2, "page_size": 8192,
                   "foreign_keys": 1, "busy_timeout": 30000, "journal_size_limit": 64 << 20}


def test_an_existing_sqlite_store_keeps_its_page_size(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE t (x)")
    old.close()
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    engine.dispose()


def test_postgresql_sessions_are_utc_and_plan_for_their_values() -> None:
    from tests.services import fresh_postgres_database

    with fresh_postgres_database() as url:
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
        engine.dispose()


def _golden(golden_id: str, i: int) -> dict[str, Any]:
    return {"id": golden_id, "version": 1, "created_at": NOW, "updated_at": NOW,
            "custom": {"tier": "gold", "n": i}, "provenance": {"email": {"run": i}},
            "customer_number": f"K{i}", "kind": None, "organisation_name": None,
            "salutation": None, "first_name": "Jürgen", "last_name": "O'Brien\t\\x",
            "email": f"p{i}@example.org", "phone": None, "street": "Weg 1\nHof",
            "postal_code": "50667", "city": "Köln", "country": "DE",
            "date_of_birth": dt.date(1970, 1, 1 + i % 28), "tax_id": None,
            "vat_id": None, "status": "active", "marketing_consent": i % 2 == 0}


@pytest.mark.parametrize("count", [3, driver_rows.COPY_MIN_ROWS + 5])  # executemany, COPY
def test_bulk_inserts_store_what_sqlalchemy_would(store: Engine, as_writer: None,
                                                  count: int) -> None:
    table = bulk.table_of(Customer)
    fast = [_golden(f"C-{i}", i) for i in range(count)]
    plain = [_golden(f"S-{i}", i) for i in range(count)]
    statements: list[str] = []
    with store.begin() as conn:
        event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        bulk.insert_rows(conn, table, fast)
        conn.execute(table.insert(), plain)
    copied = any(sql.startswith("COPY") for sql in statements)
    assert copied == (store.dialect.name == "postgresql" and count >= driver_rows.COPY_MIN_ROWS)
    with store.connect() as conn:
        rows = {r.id: dict(r._mapping) for r in conn.execute(select(table))}
    assert len(rows) == 2 * count
    for i in range(count):
        a, b = rows[f"C-{i}"], rows[f"S-{i}"]
        assert {**a, "id": None} == {**b, "id": None}
    assert rows["C-1"]["custom"] == {"tier": "gold", "n": 1}
    assert rows["C-1"]["last_name"] == "O'Brien\t\\x"
    assert rows["C-1"]["created_at"] == NOW


def test_a_duplicate_key_fails_as_an_integrity_error_without_values(
        store: Engine, as_writer: None) -> None:
    rows = [_golden(f"C-{i}", i) for i in range(driver_rows.COPY_MIN_ROWS)]
    rows.append(_golden("C-7", 7))
    with pytest.raises(IntegrityError) as caught, store.begin() as conn:
        bulk.insert_rows(conn, bulk.table_of(Customer), rows)
    assert "p7@example.org" not in str(caught.value)
    with store.connect() as conn:  # nothing of the batch stayed
        assert conn.execute(select(bulk.table_of(Customer).c.id)).first() is None


def _delivery(golden_id: str, key: str, payload_hash: str) -> dict[str, Any]:
    return {"system": "crm", "stream": "people", "golden_id": golden_id, "target_key": key,
            "payload_hash": payload_hash, "run_id": 1, "delivered_at": NOW}


@pytest.mark.parametrize("extra", [0, driver_rows.COPY_MIN_ROWS])  # executemany, staged
def test_upsert_inserts_new_rows_and_updates_existing_ones(store: Engine, extra: int) -> None:
    t = bulk.table_of(Delivery)
    key = ["system", "stream", "golden_id"]
    filler = [_delivery(f"F-{i}", f"f{i}", "a") for i in range(extra)]
    with store.begin() as conn:
        bulk.upsert(conn, t, [_delivery("C-1", "k1", "a"), _delivery("C-2", "k2", "a"),
                              *filler], key)
        # A repeated key in one batch: the last row wins, as row by row.
        bulk.upsert(conn, t, [_delivery("C-2", "k2", "b"), _delivery("C-3", "k3", "b"),
                              _delivery("C-3", "k3", "c"), *filler], key)
    with store.connect() as conn:
        got = bulk.fetch_delivery_rows(conn, "crm", "people", ["C-1", "C-2", "C-3", "C-4"])
        assert conn.execute(select(func.count()).select_from(t)).scalar() == 3 + extra
    assert got == {"C-1": ("k1", "a"), "C-2": ("k2", "b"), "C-3": ("k3", "c")}


@pytest.mark.parametrize("count", [3, driver_rows.COPY_MIN_ROWS + 5])  # executemany, staged
def test_updates_by_key_change_only_their_rows(store: Engine, as_writer: None,
                                               count: int) -> None:
    table = bulk.table_of(Customer)
    with store.begin() as conn:
        bulk.insert_rows(conn, table, [_golden(f"C-{i}", i) for i in range(count + 1)])
    changed = []
    for i in range(count):
        row = _golden(f"C-{i}", i)
        row.update(version=2, city="Bonn", custom={"tier": "silver"}, marketing_consent=None,
                   updated_at=NOW + dt.timedelta(days=1))
        changed.append(row)
    statements: list[str] = []
    with store.begin() as conn:
        event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        bulk.update_goldens(conn, "customer", changed)
    staged = any(sql.startswith("COPY") for sql in statements)
    assert staged == (store.dialect.name == "postgresql" and count >= driver_rows.COPY_MIN_ROWS)
    with store.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(table))}
    for i in range(count):
        r = rows[f"C-{i}"]
        assert (r.version, r.city, r.custom, r.marketing_consent) == (
            2, "Bonn", {"tier": "silver"}, None)
        assert r.updated_at == NOW + dt.timedelta(days=1)
        assert r.created_at == NOW
    untouched = rows[f"C-{count}"]
    assert (untouched.version, untouched.city) == (1, "Köln")


def test_lookups_take_any_number_of_keys_in_one_statement(store: Engine) -> None:
    many = 2_500  # more than an IN list's old chunk of 900
    t = bulk.table_of(Delivery)
    with store.begin() as conn:
        bulk.insert_rows(conn, t, [_delivery(f"C-{i}", f"k{i % 1000}", "h")
                                   for i in range(many)])
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    wanted = [f"C-{i}" for i in range(0, many + 100, 2)]  # some not there
    with store.connect() as conn:
        event.listen(conn, "before_cursor_execute", seen)
        found = bulk.fetch_delivery_rows(conn, "crm", "people", wanted)
        few = bulk.fetch_delivery_rows(conn, "crm", "people", ["C-3", "nope"])
        holders = bulk.key_holders(conn, "crm", "people", ["k1", "k999", "k-none"])
        assert bulk.fetch_delivery_rows(conn, "crm", "people", []) == {}
    assert set(found) == {f"C-{i}" for i in range(0, many, 2)}
    assert found["C-10"] == ("k10", "h")
    assert few == {"C-3": ("k3", "h")}
    assert holders == {"k1": {"C-1", "C-1001", "C-2001"}, "k999": {"C-999", "C-1999"}}
    # One statement per look-up, and the same text whatever the number of keys.
    assert len(statements) == 3
    assert statements[0] == statements[1]


def test_lookups_by_text_and_integer_values(store: Engine, as_writer: None) -> None:
    with store.begin() as conn:
        bulk.insert_rows(conn, bulk.table_of(Customer), [_golden(f"C-{i}", i) for i in range(5)])
        bulk.insert_rows(conn, bulk.table_of(Xref), [
            {"system": "crm", "entity": "customer", "source_key": f"s{i}",
             "golden_id": f"C-{i}", "source_hash": "h", "first_run": 1, "last_run": 1,
             "updated_at": NOW, "data": None, "seen_run": None, "deleted_at": None}
            for i in range(5)])
    with store.connect() as conn:
        assert bulk.fetch_ids_by_field(conn, "customer", "customer_number",
                                       ["K1", "K4", "K9"]) == {"K1": "C-1", "K4": "C-4"}
        assert set(bulk.fetch_goldens(conn, "customer", ["C-0", "C-2"])) == {"C-0", "C-2"}
        assert bulk.fetch_xrefs(conn, "crm", "customer", ["s3", "x"]) == {"s3": ("C-3", "h")}
        x = bulk.table_of(Xref)
        ids = [r.id for r in conn.execute(select(x.c.id))]
        hit = conn.execute(select(x.c.source_key).where(bulk.among(conn, x.c.id, ids[:2])))
        assert len(hit.all()) == 2


def _run(engine: Engine, action: Any, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        action(cfg, revision)


def test_migration_0012_keeps_every_row_and_drops_the_unused_index(database_url: str) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config()).get_revision("0013_lean_indexes")
    assert script is not None and isinstance(script.down_revision, str)
    before = script.down_revision
    engine = make_engine(database_url)
    _run(engine, command.upgrade, before)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO match_key VALUES ('customer', 'v1', 'C-1'), "
                          "('customer', 'v2', 'C-1')"))
        conn.execute(text("INSERT INTO source_key VALUES ('customer', 'v1', 7)"))
        conn.execute(text("INSERT INTO delivery VALUES ('s', 't', 'C-1', 'k', 'h', 1, "
                          "'2026-01-01 00:00:00')"))
    _run(engine, command.upgrade, "0013_lean_indexes")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM match_key")).scalar() == 2
        assert conn.execute(text("SELECT xref_id FROM source_key")).scalar() == 7
        assert conn.execute(text("SELECT target_key FROM delivery")).scalar() == "k"
        indexes = {i["name"] for i in inspect(conn).get_indexes("audit_entry")}
        assert indexes == {"ix_audit_subject", "ix_audit_at"}
        assert {i["name"] for i in inspect(conn).get_indexes("source_key")} == {
            "ix_source_key_xref"}
        if engine.dialect.name == "sqlite":
            ddl: dict[str, str] = dict(conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'").all())
            for name in ("match_key", "source_key", "delivery", "outbox"):
                assert "WITHOUT ROWID" in ddl[name], name
            assert "WITHOUT ROWID" not in ddl["xref"]
    _run(engine, command.downgrade, before)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM match_key")).scalar() == 2
        assert "ix_audit_dest" in {i["name"] for i in inspect(conn).get_indexes("audit_entry")}
    engine.dispose()


def test_decimal_and_date_converters_match_sqlalchemy() -> None:
    # The SQLite converters write SQLAlchemy's text forms (reads parse them back).
    assert driver_rows._sqlite_decimal(Decimal("12.50")) == "12.50"
    assert driver_rows._sqlite_date(dt.date(2026, 1, 2)) == "2026-01-02"
    assert driver_rows._sqlite_datetime(NOW) == "2026-11-29 23:05:07.123456"
