"""The mapping file format, validated with pydantic.

```yaml
entity: customer
default_region: DE          # phone numbers without +country code, postal code formats
updated_at: {column: GeaendertAm, format: "%d.%m.%Y %H:%M"}   # the source's business time
fields:
  customer_number: KundenNr                    # shorthand: just the column
  email: {column: E-Mail, normalise: [email]}
  phone: {column: Telefon, normalise: [phone]}             # to E.164
  country: {column: Land, normalise: [country], default: DE}   # "Deutschland" -> DE
  postal_code: {column: PLZ, normalise: [postal_code]}     # checked for the record's country
  date_of_birth: {column: Geburtsdatum, format: "%d.%m.%Y", on_invalid: drop_field}
  marketing_consent: {column: Newsletter, true_values: [ja], false_values: [nein]}
  status: {column: Status, values: {A: active, I: inactive}}
  first_name: {column: Name, split: name, part: first}     # "Schmidt, Anna" -> Anna
  last_name: {column: Name, split: name, part: last}       # outbound: joined back into Name
  street: {columns: [Strasse, Hausnr], join: street}       # outbound: split back into two
  kind: {expr: "if(empty(Firma), 'person', 'organisation')"}
  loyalty_tier: {column: Stufe, transform: "my_transforms:tier"}   # Python plug-in
computed:                        # outbound only: target columns computed from canonical fields
  Anzeigename: "first_name & ' ' & last_name"
```
A field's type comes from the canonical model; the mapping only says how the system
writes it.

``on_invalid`` says what a value the mapping cannot read does (a date "30.02.1985", an
e-mail without "@", an unknown code): ``drop_field`` (the default) keeps and matches the
record without that field (reported in the run, the quarantine and the quality report);
``quarantine`` refuses the whole record until someone fixes it. Per field, or for every
field at the top of the file (a field's own setting wins). A ``required`` field and
``updated_at`` always quarantine: a record without them cannot be placed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings.normalise import NORMALISERS
from mappings.splitjoin import PARTS

Splitter = Literal["name", "street", "text"]
#: What an invalid value does to its record: refuse it whole, or keep it without the field.
OnInvalid = Literal["quarantine", "drop_field"]


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = Field(default=None, min_length=1)
    #: Several columns joined into this field inbound (and split back outbound).
    columns: list[str] | None = Field(default=None, min_length=2)
    join: Splitter | None = None
    #: This field is one part of a column that holds several (a full name, street + number).
    split: Splitter | None = None
    part: str | int | None = None
    separator: str = " "
    #: Computed inbound from source columns (see ``mappings.expr``).
    expr: str | None = None
    format: str | None = None  # strftime format for dates and times
    decimal_comma: bool = False
    true_values: list[str] | None = None
    false_values: list[str] | None = None
    values: dict[str, Any] | None = None  # source code -> canonical value
    normalise: list[str] = Field(default_factory=list)
    region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    transform: str | None = None
    outbound_transform: str | None = None
    default: Any = None
    required: bool = False
    #: None: the mapping's ``on_invalid`` applies.
    on_invalid: OnInvalid | None = None

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

    @model_validator(mode="after")
    def _one_source(self) -> FieldMap:
        sources = [s for s in ("column", "columns", "expr") if getattr(self, s) is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of column, columns (with join) or expr")
        if self.columns is not None and self.join is None:
            raise ValueError("columns needs join: name, street or text")
        if self.join is not None and self.columns is None:
            raise ValueError("join needs columns: [first column, second column, ...]")
        if self.split is not None:
            if self.column is None:
                raise ValueError("split needs column")
            parts = PARTS[self.split]
            if parts and self.part not in parts:
                raise ValueError(f"part must be one of {', '.join(parts)} for split: "
                                 f"{self.split}")
            if not parts and not isinstance(self.part, int):
                raise ValueError("part must be the position (0, 1, ...) for split: text")
        elif self.part is not None:
            raise ValueError("part needs split")
        if self.required and self.on_invalid == "drop_field":
            raise ValueError("required contradicts on_invalid: drop_field (a dropped value "
                             "leaves the field empty); choose one")
        return self

    @property
    def source_columns(self) -> list[str]:
        """The source columns this field reads (expression names are added by the engine)."""
        if self.columns is not None:
            return list(self.columns)
        return [self.column] if self.column is not None else []


class MappingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: str
    #: Every field's ``on_invalid`` unless the field says otherwise (required fields and
    #: ``updated_at`` always quarantine). Dropping is the default: one unreadable birth
    #: date must not keep a person out of the store and out of matching.
    on_invalid: OnInvalid = "drop_field"
    default_region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    updated_at: FieldMap | None = None
    fields: dict[str, FieldMap] = Field(min_length=1)
    computed: dict[str, str] = Field(default_factory=dict)

    def drops(self, fm: FieldMap) -> bool:
        """Whether an invalid value of ``fm`` is dropped (the record kept without it)."""
        if fm.on_invalid is not None:
            return fm.on_invalid == "drop_field"
        return self.on_invalid == "drop_field" and not fm.required
