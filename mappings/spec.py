"""The mapping file format, validated with pydantic.

```yaml
entity: customer
updated_at: {column: GeaendertAm, format: "%d.%m.%Y %H:%M"}   # the source's business time
fields:
  customer_number: KundenNr                    # shorthand: just the column
  email: {column: E-Mail, normalise: [email]}
  date_of_birth: {column: Geburtsdatum, format: "%d.%m.%Y"}
  marketing_consent: {column: Newsletter, true_values: [ja], false_values: [nein]}
  status: {column: Status, values: {A: active, I: inactive}}
  country: {column: Land, default: DE}
```
A field's type comes from the canonical model; the mapping only says how the system
writes it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings.converters import NORMALISERS


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1)
    format: str | None = None  # strftime format for dates and times
    decimal_comma: bool = False
    true_values: list[str] | None = None
    false_values: list[str] | None = None
    values: dict[str, Any] | None = None  # source code -> canonical value
    normalise: list[str] = Field(default_factory=list)
    default: Any = None
    required: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data

    @field_validator("normalise", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("normalise")
    @classmethod
    def _known_normalisers(cls, value: list[str]) -> list[str]:
        unknown = [n for n in value if n not in NORMALISERS]
        if unknown:
            raise ValueError(f"unknown normaliser {unknown[0]!r}; known: {', '.join(NORMALISERS)}")
        return value


class MappingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: str
    updated_at: FieldMap | None = None
    fields: dict[str, FieldMap] = Field(min_length=1)
