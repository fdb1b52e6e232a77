"""The mapping engine: German dates, decimal commas, codes, emails — both directions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from hub.errors import ConfigError, MappingError
from mappings.engine import load_mapping

TYPES = {"customer": {"customer_number": "str", "email": "str", "date_of_birth": "date",
                      "status": "str", "marketing_consent": "bool", "country": "str"},
         "employee": {"salary": "decimal", "hire_date": "date"}}

CRM = """
entity: customer
on_invalid: quarantine  # these tests are about refusing what cannot be read
updated_at: {column: GeaendertAm, format: "%d.%m.%Y %H:%M"}
fields:
  customer_number: KundenNr
  email: {column: E-Mail, normalise: email}
  date_of_birth: {column: Geburtsdatum, format: "%d.%m.%Y"}
  status: {column: Status, values: {A: active, I: inactive}}
  marketing_consent: {column: Newsletter, true_values: [ja], false_values: [nein]}
  country: {column: Land, default: DE}
"""


@pytest.fixture
def crm(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "crm.yaml"
    path.write_text(CRM, encoding="utf-8")
    return load_mapping(path, TYPES, entity="customer")


def test_inbound_converts_a_typical_german_export(crm) -> None:  # type: ignore[no-untyped-def]
    values, updated = crm.inbound({
        "KundenNr": " 4711 ", "E-Mail": " Anna.Schmidt@Example.DE ", "Geburtsdatum": "31.12.1980",
        "Status": "A", "Newsletter": "ja", "Land": "", "GeaendertAm": "02.01.2026 14:03",
        "Unbekannt": "dropped"})
    assert values == {"customer_number": "4711", "email": "anna.schmidt@example.de",
                      "date_of_birth": dt.date(1980, 12, 31), "status": "active",
                      "marketing_consent": True, "country": "DE"}
    assert updated == dt.datetime(2026, 1, 2, 14, 3)
    assert crm.unknown_columns(["KundenNr", "Unbekannt"]) == {"Unbekannt"}


@pytest.mark.parametrize(("column", "value", "field", "reason"), [
    ("Geburtsdatum", "31.02.1985", "date_of_birth", "not a valid date (expected DD.MM.YYYY)"),
    ("E-Mail", "anna(at)example.de", "email", "not an email address"),
    ("Status", "X", "status", "unknown code"),
    ("Newsletter", "vielleicht", "marketing_consent", "not a yes/no value"),
])
def test_bad_values_name_field_and_column_but_not_the_value(
        crm, column: str, value: str, field: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    record = {"KundenNr": "1", "E-Mail": "a@b.de", "Geburtsdatum": "01.01.1980", "Status": "A",
              "Newsletter": "ja", "GeaendertAm": "01.01.2026 00:00", column: value}
    with pytest.raises(MappingError) as info:
        crm.inbound(record)
    assert info.value.field == field
    assert reason in info.value.reason and column in info.value.reason
    assert value not in str(info.value)


def test_outbound_renders_the_systems_formats(crm) -> None:  # type: ignore[no-untyped-def]
    out = crm.outbound({"customer_number": "4711", "date_of_birth": dt.date(1980, 12, 31),
                        "status": "inactive", "marketing_consent": False})
    assert out == {"KundenNr": "4711", "Geburtsdatum": "31.12.1980", "Status": "I",
                   "Newsletter": "nein"}


def test_decimal_comma_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "pay.yaml"
    path.write_text("entity: employee\non_invalid: quarantine\nfields:\n"
                    "  salary: {column: Gehalt, decimal_comma: true}\n"
                    "  hire_date: {column: Eintritt, format: '%Y%m%d'}\n", encoding="utf-8")
    m = load_mapping(path, TYPES)
    values, _ = m.inbound({"Gehalt": "4.250,50", "Eintritt": "20200115"})
    assert values == {"salary": Decimal("4250.50"), "hire_date": dt.date(2020, 1, 15)}
    assert m.outbound(values) == {"Gehalt": "4250,50", "Eintritt": "20200115"}
    with pytest.raises(MappingError, match="not a number"):
        m.inbound({"Gehalt": "viel", "Eintritt": ""})


def test_mapping_validation_collects_problems(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("entity: customer\nfields:\n  shoe_size: Schuh\n"
                    "  status: {column: S, format: '%d'}\n  email: {column: E, normalise: rot13}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_mapping(path, TYPES)
    assert [p.path for p in info.value.problems] == ["fields.email.normalise"]
    path.write_text("entity: customer\nfields:\n  shoe_size: Schuh\n"
                    "  status: {column: S, format: '%d'}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_mapping(path, TYPES)
    assert [p.path for p in info.value.problems] == ["fields.shoe_size", "fields.status.format"]
    assert info.value.problems[0].file == f"{path}:3"
