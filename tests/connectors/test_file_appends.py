"""Batches of new keys are appended to a copy of the file; the result is the same as a rewrite.

Why it exists: an upsert must know which keys a file holds, and reading the whole file
for every batch made a large outbound run quadratic (bench/connectors_bench.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, StreamSpec
from connectors.csv import write as csv_write
from connectors.csv.connector import CsvConnector, CsvSettings
from connectors.files import atomic as _atomic
from connectors.fixedwidth import FixedWidthConnector
from connectors.fixedwidth import write as fixedwidth_write
from connectors.fixedwidth.layout import FixedWidthSettings

CSV = StreamSpec("out.csv", ("id",))
FIXED = StreamSpec("OUT.TXT", ("id",))


def csv_connector(base: Path, **settings: Any) -> CsvConnector:
    return CsvConnector(CsvSettings(**settings), system="t", base_dir=base)


def fixed_connector(base: Path) -> FixedWidthConnector:
    return FixedWidthConnector(FixedWidthSettings(names=["id", "name"], widths=[4, 8]),
                               system="t", base_dir=base)


def batches(n: int, size: int = 3) -> list[list[dict[str, str]]]:
    return [[{"id": f"{b}{i}", "name": f"n{b}{i}"} for i in range(size)] for b in range(n)]


@pytest.mark.parametrize("make, spec", [(csv_connector, CSV), (fixed_connector, FIXED)],
                         ids=["csv", "fixedwidth"])
def test_appending_gives_the_same_bytes_as_rewriting(tmp_path: Path, make: Any,
                                                     spec: StreamSpec,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    appends: list[Path] = []

    def counted(path: Path, *args: Any) -> None:  # a spy: the real append still runs
        appends.append(path)
        _atomic.append_atomically(path, *args)

    for module in (csv_write, fixedwidth_write):
        monkeypatch.setattr(module, "append_atomically", counted)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    kept: Connector = make(tmp_path / "a")  # remembers its file between batches
    for batch in batches(4):
        kept.write(spec, batch)
        make(tmp_path / "b").write(spec, batch)  # a fresh connector: always the full way
    assert (tmp_path / "a" / spec.resource).read_bytes() == \
        (tmp_path / "b" / spec.resource).read_bytes()
    assert appends == [tmp_path / "a" / spec.resource] * 3  # batches 2-4 took the quick way


def test_a_file_changed_by_someone_else_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    conn = csv_connector(tmp_path)
    conn.write(CSV, [{"id": "1", "name": "a"}])
    path.write_text("id,name\n1,a\n2,added by hand\n")
    conn.write(CSV, [{"id": "2", "name": "b"}])
    assert path.read_text() == "id,name\n1,a\n2,b\n"  # updated, not appended twice


def test_a_new_column_or_a_missing_final_break_is_handled(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("id,name\n1,a")  # no final line break
    conn = csv_connector(tmp_path)
    conn.write(CSV, [{"id": "1", "name": "b"}])  # the full way: the file still has no break
    conn.write(CSV, [{"id": "2", "name": "c"}])
    conn.write(CSV, [{"id": "3", "name": "d", "email": "x@example.org"}])  # new column
    conn.write(CSV, [{"id": "4", "name": "e"}])
    assert path.read_text() == "id,name,email\n1,b,\n2,c,\n3,d,x@example.org\n4,e,\n"


def test_a_deleted_key_written_again_is_added_once(tmp_path: Path) -> None:
    conn = csv_connector(tmp_path, encoding="utf-8-sig")
    conn.write(CSV, [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}])
    conn.delete(CSV, ["1"])
    conn.write(CSV, [{"id": "1", "name": "again"}])
    conn.write(CSV, [{"id": "3", "name": "c"}])
    assert (tmp_path / "out.csv").read_bytes() == \
        "\ufeffid,name\n2,b\n1,again\n3,c\n".encode()  # one BOM, at the start
