"""The XML connector on real files, including hostile ones."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ReadBatch, StreamSpec
from connectors.xml.connector import XmlConnector, XmlSettings
from hub.errors import FatalConnectorError

SPEC = StreamSpec("staff.xml", ("@id",))

STAFF = """<?xml version="1.0" encoding="UTF-8"?>
<hr xmlns="urn:example:hr">
  <meta><exported>2024-03-01</exported></meta>
  <employee id="7">
    <name> Zoë Ødegård </name>
    <phone>+47 1</phone><phone>+47 2</phone>
    <address kind="home"><city>Oslo</city><zip>0150</zip></address>
    <email/>
  </employee>
  <employee id="8"><name>王小明 🎉</name></employee>
</hr>
"""


def xml_connector(tmp_path: Path, **settings: Any) -> XmlConnector:
    return XmlConnector(XmlSettings(record_tag="employee", **settings), system="hr",
                        base_dir=tmp_path)


def read(conn: XmlConnector, **kw: Any) -> list[ReadBatch]:
    return list(conn.read(SPEC, **kw))


def test_records_are_flattened(tmp_path: Path) -> None:
    (tmp_path / "staff.xml").write_text(STAFF, encoding="utf-8")
    batches = read(xml_connector(tmp_path))
    got = [(r.location, r.data) for b in batches for r in b.records]
    assert got == [
        ("staff.xml:record 1", {
            "@id": "7", "name": "Zoë Ødegård", "phone": ["+47 1", "+47 2"],
            "address.@kind": "home", "address.city": "Oslo", "address.zip": "0150",
            "email": ""}),
        ("staff.xml:record 2", {"@id": "8", "name": "王小明 🎉"}),
    ]
    assert batches[-1].cursor.startswith("sha256:")


def test_batches_respect_batch_size_and_unchanged_file_yields_nothing(tmp_path: Path) -> None:
    body = "".join(f'<employee id="{i}"><name>n{i}</name></employee>' for i in range(5))
    (tmp_path / "staff.xml").write_text(f"<hr>{body}</hr>")
    conn = xml_connector(tmp_path)
    batches = read(conn, batch_size=2)
    assert [len(b.records) for b in batches] == [2, 2, 1]
    assert read(conn, since=batches[-1].cursor) == []


def test_malformed_tail_keeps_earlier_records(tmp_path: Path) -> None:
    (tmp_path / "staff.xml").write_text(
        "<hr>\n<employee id='1'><name>a</name></employee>\n"
        "<employee id='2'><name>b</name></employee>\n"
        "<employee id='3'><name>SECRET</nme></employee>\n"  # line 4: mismatched tag
        "<employee id='4'><name>d</name></employee>\n</hr>\n")
    batches = read(xml_connector(tmp_path))  # not fatal: earlier records still count
    assert [r.data["@id"] for b in batches for r in b.records] == ["1", "2"]
    [problem] = [p for b in batches for p in b.problems]
    assert problem.location == "staff.xml:line 4"
    assert "mismatched tag" in problem.reason and "SECRET" not in problem.reason
    assert batches[-1].cursor is not None


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<hr><employee><name>&lol3;</name></employee></hr>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE hr [<!ENTITY leak SYSTEM "file:///etc/passwd">]>
<hr><employee><name>&leak;</name></employee></hr>
"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY],
                         ids=["billion-laughs", "external-entity"])
def test_xml_bombs_are_refused(tmp_path: Path, document: str) -> None:
    (tmp_path / "staff.xml").write_text(document)
    with pytest.raises(FatalConnectorError, match="staff.xml: entity declarations are forbidden"):
        read(xml_connector(tmp_path))


def test_encoding_setting_overrides_the_declaration(tmp_path: Path) -> None:
    # A common export bug: declared UTF-8, written as Latin-1.
    (tmp_path / "staff.xml").write_bytes(
        '<?xml version="1.0" encoding="UTF-8"?><hr><employee><name>Müller</name></employee></hr>'
        .encode("latin-1"))
    [batch] = read(xml_connector(tmp_path, encoding="latin-1"))
    assert batch.records[0].data == {"name": "Müller"}
    [broken] = read(xml_connector(tmp_path))  # trusting the declaration: a problem, no crash
    assert not broken.records and "not well-formed" in broken.problems[0].reason


def test_memory_stays_bounded_by_the_batch(tmp_path: Path) -> None:
    # Why: a tree that kept every element would need tens of MB for 100k records.
    with open(tmp_path / "staff.xml", "w") as fh:
        fh.write("<hr>")
        fh.writelines(f'<employee id="{i}"><name>n{i}</name><city>c</city><zip>{i}</zip>'
                      "</employee>\n" for i in range(100_000))
        fh.write("</hr>")
    tracemalloc.start()
    try:
        count = sum(len(b.records) for b in xml_connector(tmp_path).read(SPEC, batch_size=500))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    assert peak < 8 * 1024 * 1024


def test_check_streams_and_discover(tmp_path: Path) -> None:
    (tmp_path / "staff.xml").write_text(STAFF, encoding="utf-8")
    conn = xml_connector(tmp_path)
    conn.check()
    assert conn.streams() == ["staff.xml"]
    [found] = conn.discover(SPEC)
    assert found["key"] == ["@id"]
    assert {"name": "phone", "type": "list"} in found["fields"]
    assert {"name": "address.city", "type": "string"} in found["fields"]
