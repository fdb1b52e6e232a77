"""XML record paths, namespaces, memory, and exports fetched from a real HTTP server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import traceback
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import StreamSpec
from connectors.xml.connector import XmlConnector, XmlSettings
from hub.errors import FatalConnectorError, RetriableConnectorError
from tests.connectors.file_server import serving

SPEC = StreamSpec("export.xml", ("id",))
EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<export xmlns="urn:hr" xmlns:old="urn:legacy">
  <employees>
    <employee><id>1</id><name>Zoë</name></employee>
    <old:employee><id>2</id><name>legacy namespace</name></old:employee>
  </employees>
  <archive><employees><employee><id>3</id><name>left</name></employee></employees></archive>
  <employee><id>4</id><name>top level</name><employee><id>5</id></employee></employee>
</export>
"""


def connector(base: Path, **settings: Any) -> XmlConnector:
    return XmlConnector(XmlSettings(**settings), system="hr", base_dir=base)


def ids(conn: XmlConnector, spec: StreamSpec = SPEC, **kw: Any) -> list[str]:
    return [r.data["id"] for b in conn.read(spec, **kw) for r in b.records]


@pytest.mark.parametrize("settings, expected", [
    ({"record_tag": "employee"}, ["1", "2", "3", "4"]),  # nested 5 belongs to 4
    ({"record_path": "/export/employees/employee"}, ["1", "2"]),
    ({"record_path": "hr:export/hr:employees/hr:employee", "namespaces": {"hr": "urn:hr"}},
     ["1"]),
    ({"record_path": "x:employee", "namespaces": {"x": "urn:legacy"}}, ["2"]),
    ({"record_path": "archive/employees/employee"}, ["3"]),
    ({"record_path": "{urn:hr}export/{urn:hr}employee"}, ["4"]),
])
def test_record_paths_and_namespaces(tmp_path: Path, settings: dict[str, Any],
                                     expected: list[str]) -> None:
    (tmp_path / "export.xml").write_text(EXPORT, encoding="utf-8")
    assert ids(connector(tmp_path, **settings)) == expected


def test_nested_records_stay_inside_their_record(tmp_path: Path) -> None:
    (tmp_path / "export.xml").write_text(EXPORT, encoding="utf-8")
    records = [r.data for b in connector(tmp_path, record_tag="employee").read(SPEC)
               for r in b.records]
    assert records[3] == {"id": "4", "name": "top level", "employee.id": "5"}


def test_settings_mistakes_are_named() -> None:
    with pytest.raises(ValidationError, match="prefix 'hr'"):
        XmlSettings(record_path="hr:employee")
    with pytest.raises(ValidationError, match="exactly one of"):
        XmlSettings(record_path="a", record_tag="a")
    with pytest.raises(ValidationError, match="not supported|unknown encoding"):
        XmlSettings(record_tag="a", encoding="klingon-8")
    with pytest.raises(ValidationError, match="must not contain credentials") as info:
        XmlSettings(record_tag="a", url="https://hr:topsecret@example.org/export/")
    assert "topsecret" not in str(info.value)
    assert XmlSettings(record_tag="a", encoding="latin-1").encoding  # Python aliases work


def test_a_dtd_without_entities_is_fine(tmp_path: Path) -> None:
    (tmp_path / "export.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE export SYSTEM "http://127.0.0.1:9/export.dtd">\n'
        "<export><employee><id>1</id></employee></export>")
    assert ids(connector(tmp_path, record_tag="employee")) == ["1"]


