"""The LDAP connector: people in a directory (inetOrgPerson entries) as one stream each.

Reads use simple paged results, so a directory of any size streams page by page.
Incremental reads follow an ordered operational attribute, normally ``modifyTimestamp``:
the next read asks for ``>=`` the last value seen (LDAP filters have no ``>``), so the
entries of that last second are read again — harmless, writes are idempotent — and none
changed within it is ever missed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import ldap3
from ldap3.utils.conv import escape_filter_chars

from connectors._cursor import later
from connectors.base import (
    Capability,
    Connector,
    ConnectorSettings,
    ReadBatch,
    Record,
    SourceRecord,
    StreamSpec,
    WriteResult,
)
from connectors.ldap.directory import NO_SUCH_OBJECT, Directory
from connectors.ldap.schema import Schema
from connectors.ldap.settings import CAPABILITIES, LdapSettings
from connectors.ldap.values import EntryProblem, decode, to_record
from connectors.ldap.writes import LdapWriter
from hub.errors import FatalConnectorError, RecordProblem


def _key_of(raw: dict[str, list[bytes]], key: tuple[str, ...]) -> str | None:
    """The key value of an entry that could not be read, to name it in its problem."""
    values = {n.lower(): v for n, v in raw.items()}.get(key[0].lower()) if key else None
    return values[0].decode("utf-8", errors="replace") if values and len(values) == 1 else None


class LdapConnector(Connector):
    """Reads, upserts and deletes directory entries of one object class."""

    kind: ClassVar[str] = "ldap"
    settings_model: ClassVar[type[ConnectorSettings]] = LdapSettings
    capabilities: ClassVar[frozenset[Capability]] = CAPABILITIES
    settings: LdapSettings

    def __init__(self, settings: ConnectorSettings, *, system: str, base_dir: Path):
        super().__init__(settings, system=system, base_dir=base_dir)
        self.directory = Directory(self.settings, system)
        self._schema: Schema | None = None

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            self._schema = Schema(self.directory.schema)
            if not self._schema.known(self.settings.object_class):
                raise FatalConnectorError(f"{self.system}: the directory's schema has no "
                                          f"object class {self.settings.object_class!r}")
        return self._schema

    def _base(self, resource: str) -> str:
        """The search base of a stream: a container below ``base_dn`` (or it itself)."""
        base_dn = self.settings.base_dn
        resource = resource.strip()
        if resource in ("", "."):
            return base_dn
        if resource.lower().endswith(base_dn.lower()):
            return resource
        return f"{resource},{base_dn}"

    def _filter(self, extra: str = "") -> str:
        return (f"(&(objectClass={escape_filter_chars(self.settings.object_class)})"
                f"{self.settings.filter or ''}{extra})")

    def _scope(self) -> str:
        return ldap3.SUBTREE if self.settings.scope == "subtree" else ldap3.LEVEL

    def check(self) -> None:
        """Bind, find ``base_dn`` and the object class in the schema."""
        base = self.settings.base_dn
        result = self.directory.call(f"read {base}", "search", base, "(objectClass=*)",
                                     ldap3.BASE, attributes=["1.1"])
        if result["result"] == NO_SUCH_OBJECT:
            raise FatalConnectorError(f"{self.system}: base_dn {base!r} not found")
        _ = self.schema

    def streams(self) -> list[str]:
        """The organisational units right below ``base_dn``."""
        base = self.settings.base_dn
        units: list[str] = []
        for page in self.directory.paged_search(base, "(objectClass=organizationalUnit)",
                                                ["1.1"], scope=ldap3.LEVEL):
            units.extend(e["dn"][:-len(base) - 1] for e in page
                         if e["dn"].lower().endswith("," + base.lower()))
        return sorted(units)

    def _named(self, stream: StreamSpec) -> list[str]:
        """Attributes every record carries (None when absent): configured, key, cursor."""
        field = [stream.cursor_field] if stream.cursor_field else []
        return list(dict.fromkeys([*(self.settings.attributes or []), *stream.key, *field]))

    def discover(self, stream: StreamSpec | None = None) -> list[dict[str, Any]]:
        """The fields ``read`` returns, typed from the schema (binary attributes left out).

        With ``attributes`` configured that is exactly those (plus key and cursor); else
        every attribute the object class allows, of which an entry holds some.
        """
        spec = stream or StreamSpec("", ())
        must, may = self.schema.attributes_of(self.settings.object_class)
        names = self._named(spec) if self.settings.attributes else \
            list(dict.fromkeys([*must, *may, *self._named(spec)]))
        lists = {n.lower() for n in self.settings.lists}
        required = {n.lower() for n in must}
        fields = []
        for name in names:
            attr = self.schema.attribute(name)
            if attr is None or attr.binary or attr.name.lower() == "objectclass":
                continue
            fields.append({"name": name, "type": attr.type,
                           "required": name.lower() in required,
                           "list": name.lower() in lists, "single_valued": attr.single,
                           "read_only": attr.read_only})
        resources = [spec.resource] if stream else (self.streams() or [""])
        return [{"resource": r, "fields": fields, "key": list(spec.key)} for r in resources]

    def read(self, stream: StreamSpec, *, since: Any = None, batch_size: int = 5000
             ) -> Iterator[ReadBatch]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        base, field = self._base(stream.resource), stream.cursor_field
        named = self._named(stream)
        requested = named if self.settings.attributes else ["*", *named]
        spelling = {n.lower(): n for n in named}
        wanted = named if self.settings.attributes else None
        lists = {n.lower() for n in self.settings.lists}
        extra = f"({field}>={escape_filter_chars(str(since))})" if field and since else ""
        schema, cursor, number = self.schema, since, 0
        where = stream.resource or base
        batch = ReadBatch()
        for page in self.directory.paged_search(base, self._filter(extra), requested,
                                                scope=self._scope()):
            for entry in page:
                number += 1
                try:
                    data: Record = to_record(decode(entry["raw_attributes"], schema), spelling,
                                             wanted, lists)
                except EntryProblem as exc:
                    batch.problems.append(RecordProblem(
                        exc.reason, self.system, stream.resource,
                        source_key=_key_of(entry["raw_attributes"], stream.key),
                        location=f"{where}:entry {number}", field=exc.field))
                else:
                    if field:
                        cursor = later(cursor, data.get(field))
                    batch.records.append(SourceRecord(data, f"{where}:entry {number}"))
                if len(batch.records) + len(batch.problems) >= batch_size:
                    yield batch  # no cursor yet: pages do not come in cursor order
                    batch = ReadBatch()
        if field:
            batch.cursor = cursor
        if batch.records or batch.problems or (field and cursor != since):
            yield batch

    def _writer(self, stream: StreamSpec) -> LdapWriter:
        return LdapWriter(self.directory, self.schema, self.settings, stream,
                          self._base(stream.resource), self._filter())

    def write(self, stream: StreamSpec, records: list[Record]) -> WriteResult:
        """Add missing entries and replace only the attributes that differ."""
        return self._writer(stream).write(records)

    def delete(self, stream: StreamSpec, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        """Delete the entries with these key values; an entry already gone counts as deleted."""
        return self._writer(stream).delete(keys)

    def close(self) -> None:
        self.directory.close()
