"""Idempotent writes to a directory: add what is missing, modify only what differs.

Entries are found by the stream's key attribute (one search per 100 records), not by
guessing their DN, so entries that someone else created are updated in place. An
unchanged entry is not touched at all: re-sending a batch changes nothing, not even
``modifyTimestamp``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ldap3.core.exceptions import LDAPInvalidValueError
from ldap3.utils.conv import escape_filter_chars

from connectors._keys import key_text, key_values
from connectors.base import Record, StreamSpec, WriteResult
from connectors.ldap.directory import NO_SUCH_OBJECT, SUCCESS, Directory, record_reason
from connectors.ldap.dn import rdn, split_first
from connectors.ldap.schema import Schema
from connectors.ldap.settings import LdapSettings
from connectors.ldap.values import EntryProblem, Existing, changes, decode, to_values
from hub.errors import FatalConnectorError, RecordProblem

LOOKUP_CHUNK = 100
_VALUE_FOR = re.compile(r"for attribute '([\w-]+)'")

Found = dict[str, list[tuple[str, Existing]]]


class LdapWriter:
    """Writes and deletes the entries of one stream."""

    def __init__(self, directory: Directory, schema: Schema, settings: LdapSettings,
                 stream: StreamSpec, base: str, search_filter: str):
        if len(stream.key) != 1:
            raise FatalConnectorError(f"{directory.system}: stream {stream.resource!r} needs "
                                      "exactly one key attribute (e.g. employeeNumber)")
        self.directory, self.schema, self.settings = directory, schema, settings
        self.stream, self.base, self.filter = stream, base, search_filter
        self.key = stream.key[0]
        self.system = directory.system
        self.result = WriteResult()

    def _reject(self, reason: str, key: str, index: int, field: str | None = None) -> None:
        self.result.rejected.append((key, RecordProblem(
            reason, self.system, self.stream.resource, source_key=key,
            location=f"{self.stream.resource or self.base}:batch record {index}", field=field)))

    def lookup(self, keys: list[str], attributes: list[str]) -> Found:
        """Entries by key value (case-folded: key attributes usually match ignoring case)."""
        found: Found = defaultdict(list)
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start:start + LOOKUP_CHUNK]
            either = "".join(f"({self.key}={escape_filter_chars(k)})" for k in chunk)
            query = f"(&{self.filter}(|{either}))"
            for page in self.directory.paged_search(self.base, query, attributes + [self.key]):
                for entry in page:
                    try:
                        attrs = decode(entry["raw_attributes"], self.schema)
                    except EntryProblem:
                        attrs = {}  # unreadable values get replaced, never compared
                    for value in attrs.get(self.key.lower(), ("", []))[1]:
                        found[value.casefold()].append((entry["dn"], attrs))
        return found

    def _writable(self, records: list[Record]) -> dict[str, str]:
        """Schema names of the fields to write; unknown attributes stop the batch."""
        fields = {f for r in records for f in r}
        unknown = self.schema.unknown(fields)
        if unknown:
            raise FatalConnectorError(f"{self.system}: the directory has no attribute(s) "
                                      f"{', '.join(sorted(unknown))}; check the outbound mapping")
        names = {}
        for field in fields:
            attr = self.schema.attribute(field)
            if attr is not None and not attr.read_only and attr.name.lower() != "objectclass":
                names[field.lower()] = attr.name  # operational values read back are skipped
        return names

    def write(self, records: list[Record]) -> WriteResult:
        names = self._writable(records)
        rows = []
        for index, record in enumerate(records, start=1):
            values = to_values(record.get(self.key))
            if len(values) != 1:
                self._reject("key attribute is missing or has several values",
                             key_text((self.key,), record, index), index, self.key)
            else:
                rows.append((index, values[0], record))
        found = self.lookup([k for _, k, _ in rows], list(names.values()))
        for index, key, record in rows:
            wanted = {f.lower(): to_values(v) for f, v in record.items() if f.lower() in names}
            entries = found.get(key.casefold(), [])
            try:
                if len(entries) > 1:
                    self._reject(f"{len(entries)} entries have this key", key, index, self.key)
                elif entries:
                    self._modify(*entries[0], wanted, names, key, index)
                else:
                    self._add(wanted, names, key, index)
            except LDAPInvalidValueError as exc:  # its message quotes the value: not kept
                match = _VALUE_FOR.search(str(exc))
                self._reject("value has the wrong syntax for the attribute", key, index,
                             match.group(1) if match else None)
        return self.result

    def _done(self, result: dict[str, object], key: str, index: int) -> bool:
        if result["result"] == SUCCESS:
            return True
        reason, field = record_reason(result)
        self._reject(reason, key, index, field)
        return False

    def _add(self, wanted: dict[str, list[str]], names: dict[str, str], key: str,
             index: int) -> None:
        naming = self.settings.rdn_attribute or self.key
        values = wanted.get(naming.lower()) or []
        if not values:
            self._reject("naming (RDN) attribute is missing", key, index, naming)
            return
        dn = f"{rdn(naming, values[0])},{self.base}"
        attributes = {names[k]: v for k, v in wanted.items() if v}
        result = self.directory.call(f"add entry for key {key}", "add", dn,
                                     self.schema.chain(self.settings.object_class), attributes)
        if self._done(result, key, index):
            self.result.written += 1

    def _modify(self, dn: str, existing: Existing, wanted: dict[str, list[str]],
                names: dict[str, str], key: str, index: int) -> None:
        rdn_attr, rdn_value, parent = split_first(dn)
        new_rdn = wanted.get(rdn_attr.lower())
        if new_rdn is not None and rdn_value not in new_rdn:
            if not new_rdn:
                self._reject("cannot remove the naming (RDN) attribute", key, index, rdn_attr)
                return
            # The naming value changes: rename first, a plain modify may not touch it.
            result = self.directory.call(f"rename entry for key {key}", "modify_dn", dn,
                                         rdn(rdn_attr, new_rdn[0]), delete_old_dn=True)
            if not self._done(result, key, index):
                return
            dn = f"{rdn(rdn_attr, new_rdn[0])},{parent}"
            old = existing.get(rdn_attr.lower(), (rdn_attr, []))[1]
            existing = {**existing, rdn_attr.lower(): (
                rdn_attr, [v for v in old if v != rdn_value] + [new_rdn[0]])}
        todo = changes(existing, wanted, names)
        if todo:
            result = self.directory.call(f"modify entry for key {key}", "modify", dn, todo)
            if not self._done(result, key, index):
                return
        self.result.written += 1

    def delete(self, keys: Sequence[str | Sequence[Any]]) -> WriteResult:
        wanted = [key_values(self.stream.key, k)[0] for k in keys]
        found = self.lookup(wanted, ["1.1"])
        for index, key in enumerate(wanted, start=1):
            deleted = True
            for dn, _ in found.get(key.casefold(), []):
                result = self.directory.call(f"delete entry for key {key}", "delete", dn)
                if result["result"] not in (SUCCESS, NO_SUCH_OBJECT):  # gone is deleted
                    deleted = self._done(result, key, index)
            self.result.written += deleted
        return self.result
