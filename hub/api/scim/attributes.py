"""How a golden employee appears as a SCIM User, and back.

Core attributes and the enterprise extension carry the fields SCIM knows; every other
employee field (canonical or custom) sits in Kontor's own extension under its canonical
name. Attribute names are case-insensitive: incoming documents are lower-cased first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from hub.api.scim.filter import AttrPath, FilterError

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KONTOR = "urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee"
LOWER_URIS = {CORE.lower(): "", ENTERPRISE.lower(): "enterprise:", KONTOR.lower(): "kontor:"}

# Canonical fields that core or enterprise attributes carry (the rest go to KONTOR).
CORE_FIELDS = {"work_email", "private_email", "first_name", "last_name", "job_title", "phone",
               "street", "postal_code", "city", "country"}
ENTERPRISE_FIELDS = {"employeeNumber": "employee_number", "department": "department",
                     "manager": "manager_number"}
ADDRESS = {"streetaddress": "street", "postalcode": "postal_code", "locality": "city",
           "country": "country"}
# Attribute key (see ``attr_key``) -> canonical fields it reads or writes.
_TOUCHES: dict[str, tuple[str, ...]] = {
    "username": ("work_email",), "name": ("first_name", "last_name"),
    "name.givenname": ("first_name",), "name.familyname": ("last_name",),
    "name.formatted": ("first_name", "last_name"), "displayname": ("first_name", "last_name"),
    "title": ("job_title",), "active": ("termination_date",),
    "emails": ("work_email", "private_email"), "phonenumbers": ("phone",),
    "addresses": tuple(ADDRESS.values()),
    "enterprise:employeenumber": ("employee_number",),
    "enterprise:department": ("department",), "enterprise:manager": ("manager_number",),
    "enterprise": ("employee_number", "department", "manager_number"),
    "id": (), "externalid": (), "meta": (), "schemas": (),
}
READ_ONLY = {"id", "meta", "displayname", "name.formatted", "schemas"}


def kontor_fields(fields: Iterable[str]) -> list[str]:
    """The employee fields that only Kontor's extension carries."""
    return [f for f in fields
            if f not in CORE_FIELDS and f not in ENTERPRISE_FIELDS.values()]


def attr_key(path: AttrPath, kontor: Iterable[str]) -> str:
    """``enterprise:department``, ``name.givenname``, ``kontor:iban``: one spelling per
    attribute. Unqualified extension attributes are accepted (many clients send them)."""
    prefix = ""
    if path.uri is not None:
        if path.uri.lower() not in LOWER_URIS:
            raise FilterError("unknown schema URI in attribute path")
        prefix = LOWER_URIS[path.uri.lower()]
    attr = path.attr.lower()
    if not prefix and attr not in _TOUCHES and attr != "meta":
        if attr in {k.lower() for k in ENTERPRISE_FIELDS}:
            prefix = "enterprise:"
        elif attr in {k.lower() for k in kontor}:
            prefix = "kontor:"
    key = prefix + attr + (f".{path.sub.lower()}" if path.sub else "")
    return key


def fields_of(key: str, kontor: Iterable[str]) -> tuple[str, ...]:
    """The canonical fields behind an attribute key; FilterError for unknown attributes."""
    if key in _TOUCHES:
        return _TOUCHES[key]
    base = key.split(".", 1)[0]
    if base in _TOUCHES:
        if base == "addresses" and "." in key:
            sub = key.split(".", 1)[1]
            return (ADDRESS[sub],) if sub in ADDRESS else ()
        return _TOUCHES[base]
    kontor_lower = {k.lower(): k for k in kontor}
    if key == "kontor":
        return tuple(kontor_lower.values())
    if key.startswith("kontor:") and key[7:] in kontor_lower:
        return (kontor_lower[key[7:]],)
    raise FilterError("unknown attribute")


def _active(termination: Any, today: dt.date) -> bool:
    return termination is None or termination > today


