"""XML files in a directory: every element named ``record_tag`` is one record.

Parsing streams through ``defusedxml`` (entity declarations and external references are
refused, so XML bombs cannot expand) and drops each element once it has been turned into
a record, so memory stays bounded by the batch size, not by the file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException
from pydantic import field_validator

from connectors._files import (
    FileConnector,
    HashingReader,
    validate_codec,
)
from connectors.base import Capability, ConnectorSettings
from hub.errors import FatalConnectorError, RecordProblem

#: How many records ``discover`` looks at to learn a file's fields.
DISCOVER_SAMPLE = 100


class XmlSettings(ConnectorSettings):
    directory: str = "."
    #: Element name of one record, e.g. "employee" (a namespace may be given as "{uri}name").
    record_tag: str
    #: Overrides the encoding the XML declares; None trusts the document.
    encoding: str | None = None

    @field_validator("record_tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str | None) -> str | None:
        return None if value is None else validate_codec(value)


def _local(tag: str) -> str:
    """Tag or attribute name without its "{namespace}" part."""
    return tag.rsplit("}", 1)[-1]


def _add(out: dict[str, Any], key: str, value: str) -> None:
    """Set a field; a repeated field becomes a list of its values."""
    if key not in out:
        out[key] = value
    elif isinstance(out[key], list):
        out[key].append(value)
    else:
        out[key] = [out[key], value]


def _flatten(record: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in record.attrib.items():
        _add(out, f"@{_local(name)}", value)
    for child in record:
        _walk(child, _local(child.tag), out)
    return out


def _walk(elem: ET.Element, prefix: str, out: dict[str, Any]) -> None:
    for name, value in elem.attrib.items():
        _add(out, f"{prefix}.@{_local(name)}", value)
    text = (elem.text or "").strip()
    if len(elem) == 0:
        _add(out, prefix, text)
        return
    if text:  # mixed content: keep the element's own text too
        _add(out, prefix, text)
    for child in elem:
        _walk(child, f"{prefix}.{_local(child.tag)}", out)


class XmlConnector(FileConnector):
    """Reads records out of XML files in one directory."""

    kind: ClassVar[str] = "xml"
    suffix: ClassVar[str] = ".xml"
    settings_model: ClassVar[type[ConnectorSettings]] = XmlSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ, Capability.DISCOVER})
    settings: XmlSettings

    def _fields(self, path: Path, resource: str) -> list[dict[str, str]]:
        fields: dict[str, str] = {}
        with open(path, "rb") as fh:
            for seen, (kind, data) in enumerate(self._records(fh, path, resource)):
                if kind != "record" or seen >= DISCOVER_SAMPLE:
                    break
                for key, value in data.items():
                    if isinstance(value, list) or key not in fields:
                        fields[key] = "list" if isinstance(value, list) else "string"
        return [{"name": k, "type": t} for k, t in fields.items()]

    def _parse(self, source: HashingReader, path: Path, resource: str
               ) -> Iterator[tuple[dict[str, Any], str] | RecordProblem]:
        number = 0
        for kind, data in self._records(source, path, resource):
            if kind == "record":
                number += 1
                yield data, f"{resource}:record {number}"
            else:
                line, reason = data
                yield RecordProblem(reason=reason, system=self.system, stream=resource,
                                    location=f"{resource}:line {line}")

    def _records(self, source: Any, path: Path, resource: str
                 ) -> Iterator[tuple[str, Any]]:
        """("record", fields) per record; at most one final ("problem", (line, reason))."""
        if path.stat().st_size == 0:
            return  # an empty file holds no records; not worth a problem
        tag = self.settings.record_tag
        parser = DET.DefusedXMLParser(target=ET.TreeBuilder(), encoding=self.settings.encoding,
                                      forbid_dtd=False, forbid_entities=True,
                                      forbid_external=True)
        open_elems: list[ET.Element] = []
        depth = 0  # how many record elements are open (records may not nest)
        try:
            for event, elem in ET.iterparse(source, events=("start", "end"), parser=parser):
                is_record = elem.tag == tag or _local(elem.tag) == tag
                if event == "start":
                    open_elems.append(elem)
                    depth += is_record
                    continue
                open_elems.pop()
                if is_record:
                    depth -= 1
                if depth:
                    continue  # part of an open record: kept until the record ends
                if is_record:
                    yield "record", _flatten(elem)
                # Drop what has been handled, so the tree never grows with the file.
                elem.clear()
                if open_elems:
                    open_elems[-1].remove(elem)
        except DefusedXmlException as exc:
            raise FatalConnectorError(
                f"{self.system}: {path}: entity declarations are forbidden "
                f"({type(exc).__name__}); refusing the file as a possible XML bomb") from None
        except ET.ParseError as exc:
            line, column = exc.position
            message = str(exc).split(": line ")[0]
            reason = (f"malformed XML in {resource} at line {line}, column {column}: "
                      f"{message}; the rest of the file was not read")
            yield "problem", (line, reason)
