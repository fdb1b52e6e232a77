"""How a golden employee appears as a SCIM User, and back.

Core attributes and the enterprise extension carry the fields SCIM knows; every other
employee field (canonical or custom) sits in Kontor's own extension under its canonical
name. Attribute names are case-insensitive: incoming documents are lower-cased first.

``userName`` is the employee's ``user_name``: any text. An employee that never got one (an
HR record, say) shows its work e-mail instead, or its id when it has none, so every User
has a userName (RFC 7643 §4.1.1). The work e-mail comes from ``emails``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from hub.api.scim.filter import AttrPath, FilterError
from hub.errors import MappingError
from mappings.normalise import email as normalise_email

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KONTOR = "urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee"
LOWER_URIS = {CORE.lower(): "", ENTERPRISE.lower(): "enterprise:", KONTOR.lower(): "kontor:"}

# Canonical fields that core or enterprise attributes carry (the rest go to KONTOR).
CORE_FIELDS = {"user_name", "external_id", "work_email", "private_email", "first_name",
               "last_name", "job_title", "phone", "street", "postal_code", "city", "country"}
ENTERPRISE_FIELDS = {"employeeNumber": "employee_number", "department": "department",
                     "manager": "manager_number"}
ADDRESS = {"streetaddress": "street", "postalcode": "postal_code", "locality": "city",
           "country": "country"}
# Attribute key (see ``attr_key``) -> canonical fields it reads or writes.
_TOUCHES: dict[str, tuple[str, ...]] = {
    "username": ("user_name",), "name": ("first_name", "last_name"),
    "name.givenname": ("first_name",), "name.familyname": ("last_name",),
    "name.formatted": ("first_name", "last_name"), "displayname": ("first_name", "last_name"),
    "title": ("job_title",), "active": ("termination_date",),
    "emails": ("work_email", "private_email"), "phonenumbers": ("phone",),
    "addresses": tuple(ADDRESS.values()),
    "enterprise:employeenumber": ("employee_number",),
    "enterprise:department": ("department",), "enterprise:manager": ("manager_number",),
    "enterprise": ("employee_number", "department", "manager_number"),
    "externalid": ("external_id",), "id": (), "meta": (), "schemas": (),
}
READ_ONLY = {"id", "meta", "displayname", "name.formatted", "schemas"}


def kontor_fields(fields: Iterable[str]) -> list[str]:
    """The employee fields that only Kontor's extension carries (not termination_date:
    ``active`` is its one representation, so no request can state it twice)."""
    return [f for f in fields if f not in CORE_FIELDS and f != "termination_date"
            and f not in ENTERPRISE_FIELDS.values()]


# Field types SCIM has no type for: published as strings, their format (YYYY-MM-DD, exact
# decimal text) is one a SCIM client cannot learn from the schema, so SCIM only reads them
# (RFC 7643 §2.3 has no date; termination_date is written through ``active``).
SCIM_READ_ONLY_TYPES = ("date", "decimal")


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
    if v.get("external_id") is not None:
        user["externalId"] = v["external_id"]
    user_name = shown_user_name(row["id"], v)
    if user_name is not None:
        user["userName"] = user_name
    name = {k: v[f] for k, f in (("givenName", "first_name"), ("familyName", "last_name"))
            if v.get(f) is not None}
    if name:  # name.formatted is not kept: the name comes back as it was given
        user["name"] = name
        user["displayName"] = " ".join(str(name[k]) for k in ("givenName", "familyName")
                                       if k in name)
    if v.get("job_title") is not None:
        user["title"] = v["job_title"]
    if "termination_date" in v:
        term = v["termination_date"]
        user["active"] = _active(dt.date.fromisoformat(str(term)) if term else None,
                                 dt.date.today())
    # No "primary": the hub keeps a work and a home address, not which one a client
    # preferred (on input, a primary address stands for the work one when none is typed).
    emails = [{"value": v[f], "type": t} for f, t in (("work_email", "work"),
                                                       ("private_email", "home"))
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
    if v.get("manager_number") is not None:
        # A manager the hub knows is a reference to its User; one it does not (yet) know
        # is returned as it was given (RFC 7643 §4.3: value is only RECOMMENDED to resolve).
        enterprise["manager"] = {"value": v["manager_number"]} if not manager_id else \
            {"value": manager_id, "$ref": f"{base_url}/Users/{manager_id}"}
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


def shown_user_name(golden_id: str, values: Mapping[str, Any]) -> Any:
    """The userName of released ``values``: ``user_name``, else the work e-mail, else the
    id; nothing when the caller may not see ``user_name`` or the e-mail standing in for it."""
    if "user_name" not in values:
        return None
    if values["user_name"] is not None:
        return values["user_name"]
    if "work_email" not in values:
        return None
    return values["work_email"] if values["work_email"] is not None else golden_id


def email_like(text: Any) -> str | None:
    """``text`` as a normalised e-mail address, or None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return normalise_email(text.strip())
    except MappingError:
        return None


