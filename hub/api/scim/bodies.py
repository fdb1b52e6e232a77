"""SCIM request bodies as models: what the OpenAPI document says a valid request is.

POST and PUT bodies (``ScimUser``) and SearchRequests are validated with these models
before anything else; a PATCH body is checked operation by operation in ``patch.py``,
with the value of each operation held against the model of the attribute it targets
(``value_model``), so that SCIM error types (noTarget, invalidPath, ...) stay exact.

Attribute names are case-insensitive (RFC 7643 §2.1): the models read any spelling and
the document spells them as RFC 7643 does. Strings in grammars JSON Schema cannot state
(filters, PATCH paths) carry a ``format`` named in ``FORMATS``, described there.

Kontor's extension holds the deployment's own fields: ``kontor_models`` builds its models
for one deployment, which the document shows (``documented``, through hub/api/openapi.py)
and the routes hold the extension against (the general models let any members through).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from hub.api import payloads
from hub.api.scim.attributes import (
    CORE,
    ENTERPRISE,
    KONTOR,
    SCIM_READ_ONLY_TYPES,
    nest_extensions,
)
from hub.canonical import FieldSpec
from hub.errors import MappingError
from mappings.converters import clean_text
from mappings.normalise import email as normalise_email

SCHEMAS = "#/components/schemas/"
MAX_TEXT = 500  # as the REST API's fields (hub/api/payloads.py)
_INT = 2**31

FORMATS = {  # the formats the document uses beyond those of JSON Schema
    "scim-filter":
        "A filter (RFC 7644 §3.4.2.2) on attributes this server filters on: id, externalId, "
        "userName, name.givenName, name.familyName, title, active, emails (value, type, "
        "primary), phoneNumbers (value, type), addresses (streetAddress, postalCode, "
        "locality, country, type), meta.created, meta.lastModified, the enterprise "
        "extension's employeeNumber and department, and fields of Kontor's extension "
        "that are not restricted; each compared with a value of its type. Others, and "
        "attributes this client may not see in clear, are answered 400 invalidFilter.",
    "scim-sort-by":
        "An attribute (RFC 7644 §3.10) this server sorts on: id, externalId, userName, "
        "emails (the work address), name.givenName, name.familyName, title, "
        "meta.created, meta.lastModified, employeeNumber, department, and fields of "
        "Kontor's extension that are not restricted. Others, and attributes this client "
        "may not see in clear, are answered 400 invalidFilter.",
    "scim-path-string":
        "A PATCH path (RFC 7644 §3.5.2) to a single string: name.givenName, "
        "name.familyName, title, externalId, employeeNumber, department, manager.value, "
        'phoneNumbers[type eq "work"].value, addresses[type eq "home"].streetAddress '
        "(postalCode, locality, country), a text field of Kontor's extension. A value "
        "filter that matches nothing is answered 400 noTarget.",
    "scim-path-email":
        'A PATCH path to an e-mail address: emails[type eq "work"].value, '
        'emails[type eq "home"].value (another value filter on emails, followed by '
        ".value), or an e-mail field of Kontor's extension.",
    "scim-path-email-item":
        'A value filter on emails, e.g. emails[type eq "work"]: the value replaces each '
        "value it selects (400 noTarget when it selects none).",
    "scim-path-phone-item":
        'A value filter on phoneNumbers, e.g. phoneNumbers[type eq "work"]: as for emails.',
    "scim-path-address-item":
        'A value filter on addresses, e.g. addresses[type eq "home"]: as for emails.',
    "scim-path-boolean": "A PATCH path to a boolean: active, or a boolean field of "
                         "Kontor's extension.",
    "scim-path-integer": "A PATCH path to an integer field of Kontor's extension.",
    "scim-path-date-time": "A PATCH path to a date-time field of Kontor's extension.",
    "entity-tag": 'An entity tag (RFC 9110 §8.8.3) as this server issues them, W/"3" or '
                  '"3", or *',
    "scim-path-removable":
        "A PATCH path whose value may be removed: any path a string, e-mail or complex "
        "value may be written to, an extension (its writable attributes), or a value "
        "filter on a multi-valued attribute. Not userName (required) nor active (a User "
        "is always active or not). A value filter that matches nothing is answered 400 "
        "noTarget.",
}


def _format(name: str, max_length: int | None = None) -> Any:
    return Field(max_length=max_length, description=FORMATS[name],
                 json_schema_extra={"format": name})


def _ci(text: str) -> str:
    """A regex matching ``text`` in any case; spelled out, since ECMA regexes (the
    document's) have no inline flags."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


def _path(*names: str, prefix: str | None = CORE) -> str:
    qualified = f"(?:{_ci(prefix)}:)?" if prefix else ""
    return f"^{qualified}(?:{'|'.join(_ci(n) for n in names)})$"


def _checked_email(value: str) -> str:
    """Every address in ``emails`` must be one, kept or not (blank: none)."""
    text = clean_text(value)
    if text is not None:
        try:
            normalise_email(text)
        except MappingError:
            raise ValueError("not an email address") from None
    return value


def _whole(value: Any) -> Any:
    """JSON's integers: 3 and 3.0 alike (JSON Schema's ``integer``), not "3" nor true."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "not an integer")
    return value


Text = Annotated[str, Field(max_length=MAX_TEXT)]
NotBlank = Annotated[str, Field(max_length=MAX_TEXT, pattern=payloads.NOT_BLANK)]
# An address the REST API documents as one (the server takes more, as it does there), or
# blank: no address.
_BLANK = "^" + payloads.NOT_BLANK.replace("[^", "[", 1) + "*$"
EmailText = Annotated[str, Field(max_length=MAX_TEXT, json_schema_extra={
    "pattern": f"{_BLANK}|{payloads._EMAIL_PATTERN}"}), AfterValidator(_checked_email)]
# Query parameters: their length and description come with the parameter.
FilterText = Annotated[str, Field(json_schema_extra={"format": "scim-filter"})]
SortByText = Annotated[str, Field(json_schema_extra={"format": "scim-sort-by"})]
_Names = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=100)]
Whole = Annotated[int, Field(strict=False), BeforeValidator(_whole)]
_Number = Annotated[int, Field(strict=False, ge=-_INT, le=_INT), BeforeValidator(_whole)]


class _Scim(BaseModel):
    """Attribute names in any case; members this server does not keep are allowed (and
    ignored): resources carry attributes and extensions a service provider may lack."""

    model_config = ConfigDict(extra="allow", strict=True)

    @classmethod
    def _prepared(cls, data: dict[Any, Any]) -> dict[Any, Any]:
        return data

    @model_validator(mode="before")
    @classmethod
    def _spelled(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = cls._prepared(data)
        names = {(f.alias or n).lower(): f.alias or n for n, f in cls.model_fields.items()}
        return {names.get(str(k).lower(), k): v for k, v in data.items()}


_CLOSED = ConfigDict(extra="forbid", strict=True)  # members it cannot place are refused


class ScimName(_Scim):
    givenName: Text | None = None
    familyName: Text | None = None


class ScimEmail(_Scim):
    value: EmailText | None = None
    type: Text | None = Field(None, description="work (the work e-mail) or home")
    primary: StrictBool | None = None


class ScimPhoneNumber(_Scim):
    value: Text | None = None
    type: Text | None = Field(None, description="work")
    primary: StrictBool | None = None


class ScimAddress(_Scim):
    streetAddress: Text | None = None
    postalCode: Text | None = None
    locality: Text | None = None
    country: Text | None = None
    type: Text | None = Field(None, description="home")
    primary: StrictBool | None = None


class ScimManager(_Scim):
    value: Text | None = Field(None, description="The manager's User id (or employee "
                                                 "number); one naming no User is kept")


class ScimEnterprise(_Scim):
    employeeNumber: Text | None = None
    department: Text | None = None
    manager: ScimManager | Text | None = None


class ScimEnterpriseChange(ScimEnterprise):
    """The enterprise extension as a PATCH value: the attributes this server keeps."""

    model_config = _CLOSED
    schemas: list[Text] | None = None


class ScimKontorEmployee(_Scim):
    """Kontor's extension: the employee fields SCIM has no name for (see /Schemas)."""


class ScimKontorEmployeeChange(ScimKontorEmployee):
    """Kontor's extension as a PATCH value."""


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class _UserFields(_Scim):
    # The aliases are ENTERPRISE and KONTOR, spelled out: type checkers want literals.
    userName: NotBlank | None = None
    externalId: Text | None = None
    name: ScimName | None = None
    title: Text | None = None
    active: StrictBool | None = Field(None, description="false: the termination date "
                                                        "becomes today")
    emails: list[ScimEmail] | None = None
    phoneNumbers: list[ScimPhoneNumber] | None = None
    addresses: list[ScimAddress] | None = None
    enterprise: ScimEnterprise | None = Field(None, alias="urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    kontor: ScimKontorEmployee | None = Field(None, alias="urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee")

    @classmethod
    def _prepared(cls, data: dict[Any, Any]) -> dict[Any, Any]:
        """``urn:...:User:userName`` and ``urn:...:enterprise:2.0:User:department`` are
        names of attributes too (RFC 7644 §3.10)."""
        return nest_extensions({str(k).lower(): v for k, v in data.items()})


class ScimUser(_UserFields):
    """A whole User (POST, PUT). Attributes this server does not keep are ignored;
    read-only ones (id, meta, displayName) too (RFC 7644 §3.5.1)."""

    schemas: list[Text] | None = None
    userName: NotBlank = Field(description="Any text, unique regardless of case")


class ScimUserChange(_UserFields):
    """Attributes as the value of a PATCH operation without a path: those this server can
    place, and no read-only ones."""

    model_config = _CLOSED
    # May be left out, not be null: a User keeps a userName (patch.py checks each value).
    userName: NotBlank | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    enterprise: ScimEnterpriseChange | None = Field(None, alias="urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    kontor: ScimKontorEmployeeChange | None = Field(None, alias="urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee")


# -- PATCH (RFC 7644 §3.5.2): one model per kind of target, for the document ----------

_ADD_OR_REPLACE = f"^(?:{_ci('add')}|{_ci('replace')})$"
_REMOVE = f"^{_ci('remove')}$"
AddOrReplace = Annotated[str, Field(pattern=_ADD_OR_REPLACE,
                                    description="add or replace, in any case")]


class _Set(_Scim):
    op: AddOrReplace


class ScimSetString(_Set):
    path: Annotated[str, _format("scim-path-string", 1000)]
    value: Text | None


class ScimSetUserName(_Set):
    path: Annotated[str, Field(pattern=_path("userName"))]
    value: NotBlank


class ScimSetEmail(_Set):
    path: Annotated[str, _format("scim-path-email", 1000)]
    value: EmailText | None


class ScimSetBoolean(_Set):
    path: Annotated[str, _format("scim-path-boolean", 1000)]
    value: StrictBool | None


class ScimSetInteger(_Set):
    path: Annotated[str, _format("scim-path-integer", 1000)]
    value: Whole | None


class ScimSetDateTime(_Set):
    path: Annotated[str, _format("scim-path-date-time", 1000)]
    value: Annotated[str, Field(json_schema_extra={"format": "date-time"})] | None


class ScimSetEmailItem(_Set):
    path: Annotated[str, _format("scim-path-email-item", 1000)]
    value: ScimEmail | EmailText | None = Field(description="An address stands for "
                                                          "{\"value\": address}")


class ScimSetPhoneNumberItem(_Set):
    path: Annotated[str, _format("scim-path-phone-item", 1000)]
    value: ScimPhoneNumber | Text | None = Field(description="A number stands for "
                                                           "{\"value\": number}")


class ScimSetAddressItem(_Set):
    path: Annotated[str, _format("scim-path-address-item", 1000)]
    value: ScimAddress | Text | None = Field(description="Text stands for "
                                                       "{\"value\": text}, ignored")


class ScimSetName(_Set):
    path: Annotated[str, Field(pattern=_path("name"))]
    value: ScimName | None


class ScimSetEmails(_Set):
    path: Annotated[str, Field(pattern=_path("emails"))]
    value: list[ScimEmail] | ScimEmail | None = Field(description="add: appended")


class ScimSetPhoneNumbers(_Set):
    path: Annotated[str, Field(pattern=_path("phoneNumbers"))]
    value: list[ScimPhoneNumber] | ScimPhoneNumber | None = Field(
        description="add: appended")


class ScimSetAddresses(_Set):
    path: Annotated[str, Field(pattern=_path("addresses"))]
    value: list[ScimAddress] | ScimAddress | None = Field(description="add: appended")


class ScimSetManager(_Set):
    path: Annotated[str, Field(pattern=_path("manager", prefix=ENTERPRISE))]
    value: ScimManager | Text | None


class ScimSetEnterprise(_Set):
    path: Annotated[str, Field(pattern=f"^{_ci(ENTERPRISE)}$")]
    value: ScimEnterpriseChange | None


class ScimSetKontor(_Set):
    path: Annotated[str, Field(pattern=f"^{_ci(KONTOR)}$")]
    value: ScimKontorEmployeeChange | None


class ScimSetAttributes(_Set):
    """No path: the value names the attributes."""

    path: None = None
    value: ScimUserChange


class ScimRemove(_Scim):
    op: Annotated[str, Field(pattern=_REMOVE, description="remove, in any case")]
    path: Annotated[str, _format("scim-path-removable", 1000)]


# Operations only some deployments have: the field type they write.
_KONTOR_SETS = {"int": ScimSetInteger, "datetime": ScimSetDateTime}
_OPERATIONS: tuple[type[BaseModel], ...] = (
    ScimSetString, ScimSetUserName, ScimSetEmail, ScimSetBoolean, ScimSetInteger,
    ScimSetDateTime, ScimSetEmailItem, ScimSetPhoneNumberItem, ScimSetAddressItem,
    ScimSetName, ScimSetEmails, ScimSetPhoneNumbers, ScimSetAddresses,
    ScimSetManager, ScimSetEnterprise, ScimSetKontor, ScimSetAttributes, ScimRemove)


class ScimSearchRequest(_Scim):
    """A query in the body (RFC 7644 §3.4.3); other members are ignored."""

    schemas: list[Text] | None = None
    filter: Annotated[str, _format("scim-filter", 4000)] | None = None
    sortBy: Annotated[str, _format("scim-sort-by", 200)] | None = None
    sortOrder: Literal["ascending", "descending"] | None = None
    startIndex: _Number | None = Field(None, description="1-based; below 1 means 1")
    count: _Number | None = Field(None, description="At most 200; below 0 means 0")
    attributes: _Names | None = Field(None, description="Attributes to return; names "
                                                        "naming none are ignored")
    excludedAttributes: _Names | None = None


# -- PATCH values -----------------------------------------------------------------------

_ITEMS: dict[str, type[BaseModel]] = {"emails": ScimEmail, "phonenumbers": ScimPhoneNumber,
                                      "addresses": ScimAddress}
_SINGLE: dict[str, Any] = {
    "username": NotBlank, "name": ScimName | None, "name.givenname": Text | None,
    "name.familyname": Text | None, "title": Text | None, "externalid": Text | None,
    "active": StrictBool | None, "enterprise:employeenumber": Text | None,
    "enterprise:department": Text | None, "enterprise:manager": ScimManager | Text | None,
    "enterprise:manager.value": Text | None, "enterprise": ScimEnterpriseChange | None,
    "kontor": ScimKontorEmployeeChange | None,  # its members: typed by render.resolve
}


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)  # strict where it matters: the models, StrictBool, Whole


def value_model(key: str, *, filtered: bool = False, sub: str | None = None,
                kontor: KontorModels | None = None) -> Any:
    """What the value of an add or replace at attribute ``key`` must be (None: no check
    here). ``filtered``: the path selects values of a multi-valued attribute; ``sub``: and
    one of their sub-attributes; ``kontor``: the deployment's extension."""
    if kontor is not None and key == "kontor":
        return kontor.change | None
    if kontor is not None and key.startswith("kontor:"):
        return kontor.members.get(key[7:])  # None: read-only or unknown, refused elsewhere
    base = key.split(".", 1)[0]
    if base in _ITEMS:
        item = _ITEMS[base]
        if sub:
            field = item.model_fields.get(sub) or next(
                (f for n, f in item.model_fields.items() if n.lower() == sub), None)
            return field.annotation if field is not None else None
        if filtered:  # the values it selects are replaced; plain text is their "value"
            return item | item.model_fields["value"].annotation \
                if "value" in item.model_fields else item | Text | None
        return list[item] | item | None  # type: ignore[valid-type]
    return _SINGLE.get(key)


def check_value(kind: Any, value: Any) -> str | None:
    """None when ``value`` fits ``kind``, else where it does not (never the value)."""
    try:
        _adapter(kind).validate_python(value)
    except ValidationError as exc:
        # Inside a union, steps name the member tried (ScimManager, list[ScimEmail],
        # constrained-str): not where in the value.
        steps = [str(p) for p in exc.errors()[0]["loc"]]
        return ".".join(p for p in steps if not p.startswith("Scim") and "[" not in p
                        and "-" not in p) or "value"
    return None


# -- the Kontor extension of one deployment ------------------------------------------

def _text_only(value: Any) -> Any:
    """A date-time travels as text (RFC 3339), not as a number of seconds."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "not a date-time text")
    return value


DateTime = Annotated[dt.datetime, Field(strict=False), BeforeValidator(_text_only)]


def _member(spec: FieldSpec) -> Any:
    """The value of a writable field of Kontor's extension, as the REST API types it."""
    if spec.type == "str":
        return EmailText if spec.category.key == payloads._EMAIL_CATEGORY else Text
    return {"int": Whole, "bool": StrictBool, "datetime": DateTime}[spec.type]


class _KontorMembers(_Scim):
    model_config = _CLOSED  # a member naming no field is refused


@dataclass(frozen=True)
class KontorModels:
    whole: type[BaseModel]  # in a POST or PUT: read-only members are ignored
    change: type[BaseModel]  # as a PATCH value: writable members only
    members: Mapping[str, Any]  # writable member, lower-cased -> what its value must be
    types: frozenset[str]  # field types written through it


def kontor_models(specs: Mapping[str, FieldSpec], kontor: Iterable[str]) -> KontorModels:
    """This deployment's extension. Read-only members (dates, decimals: SCIM has no type
    for them) are ignored in a POST or PUT and refused in a PATCH."""
    return _kontor_models(tuple(specs.items()), tuple(kontor))


@cache
def _kontor_models(specs: tuple[tuple[str, FieldSpec], ...], kontor: tuple[str, ...]
                   ) -> KontorModels:
    fields = dict(specs)
    whole: dict[str, Any] = {"schemas": (list[Text] | None, None)}
    change: dict[str, Any] = {"schemas": (list[Text] | None, None)}
    members = {}
    for name in kontor:
        if fields[name].type in SCIM_READ_ONLY_TYPES:
            whole[name] = (Any, Field(None, json_schema_extra={"readOnly": True},
                                      description="read-only: ignored"))
            continue
        members[name.lower()] = _member(fields[name]) | None
        whole[name] = change[name] = (members[name.lower()], None)
    return KontorModels(
        create_model("ScimKontorEmployee", __base__=_KontorMembers, **whole),
        create_model("ScimKontorEmployeeChange", __base__=_KontorMembers, **change),
        members, frozenset(fields[n].type for n in kontor
                           if fields[n].type not in SCIM_READ_ONLY_TYPES))


# -- the document of one deployment ---------------------------------------------------

def documented(specs: Mapping[str, FieldSpec], kontor: Iterable[str]) -> dict[str, Any]:
    """Component schemas of this deployment's SCIM bodies, by name: they replace those the
    general models gave, and ``ScimPatchOp`` is the body of a PATCH."""
    extension = kontor_models(specs, kontor)
    whole, change = extension.whole, extension.change
    # Operations on kinds of fields the deployment lacks would name paths that are none.
    operations = [m for m in _OPERATIONS if m not in _KONTOR_SETS.values()
                  or any(_KONTOR_SETS.get(t) is m for t in extension.types)]
    out: dict[str, Any] = {}
    # The deployment's extension last: the general models name the general one.
    models: list[type[BaseModel]] = [ScimUser, ScimSearchRequest, *operations, whole, change]
    for model in models:
        found = model.model_json_schema(ref_template=SCHEMAS + "{model}")
        out.update(found.pop("$defs", {}))
        out[model.__name__] = found
    out["ScimPatchOp"] = {
        "title": "ScimPatchOp", "type": "object",
        "description": "PATCH operations (RFC 7644 §3.5.2), applied in order, all or none. "
                       "Attribute names and op are case-insensitive.",
        "properties": {
            "schemas": {"anyOf": [{"type": "array", "items": {"type": "string",
                                                              "maxLength": MAX_TEXT}},
                                  {"type": "null"}]},
            "Operations": {"type": "array", "minItems": 1, "items": {
                "anyOf": [{"$ref": SCHEMAS + m.__name__} for m in operations]}}},
        "required": ["Operations"]}
    return out
