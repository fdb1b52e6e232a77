"""SCIM discovery documents: ServiceProviderConfig, ResourceTypes, Schemas (RFC 7643 §5-7)."""

from __future__ import annotations

from collections.abc import Mapping
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
          case_exact: bool = False, description: str = "") -> dict[str, Any]:
    out = {"name": name, "type": kind, "multiValued": multi, "description": description,
           "required": required, "caseExact": case_exact, "mutability": mutability,
           "returned": "default", "uniqueness": unique}
    if sub:
        out["subAttributes"] = sub
    return out


def _typed_values(value_description: str) -> list[dict[str, Any]]:
    return [_attr("value", description=value_description),
            _attr("type", description="work or home"),
            _attr("primary", "boolean")]


def _user_attributes() -> list[dict[str, Any]]:
    return [
        _attr("userName", required=True, unique="server", description="Work email address"),
        _attr("name", "complex", sub=[_attr("formatted", mutability="readOnly"),
                                      _attr("givenName"), _attr("familyName")]),
        _attr("displayName", mutability="readOnly"),
        _attr("title"),
        _attr("active", "boolean", description="false once the termination date has passed"),
        _attr("emails", "complex", multi=True, sub=_typed_values("Email address")),
        _attr("phoneNumbers", "complex", multi=True, sub=_typed_values("Phone number")),
        _attr("addresses", "complex", multi=True, sub=[
            _attr("streetAddress"), _attr("postalCode"), _attr("locality"),
            _attr("country"), _attr("type")]),
    ]


def _enterprise_attributes() -> list[dict[str, Any]]:
    return [_attr("employeeNumber", unique="server"), _attr("department"),
            _attr("manager", "complex", sub=[
                _attr("value", description="id of the manager's User"),
                _attr("$ref", "reference", mutability="readOnly"),
                _attr("displayName", mutability="readOnly")])]


def schemas(kontor: Mapping[str, FieldSpec], base_url: str) -> list[dict[str, Any]]:
    """The three schemas of a User: core, enterprise, and Kontor's extension."""
    kontor_text = ("Employee fields SCIM has no name for (canonical names); restricted "
                   "ones appear only where policy allows")
    docs = [(CORE, "User", "User Account", _user_attributes()),
            (ENTERPRISE, "EnterpriseUser", "Enterprise User", _enterprise_attributes()),
            (KONTOR, "KontorEmployee", kontor_text,
             [_attr(name, _SCIM_TYPES[spec.type], description=spec.category.key)
              for name, spec in kontor.items()])]
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