def test_memory_stays_flat_for_a_large_file(tmp_path: Path) -> None:
    """Peak memory of a fresh process reading 300k records: the lxml tree must not grow.

    (tracemalloc cannot see libxml2's allocations, so this measures the process.)
    """
    with open(tmp_path / "export.xml", "w", encoding="utf-8") as fh:
        fh.write("<export><employees>")
        fh.writelines(f"<employee><id>{i}</id><name>Zoë {i}</name><city>Köln</city>"
                      "</employee>\n" for i in range(300_000))
        fh.write("</employees></export>")
    script = textwrap.dedent(f"""
        from pathlib import Path
        from connectors.base import StreamSpec
        from connectors.xml.connector import XmlConnector, XmlSettings
        def peak():
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
        before = peak()
        conn = XmlConnector(XmlSettings(record_tag="employee"), system="hr",
                            base_dir=Path({str(tmp_path)!r}))
        count = sum(len(b.records) for b in conn.read(StreamSpec("export.xml", ("id",)),
                                                      batch_size=1000))
        print(count, peak() - before)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    count, growth_mib = map(int, out.stdout.split())
    assert count == 300_000
    assert growth_mib < 40, f"reading grew the process by {growth_mib} MiB"


# -- over HTTP -----------------------------------------------------------------------------

def test_reads_over_http_and_skips_an_unchanged_export(tmp_path: Path) -> None:
    (tmp_path / "export.xml").write_text(EXPORT, encoding="utf-8")
    with serving(tmp_path, user="kontor", password="s3cret-pw") as server:
        conn = connector(tmp_path / "x", url=server.url, record_path="/export/employees/employee",
                         username="kontor", password="s3cret-pw", timeout=5)
        conn.check()
        batches = list(conn.read(SPEC))
        assert [r.data["id"] for b in batches for r in b.records] == ["1", "2"]
        assert ids(conn, since=batches[-1].cursor) == []  # same content: nothing new
        (tmp_path / "export.xml").write_text(EXPORT.replace("Zoë", "Zoe"), encoding="utf-8")
        assert ids(conn, since=batches[-1].cursor) == ["1", "2"]
        assert conn.discover(SPEC)[0]["fields"] == [{"name": "id", "type": "string"},
                                                    {"name": "name", "type": "string"}]


def test_http_errors_tell_the_runner_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "export.xml").write_text(EXPORT, encoding="utf-8")
    with serving(tmp_path, user="kontor", password="right") as server:
        wrong = connector(tmp_path, url=server.url, record_tag="employee", username="kontor",
                          password="wr0ng-pa55-x1", timeout=5)
        with pytest.raises(FatalConnectorError, match="refused the credentials") as info:
            list(wrong.read(SPEC))
        assert "wr0ng-pa55-x1" not in "".join(traceback.format_exception(info.value))
        right = connector(tmp_path, url=server.url, record_tag="employee", username="kontor",
                          password="right", timeout=0.5)
        server.faults.append(503)
        with pytest.raises(RetriableConnectorError, match="HTTP 503.*retry after 30"):
            list(right.read(SPEC))
        with pytest.raises(FatalConnectorError, match="HTTP 404"):
            list(right.read(StreamSpec("missing.xml", ("id",))))
        server.delay = 1.0
        with pytest.raises(RetriableConnectorError, match="timeout"):
            list(right.read(SPEC))
    with pytest.raises(FatalConnectorError, match="cannot connect to http://127.0.0.1"):
        right.check()  # the server is gone


def test_credentials_never_follow_a_redirect(tmp_path: Path) -> None:
    """requests would send basic auth along a redirect to another path of the same server
    (it strips it only for another host): the connector refuses the redirect instead."""
    (tmp_path / "private.xml").write_text(EXPORT, encoding="utf-8")
    (tmp_path / "public.xml").write_text(EXPORT, encoding="utf-8")
    with serving(tmp_path, user="kontor", password="s3cret-pw") as server:
        server.redirects["/exports/a.xml"] = "/private.xml?token=abc"
        conn = connector(tmp_path / "x", url=server.url + "/exports/", username="kontor",
                         password="s3cret-pw", record_tag="employee", timeout=5)
        with pytest.raises(FatalConnectorError, match="redirects to .*/private.xml; "
                           "credentials are never sent along a redirect") as info:
            list(conn.read(StreamSpec("a.xml", ("id",))))
        assert "token=abc" not in str(info.value)
        assert [path for path, _ in server.seen] == ["/exports/a.xml"]  # nothing else asked
    with serving(tmp_path) as server:  # without credentials a redirect is harmless
        server.redirects["/old.xml"] = "/public.xml"
        anonymous = connector(tmp_path / "y", url=server.url, record_tag="employee", timeout=5)
        assert ids(anonymous, StreamSpec("old.xml", ("id",))) == ["1", "2", "3", "4"]