def lower_keys(value: Any) -> Any:
    """A SCIM document with every attribute name lower-cased (names are case-insensitive)."""
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


_KNOWN_TYPES = {"work", "home"}


def _pick(items: Any, wanted: str, *, first: bool, primary: bool = False
          ) -> dict[str, Any] | None:
    """The value of type ``wanted``; with ``primary``, else the primary one of no other
    known type; with ``first``, else the first untyped one."""
    if not isinstance(items, list):
        return None
    items = [i for i in items if isinstance(i, dict)]
    typed = [i for i in items if _type(i) == wanted]
    if typed:
        return typed[0]
    if primary:
        chosen = [i for i in items if i.get("primary") is True and _type(i) not in _KNOWN_TYPES]
        if chosen:
            return chosen[0]
    untyped = [i for i in items if _type(i) is None]
    return untyped[0] if first and untyped else None


def _type(item: dict[str, Any]) -> Any:
    kind = item.get("type")
    return kind.lower() if isinstance(kind, str) else kind


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


def from_scim(doc: dict[str, Any], kontor: Iterable[str], *, whole: bool = True,
              read_only: Iterable[str] = ()) -> ScimInput:
    """Read a lower-cased SCIM User document; only attributes present are stated.

    ``whole``: the document is a complete User (POST, PUT), so a userName that is an
    e-mail address stands for the work e-mail when no ``emails`` are given, as before
    userName and e-mail were told apart. ``read_only``: extension fields whose values are
    ignored (RFC 7644 §3.5.1: read-only values in a PUT are ignored).
    """
    doc = nest_extensions(doc)
    got = ScimInput()
    out = got.values
    if "username" in doc:
        out["user_name"] = doc["username"]
        mailbox = email_like(doc["username"]) if whole and "emails" not in doc else None
        if mailbox:
            out["work_email"] = mailbox
    if "name" in doc:
        name = doc["name"] if isinstance(doc["name"], dict) else {}
        for sub, field in (("givenname", "first_name"), ("familyname", "last_name")):
            if sub in name or doc["name"] is None:
                out[field] = name.get(sub)
    if "externalid" in doc:
        out["external_id"] = doc["externalid"]
    if "title" in doc:
        out["job_title"] = doc["title"]
    if "emails" in doc:
        emails = doc["emails"] or []
        out["work_email"] = _value(_pick(emails, "work", first=True, primary=True))
        out["private_email"] = _value(_pick(emails, "home", first=False))
    if "phonenumbers" in doc:
        out["phone"] = _value(_pick(doc["phonenumbers"] or [], "work", first=True,
                                    primary=True))
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
        ignored = {k.lower() for k in read_only}
        for attr, value in extension.items():
            if attr == "schemas":  # some clients repeat the URI inside the extension
                continue
            if attr not in names:
                raise FilterError("unknown attribute in the Kontor extension")
            if attr not in ignored:
                out[names[attr]] = value
    return got