def to_scim(row: Mapping[str, Any], values: Mapping[str, Any], *, manager_id: str | None,
            base_url: str, kontor: Iterable[str]) -> dict[str, Any]:
    """A SCIM User from a golden row's bookkeeping and the values the caller may see.

    Attributes whose fields were withheld are absent; ``active`` is derived only from a
    released termination date.
    """
    v = values
    user: dict[str, Any] = {"schemas": [CORE], "id": row["id"]}
    if v.get("work_email") is not None:
        user["userName"] = v["work_email"]
    name = {k: v[f] for k, f in (("givenName", "first_name"), ("familyName", "last_name"))
            if v.get(f) is not None}
    if name:
        name["formatted"] = " ".join(str(name[k]) for k in ("givenName", "familyName")
                                     if k in name)
        user["name"] = name
        user["displayName"] = name["formatted"]
    if v.get("job_title") is not None:
        user["title"] = v["job_title"]
    if "termination_date" in v:
        term = v["termination_date"]
        user["active"] = _active(dt.date.fromisoformat(str(term)) if term else None,
                                 dt.date.today())
    emails = [{"value": v[f], "type": t, "primary": t == "work"}
              for f, t in (("work_email", "work"), ("private_email", "home"))
              if v.get(f) is not None]
    if emails:
        user["emails"] = emails
    if v.get("phone") is not None:
        user["phoneNumbers"] = [{"value": v["phone"], "type": "work"}]
    address = {k: v[f] for k, f in (("streetAddress", "street"), ("postalCode", "postal_code"),
                                    ("locality", "city"), ("country", "country"))
               if v.get(f) is not None}
    if address:
        user["addresses"] = [{"type": "home", **address}]
    enterprise: dict[str, Any] = {k: v[f] for k, f in ENTERPRISE_FIELDS.items()
                                  if k != "manager" and v.get(f) is not None}
    if v.get("manager_number") is not None and manager_id:
        enterprise["manager"] = {"value": manager_id, "$ref": f"{base_url}/Users/{manager_id}"}
    if enterprise:
        user["schemas"].append(ENTERPRISE)
        user[ENTERPRISE] = enterprise
    extra = {f: v[f] for f in kontor if v.get(f) is not None}
    if extra:
        user["schemas"].append(KONTOR)
        user[KONTOR] = extra
    user["meta"] = {"resourceType": "User", "created": row["created_at"],
                    "lastModified": row["updated_at"], "version": f'W/"{row["version"]}"',
                    "location": f"{base_url}/Users/{row['id']}"}
    return user


def lower_keys(value: Any) -> Any:
    """A SCIM document with every attribute name lower-cased (names are case-insensitive)."""
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def _pick(items: Any, wanted: str, *, first: bool) -> dict[str, Any] | None:
    if not isinstance(items, list):
        return None
    typed = [i for i in items if isinstance(i, dict) and i.get("type") == wanted]
    if typed:
        return typed[0]
    untyped = [i for i in items if isinstance(i, dict) and "type" not in i]
    return untyped[0] if first and untyped else None


def nest_extensions(doc: dict[str, Any]) -> dict[str, Any]:
    """Fold ``"urn:...:enterprise:2.0:user:department": x`` into the extension's object."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        uri, _, attr = key.rpartition(":")
        if key in LOWER_URIS and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)  # the extension object and folded attributes merge
        elif uri in LOWER_URIS and uri != CORE.lower() and key not in LOWER_URIS:
            if not isinstance(out.get(uri), dict):
                out[uri] = {}
            out[uri][attr] = value
        elif uri == CORE.lower():
            out[attr] = value
        else:
            out[key] = dict(value) if key in LOWER_URIS and isinstance(value, dict) else value
    return out


class ScimInput:
    """Canonical values a SCIM document states: ``values`` (None: clear the field), and
    ``active`` / ``manager_id`` that need the store to resolve."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.active: bool | None = None
        self.manager_id: str | None = None
        self.manager_given = False


def _value(item: dict[str, Any] | None) -> Any:
    return item.get("value") if item else None


def from_scim(doc: dict[str, Any], kontor: Iterable[str]) -> ScimInput:
    """Read a lower-cased SCIM User document; only attributes present are stated."""
    doc = nest_extensions(doc)
    got = ScimInput()
    out = got.values
    if "username" in doc:
        out["work_email"] = doc["username"]
    if "name" in doc:
        name = doc["name"] if isinstance(doc["name"], dict) else {}
        for sub, field in (("givenname", "first_name"), ("familyname", "last_name")):
            if sub in name or doc["name"] is None:
                out[field] = name.get(sub)
    if "title" in doc:
        out["job_title"] = doc["title"]
    if "emails" in doc:
        emails = doc["emails"] or []
        out.setdefault("work_email", _value(_pick(emails, "work", first=True)))
        out["private_email"] = _value(_pick(emails, "home", first=False))
    if "phonenumbers" in doc:
        out["phone"] = _value(_pick(doc["phonenumbers"] or [], "work", first=True))
    if "addresses" in doc:
        address = _pick(doc["addresses"] or [], "home", first=True) or {}
        out.update({field: address.get(sub) for sub, field in ADDRESS.items()})
    if "active" in doc and doc["active"] is not None:
        if not isinstance(doc["active"], bool):
            raise FilterError("active must be true or false")
        got.active = doc["active"]
    enterprise = doc.get(ENTERPRISE.lower())
    if isinstance(enterprise, dict):
        for attr, field in ENTERPRISE_FIELDS.items():
            if attr.lower() in enterprise and attr != "manager":
                out[field] = enterprise[attr.lower()]
        if "manager" in enterprise:
            manager = enterprise["manager"]
            got.manager_given = True
            got.manager_id = manager.get("value") if isinstance(manager, dict) else manager
    extension = doc.get(KONTOR.lower())
    if isinstance(extension, dict):
        names = {k.lower(): k for k in kontor}
        for attr, value in extension.items():
            if attr not in names:
                raise FilterError("unknown attribute in the Kontor extension")
            out[names[attr]] = value
    return got
