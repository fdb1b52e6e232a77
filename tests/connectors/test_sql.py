"""The SQL connector against real SQLite, PostgreSQL and MariaDB (no mocks)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import traceback
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr, ValidationError
from sqlalchemy.dialects import mysql

from connectors.base import Connector, Record, StreamSpec
from connectors.sql import SqlConnector, SqlSettings
from hub.errors import FatalConnectorError, RetriableConnectorError

if TYPE_CHECKING:
    from conftest import Database  # the fixture's type; pytest provides the value

MakeTable = Callable[..., sa.Table]
T0 = dt.datetime(2024, 3, 1, 9, 0, 0)
LONG = "Ω" + "x" * 100_000  # 100 KB: beyond MySQL TEXT's 64 KB, so MEDIUMTEXT is needed


def people(make_table: MakeTable) -> sa.Table:
    return make_table(
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("code", sa.String(5), nullable=True),
        sa.Column("notes", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")),
        sa.Column("updated_at", sa.DateTime, nullable=True),
        sa.Column("amount", sa.Numeric(10, 2), nullable=True),
    )


def connector(db: Database, **settings: Any) -> SqlConnector:
    return SqlConnector(SqlSettings(url=db.url, **settings), system="billing",
                        base_dir=db.base_dir)


def read_all(conn: Connector, spec: StreamSpec, **kw: Any) -> list[dict[str, Any]]:
    return [r.data for b in conn.read(spec, **kw) for r in b.records]


RECORDS: list[Record] = [
    {"id": "1", "name": "Zoë Ødegård", "email": None, "notes": LONG,
     "updated_at": T0, "amount": Decimal("12.50")},
    {"id": "2", "name": "王小明", "email": "", "notes": "🎉 party", "updated_at": T0,
     "amount": None},
    {"id": "3", "name": "Müller-Lüdenscheid", "email": "m@example.org", "notes": None,
     "updated_at": T0, "amount": Decimal("0.01")},
]


def test_round_trip_is_exact_and_rewrite_idempotent(database: Database,
                                                    make_table: MakeTable) -> None:
    table = people(make_table)
    spec = StreamSpec(table.name, ("id",))
    with connector(database) as conn:
        assert conn.write(spec, RECORDS).written == 3
        first = read_all(conn, spec)
        second_result = conn.write(spec, RECORDS)  # the same batch again
        second = read_all(conn, spec)
    assert second_result.written == 3 and not second_result.rejected
    assert first == second  # nothing changed, no duplicate rows
    assert [r["id"] for r in first] == ["1", "2", "3"]
    for sent, got in zip(RECORDS, first):
        assert {k: got[k] for k in sent} == sent  # unicode, emoji, 100 KB, Decimal, datetime
    assert first[0]["email"] is None and first[1]["email"] == ""  # None and "" kept apart


def test_partial_record_updates_only_its_columns(database: Database,
                                                 make_table: MakeTable) -> None:
    table = people(make_table)
    spec = StreamSpec(table.name, ("id",))
    with connector(database) as conn:
        conn.write(spec, RECORDS)
        result = conn.write(spec, [{"id": "3", "name": "Renamed"}])
        rows = {r["id"]: r for r in read_all(conn, spec)}
    assert result.written == 1 and rows["3"]["name"] == "Renamed"
    assert rows["3"]["email"] == "m@example.org"  # not in the record: untouched, not nulled


def test_batches_respect_batch_size(database: Database, make_table: MakeTable) -> None:
    table = people(make_table)
    spec = StreamSpec(table.name, ("id",))
    with connector(database) as conn:
        conn.write(spec, [{"id": f"{i:02d}", "name": f"n{i}"} for i in range(5)])
        batches = list(conn.read(spec, batch_size=2))
    assert [len(b.records) for b in batches] == [2, 2, 1]
    assert [r.location for b in batches for r in b.records] == \
        [f"{table.name}:row {n}" for n in range(1, 6)]
    assert all(b.cursor is None for b in batches)  # full read: no cursor


def test_incremental_read_returns_only_changed_rows(database: Database,
                                                    make_table: MakeTable) -> None:
    table = people(make_table)
    write_spec = StreamSpec(table.name, ("id",))
    spec = StreamSpec(table.name, ("id",), cursor_field="updated_at")
    with connector(database) as conn:
        conn.write(write_spec, [{"id": str(i), "name": "n", "updated_at": T0 + dt.timedelta(hours=i)}
                                for i in range(1, 4)])
        batches = list(conn.read(spec))
        cursor = batches[-1].cursor
        assert cursor == (T0 + dt.timedelta(hours=3)).isoformat()  # JSON-ready iso string

        later = T0 + dt.timedelta(days=1)
        conn.write(write_spec, [{"id": "1", "name": "changed", "updated_at": later},
                                {"id": "2", "name": "changed", "updated_at": later}])
        changed = list(conn.read(spec, since=cursor))
        assert [r.data["id"] for b in changed for r in b.records] == ["1", "2"]
        new_cursor = changed[-1].cursor
        assert dt.datetime.fromisoformat(new_cursor) > dt.datetime.fromisoformat(cursor)
        assert list(conn.read(spec, since=new_cursor)) == []  # nothing new since


def test_cursor_never_splits_a_group_of_equal_values(database: Database,
                                                     make_table: MakeTable) -> None:
    # Why: committing T0 after the first batch and crashing would make "> T0" skip row 3.
    table = people(make_table)
    spec = StreamSpec(table.name, ("id",), cursor_field="updated_at")
    with connector(database) as conn:
        conn.write(StreamSpec(table.name, ("id",)),
                   [{"id": str(i), "name": "n", "updated_at": T0} for i in range(1, 4)])
        batches = list(conn.read(spec, batch_size=2))
    assert [len(b.records) for b in batches] == [2, 1]
    assert batches[0].cursor is None
    assert batches[1].cursor == T0.isoformat()


def test_not_null_violation_rejects_only_that_record(database: Database,
                                                     make_table: MakeTable) -> None:
    table = people(make_table)
    spec = StreamSpec(table.name, ("id",))
    batch: list[Record] = [{"id": "1", "name": "ok"}, {"id": "2", "name": None}, {"id": "3", "name": "ok"}]
    with connector(database) as conn:
        result = conn.write(spec, batch)
        ids = [r["id"] for r in read_all(conn, spec)]
    assert result.written == 2 and ids == ["1", "3"]
    [(key, problem)] = result.rejected
    assert key == "2" and problem.field == "name"
    assert "NOT NULL" in problem.reason


def test_too_long_value_rejects_only_that_record(database: Database,
                                                 make_table: MakeTable) -> None:
    table = people(make_table)
    spec = StreamSpec(table.name, ("id",))
    secret = "SECRETVALUE"
    batch = [{"id": "1", "name": "a", "code": "ok"}, {"id": "2", "name": "b", "code": secret},
             {"id": "3", "name": "c", "code": "fine"}]
    with connector(database) as conn:
        result = conn.write(spec, batch)
        rows = {r["id"]: r["code"] for r in read_all(conn, spec)}
    if database.name == "sqlite":  # SQLite does not enforce VARCHAR lengths: all land
        assert result.rejected == [] and rows["2"] == secret
        return
    assert rows == {"1": "ok", "3": "fine"}
    [(key, problem)] = result.rejected
    assert key == "2" and problem.field == "code" and "too long" in problem.reason
    assert secret not in problem.describe()  # the refused value never reaches a message


def test_unknown_column_is_a_mapping_mistake(database: Database, make_table: MakeTable) -> None:
    table = people(make_table)
    with connector(database) as conn, pytest.raises(FatalConnectorError, match="nickname"):
        conn.write(StreamSpec(table.name, ("id",)), [{"id": "1", "name": "a", "nickname": "x"}])


def test_upsert_needs_a_unique_key(database: Database, make_table: MakeTable) -> None:
    table = make_table(sa.Column("id", sa.String(20)), sa.Column("name", sa.String(20)))
    with connector(database) as conn, pytest.raises(FatalConnectorError, match="unique"):
        conn.write(StreamSpec(table.name, ("id",)), [{"id": "1", "name": "a"}])


def test_missing_table_is_fatal(database: Database) -> None:
    with connector(database) as conn, pytest.raises(FatalConnectorError, match="not found"):
        list(conn.read(StreamSpec("no_such_table_kontor", ("id",))))


def test_check_streams_and_discover(database: Database, make_table: MakeTable) -> None:
    table = people(make_table)
    conn = connector(database)
    with conn:
        conn.check()
        assert table.name in conn.streams()
        [found] = conn.discover(StreamSpec(table.name, ("id",)))
    assert found["resource"] == table.name and found["key"] == ["id"]
    assert [f["name"] for f in found["fields"]] == \
        ["id", "name", "email", "code", "notes", "updated_at", "amount"]


# -- not parametrised ---------------------------------------------------------------------

def test_password_in_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as info:
        SqlSettings(url="postgresql+psycopg://app:hunter2secret@db/crm")
    text = str(info.value)
    assert "hunter2secret" not in text and "${env:NAME}" in text


@pytest.mark.mariadb
def test_wrong_password_never_appears_in_messages(mariadb_url: str, tmp_path: Path) -> None:
    password = "wr0ng-pa55-7f3a"
    conn = SqlConnector(SqlSettings(url=mariadb_url, password=SecretStr(password)),
                        system="payroll", base_dir=tmp_path)
    with pytest.raises(FatalConnectorError) as info:
        conn.check()
    shown = "".join(traceback.format_exception(info.value)) + repr(conn) + repr(conn.settings)
    assert password not in shown
    assert "cannot connect" in str(info.value) and "Access denied" in str(info.value)
    conn.close()


def test_connection_refused_is_fatal(tmp_path: Path) -> None:
    conn = SqlConnector(SqlSettings(url="postgresql+psycopg://postgres@127.0.0.1:1/test"),
                        system="crm", base_dir=tmp_path)
    with pytest.raises(FatalConnectorError, match="cannot connect to postgresql"):
        conn.check()


def test_locked_database_is_retriable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE p (id TEXT PRIMARY KEY, name TEXT)")
    setup.commit()
    setup.isolation_level = None
    setup.execute("BEGIN EXCLUSIVE")  # another writer holds the lock
    try:
        conn = SqlConnector(SqlSettings(url=f"sqlite:///{path}?timeout=0.1"),
                            system="crm", base_dir=tmp_path)
        with pytest.raises(RetriableConnectorError, match="locked"):
            conn.write(StreamSpec("p", ("id",)), [{"id": "1", "name": "a"}])
        conn.close()
    finally:
        setup.execute("ROLLBACK")
        setup.close()


def test_unreachable_server_skips_locally_but_fails_in_ci(
        server_gate: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not reachable"):
        server_gate(url, "postgresql")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        server_gate(url, "postgresql")
