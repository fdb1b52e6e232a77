"""How much a read goes through, for progress bars: a file's bytes (and how many of them a
read has consumed), a table's rows (counted, or the database's statistics for a big one).
Real files and real SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from connectors.base import ReadSize, StreamSpec
from connectors.csv.connector import CsvConnector, CsvSettings
from connectors.fixedwidth import FixedWidthConnector
from connectors.fixedwidth.layout import FixedWidthSettings
from connectors.sql import SqlConnector, SqlSettings
from connectors.sql import estimate as sql_estimate

if TYPE_CHECKING:
    from conftest import Database

MakeTable = Callable[..., sa.Table]


def _people(path: Path, rows: int) -> None:
    path.write_text("id,name\n" + "".join(f"{n},person {n}\n" for n in range(rows)),
                    encoding="utf-8")


def test_a_file_is_sized_in_bytes_and_its_read_reaches_the_size(tmp_path: Path) -> None:
    _people(tmp_path / "people.csv", 5000)
    size = (tmp_path / "people.csv").stat().st_size
    csv = CsvConnector(CsvSettings(), system="crm", base_dir=tmp_path)
    spec = StreamSpec("people.csv", ("id",))
    assert csv.estimate(spec) == ReadSize(size, unit="bytes")
    seen = []
    for batch in csv.read(spec, batch_size=1000):
        seen.append((len(batch.records), csv.read_progress(spec)))
    positions = [p for _, p in seen]
    assert positions == sorted(positions) and positions[-1] == size  # forward, to the end
    assert 0 < positions[0] < size  # the first batch is not the whole file
    assert sum(n for n, _ in seen) == 5000


def test_a_drop_folder_is_sized_by_all_its_files(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    _people(tmp_path / "inbox" / "orders_1.csv", 10)
    _people(tmp_path / "inbox" / "orders_2.csv", 20)
    (tmp_path / "inbox" / "other.csv").write_text("id\n1\n", encoding="utf-8")
    csv = CsvConnector(CsvSettings(directory="inbox"), system="shop", base_dir=tmp_path)
    spec = StreamSpec("orders_*.csv", ("id",))
    total = sum((tmp_path / "inbox" / f"orders_{n}.csv").stat().st_size for n in (1, 2))
    assert csv.estimate(spec) == ReadSize(total, unit="bytes")
    list(csv.read(spec))
    assert csv.read_progress(spec) == total


def test_fixed_width_files_share_the_sizing(tmp_path: Path) -> None:
    (tmp_path / "emp.txt").write_text("0001Anna \n0002Ben  \n", encoding="utf-8")
    settings = FixedWidthSettings(names=["id", "name"], widths=[4, 5])
    fixed = FixedWidthConnector(settings, system="hr", base_dir=tmp_path)
    spec = StreamSpec("emp.txt", ("id",))
    assert fixed.estimate(spec) == ReadSize(20, unit="bytes")
    assert sum(len(b.records) for b in fixed.read(spec)) == 2
    assert fixed.read_progress(spec) == 20


def test_a_missing_file_has_no_size_and_the_read_says_why(tmp_path: Path) -> None:
    csv = CsvConnector(CsvSettings(), system="crm", base_dir=tmp_path)
    assert csv.estimate(StreamSpec("gone.csv", ("id",))) is None
    assert csv.estimate(StreamSpec("../outside.csv", ("id",))) is None  # refused, not sized


def _table(make_table: MakeTable, database: Database, rows: int) -> sa.Table:
    table = make_table(sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                       sa.Column("updated_at", sa.DateTime, nullable=True))
    t0 = dt.datetime(2024, 1, 1)
    with database.engine.begin() as conn:
        conn.execute(table.insert(), [{"id": n + 1, "updated_at": t0 + dt.timedelta(hours=n)}
                                      for n in range(rows)])
    return table


def test_a_table_is_sized_by_a_count_incremental_reads_too(
        database: Database, make_table: MakeTable) -> None:
    table = _table(make_table, database, 250)
    sql = SqlConnector(SqlSettings(url=database.url), system="billing",
                       base_dir=database.base_dir)
    full = StreamSpec(table.name, ("id",))
    assert sql.estimate(full) == ReadSize(250)
    since = StreamSpec(table.name, ("id",), cursor_field="updated_at")
    assert sql.estimate(since, since="2024-01-01T09:00:00") == ReadSize(240)  # hours 10..249
    assert sum(len(b.records) for b in sql.read(full, batch_size=100)) == 250  # still reads
    assert sql.estimate(StreamSpec("no_such_table", ("id",))) is None
    sql.close()


def test_a_big_table_is_sized_by_the_statistics(database: Database, make_table: MakeTable,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(make_table, database, 300)
    if database.name == "sqlite":
        with database.engine.connect() as conn:
            assert sql_estimate.statistics(conn, table) is None  # SQLite keeps none
        return
    with database.engine.begin() as conn:
        conn.execute(sa.text(f"ANALYZE {'TABLE ' if database.name == 'mariadb' else ''}"
                             f"{table.name}"))
    sql = SqlConnector(SqlSettings(url=database.url), system="billing",
                       base_dir=database.base_dir)
    monkeypatch.setattr(sql_estimate, "COUNT_LIMIT", 100)  # 300 rows count as big here
    size = sql.estimate(StreamSpec(table.name, ("id",)))
    assert size is not None and not size.exact and size.unit == "records"
    assert 150 <= size.total <= 600  # the statistics' figure: close, not counted
    sql.close()
