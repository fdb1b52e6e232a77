"""The XML connector as a target: real files, checked with the connector and with ElementTree.

What it writes it reads back identically; bad values refuse their record by field name,
bad field names refuse the batch; a crash or a broken old file never costs the old file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from connectors.base import StreamSpec
from connectors.xml import write as xml_write
from connectors.xml.connector import XmlConnector, XmlSettings
from hub.cli.main import app
from hub.errors import FatalConnectorError

SPEC = StreamSpec("staff.xml", ("id",))
REPO = Path(__file__).resolve().parents[2]


def connector(base: Path, **settings: Any) -> XmlConnector:
    settings.setdefault("record_path", "/export/employees/employee")
    return XmlConnector(XmlSettings(**settings), system="hr", base_dir=base)


def read_back(conn: XmlConnector, spec: StreamSpec = SPEC) -> dict[str, dict[str, Any]]:
    batches = list(conn.read(spec))
    assert [p for b in batches for p in b.problems] == []
    return {r.data[spec.key[0]]: r.data for b in batches for r in b.records}


def employees(path: Path) -> list[ET.Element]:
    """The record elements, by ElementTree (not the connector's own parser)."""
    return ET.parse(path).getroot().findall("employees/employee")


AWKWARD = {
    "unicode": "Zoë Ødegård 王小明 🎉 👩‍👩‍👧",
    "markup": "<b>Tom & Jerry</b> &amp; 'quoted' \"double\" ]]> end",
    "lines": "line one\nline two\r\nline three\rline four",
    "tabbed": "a\tb",
    "empty": "",
}


def test_awkward_values_round_trip(tmp_path: Path) -> None:
    conn = connector(tmp_path)
    sent = [{"id": "1", **AWKWARD, "nothing": None},
            {"id": "2", "@kind": AWKWARD["markup"] + AWKWARD["lines"], "phone": ["+47 1", ""],
             "address.@type": "home & <work>", "address.city": "Köln", "address.zip": "50667"}]
    result = conn.write(SPEC, sent)
    assert (result.written, result.rejected) == (2, [])
    got = read_back(connector(tmp_path))
    assert got["1"] == {"id": "1", **AWKWARD}  # None: no element at all
    assert got["2"] == {k: v for k, v in sent[1].items()}
    [first, second] = employees(tmp_path / "staff.xml")  # an independent parser agrees
    assert first.find("nothing") is None and first.find("empty").text is None
    assert first.find("lines").text == AWKWARD["lines"]  # \r survived as &#13;
    assert second.get("kind") == AWKWARD["markup"] + AWKWARD["lines"]
    assert second.find("address").get("type") == "home & <work>"
    assert [p.text for p in second.findall("phone")] == ["+47 1", None]


@pytest.mark.parametrize("names", [("address", "address.city"), ("address.city", "address")],
                         ids=["text-first", "children-first"])
def test_text_beside_child_elements_round_trips(tmp_path: Path,
                                                names: tuple[str, str]) -> None:
    values = {"address": "Main Street 1", "address.city": "Oslo"}
    connector(tmp_path).write(SPEC, [{"id": "1", **{n: values[n] for n in names}}])
    assert read_back(connector(tmp_path))["1"] == {"id": "1", **values}
    [record] = employees(tmp_path / "staff.xml")
    assert record.find("address/city").text == "Oslo"
    assert record.find("address").text.strip() == "Main Street 1"


def test_values_of_other_types_are_written_as_text(tmp_path: Path) -> None:
    from datetime import date
    from decimal import Decimal

    connector(tmp_path).write(SPEC, [{"id": 7, "active": True, "born": date(1985, 4, 12),
                                      "salary": Decimal("4200.50")}])
    assert read_back(connector(tmp_path))["7"] == {
        "id": "7", "active": "true", "born": "1985-04-12", "salary": "4200.50"}


def test_upsert_by_key_keeps_other_fields_and_delete_removes(tmp_path: Path) -> None:
    conn = connector(tmp_path)
    conn.write(SPEC, [{"id": "1", "name": "Ada", "city": "London"},
                      {"id": "2", "name": "Alan", "city": "Wilmslow"},
                      {"id": "3", "name": "Grace", "city": "Arlington"}])
    result = conn.write(SPEC, [{"id": "2", "name": "Alan Turing", "city": None},
                               {"id": "4", "name": "Edsger"}])
    assert result.written == 2
    got = read_back(conn)
    assert list(got) == ["1", "2", "3", "4"]  # an update keeps its place, new keys go last
    assert got["2"] == {"id": "2", "name": "Alan Turing"}  # None removed the city
    assert got["3"] == {"id": "3", "name": "Grace", "city": "Arlington"}

    assert conn.delete(SPEC, [("1",), "3", "99"]).written == 3  # 99: already absent
    assert list(read_back(conn)) == ["2", "4"]
    before = (tmp_path / "staff.xml").read_bytes()
    conn.delete(SPEC, ["1"])
    conn.write(SPEC, [{"id": "4", "name": "Edsger"}])  # re-sent: nothing changes
    assert (tmp_path / "staff.xml").read_bytes() == before
    assert [e.findtext("id") for e in employees(tmp_path / "staff.xml")] == ["2", "4"]

    for _ in range(2):  # a key with spaces is matched as it reads back: trimmed
        connector(tmp_path).write(SPEC, [{"id": " 5 ", "name": "padded"}])
    connector(tmp_path).delete(SPEC, [("2 ",)])
    assert [e.findtext("id") for e in employees(tmp_path / "staff.xml")] == ["4", " 5 "]


@pytest.mark.parametrize("key", ["@id", "person.id", "code"])
def test_keys_in_attributes_nested_elements_and_repeated_ones(tmp_path: Path,
                                                               key: str) -> None:
    spec = StreamSpec("staff.xml", (key,))
    conn = connector(tmp_path)
    conn.write(spec, [{key: "1", "name": "a"}, {key: "2", "name": "b"}])
    connector(tmp_path).write(spec, [{key: "2", "name": "B"}])  # fresh: parses the file
    connector(tmp_path).delete(spec, ["1"])
    assert [(e.findtext("name")) for e in employees(tmp_path / "staff.xml")] == ["B"]
    if key == "code":  # a record whose key element repeats has no key: kept, never matched
        text = (tmp_path / "staff.xml").read_text(encoding="utf-8")
        (tmp_path / "staff.xml").write_text(text.replace(
            "<code>2</code>", "<code>2</code><code>3</code>"), encoding="utf-8")
        connector(tmp_path).write(spec, [{key: "2", "name": "new"}])
        assert [e.findtext("name") for e in employees(tmp_path / "staff.xml")] == ["B", "new"]


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m", "\ud800", "\uffff"],
                         ids=["nul", "bell", "escape", "lone-surrogate", "noncharacter"])
