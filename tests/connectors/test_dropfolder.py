"""Drop-folder mode: every matching file in name order, archived once the hub committed it."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import StreamSpec
from connectors.csv.connector import CsvConnector, CsvSettings
from connectors.fixedwidth import FixedWidthConnector
from connectors.fixedwidth.layout import FixedWidthSettings
from hub.errors import FatalConnectorError

ORDERS = StreamSpec("orders_*.csv", ("id",))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "archive").mkdir()
    (tmp_path / "inbox" / "orders_2.csv").write_text("id,name\n3,c\n")
    (tmp_path / "inbox" / "orders_1.csv").write_text("id,name\n1,a\n2,b\n")
    (tmp_path / "inbox" / ".orders_3.csv.tmp").write_text("id,name\n9,half-written\n")
    (tmp_path / "inbox" / "other.csv").write_text("id,name\n8,x\n")
    return tmp_path


def connector(base: Path, archive: bool = True) -> CsvConnector:
    settings = CsvSettings(directory="inbox", archive_directory="archive" if archive else None)
    return CsvConnector(settings, system="shop", base_dir=base)


def names(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def test_files_are_read_in_name_order_and_archived_after_the_hub_commits(folder: Path) -> None:
    reader = connector(folder).read(ORDERS, batch_size=10)
    first = next(reader)
    assert [(r.location, r.data["id"]) for r in first.records] == \
        [("orders_1.csv:2", "1"), ("orders_1.csv:3", "2")]
    # The hub holds this batch but has not asked for more: nothing is moved yet.
    assert "orders_1.csv" in names(folder / "inbox")
    second = next(reader)  # asking for more means the first batch was committed
    assert names(folder / "archive") == ["orders_1.csv"]
    assert [r.data["id"] for r in second.records] == ["3"]
    assert second.cursor is not None and second.cursor.startswith("folder-sha256:")
    assert list(reader) == []
    assert names(folder / "archive") == ["orders_1.csv", "orders_2.csv"]
    assert names(folder / "inbox") == [".orders_3.csv.tmp", "other.csv"]


def test_a_run_that_stops_early_archives_nothing_it_did_not_finish(folder: Path) -> None:
    reader = connector(folder).read(ORDERS, batch_size=10)
    next(reader)
    reader.close()  # the hub failed while storing the batch
    assert names(folder / "archive") == []  # read again next run: at least once


def test_a_name_already_in_the_archive_gets_a_suffix(folder: Path) -> None:
    (folder / "archive" / "orders_1.csv").write_text("older\n")
    list(connector(folder).read(ORDERS))
    assert names(folder / "archive") == ["orders_1.csv", "orders_1.csv.1", "orders_2.csv"]
    assert (folder / "archive" / "orders_1.csv").read_text() == "older\n"


def test_without_an_archive_an_unchanged_folder_reads_nothing(folder: Path) -> None:
    conn = connector(folder, archive=False)
    cursor = list(conn.read(ORDERS))[-1].cursor
    assert list(conn.read(ORDERS, since=cursor)) == []
    (folder / "inbox" / "orders_3.csv").write_text("id,name\n4,d\n")
    assert [r.data["id"] for b in conn.read(ORDERS, since=cursor) for r in b.records] == \
        ["1", "2", "3", "4"]


def test_empty_folder_and_mistakes(folder: Path) -> None:
    conn = connector(folder)
    assert [b.records for b in conn.read(StreamSpec("none_*.csv", ("id",)))] == [[]]
    with pytest.raises(FatalConnectorError, match="cannot write to the pattern"):
        conn.write(ORDERS, [{"id": "1"}])
    with pytest.raises(FatalConnectorError, match="without a path"):
        list(conn.read(StreamSpec("../*.csv", ("id",))))
    (folder / "archive").rmdir()
    with pytest.raises(FatalConnectorError, match="archive directory not found"):
        conn.check()


def test_fixed_width_files_in_a_drop_folder(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "done").mkdir()
    (tmp_path / "in" / "PERS_0001.TXT").write_text("P001Zoë\nP002Ida\n")
    settings = FixedWidthSettings(directory="in", archive_directory="done",
                                  names=["id", "name"], widths=[4, 10])
    conn = FixedWidthConnector(settings, system="payroll", base_dir=tmp_path)
    got = [r.data for b in conn.read(StreamSpec("PERS_*.TXT", ("id",))) for r in b.records]
    assert got == [{"id": "P001", "name": "Zoë"}, {"id": "P002", "name": "Ida"}]
    assert names(tmp_path / "done") == ["PERS_0001.TXT"]
