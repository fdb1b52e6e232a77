"""Request bodies for golden-record writes, built from the deployment's field catalog.

Custom fields are part of the deployment, so the models (and the OpenAPI document) are
built when the app starts. Text is cleaned the way inbound mappings clean it (trimmed,
NFC, emails lower-cased and checked), so a record written through the API matches the
same person arriving from a system later.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from hub.api.problems import ApiProblem
from hub.canonical import FieldSpec
from hub.errors import MappingError
from mappings.converters import clean_text
from mappings.normalise import email as normalise_email

_TYPES: dict[str, Any] = {"str": str, "int": int, "decimal": Decimal, "bool": bool,
                          "date": dt.date, "datetime": dt.datetime}
_EMAIL_CATEGORY = "user.contact.email"


class _Values(BaseModel):
    model_config = ConfigDict(extra="forbid")


_MODELS: dict[tuple[str, tuple[tuple[str, FieldSpec], ...]], type[BaseModel]] = {}


def values_model(entity: str, specs: dict[str, FieldSpec]) -> type[BaseModel]:
    """``CustomerValues``: every business field optional, unknown fields refused."""
    key = (entity, tuple(specs.items()))
    if key not in _MODELS:
        _MODELS[key] = _build(entity, specs)
    return _MODELS[key]


def _build(entity: str, specs: dict[str, FieldSpec]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, spec in specs.items():
        kind = _TYPES[spec.type]
        constraint = Field(default=None, max_length=500) if kind is str else None
        fields[name] = (kind | None, constraint)
    return create_model(f"{entity.capitalize()}Values", __base__=_Values, **fields)


class InvalidValue(ApiProblem):
    """A written value failed the same cleaning an inbound mapping applies."""

    status, title = 422, "Invalid value"


def clean(specs: dict[str, FieldSpec], values: dict[str, Any]) -> dict[str, Any]:
    """Values as the store keeps them; raise ``InvalidValue`` naming the field."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, str):
            value = clean_text(value)
            try:
                if value is not None and specs[name].category.key == _EMAIL_CATEGORY:
                    value = normalise_email(value)
            except MappingError as exc:
                raise InvalidValue(f"field {name}: {exc.reason}",
                                   scim_type="invalidValue") from None
        out[name] = value
    return out