def test_a_value_xml_cannot_hold_refuses_its_record_by_field(tmp_path: Path,
                                                             bad: str) -> None:
    conn = connector(tmp_path)
    secret = f"kontor-private{bad}value"
    result = conn.write(SPEC, [{"id": "1", "name": "ok"},
                               {"id": "2", "name": "ok", "note": secret},
                               {"id": "3", "name": "ok"}])
    assert result.written == 2
    [(key, problem)] = result.rejected
    assert (key, problem.field, problem.location) == ("2", "note", "staff.xml:batch record 2")
    assert "XML 1.0 does not allow" in problem.reason and "position 15" in problem.reason
    assert "kontor-private" not in problem.describe()
    assert [e.findtext("id") for e in employees(tmp_path / "staff.xml")] == ["1", "3"]


def test_other_record_mistakes_are_rejected_by_field(tmp_path: Path) -> None:
    result = connector(tmp_path).write(SPEC, [
        {"id": "1", "address": {"city": "Oslo"}}, {"id": "", "name": "x"},
        {"id": "3", "@kind": ["a", "b"]}, {"id": "4", "name": "fine"}])
    assert result.written == 1
    reasons = {key: (p.field, p.reason) for key, p in result.rejected}
    assert reasons["1"][0] == "address" and "address.city" in reasons["1"][1]
    assert reasons["#2"][0] == "id" and "key field" in reasons["#2"][1]
    assert reasons["3"][0] == "@kind" and "not a list" in reasons["3"][1]


@pytest.mark.parametrize("name", ["first name", "1st", "hr:name", "a..b", "@id.x", "@xmlns",
                                  "name.", "e-mail\u00a0x"])
def test_field_names_xml_cannot_hold_refuse_the_batch(tmp_path: Path, name: str) -> None:
    conn = connector(tmp_path)
    conn.write(SPEC, [{"id": "1", "name": "kept"}])
    before = (tmp_path / "staff.xml").read_bytes()
    with pytest.raises(FatalConnectorError) as info:
        conn.write(SPEC, [{"id": "2", "name": "new"}, {"id": "3", name: "kontor-private"}])
    message = str(info.value)
    assert repr(name) in message and "outbound mapping" in message
    assert "kontor-private" not in message
    assert (tmp_path / "staff.xml").read_bytes() == before  # nothing written
    assert conn.refused_fields(["id", name, "ok.@x"]) and not conn.refused_fields(
        ["id", "E-Mail", "address.city", "address.@type", "@id", "_x", "Straße"])


