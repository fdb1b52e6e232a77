"""SCIM PATCH (RFC 7644 §3.5.2) on a lower-cased User document: add, replace, remove.

The operations change a copy of the stored user (with every field, withheld or not);
the caller then writes the difference. ``apply`` returns the attribute keys each operation
touched, so the caller's right to write them is checked whether or not a value changed.
An add or replace of a whole extension touches the attributes its value names; a remove
touches the whole extension (``enterprise``, ``kontor``).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable
from typing import Any

from hub.api.scim import bodies
from hub.api.scim.attributes import (
    CORE,
    ENTERPRISE,
    KONTOR,
    LOWER_URIS,
    READ_ONLY,
    attr_key,
    lower_keys,
    nest_extensions,
)
from hub.api.scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    FilterError,
    Not,
    Or,
    PatchPath,
    Present,
    parse_path,
)
from hub.errors import HubError

MULTI_VALUED = {"emails", "phonenumbers", "addresses"}
_CONTAINERS = {"enterprise:": ENTERPRISE.lower(), "kontor:": KONTOR.lower()}


class PatchError(HubError):
    """An operation that cannot be applied; ``scim_type`` per RFC 7644 Table 9."""

    def __init__(self, message: str, scim_type: str):
        super().__init__(message)
        self.scim_type = scim_type


def _text(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def matches(element: Any, where: Filter) -> bool:
    """Does one value of a multi-valued attribute satisfy a value filter?"""
    if isinstance(where, And):
        return matches(element, where.left) and matches(element, where.right)
    if isinstance(where, Or):
        return matches(element, where.left) or matches(element, where.right)
    if isinstance(where, Not):
        return not matches(element, where.inner)
    if not isinstance(element, dict):
        return False
    if isinstance(where, Present):
        return element.get(where.path.attr.lower()) not in (None, "", [])
    if not isinstance(where, Compare):
        return False
    held, wanted = _text(element.get(where.path.attr.lower())), _text(where.value)
    if where.op == "eq":
        return bool(held == wanted)
    if where.op == "ne":
        return bool(held != wanted)
    if not isinstance(held, str) or not isinstance(wanted, str):
        return False
    return {"co": wanted in held, "sw": held.startswith(wanted), "ew": held.endswith(wanted),
            "gt": held > wanted, "ge": held >= wanted, "lt": held < wanted,
            "le": held <= wanted}[where.op]


def _target(doc: dict[str, Any], path: AttrPath, kontor: Iterable[str]
            ) -> tuple[dict[str, Any], str, str]:
    """(container, attribute name, key) for a path; whole extensions are their own key."""
    whole = f"{path.uri}:{path.attr}".lower() if path.uri else None
    if whole == CORE.lower():
        raise FilterError("the core schema is no attribute")
    if whole in LOWER_URIS and not path.sub:
        return doc, whole, ("enterprise" if whole == ENTERPRISE.lower() else "kontor")
    key = attr_key(path, kontor)
    for prefix, uri in _CONTAINERS.items():
        if key.startswith(prefix):
            container = doc.setdefault(uri, {})
            if not isinstance(container, dict):
                doc[uri] = container = {}
            return container, path.attr.lower(), key
    return doc, path.attr.lower(), key


def _put(container: dict[str, Any], name: str, value: Any, *, add: bool) -> None:
    held = container.get(name)
    if name in MULTI_VALUED:
        items = value if isinstance(value, list) else [value]
        container[name] = (list(held) if add and isinstance(held, list) else []) + items
    elif isinstance(held, dict) and isinstance(value, dict):
        container[name] = {**held, **value}  # complex attributes merge, add or replace
    else:
        container[name] = value


def _apply_one(doc: dict[str, Any], op: str, pp: PatchPath, value: Any,
               kontor: Iterable[str], read_only: Collection[str],
               extension: bodies.KontorModels | None) -> set[str]:
    container, name, key = _target(doc, pp.path, kontor)
    keys = {key}
    if key in ("enterprise", "kontor") and op != "remove" and isinstance(value, dict):
        keys = {f"{key}:{attr}" for attr in value if attr != "schemas"}
    if any(k.split(".")[0] in READ_ONLY or k in READ_ONLY or k in read_only for k in keys):
        raise PatchError("attribute is read-only", "mutability")
    if op == "remove" and key == "active":
        # It follows the termination date, so a User is always active or not (RFC 7643
        # §4.1.1 leaves its meaning to the service provider): it cannot become unassigned.
        raise PatchError("active cannot be removed: replace it with true or false",
                         "mutability")
    sub = pp.sub.lower() if pp.sub else None
    if pp.where is None and pp.path.sub and name in MULTI_VALUED:
        # emails.value names the values of every email: say which (emails[type eq "work"]).
        raise PatchError("a sub-attribute of a multi-valued attribute needs a value filter",
                         "invalidPath")
    if op != "remove":
        kind = bodies.value_model(key, filtered=pp.where is not None, sub=sub,
                                  kontor=extension)
        wrong = bodies.check_value(kind, value) if kind is not None else None
        if wrong is not None:
            where = key if wrong == "value" else f"{key} ({wrong})"
            raise PatchError(f"the value does not fit {where}", "invalidValue")
    if pp.where is not None:
        items = container.get(name)
        items = items if isinstance(items, list) else []
        hits = [i for i in items if matches(i, pp.where)]
        if not hits and op != "remove" and sub and isinstance(pp.where, Compare) \
                and pp.where.path.attr.lower() == "type" and pp.where.op == "eq":
            hits = [{"type": pp.where.value}]  # replace emails[type eq "work"].value: add it
            items.append(hits[0])
        if not hits:
            raise PatchError("no value matches the path's filter", "noTarget")
        for hit in hits:
            if op == "remove":
                if sub:
                    hit.pop(sub, None)
                else:
                    items.remove(hit)
            elif sub:
                hit[sub] = value
            else:
                hit.clear()
                hit.update(value if isinstance(value, dict) else {"value": value})
        container[name] = items
    elif pp.path.sub:
        parent = container.get(name)
        if not isinstance(parent, dict):
            container[name] = parent = {}
        if op == "remove":
            parent.pop(pp.path.sub.lower(), None)
        else:
            parent[pp.path.sub.lower()] = value
    elif op == "remove":
        container.pop(name, None)
    else:
        _put(container, name, value, add=op == "add")
    return keys


def apply(doc: dict[str, Any], operations: Any, kontor: Iterable[str],
          read_only: Collection[str] = (), extension: bodies.KontorModels | None = None
          ) -> tuple[dict[str, Any], set[str]]:
    """The patched copy of ``doc`` and the attribute keys the operations touched.

    ``read_only``: more attribute keys (``kontor:hire_date``) no operation may change;
    ``extension``: the deployment's Kontor extension, whose values each must fit."""
    if not isinstance(operations, list) or not operations:
        raise PatchError("Operations must be a non-empty list", "invalidSyntax")
    kontor = list(kontor)
    doc = copy.deepcopy(doc)
    touched: set[str] = set()
    for number, raw in enumerate(operations, 1):
        if not isinstance(raw, dict):
            raise PatchError(f"operation {number} is not an object", "invalidSyntax")
        raw = {str(k).lower(): v for k, v in raw.items()}
        op = str(raw.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise PatchError(f"operation {number}: op must be add, replace or remove",
                             "invalidSyntax")
        if op != "remove" and "value" not in raw:
            raise PatchError(f"operation {number}: {op} needs a value", "invalidValue")
        value = lower_keys(raw.get("value"))
        path = raw.get("path")
        try:
            if path is None:
                if op == "remove":
                    raise PatchError(f"operation {number}: remove needs a path", "noTarget")
                if not isinstance(value, dict):
                    raise PatchError(f"operation {number}: value must be an object",
                                     "invalidValue")
                for attr, item in nest_extensions(value).items():
                    pp = parse_path(attr) if attr not in LOWER_URIS else \
                        PatchPath(AttrPath(attr.rpartition(":")[0], attr.rpartition(":")[2]))
                    touched |= _apply_one(doc, op, pp, item, kontor, read_only, extension)
            else:
                if not isinstance(path, str):
                    raise PatchError(f"operation {number}: path must be a string",
                                     "invalidPath")
                touched |= _apply_one(doc, op, parse_path(path), value, kontor, read_only,
                                      extension)
        except FilterError:
            raise PatchError(f"operation {number}: path is not a known attribute path",
                             "invalidPath") from None
    return doc, touched
