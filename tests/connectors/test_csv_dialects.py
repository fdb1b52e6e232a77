"""CSV dialect, header and encoding options, and deletes, on real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import StreamSpec
from connectors.csv.connector import CsvConnector, CsvSettings
from hub.errors import FatalConnectorError

SPEC = StreamSpec("people.csv", ("id",))


def connector(tmp_path: Path, **settings: Any) -> CsvConnector:
    return CsvConnector(CsvSettings(**settings), system="hr", base_dir=tmp_path)


def rows(conn: CsvConnector, spec: StreamSpec = SPEC) -> list[dict[str, str]]:
    return [r.data for b in conn.read(spec) for r in b.records]


def test_tsv_with_the_tab_alias(tmp_path: Path) -> None:
    (tmp_path / "people.tsv").write_text("id\tname\n1\tZoë, Ødegård\n", encoding="utf-8")
    conn = connector(tmp_path, delimiter="tab", suffix=".tsv")
    assert conn.streams() == ["people.tsv"]
    spec = StreamSpec("people.tsv", ("id",))
    assert rows(conn, spec) == [{"id": "1", "name": "Zoë, Ødegård"}]
    conn.write(spec, [{"id": "2", "name": "tab\there"}])
    assert (tmp_path / "people.tsv").read_text(encoding="utf-8") == \
        'id\tname\n1\tZoë, Ødegård\n2\t"tab\there"\n'


def test_file_without_header_uses_the_configured_columns(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("1;Müller\n2;王小明\n", encoding="utf-8")
    conn = connector(tmp_path, header=False, columns=["id", "name"], delimiter=";")
    assert rows(conn) == [{"id": "1", "name": "Müller"}, {"id": "2", "name": "王小明"}]
    assert conn.discover(SPEC)[0]["fields"] == [{"name": "id", "type": "string"},
                                                {"name": "name", "type": "string"}]
    conn.write(SPEC, [{"id": "2", "name": "Wang"}, {"id": "3", "name": "new"}])
    assert (tmp_path / "people.csv").read_text(encoding="utf-8") == "1;Müller\n2;Wang\n3;new\n"
    with pytest.raises(FatalConnectorError, match="no column.*email"):
        conn.write(SPEC, [{"id": "4", "email": "x@example.org"}])


@pytest.mark.parametrize("settings, body", [
    ({"quoting": "all"}, '"id","name"\n"1","a,b"\n'),
    ({"quoting": "none", "escapechar": "\\"}, "id,name\n1,a\\,b\n"),
])
def test_quoting_styles_round_trip(tmp_path: Path, settings: dict[str, Any], body: str) -> None:
    conn = connector(tmp_path, **settings)
    conn.write(SPEC, [{"id": "1", "name": "a,b"}])
    assert (tmp_path / "people.csv").read_text(encoding="utf-8") == body
    assert rows(conn) == [{"id": "1", "name": "a,b"}]


@pytest.mark.parametrize("encoding, raw", [
    ("utf-8-sig", "\ufeffid,name\r\n1,Zoë Ødegård\r\n".encode()),
    ("cp1252", "id,name\r\n1,Zoë Ødegård – €\r\n".encode("cp1252")),
    ("latin-1", "id,name\r\n1,Zoë Ødegård\r\n".encode("latin-1")),
])
def test_windows_encodings_read_and_rewrite(tmp_path: Path, encoding: str, raw: bytes) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(raw)
    conn = connector(tmp_path, encoding=encoding)
    [first] = rows(conn)
    assert first["name"].startswith("Zoë Ødegård")
    conn.write(SPEC, [{"id": "2", "name": "Müller"}])
    assert path.read_bytes() == raw + "2,Müller\r\n".encode(encoding.replace("-sig", ""))


def test_cross_field_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="needs `columns`"):
        CsvSettings(header=False)
    with pytest.raises(ValidationError, match="only for files without a header"):
        CsvSettings(columns=["a"])
    with pytest.raises(ValidationError, match="escapechar"):
        CsvSettings(quoting="none")
    with pytest.raises(ValidationError, match="must differ"):
        CsvSettings(delimiter='"')
    with pytest.raises(ValidationError, match="duplicate"):
        CsvSettings(header=False, columns=["a", "a"])


def test_delete_keeps_bom_unreadable_rows_and_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"\xef\xbb\xbfid,name\r\n1,a\r\n2,bad\xff,extra\r\n3,c\r\n")
    conn = connector(tmp_path)
    result = conn.delete(SPEC, [("1",), "3", ("9",)])
    assert result.written == 3 and result.rejected == []
    assert path.read_bytes() == b"\xef\xbb\xbfid,name\r\n2,bad\xff,extra\r\n"
    assert conn.delete(SPEC, [("",)]).rejected[0][1].reason == "a key value is empty"
    assert connector(tmp_path / "x").delete(SPEC, ["1"]).written == 1  # no file: nothing to do


def test_no_temp_file_is_left_behind_when_a_write_fails(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,name,id\n1,a,1\n")  # a duplicate header: the rewrite fails half-way
    conn = connector(tmp_path)
    with pytest.raises(FatalConnectorError):
        conn.write(SPEC, [{"id": "1", "name": "x"}])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.csv"]
    assert path.read_text() == "id,name,id\n1,a,1\n"


ROUND_TRIP = ["a\rb", "c\nd", "e\r\nf", "tail\r", "\n", 'say "hi"', '"', "x,y", "x;y",
              "back\\slash", "plain", ""]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("settings", [
    {}, {"quoting": "all"}, {"quoting": "none", "escapechar": "\\"}, {"delimiter": ";"},
    {"delimiter": "tab", "escapechar": "\\"}])
def test_line_breaks_quotes_and_delimiters_round_trip(tmp_path: Path, newline: str,
                                                      settings: dict[str, Any]) -> None:
    """A CR, LF or CRLF in a value is quoted (escaped with quoting: none), never written
    bare: a reader would take it for the end of the row."""
    conn = connector(tmp_path, newline=newline, spreadsheet_safe=False, **settings)
    first = {str(n): v for n, v in enumerate(ROUND_TRIP)}
    conn.write(SPEC, [{"id": k, "v": v} for k, v in first.items()])  # a new file
    conn.write(SPEC, [{"id": f"{k}b", "v": v} for k, v in first.items()])  # appended
    conn.write(SPEC, [{"id": "0", "v": "changed\r"}])  # the file rewritten
    expected = first | {f"{k}b": v for k, v in first.items()} | {"0": "changed\r"}
    for reader in (conn, connector(tmp_path, **settings)):  # the writer, and a fresh one
        got = [r for b in reader.read(SPEC) for r in b.records]
        assert [b.problems for b in reader.read(SPEC)] == [[]]
        assert {r.data["id"]: r.data["v"] for r in got} == expected
    raw = (tmp_path / "people.csv").read_bytes()
    assert (b"a\\\rb" if settings.get("quoting") == "none" else b'"a\rb"') in raw