def test_names_the_encoding_lacks_are_refused(tmp_path: Path) -> None:
    conn = connector(tmp_path, encoding="ascii")
    assert conn.refused_fields(["Straße"]) == [
        ("field 'Straße' has a character the encoding ascii lacks (names cannot use "
        "character references)")]
    conn.write(SPEC, [{"id": "1", "city": "Köln 王"}])  # values: character references
    assert b"K&#246;ln &#29579;" in (tmp_path / "staff.xml").read_bytes()
    assert read_back(conn)["1"]["city"] == "Köln 王"


def test_settings_mistakes_are_refused_when_configured() -> None:
    with pytest.raises(ValidationError, match="'first name' is not an XML name"):
        XmlSettings(record_path="export/first name")
    with pytest.raises(ValidationError, match="root: '1export' is not an XML name"):
        XmlSettings(record_tag="employee", root="1export")
    with pytest.raises(ValidationError, match="already names the document element"):
        XmlSettings(record_path="/export/employee", root="other")
    with pytest.raises(ValidationError, match="prefix 'x'"):
        XmlSettings(record_tag="employee", root="x:export")
    with pytest.raises(ValidationError, match="indent"):
        XmlSettings(record_tag="employee", indent=-1)
    assert XmlSettings(record_path="/export/employee", root="export").root == "export"


def test_layout_namespaces_encoding_and_indent(tmp_path: Path) -> None:
    ns = "urn:example:hr"
    conn = connector(tmp_path, record_path="hr:employee", root="hr:payroll",
                     namespaces={"hr": ns}, encoding="iso-8859-1", indent=0)
    conn.write(SPEC, [{"id": "1", "name": "Zoë 王", "@kind": "x"}])
    raw = (tmp_path / "staff.xml").read_bytes()
    assert raw.startswith(b"<?xml version='1.0' encoding='iso-8859-1'?>\n<hr:payroll ")
    assert raw.count(b"\n") == 2 and b"Zo\xeb &#29579;" in raw  # one line; a char ref
    root = ET.fromstring(raw)
    assert root.tag == f"{{{ns}}}payroll"
    [record] = root
    assert record.tag == f"{{{ns}}}employee" and record.get("kind") == "x"
    assert record.findtext(f"{{{ns}}}name") == "Zoë 王"  # fields share the namespace
    conn.write(SPEC, [{"id": "1", "name": "Zoë"}, {"id": "2", "name": "Li"}])
    assert raw.count(b"xmlns") == (tmp_path / "staff.xml").read_bytes().count(b"xmlns") == 1
    assert read_back(conn)["1"] == {"@kind": "x", "id": "1", "name": "Zoë"}

    plain = connector(tmp_path / "plain", record_tag="employee", record_path=None)
    (tmp_path / "plain").mkdir()
    plain.write(SPEC, [{"id": "1"}])
    assert ET.parse(tmp_path / "plain" / "staff.xml").getroot().tag == "records"


def test_a_file_that_is_not_ours_or_broken_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "staff.xml"
    path.write_text("<payroll><employee><id>1</id></employee></payroll>", encoding="utf-8")
    with pytest.raises(FatalConnectorError, match=r"document element is <payroll>, but "
                       r"this connector writes <export>"):
        connector(tmp_path, record_path="export/employee").write(SPEC, [{"id": "2"}])
    assert path.read_text(encoding="utf-8").startswith("<payroll>")

    broken = "<export><employees><employee><id>1</id><name>SECRET</nme>"
    path.write_text(broken, encoding="utf-8")
    for action in (lambda c: c.write(SPEC, [{"id": "2"}]), lambda c: c.delete(SPEC, ["1"])):
        with pytest.raises(FatalConnectorError, match="line 1, column .*mismatched tag. "
                           "Nothing was written") as info:
            action(connector(tmp_path))
        assert "SECRET" not in str(info.value)
        assert path.read_text(encoding="utf-8") == broken
    assert sorted(os.listdir(tmp_path)) == ["staff.xml"]  # no temp file left behind


