"""SCIM discovery documents: ServiceProviderConfig, ResourceTypes, Schemas (RFC 7643 §5-7)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from hub.api.scim.attributes import CORE, ENTERPRISE, KONTOR
from hub.canonical import FieldSpec

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_RESULTS = 200
_SCIM_TYPES = {"str": "string", "int": "integer", "bool": "boolean", "datetime": "dateTime",
               "date": "string", "decimal": "string"}  # decimals travel as exact text


def _attr(name: str, kind: str = "string", *, multi: bool = False, required: bool = False,
          mutability: str = "readWrite", unique: str = "none", sub: list[Any] | None = None,
          case_exact: bool = False, description: str = "", canonical: list[str] | None = None
          ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name, "type": kind, "multiValued": multi, "description": description,
        "required": required, "caseExact": case_exact, "mutability": mutability,
        "returned": "default", "uniqueness": unique}
    if canonical:
        out["canonicalValues"] = canonical
    if sub:
        out["subAttributes"] = sub
    return out


def _typed_values(value_description: str, types: list[str]) -> list[dict[str, Any]]:
    # No "primary": which address a client preferred is not kept (attributes.to_scim).
    return [_attr("value", description=value_description),
            _attr("type", description=" or ".join(types), canonical=types)]


def _user_attributes() -> list[dict[str, Any]]:
    return [
        _attr("userName", required=True, unique="server",
              description="Unique login name, any text, compared regardless of case; "
                          "employees without one show their work email"),
        _attr("name", "complex", sub=[_attr("givenName"), _attr("familyName")]),
        _attr("displayName", mutability="readOnly"),
        _attr("title"),
        # Required: it follows the termination date, so a User always has it (true when
        # none is given); removing it is refused (RFC 7644 §3.5.2: an operation must be
        # compatible with the attribute's schema).
        _attr("active", "boolean", required=True,
              description="false once the termination date has passed; true when not "
                          "given"),
        _attr("emails", "complex", multi=True, sub=_typed_values(
            "Email address; the one of type work (else one marked primary, else the "
            "first untyped one) is the work email",
            ["work", "home"])),
        _attr("phoneNumbers", "complex", multi=True,
              sub=_typed_values("Phone number", ["work"])),
        _attr("addresses", "complex", multi=True, sub=[
            _attr("streetAddress"), _attr("postalCode"), _attr("locality"),
            _attr("country"), _attr("type", canonical=["home"])]),
    ]


def _enterprise_attributes() -> list[dict[str, Any]]:
    return [_attr("employeeNumber", unique="server"), _attr("department"),
            _attr("manager", "complex", sub=[
                _attr("value", description="id of the manager's User; a reference to no "
                      "known User is kept as given and resolves once a User has it as "
                      "employeeNumber"),
                _attr("$ref", "reference", mutability="readOnly"),
                _attr("displayName", mutability="readOnly")])]


def _kontor_attribute(spec: FieldSpec, read_only: bool) -> dict[str, Any]:
    form = {"date": ", a date: YYYY-MM-DD", "decimal": ", a decimal number as text"}
    return _attr(spec.name, _SCIM_TYPES[spec.type],
                 mutability="readOnly" if read_only else "readWrite",
                 description=spec.category.key + form.get(spec.type, ""))


def schemas(kontor: Mapping[str, FieldSpec], base_url: str,
            read_only: Collection[str] = ()) -> list[dict[str, Any]]:
    """The three schemas of a User: core, enterprise, and Kontor's extension.

    ``kontor``: the extension's fields this caller may see; ``read_only``: those among
    them it sees only transformed (masked, say), which it cannot write.
    """
    kontor_text = ("Employee fields SCIM has no name for (canonical names), those this "
                   "client may see")
    docs = [(CORE, "User", "User Account", _user_attributes()),
            (ENTERPRISE, "EnterpriseUser", "Enterprise User", _enterprise_attributes()),
            (KONTOR, "KontorEmployee", kontor_text,
             [_kontor_attribute(spec, name in read_only) for name, spec in kontor.items()])]
    return [{"schemas": [SCHEMA], "id": uri, "name": name, "description": description,
             "attributes": attributes,
             "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{uri}"}}
            for uri, name, description, attributes in docs]


def resource_types(base_url: str) -> list[dict[str, Any]]:
    return [{"schemas": [RESOURCE_TYPE], "id": "User", "name": "User", "endpoint": "/Users",
             "description": "Employees of the master store", "schema": CORE,
             "schemaExtensions": [{"schema": ENTERPRISE, "required": False},
                                  {"schema": KONTOR, "required": False}],
             "meta": {"resourceType": "ResourceType",
                      "location": f"{base_url}/ResourceTypes/User"}}]


def service_provider_config(base_url: str) -> dict[str, Any]:
    return {
        "schemas": [SPC],
        "documentationUri": "https://example.invalid/kontor/docs/scim",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "Kontor API token", "primary": True,
            "description": "A token from `kontor tokens create --role system`, sent as "
                           "Authorization: Bearer"}],
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": f"{base_url}/ServiceProviderConfig"},
    }


def list_response(resources: list[Any], total: int, start: int) -> dict[str, Any]:
    return {"schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start,
            "itemsPerPage": len(resources), "Resources": resources}
