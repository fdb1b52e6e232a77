"""Request bodies for golden-record writes, built from the deployment's field catalog.

Custom fields are part of the deployment, so the models (and the OpenAPI document) are
built when the app starts. Text is cleaned the way inbound mappings clean it (trimmed,
NFC, emails lower-cased and checked), so a record written through the API matches the
same person arriving from a system later.

A whole record (a create, or a replacement) must say who it is: a value in at least one
identifying field. The schema says so too, so the document and the server agree on which
bodies are valid.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    create_model,
    model_validator,
)

from hub.api.problems import ApiProblem
from hub.canonical import FieldSpec
from hub.errors import MappingError
from mappings.converters import clean_text
from mappings.normalise import email as normalise_email

# A decimal as a number, or as text in the one spelling every pydantic accepts: pydantic
# 2.13 dropped the pattern from its schema, and the document would promise that any text
# is a valid amount.
_DECIMAL_TEXT = r"^(?!^[-+.]*$)[+-]?0*\d*\.?\d*$"
_DECIMAL = Annotated[Decimal, WithJsonSchema({"anyOf": [
    {"type": "number"}, {"type": "string", "pattern": _DECIMAL_TEXT}]})]
_TYPES: dict[str, Any] = {"str": str, "int": int, "decimal": _DECIMAL, "bool": bool,
                          "date": dt.date, "datetime": dt.datetime}
_EMAIL_CATEGORY = "user.contact.email"
_TEXT = Annotated[str, Field(max_length=500)]
# Addresses every client may rely on: what ``mappings.normalise.email`` takes without
# asking email-validator. It takes more (internationalised addresses, say); JSON Schema's
# "email" format is no promise, since it allows reserved domains such as .test.
_EMAIL_PATTERN = (r"^[A-Za-z0-9_%+\-]+(\.[A-Za-z0-9_%+\-]+)*@"
                  r"([A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$")
_EMAIL = Annotated[str, Field(max_length=500, json_schema_extra={"pattern": _EMAIL_PATTERN})]

# Fields that tell whom a record is about; a whole record needs a value in one of them.
IDENTIFYING = {
    "customer": ("customer_number", "email", "first_name", "last_name", "organisation_name"),
    "employee": ("employee_number", "user_name", "work_email", "first_name", "last_name"),
}


def _not_blank() -> str:
    """A character ``str.strip()`` keeps (so ``clean_text`` keeps the value), as a regex
    class that Python and the schema's ECMA regex read alike. Whitespace ends at U+3000."""
    spaces = [c for c in range(0x3001) if chr(c).isspace()]
    runs: list[list[int]] = []
    for c in spaces:
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "[^" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in runs) + "]"


NOT_BLANK = _not_blank()


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
        if kind is str:
            kind = _EMAIL if spec.category.key == _EMAIL_CATEGORY else _TEXT
        fields[name] = (kind | None, None)
    return create_model(f"{entity.capitalize()}Values", __base__=_Values, **fields)


def record_model(entity: str, specs: dict[str, FieldSpec]) -> type[BaseModel]:
    """``CustomerRecord``: the values of a whole record, as ``values_model``, with a value
    (not blank) in at least one identifying field."""
    key = (f"{entity}:record", tuple(specs.items()))
    if key not in _MODELS:
        _MODELS[key] = _build_record(entity, specs)
    return _MODELS[key]


def _build_record(entity: str, specs: dict[str, FieldSpec]) -> type[BaseModel]:
    names = [n for n in IDENTIFYING[entity] if n in specs]
    needs = f"a {entity} needs a value in one of: {', '.join(names)}"

    class Whole(values_model(entity, specs)):  # type: ignore[misc]
        model_config = ConfigDict(json_schema_extra={
            "description": needs,
            "anyOf": [{"required": [n], "properties": {n: {"type": "string",
                                                          "pattern": NOT_BLANK}}}
                      for n in names]})

        @model_validator(mode="after")
        def _identified(self) -> Self:
            if not any(clean_text(getattr(self, n)) for n in names):
                raise ValueError(needs)
            return self

    return create_model(f"{entity.capitalize()}Record", __base__=Whole)


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