def test_writing_needs_a_directory_and_a_path_with_room_for_records(tmp_path: Path) -> None:
    over_http = connector(tmp_path, url="http://127.0.0.1:9/export/", record_tag="employee",
                          record_path=None)
    with pytest.raises(FatalConnectorError, match="read over HTTP .* is read-only"):
        over_http.write(SPEC, [{"id": "1"}])
    single = connector(tmp_path, record_path="/employee")
    with pytest.raises(FatalConnectorError, match="makes each record the document element"):
        single.write(SPEC, [{"id": "1"}])
    with pytest.raises(FatalConnectorError, match="needs a key"):
        connector(tmp_path).write(StreamSpec("staff.xml", ()), [{"id": "1"}])


@pytest.mark.parametrize("settings", [
    {"record_path": "hr:export/hr:employee", "namespaces": {"hr": "urn:hr"}},
    {"record_path": "/export/employees/employee"}], ids=["namespaced", "plain"])
def test_appending_new_keys_gives_the_same_file_as_rewriting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]) -> None:
    parsed: list[str] = []
    real = xml_write.record_elements

    def counted(*args: Any, **kw: Any) -> Any:  # a spy: the real parse still runs
        parsed.append(kw["where"])
        return real(*args, **kw)

    monkeypatch.setattr(xml_write, "record_elements", counted)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    kept = connector(tmp_path / "a", **settings)  # remembers its file between batches
    for batch in range(4):
        records = [{"id": f"{batch}{i}", "name": f"n & {i}", "address.city": "Köln",
                    "@n": f"<{i}>\t\"'", "empty": "", "list": ["", "x\ry"]}
                   for i in range(3)]
        kept.write(SPEC, records)
        connector(tmp_path / "b", **settings).write(SPEC, records)  # always rewrites
    assert (tmp_path / "a" / "staff.xml").read_bytes() == \
        (tmp_path / "b" / "staff.xml").read_bytes()
    assert len(parsed) == 3  # only the fresh connectors parsed the old file
    os.utime(tmp_path / "a" / "staff.xml", ns=(1, 1))  # touched by another: parse again
    kept.write(SPEC, [{"id": "new", "name": "x"}])
    assert len(parsed) == 4 and "new" in read_back(kept)


CRASH = textwrap.dedent("""
    import sys
    from pathlib import Path
    from connectors.base import StreamSpec
    from connectors.xml.connector import XmlConnector, XmlSettings
    conn = XmlConnector(XmlSettings(record_path="/export/employees/employee"), system="hr",
                        base_dir=Path(sys.argv[1]))
    records = [{"id": str(i % 3 + 1 if i < 3 else i), "name": "n" * 200}
               for i in range(400_000)]
    print("writing", flush=True)
    conn.write(StreamSpec("staff.xml", ("id",)), records)
    print("finished", flush=True)
""")


