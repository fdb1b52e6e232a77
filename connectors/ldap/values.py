"""Directory entries as records and records as attribute values.

LDAP has no empty values and no nulls: an absent attribute reads as None, and None, ""
or an empty list written for an attribute removes it. Values are text (UTF-8); an
attribute listed in ``lists`` reads as a list, any other as one value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import ldap3

from connectors.base import Record
from connectors.ldap.schema import Schema

#: attribute name (lower case) → (schema name, values as text)
Existing = dict[str, tuple[str, list[str]]]


class EntryProblem(Exception):
    """An entry that cannot become a record; names the attribute, never its values."""

    def __init__(self, reason: str, field: str):
        super().__init__(reason)
        self.reason, self.field = reason, field


def decode(raw: dict[str, list[bytes]], schema: Schema) -> Existing:
    """The textual attributes of an entry (binary ones and objectClass left out)."""
    found: Existing = {}
    for name, values in raw.items():
        attr = schema.attribute(name)
        if attr is None or attr.binary or name.lower() == "objectclass" or not values:
            continue
        try:
            found[name.lower()] = (attr.name, [v.decode("utf-8") for v in values])
        except UnicodeDecodeError:
            raise EntryProblem("value is not UTF-8 text", attr.name) from None
    return found


def to_record(attrs: Existing, spelling: dict[str, str], wanted: Iterable[str] | None,
              lists: set[str]) -> Record:
    """A record: names as the configuration spells them, one value or a list each."""
    record: Record = {}
    names = [w.lower() for w in wanted] if wanted is not None else list(attrs)
    for key in names:
        schema_name, values = attrs.get(key, ("", []))
        name = spelling.get(key) or schema_name or key
        if key in lists:
            record[name] = values or None
        elif len(values) > 1:
            raise EntryProblem(f"has {len(values)} values; list the attribute under "
                               "`lists` to read it as a list", name)
        else:
            record[name] = values[0] if values else None
    return record


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):  # LDAP Generalized Time, in UTC
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y%m%d%H%M%SZ")
    return str(value)


def to_values(value: Any) -> list[str]:
    """What an attribute should hold for a record's value ([] = remove it)."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [text(v) for v in value if v is not None and v != ""]
    return [text(value)]


def changes(existing: Existing, wanted: dict[str, list[str]], schema_names: dict[str, str]
            ) -> dict[str, list[tuple[str, list[str]]]]:
    """``ldap3`` modify changes: replace what differs, delete what should be absent."""
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for key, values in wanted.items():
        have = existing.get(key, ("", []))[1]
        if sorted(have) == sorted(values):
            continue
        name = schema_names[key]
        out[name] = [(ldap3.MODIFY_REPLACE, values)] if values else [(ldap3.MODIFY_DELETE, [])]
    return out
