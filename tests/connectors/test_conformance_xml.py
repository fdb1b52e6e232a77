"""The XML connector passes the conformance kit: files (with namespaces, read and written)
and over HTTP (read only)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors.base import Capability, Record, StreamSpec
from connectors.xml.connector import XmlConnector
from hub.testing import ConnectorConformance, Harness
from tests.connectors.file_server import FileServer, serving

NS = "urn:example:hr:2024"


class XmlHarness(Harness):
    """XML exports written with ElementTree: export/employees/employee, one child per field.

    A null is an absent element, an empty string an empty one: XML keeps them apart.
    What the connector writes is looked at with ElementTree too.
    """

    connector_class = XmlConnector
    detects_unchanged = True  # the cursor is the file's content hash
    can_reject = True  # a control character XML 1.0 does not allow
    uses_secrets = False  # a folder needs no password
    namespace: ClassVar[str | None] = None

    def __init__(self, base_dir: Path):
        super().__init__(base_dir)
        self.folder = base_dir / "export"
        self.folder.mkdir()

    def settings(self) -> dict[str, Any]:
        return {"directory": "export", "record_path": "/export/employees/employee"}

    def bad_settings(self) -> dict[str, Any]:
        return {**self.settings(), "directory": "no-such-folder"}

    def invalid_settings(self) -> list[dict[str, Any]]:
        return [{"record_path": "x", "encoding": "klingon-8"}, {"record_path": "x",
                                                                "timeout": -1}]

    def stream(self, *, incremental: bool = False) -> StreamSpec:
        return StreamSpec("staff.xml", ("id",))

    def _tag(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}" if self.namespace else name

    def seed(self, records: list[Record]) -> None:
        root = ET.Element(self._tag("export"))
        ET.SubElement(root, self._tag("meta")).text = "not a record"
        employees = ET.SubElement(root, self._tag("employees"))
        for record in records:
            elem = ET.SubElement(employees, self._tag("employee"))
            for name, value in record.items():
                if value is not None:
                    ET.SubElement(elem, self._tag(name)).text = str(value)
        ET.ElementTree(root).write(self.folder / "staff.xml", encoding="utf-8",
                                   xml_declaration=True)

    def contents(self) -> list[Record]:
        path = self.folder / "staff.xml"
        if not path.exists():
            return []
        root = ET.parse(path).getroot()
        assert root.tag == self._tag("export")
        found = root.findall(f"{self._tag('employees')}/{self._tag('employee')}")
        return [{child.tag.rpartition("}")[2]: child.text or "" for child in elem}
                for elem in found]

    def rejected_record(self, key: str) -> Record:
        return self.record(key, "bell\x07kontor-private", "note")


class NamespacedXmlHarness(XmlHarness):
    namespace = NS

    def settings(self) -> dict[str, Any]:
        return {"directory": "export", "record_path": "hr:export/hr:employees/hr:employee",
                "namespaces": {"hr": NS}}


class HttpXmlHarness(XmlHarness):
    """The same exports, fetched from a real HTTP server behind basic auth (read-only)."""

    uses_secrets = True
    capabilities = frozenset({Capability.READ, Capability.DISCOVER})

    def __init__(self, base_dir: Path, server: FileServer):
        super().__init__(base_dir)
        self.server = server

    def settings(self) -> dict[str, Any]:
        return {"url": self.server.url, "record_path": "employees/employee",
                "username": "kontor", "password": "right-password", "timeout": 5}

    def bad_settings(self) -> dict[str, Any]:
        return {**self.settings(), "password": "wrong-password"}


class TestXmlConformance(ConnectorConformance):
    harness = XmlHarness


class TestNamespacedXmlConformance(ConnectorConformance):
    harness = NamespacedXmlHarness


class TestXmlOverHttpConformance(ConnectorConformance):
    harness = HttpXmlHarness

    @pytest.fixture
    def kontor_harness(self, tmp_path: Path) -> Iterator[Harness]:
        (tmp_path / "export").mkdir()
        with serving(tmp_path / "export", user="kontor", password="right-password") as server:
            (tmp_path / "export").rmdir()  # the harness creates it again
            yield HttpXmlHarness(tmp_path, server)
