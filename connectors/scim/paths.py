"""SCIM resources as flat records, and records merged back into resources.

The flattening, chosen to be readable in a mapping file:

- simple attributes keep their name: ``userName``, ``externalId``, ``active``;
- complex ones use dotted names: ``name.givenName``, ``name.familyName``;
- typed multi-valued ones (emails, phoneNumbers, addresses, ...) are keyed by ``type``
  (``other`` when untyped): ``emails.work``, ``phoneNumbers.mobile`` hold the ``value``;
  items without a value use sub-attributes: ``addresses.work.locality``;
- the enterprise extension is ``enterprise.<attribute>``, with ``enterprise.manager``
  the manager's id; other extensions keep their URN: ``urn:…:2.0:User.attribute``;
- ``meta.created`` and ``meta.lastModified`` are read-only, ``groups`` is left out.
"""

from __future__ import annotations

import copy
from typing import Any

from connectors._json import flatten
from connectors.base import Record

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TYPED_LISTS = frozenset({"emails", "phoneNumbers", "ims", "photos", "addresses",
                         "entitlements", "roles", "x509Certificates"})
_ITEM_META = frozenset({"type", "primary", "display", "$ref"})
_READ_ONLY = frozenset({"id", "meta", "groups", "schemas"})


class ResourceProblem(Exception):
    """A resource that has no flat form (names the attribute, never its values)."""

    def __init__(self, reason: str, field: str):
        super().__init__(reason)
        self.reason, self.field = reason, field


def split_urn(field: str) -> tuple[str, str]:
    """``urn:…:2.0:User.department`` → (``urn:…:2.0:User``, ``department``)."""
    colon = field.rfind(":")
    dot = field.find(".", colon)
    return (field, "") if dot < 0 else (field[:dot], field[dot + 1:])


def to_record(resource: dict[str, Any]) -> Record:
    """The flat record of one SCIM resource."""
    record: Record = {}
    for name, value in resource.items():
        if name in ("schemas", "groups"):
            continue
        if name == "meta" and isinstance(value, dict):
            record.update({f"meta.{k}": value[k] for k in ("created", "lastModified")
                           if k in value})
        elif name == ENTERPRISE and isinstance(value, dict):
            for attr, sub in value.items():
                if attr == "manager" and isinstance(sub, dict):
                    sub = sub.get("value")
                record[f"enterprise.{attr}"] = sub
        elif name.startswith("urn:") and isinstance(value, dict):
            record.update(flatten(value, name + "."))
        elif name in TYPED_LISTS and isinstance(value, list):
            _typed_items(record, name, value)
        elif isinstance(value, dict):
            record.update(flatten(value, name + "."))
        else:
            record[name] = value
    return record


def _typed_items(record: Record, name: str, items: list[Any]) -> None:
    for item in items:
        if not isinstance(item, dict):
            raise ResourceProblem("an item is not an object", name)
        kind = item.get("type") or "other"
        if "value" in item and not set(item) - _ITEM_META - {"value"}:
            fields = {f"{name}.{kind}": item["value"]}
        else:
            fields = {f"{name}.{kind}.{k}": v for k, v in item.items()
                      if k not in ("type", "primary")}
        if set(fields) & set(record):
            raise ResourceProblem(f"has several items of type {kind!r}", name)
        record.update(fields)


def filter_path(field: str) -> str:
    """The SCIM filter attribute path of a record field (for lookups by key)."""
    head, _, rest = field.partition(".")
    if head == "enterprise":
        return f"{ENTERPRISE}:{rest}" + (".value" if rest == "manager" else "")
    if field.startswith("urn:"):
        urn, attr = split_urn(field)
        return f"{urn}:{attr}"
    if head in TYPED_LISTS and rest:
        kind, _, sub = rest.partition(".")
        return f'{head}[type eq "{kind}"].{sub or "value"}'
    return field


def apply(resource: dict[str, Any], record: Record) -> dict[str, Any]:
    """``resource`` with the record's fields set (None removes); other attributes kept."""
    out = copy.deepcopy(resource)
    for field, value in record.items():
        head, _, rest = field.partition(".")
        if head in _READ_ONLY:
            continue
        if head == "enterprise" and rest:
            _uses(out, ENTERPRISE)
            ext = out.setdefault(ENTERPRISE, {})
            if rest == "manager":
                _set_manager(ext, value)
            else:
                _assign(ext, rest, value)
        elif field.startswith("urn:"):
            urn, attr = split_urn(field)
            _uses(out, urn)
            _assign(out.setdefault(urn, {}), attr, value)
        elif head in TYPED_LISTS and rest:
            kind, _, sub = rest.partition(".")
            _set_item(out, head, kind, sub or "value", value)
        else:
            _assign(out, field, value)
    return {k: v for k, v in out.items() if v != {}}


def _set_manager(ext: dict[str, Any], value: Any) -> None:
    """The manager is a reference; its read-only displayName survives an unchanged id."""
    old = ext.get("manager")
    if value is None:
        ext.pop("manager", None)
    elif not (isinstance(old, dict) and old.get("value") == value):
        ext["manager"] = {"value": value}


def _uses(resource: dict[str, Any], urn: str) -> None:
    schemas = resource.setdefault("schemas", [CORE_USER])
    if urn not in schemas:
        schemas.append(urn)


def _assign(node: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            if value is None:
                return  # nothing there to remove
            child = node[part] = {}
        node = child
    if value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = value


def _set_item(resource: dict[str, Any], name: str, kind: str, sub: str, value: Any) -> None:
    items = [i for i in resource.get(name) or [] if isinstance(i, dict)]
    match = [i for i in items if (i.get("type") or "other") == kind]
    if value is None:
        for item in match:
            item.pop(sub, None)
        items = [i for i in items if set(i) - _ITEM_META]  # drop items left empty
    elif match:
        match[0][sub] = value
    else:
        items.append({"type": kind, sub: value})
    if items:
        resource[name] = items
    else:
        resource.pop(name, None)
