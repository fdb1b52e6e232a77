"""Canonical models: the golden Customer and Employee records of the master store.

Each business field declares its data category (a Fides taxonomy key) right where it is
defined, so the catalog the privacy gate reads can never drift from the table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import JSON, Numeric
from sqlmodel import Field, SQLModel

from hub import taxonomy

Entity = Literal["customer", "employee"]
ENTITIES: tuple[Entity, ...] = ("customer", "employee")
ID_PREFIX: dict[str, str] = {"customer": "C", "employee": "E"}

_CATEGORY = "x-category"


def classified(category: str, **kwargs: Any) -> Any:
    """A nullable model field carrying its data category."""
    return Field(default=None, schema_extra={"json_schema_extra": {_CATEGORY: category}},
                 **kwargs)


class GoldenBase(SQLModel):
    """Bookkeeping columns every golden record has."""

    id: str = Field(primary_key=True, max_length=32)
    version: int = 1
    created_at: dt.datetime
    updated_at: dt.datetime
    # Values of deployment-defined custom fields (their categories live in kontor.yaml).
    custom: dict[str, Any] = Field(default_factory=dict, sa_type=JSON,  # type: ignore[call-overload]
                                   nullable=False)
    # field name -> {"system", "run", "key", "at"}: who supplied the current value, and when.
    provenance: dict[str, Any] = Field(default_factory=dict, sa_type=JSON,  # type: ignore[call-overload]
                                       nullable=False)


class Customer(GoldenBase, table=True):
    __tablename__ = "golden_customer"

    customer_number: str | None = classified("user.unique_id", index=True)
    kind: str | None = classified("user.contact.organization")  # "person" | "organisation"
    organisation_name: str | None = classified("user.contact.organization")
    salutation: str | None = classified("user.demographic.gender")
    first_name: str | None = classified("user.name.first")
    last_name: str | None = classified("user.name.last")
    email: str | None = classified("user.contact.email", index=True)
    phone: str | None = classified("user.contact.phone_number")
    street: str | None = classified("user.contact.address.street")
    postal_code: str | None = classified("user.contact.address.postal_code")
    city: str | None = classified("user.contact.address.city")
    country: str | None = classified("user.contact.address.country")
    date_of_birth: dt.date | None = classified("user.demographic.date_of_birth")
    tax_id: str | None = classified("user.government_id.tax_identification_number")
    vat_id: str | None = classified("user.contact.organization")
    status: str | None = classified("user.account")
    marketing_consent: bool | None = classified("user.privacy_preferences")


class Employee(GoldenBase, table=True):
    __tablename__ = "golden_employee"

    employee_number: str | None = classified("user.unique_id", index=True)
    # The identity provider's own id for the person (SCIM externalId), as it gave it.
    external_id: str | None = classified("user.unique_id", index=True)
    first_name: str | None = classified("user.name.first")
    last_name: str | None = classified("user.name.last")
    # The login name an identity provider knows the person by (SCIM userName): any text,
    # unique regardless of case among SCIM writes; None until a client or mapping sets one.
    user_name: str | None = classified("user.account.username", index=True)
    work_email: str | None = classified("user.contact.email", index=True)
    private_email: str | None = classified("user.contact.email")
    phone: str | None = classified("user.contact.phone_number")
    street: str | None = classified("user.contact.address.street")
    postal_code: str | None = classified("user.contact.address.postal_code")
    city: str | None = classified("user.contact.address.city")
    country: str | None = classified("user.contact.address.country")
    date_of_birth: dt.date | None = classified("user.demographic.date_of_birth")
    department: str | None = classified("user.workplace.department")
    job_title: str | None = classified("user.job_title")
    manager_number: str | None = classified("user.workplace.department")
    hire_date: dt.date | None = classified("user.workplace.employment_status")
    termination_date: dt.date | None = classified("user.workplace.employment_status")
    salary: Decimal | None = classified("user.financial.salary",
                                        sa_type=Numeric(14, 2))  # type: ignore[call-overload]
    iban: str | None = classified("user.financial.bank_account")
    national_id: str | None = classified(
        "user.government_id.national_identification_number")
    social_security_number: str | None = classified(
        "user.government_id.national_identification_number")
    sick_leave_reason: str | None = classified("user.health_and_medical")
    disability_status: str | None = classified("user.health_and_medical")
    criminal_record_check: str | None = classified("user.criminal_history")
    disciplinary_notes: str | None = classified("user.legal_proceedings")


MODELS: dict[str, type[GoldenBase]] = {"customer": Customer, "employee": Employee}


@dataclass(frozen=True)
class FieldSpec:
    """One business field of an entity: its name, Python type and data category."""

    name: str
    type: str  # "str", "date", "decimal", "bool"
    category: taxonomy.Category
    custom: bool = False

    @property
    def special(self) -> bool:
        return self.category.special

    @property
    def restricted(self) -> bool:
        return self.category.restricted


_TYPE_NAMES = {str: "str", dt.date: "date", Decimal: "decimal", bool: "bool",
               int: "int", dt.datetime: "datetime"}


def builtin_fields(entity: str) -> dict[str, FieldSpec]:
    """The canonical fields of ``entity`` with their categories, from the model itself."""
    model = MODELS[entity]
    specs: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if not isinstance(extra, dict) or _CATEGORY not in extra:
            continue  # bookkeeping column
        args = [a for a in getattr(info.annotation, "__args__", (info.annotation,))
                if a is not type(None)]
        python_type: type = args[0]  # type: ignore[assignment]
        specs[name] = FieldSpec(name, _TYPE_NAMES[python_type],
                                taxonomy.lookup(str(extra[_CATEGORY])))
    return specs


def business_key(entity: str) -> str:
    """The field whose equal values mean the same person (exact match, for now)."""
    return {"customer": "email", "employee": "employee_number"}[entity]