def test_a_crash_in_the_middle_leaves_the_old_file_intact(tmp_path: Path) -> None:
    conn = connector(tmp_path)
    conn.write(SPEC, [{"id": str(i), "name": f"old {i}"} for i in (1, 2, 3)])
    before = (tmp_path / "staff.xml").read_bytes()
    child = subprocess.Popen([sys.executable, "-c", CRASH, str(tmp_path)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "writing\n"
    deadline = time.monotonic() + 60
    temp: list[Path] = []
    while time.monotonic() < deadline and not temp:  # killed while the temp file grows
        temp = [p for p in tmp_path.glob(".staff.xml.*.tmp") if p.stat().st_size > 100_000]
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert temp, "the child never got to write its temp file"
    assert child.returncode == -signal.SIGKILL
    assert (tmp_path / "staff.xml").read_bytes() == before
    assert read_back(connector(tmp_path))["2"] == {"id": "2", "name": "old 2"}
    assert conn.streams() == ["staff.xml"]  # the leftover temp file is no stream
    conn.write(SPEC, [{"id": "2", "name": "after the crash"}])  # and writing goes on
    assert read_back(connector(tmp_path))["2"]["name"] == "after the crash"


MEMORY = textwrap.dedent("""
    import sys
    from pathlib import Path
    from connectors.base import StreamSpec
    from connectors.xml.connector import XmlConnector, XmlSettings

    def peak():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024

    def conn():
        return XmlConnector(XmlSettings(record_path="/export/employees/employee"),
                            system="hr", base_dir=Path(sys.argv[1]))

    spec = StreamSpec("staff.xml", ("id",))
    kept = conn()
    def batch(start, size=5000):
        return [{"id": str(i), "name": f"Zoë {i} & co", "city": "Köln", "note": "x" * 150}
                for i in range(start, start + size)]
    kept.write(spec, batch(0))  # imports and first allocations before the baseline
    before = peak()
    for start in range(5000, 100_000, 5000):  # new keys: appended batch by batch
        kept.write(spec, batch(start))
    appended = peak() - before
    conn().write(spec, batch(0, 1000)[::10])  # a fresh connector: the whole file rewritten
    print(appended, peak() - before, Path(sys.argv[1], "staff.xml").stat().st_size >> 20)
""")


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Peak memory of a process writing 100k records (batches of 5,000), then rewriting
    the whole file for an update. (tracemalloc cannot see libxml2: this measures the
    process.)"""
    out = subprocess.run([sys.executable, "-c", MEMORY, str(tmp_path)], capture_output=True,
                         text=True, check=True, cwd=REPO)
    appended, rewritten, size_mib = map(int, out.stdout.split())
    assert size_mib >= 20
    assert appended < 15, f"appending grew the process by {appended} MiB"
    assert rewritten < 15, f"rewriting grew the process by {rewritten} MiB"
    assert len(read_back(connector(tmp_path))) == 100_000


# -- through the hub -----------------------------------------------------------------------

XML_TARGET = """  mailing:
    connector: xml
    settings:
      directory: data/target
      record_path: /subscribers/subscriber
    streams:
      subscribers:
        entity: customer
        direction: outbound       # outbound: Kontor -> system
        resource: subscribers.xml
"""

NESTED_MAPPING = """entity: customer
fields:
  email: email
  first_name: name.first
  last_name: name.last
"""


def _xml_target(starter: Path) -> Path:
    text = starter.read_text(encoding="utf-8")
    start = text.index("  mailing:\n")
    end = text.index("        resource: subscribers.csv\n") + len(
        "        resource: subscribers.csv\n")
    starter.write_text(text[:start] + XML_TARGET + text[end:], encoding="utf-8")
    (starter.parent / "mappings" / "mailing_customer.yaml").write_text(NESTED_MAPPING,
                                                                       encoding="utf-8")
    return starter.parent / "data" / "target" / "subscribers.xml"


def _subscribers(path: Path) -> dict[str, tuple[str | None, str | None]]:
    root = ET.parse(path).getroot()
    assert root.tag == "subscribers"
    return {s.findtext("email") or "": (s.findtext("name/first"), s.findtext("name/last"))
            for s in root.findall("subscriber")}


def test_kontor_sync_feeds_an_xml_target(starter: Path) -> None:
    target = _xml_target(starter)
    runner = CliRunner()
    checked = runner.invoke(app, ["--config", str(starter), "check"])
    assert checked.exit_code == 0, checked.output
    first = runner.invoke(app, ["--config", str(starter), "sync"])
    assert first.exit_code == 0, first.output
    assert _subscribers(target) == {  # Jürgen said no to the newsletter
        "zoe@example.org": ("Zoë", "Ødegård"), "wang.xiaoming@example.cn": ("小明", "王")}

    source = starter.parent / "data" / "source" / "customers.csv"
    text = source.read_text(encoding="utf-8")
    text = text.replace("1001,Zoë,Ødegård,zoe@example.org,1985-04-12,no,yes,gold,2026-01-10",
                        "1001,Zoë & Ann,Ødegård,zoe@example.org,1985-04-12,no,yes,gold,"
                        "2026-05-10")
    text = text.replace("cn,yes,,2026-03-15", "cn,no,,2026-05-15")  # withdrew consent
    source.write_text(text, encoding="utf-8")
    second = runner.invoke(app, ["--config", str(starter), "sync"])
    assert second.exit_code == 0, second.output
    assert _subscribers(target) == {"zoe@example.org": ("Zoë & Ann", "Ødegård")}
    assert b"Zo\xc3\xab &amp; Ann" in target.read_bytes()


def test_kontor_check_refuses_a_column_that_is_no_xml_name(starter: Path) -> None:
    """Found by `check`, at its place in the mapping, not by the first run."""
    _xml_target(starter)
    mapping = starter.parent / "mappings" / "mailing_customer.yaml"
    mapping.write_text(NESTED_MAPPING.replace("name.last", "last name"), encoding="utf-8")
    checked = CliRunner().invoke(app, ["--config", str(starter), "check", "--json"])
    assert checked.exit_code == 1, checked.output
    problems = json.loads(checked.stdout)["problems"]
    assert len(problems) == 1 and problems[0]["path"].startswith("fields.last_name"), problems
    assert problems[0]["file"].startswith(str(mapping))
    assert "field 'last name'" in problems[0]["problem"]
