"""The CSV connector on real files in a temp directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import ReadBatch, StreamSpec
from connectors.csv.connector import CsvConnector, CsvSettings
from hub.errors import FatalConnectorError, RetriableConnectorError

SPEC = StreamSpec("people.csv", ("id",))


def csv_connector(tmp_path: Path, **settings: Any) -> CsvConnector:
    return CsvConnector(CsvSettings(**settings), system="hr", base_dir=tmp_path)


def read(conn: CsvConnector, spec: StreamSpec = SPEC, **kw: Any) -> list[ReadBatch]:
    return list(conn.read(spec, **kw))


def records(batches: list[ReadBatch]) -> list[tuple[str, dict[str, str]]]:
    return [(r.location, r.data) for b in batches for r in b.records]


def test_reads_rows_with_bom_crlf_and_embedded_newlines(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_bytes(
        "\ufeffid,name,note\r\n1,Zoë Ødegård,\r\n2,王小明,\"two\r\nlines\"\r\n3,🎉,x\r\n"
        .encode("utf-8"))
    got = records(read(csv_connector(tmp_path)))
    assert got == [  # the BOM is not part of "id"; line numbers count physical lines
        ("people.csv:2", {"id": "1", "name": "Zoë Ødegård", "note": ""}),
        ("people.csv:3", {"id": "2", "name": "王小明", "note": "two\r\nlines"}),
        ("people.csv:5", {"id": "3", "name": "🎉", "note": "x"}),
    ]


def test_bad_rows_become_problems_and_good_rows_are_read(tmp_path: Path) -> None:
    lines = [
        b"id,name,city",
        "1,Müller-Lüdenscheid,Köln".encode("cp1252"),
        b"2,Extra,Bonn,SURPLUSVALUE",               # line 3: one column too many
        b"3,Bad\x81Byte,Essen",                     # line 4: 0x81 is undefined in cp1252
        b"4,Nul\x00Name,Ulm",                       # line 5: NUL byte
        b'5,"Quoted',                               # lines 6-7: one record over two lines
        b'Name",Trier',
        b"6,Last,Kiel",                             # line 8
    ]
    (tmp_path / "people.csv").write_bytes(b"\r\n".join(lines) + b"\r\n")
    batches = read(csv_connector(tmp_path, encoding="cp1252"))
    assert [(loc, d["id"]) for loc, d in records(batches)] == \
        [("people.csv:2", "1"), ("people.csv:6", "5"), ("people.csv:8", "6")]
    assert records(batches)[0][1]["name"] == "Müller-Lüdenscheid"
    problems = [p for b in batches for p in b.problems]
    assert [(p.location, p.field) for p in problems] == \
        [("people.csv:3", None), ("people.csv:4", "name"), ("people.csv:5", "name")]
    assert problems[0].reason == "expected 3 columns, found 4"
    assert problems[1].reason == "cannot decode byte 0x81 at column 2 (name) as cp1252"
    assert "NUL" in problems[2].reason
    for p in problems:  # privacy: reasons name places, never cell values
        assert not any(v in p.describe() for v in ("SURPLUS", "Bonn", "Bad", "Nul", "Ulm"))


def test_overlong_field_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    huge = "x" * ((1 << 20) + 10)
    (tmp_path / "people.csv").write_text(f"id,name\n1,{huge}\n2,ok\n", encoding="utf-8")
    batches = read(csv_connector(tmp_path))
    assert [d["id"] for _, d in records(batches)] == ["2"]
    [problem] = [p for b in batches for p in b.problems]
    assert problem.location == "people.csv:2" and "1 MiB" in problem.reason


def test_batches_respect_batch_size_and_only_the_last_has_the_cursor(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(5)))
    batches = read(csv_connector(tmp_path), batch_size=2)
    assert [len(b.records) for b in batches] == [2, 2, 1]
    assert [b.cursor is None for b in batches] == [True, True, False]
    assert batches[-1].cursor.startswith("sha256:")


def test_unchanged_file_yields_nothing_and_a_change_is_read(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,name\n1,a\n")
    conn = csv_connector(tmp_path)
    cursor = read(conn)[-1].cursor
    assert read(conn, since=cursor) == []
    path.write_text("id,name\n1,b\n")
    again = read(conn, since=cursor)
    assert records(again) == [("people.csv:2", {"id": "1", "name": "b"})]
    assert again[-1].cursor != cursor


@pytest.mark.parametrize("content", [b"", b"id,name\n"])
def test_empty_file_gives_one_empty_batch(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "people.csv").write_bytes(content)
    [batch] = read(csv_connector(tmp_path))
    assert batch.records == [] and batch.problems == [] and batch.cursor.startswith("sha256:")


def test_missing_file_duplicate_header_and_escaping_paths_are_fatal(tmp_path: Path) -> None:
    conn = csv_connector(tmp_path)
    with pytest.raises(FatalConnectorError, match=str(tmp_path / "people.csv")):
        read(conn)
    (tmp_path / "people.csv").write_text("id,name,id\n1,a,1\n")
    with pytest.raises(FatalConnectorError, match="duplicate column names.*'id'"):
        read(conn)
    with pytest.raises(FatalConnectorError, match="escapes"):
        read(conn, StreamSpec("../outside.csv", ("id",)))


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="exactly one character"):
        CsvSettings(delimiter=";;")
    with pytest.raises(ValidationError, match="unknown encoding"):
        CsvSettings(encoding="klingon-8")
    with pytest.raises(ValidationError):
        CsvSettings(delimeter=";")  # type: ignore[call-arg]  # a typo is an error, not a silent default


def test_check_streams_and_discover(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("id,name\n")
    (tmp_path / "notes.txt").write_text("x")
    conn = csv_connector(tmp_path)
    conn.check()
    assert conn.streams() == ["people.csv"]
    assert conn.discover(SPEC) == [{"resource": "people.csv", "key": ["id"], "fields": [
        {"name": "id", "type": "string"}, {"name": "name", "type": "string"}]}]
    with pytest.raises(FatalConnectorError, match="directory not found"):
        csv_connector(tmp_path, directory="nope").check()


# -- write --------------------------------------------------------------------------------

BATCH = [{"id": 1, "name": "Zoë Ødegård", "active": True},
         {"id": 2, "name": "王小明 🎉", "active": False, "email": None}]


def test_write_creates_file_and_round_trips(tmp_path: Path) -> None:
    conn = csv_connector(tmp_path)
    assert conn.write(SPEC, BATCH).written == 2
    assert (tmp_path / "people.csv").read_text(encoding="utf-8") == \
        "id,name,active,email\n1,Zoë Ødegård,true,\n2,王小明 🎉,false,\n"
    assert [d["name"] for _, d in records(read(conn))] == ["Zoë Ødegård", "王小明 🎉"]


def test_rewriting_the_same_batch_is_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b'\xef\xbb\xbfid,name\r\n"9","Kept  As Is"\r\n1,old\r\n')
    conn = csv_connector(tmp_path)
    conn.write(SPEC, BATCH)
    first = path.read_bytes()
    conn.write(SPEC, BATCH)
    assert path.read_bytes() == first
    # BOM and CRLF kept; the untouched row keeps its quoting, widened for the new columns.
    assert first == ('\ufeffid,name,active,email\r\n"9","Kept  As Is",,\r\n'
                     "1,Zoë Ødegård,true,\r\n2,王小明 🎉,false,\r\n").encode("utf-8")
    assert [d["id"] for _, d in records(read(conn))] == ["9", "1", "2"]  # no duplicates


def test_write_keeps_unreadable_rows_exactly(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"id,name\n1,a\n2,bad\x81,surplus\n")
    csv_connector(tmp_path, encoding="cp1252").write(SPEC, [{"id": "1", "name": "b"}])
    assert path.read_bytes() == b"id,name\n1,b\n2,bad\x81,surplus\n"


def test_value_not_encodable_is_rejected_per_record(tmp_path: Path) -> None:
    conn = csv_connector(tmp_path, encoding="cp1252", delimiter=";")
    result = conn.write(SPEC, [{"id": "1", "name": "Müller"}, {"id": "2", "name": "王小明"},
                               {"id": "3", "name": "Zoë"}])
    assert result.written == 2
    [(key, problem)] = result.rejected
    assert key == "2" and problem.field == "name" and "cp1252" in problem.reason
    assert "王" not in problem.describe()
    assert (tmp_path / "people.csv").read_bytes() == \
        "id;name\n1;Müller\n3;Zoë\n".encode("cp1252")


def test_record_without_key_is_rejected(tmp_path: Path) -> None:
    result = csv_connector(tmp_path).write(SPEC, [{"name": "nobody"}, {"id": "1", "name": "a"}])
    assert result.written == 1
    assert [(k, p.field) for k, p in result.rejected] == [("#1", "id")]


def test_formula_like_values_are_written_with_a_leading_apostrophe(tmp_path: Path) -> None:
    conn = csv_connector(tmp_path)
    batch = [{"id": "=1+1", "v": "@SUM(1)"}, {"id": "2", "v": "\tx"}, {"id": "3", "v": "\ry"},
             {"id": "4", "v": "-2,50"}, {"id": "5", "v": -7}, {"id": "6", "v": "+4930123"},
             {"id": "7", "v": "-2+3"}, {"id": "8", "v": "a=b"}]
    assert conn.write(SPEC, batch).written == 8
    got = {d["id"]: d["v"] for _, d in records(read(conn))}
    assert got == {
        "'=1+1": "'@SUM(1)", "2": "'\tx", "3": "'\ry", "4": "-2,50",
        "5": "-7", "6": "+4930123", "7": "'-2+3", "8": "a=b"}
    assert b'\n3,"\'\ry"\n' in (tmp_path / "people.csv").read_bytes()  # a CR is quoted
    # a key written neutralised is found again by the key the hub knows
    assert conn.delete(SPEC, ["=1+1"]).written == 1
    assert "'=1+1" not in {d["id"] for _, d in records(read(conn))}


def test_spreadsheet_safe_false_writes_values_raw(tmp_path: Path) -> None:
    conn = csv_connector(tmp_path, spreadsheet_safe=False)
    conn.write(SPEC, [{"id": "1", "v": "=1+1"}])
    assert (tmp_path / "people.csv").read_text(encoding="utf-8") == "id,v\n1,=1+1\n"


def test_a_directory_in_place_of_the_target_file_is_the_connectors_error(
        tmp_path: Path) -> None:
    (tmp_path / "people.csv").mkdir()
    conn = csv_connector(tmp_path)
    with pytest.raises(FatalConnectorError) as info:
        conn.write(SPEC, [{"id": "1"}])
    message = str(info.value)
    assert str(tmp_path / "people.csv") in message and "is a directory" in message
    with pytest.raises(FatalConnectorError):
        conn.delete(SPEC, ["1"])


def test_a_full_disk_is_retriable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from connectors.csv import write as csv_write

    def full(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv_write, "atomic_replace", full)
    with pytest.raises(RetriableConnectorError, match="No space left on device"):
        csv_connector(tmp_path).write(SPEC, [{"id": "1"}])
