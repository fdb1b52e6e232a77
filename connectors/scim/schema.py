"""Discover the fields of a SCIM resource type from the server's /ResourceTypes and /Schemas,
named with the flattening of :mod:`connectors.scim.paths`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.scim.paths import ENTERPRISE, TYPED_LISTS

_DEFAULT_TYPES = ["work", "home", "other"]
# RFC 7643 §3.1: common attributes of every resource, not listed in its schema.
_COMMON = [("id", "string", True), ("externalId", "string", False),
           ("meta.created", "dateTime", True), ("meta.lastModified", "dateTime", True)]


def _field(name: str, attr: dict[str, Any], multi: bool | None = None) -> dict[str, Any]:
    return {"name": name, "type": attr.get("type", "string"),
            "read_only": attr.get("mutability") == "readOnly",
            "required": bool(attr.get("required")),
            "list": bool(attr.get("multiValued") if multi is None else multi)}


def _typed(name: str, attr: dict[str, Any]) -> Iterator[dict[str, Any]]:
    subs = {s["name"]: s for s in attr.get("subAttributes") or []}
    kinds = (subs.get("type") or {}).get("canonicalValues") or _DEFAULT_TYPES
    for kind in kinds:
        if "value" in subs and name != "addresses":
            yield _field(f"{name}.{kind}", subs["value"], multi=False)
        else:
            for sub_name, sub in subs.items():
                if sub_name not in ("type", "primary"):
                    yield _field(f"{name}.{kind}.{sub_name}", sub, multi=False)


def fields_of(schema: dict[str, Any], prefix: str) -> Iterator[dict[str, Any]]:
    """Record fields of one schema; ``prefix`` is "" (core), "enterprise." or "urn….".

    Attributes never returned (``password``) and ``groups`` (read through Groups) are
    left out.
    """
    for attr in schema.get("attributes") or []:
        name = attr["name"]
        if attr.get("returned") == "never" or (not prefix and name == "groups"):
            continue
        if not prefix and name in TYPED_LISTS and attr.get("multiValued"):
            yield from _typed(name, attr)
        elif attr.get("type") == "complex" and not attr.get("multiValued") and \
                not (prefix == "enterprise." and name == "manager"):
            for sub in attr.get("subAttributes") or []:
                yield _field(f"{prefix}{name}.{sub['name']}", sub)
        else:
            yield _field(f"{prefix}{name}", attr)


def prefix_for(urn: str, core: str) -> str:
    if urn == core:
        return ""
    return "enterprise." if urn == ENTERPRISE else f"{urn}."


def common_fields(known: set[str]) -> list[dict[str, Any]]:
    """The common attributes (id, externalId, meta dates) a schema did not list itself."""
    return [{"name": n, "type": t, "read_only": ro, "required": False, "list": False}
            for n, t, ro in _COMMON if n not in known]
