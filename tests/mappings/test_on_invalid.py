"""``on_invalid: quarantine | drop_field``: an invalid value refuses its record, or only
itself (the record mapped without the field, the field and reason reported)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hub.errors import ConfigError, MappingError
from mappings.engine import CompiledMapping, DroppedField, load_mapping

TYPES = {"customer": {"customer_number": "str", "email": "str", "date_of_birth": "date",
                      "status": "str", "country": "str", "postal_code": "str",
                      "phone": "str"}}

RECORD = {"Nr": "7", "Mail": "anna@example.org", "Geburt": "30.02.1985", "Status": "A",
          "Land": "DE", "PLZ": "10115"}


def _load(tmp_path: Path, text: str) -> CompiledMapping:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path, TYPES)


def _mapping(tmp_path: Path, *, top: str = "", dob: str = "", status: str = "") -> CompiledMapping:
    return _load(tmp_path, f"""entity: customer
{top}
fields:
  customer_number: Nr
  email: {{column: Mail, normalise: email}}
  date_of_birth: {{column: Geburt, format: "%d.%m.%Y"{dob}}}
  status: {{column: Status, values: {{A: active}}{status}}}
  country: Land
  postal_code: {{column: PLZ, normalise: postal_code, on_invalid: drop_field}}
""")


def test_drop_field_is_the_default_and_quarantine_a_choice(tmp_path: Path) -> None:
    dropped: list[DroppedField] = []
    values, _ = _mapping(tmp_path).inbound(RECORD, dropped=dropped)
    assert "date_of_birth" not in values and [d.field for d in dropped] == ["date_of_birth"]
    with pytest.raises(MappingError) as info:
        _mapping(tmp_path, top="on_invalid: quarantine").inbound(RECORD)
    assert info.value.field == "date_of_birth"


def test_drop_field_keeps_the_record_without_the_field(tmp_path: Path) -> None:
    m = _mapping(tmp_path, dob=", on_invalid: drop_field")
    dropped: list[DroppedField] = []
    values, _ = m.inbound(RECORD, dropped=dropped)
    # left out, not None: the source asserted no value for it
    assert "date_of_birth" not in values
    assert values == {"customer_number": "7", "email": "anna@example.org", "status": "active",
                      "country": "DE", "postal_code": "10115"}
    assert dropped == [DroppedField("date_of_birth", "not a valid date (expected DD.MM.YYYY) "
                                    "in column 'Geburt'")]
    assert "30.02" not in dropped[0].reason
    # a valid value is mapped as ever, nothing dropped
    dropped.clear()
    values, _ = m.inbound({**RECORD, "Geburt": "28.02.1985"}, dropped=dropped)
    assert values["date_of_birth"] == dt.date(1985, 2, 28) and dropped == []
    # a caller that does not ask what was dropped gets the same values
    assert m.inbound(RECORD)[0] == {k: v for k, v in values.items() if k != "date_of_birth"}


def test_a_dropped_value_does_not_take_the_default(tmp_path: Path) -> None:
    m = _load(tmp_path, "entity: customer\nfields:\n  customer_number: Nr\n"
              "  email: {column: Mail, normalise: email, default: x@example.org, "
              "on_invalid: drop_field}\n")
    assert m.inbound({"Nr": "1", "Mail": "anna(at)example"})[0] == {"customer_number": "1"}
    assert m.inbound({"Nr": "1", "Mail": ""})[0] == {"customer_number": "1",
                                                     "email": "x@example.org"}


def test_the_mapping_sets_every_fields_default_and_a_field_its_own(tmp_path: Path) -> None:
    m = _mapping(tmp_path, top="on_invalid: drop_field", status=", on_invalid: quarantine")
    dropped: list[DroppedField] = []
    values, _ = m.inbound({**RECORD, "Mail": "no-at-sign"}, dropped=dropped)
    assert [d.field for d in dropped] == ["email", "date_of_birth"]
    assert "email" not in values and "date_of_birth" not in values
    with pytest.raises(MappingError) as info:  # an unknown code: this field quarantines
        m.inbound({**RECORD, "Status": "Z"}, dropped=dropped)
    assert info.value.field == "status"


def test_unknown_codes_and_postal_codes_drop_too(tmp_path: Path) -> None:
    m = _mapping(tmp_path, dob=", on_invalid: drop_field", status=", on_invalid: drop_field")
    dropped: list[DroppedField] = []
    values, _ = m.inbound({**RECORD, "Geburt": "01.01.1980", "Status": "Z", "PLZ": "1"},
                          dropped=dropped)
    assert [d.field for d in dropped] == ["status", "postal_code"]
    assert dropped[0].reason == "unknown code in column 'Status'"
    assert "postal code" in dropped[1].reason and "'PLZ'" in dropped[1].reason
    assert "status" not in values and "postal_code" not in values


def test_required_fields_always_quarantine(tmp_path: Path) -> None:
    m = _load(tmp_path, "entity: customer\non_invalid: drop_field\nfields:\n"
              "  customer_number: {column: Nr, required: true}\n"
              "  date_of_birth: {column: Geburt, format: '%d.%m.%Y', required: true}\n")
    with pytest.raises(MappingError) as info:
        m.inbound({"Nr": "1", "Geburt": "30.02.1985"})
    assert info.value.field == "date_of_birth"
    with pytest.raises(ConfigError) as config:
        _load(tmp_path, "entity: customer\nfields:\n  customer_number: "
              "{column: Nr, required: true, on_invalid: drop_field}\n")
    assert "required contradicts on_invalid: drop_field" in str(config.value)
    assert "m.yaml:3" in str(config.value)


def test_bad_settings_are_named_with_their_place(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "entity: customer\nupdated_at: {column: T, on_invalid: drop_field}\n"
              "fields:\n  customer_number: Nr\n")
    assert "updated_at.on_invalid" in str(info.value)
    assert "always quarantined" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "entity: customer\nfields:\n  customer_number: {column: Nr, "
              "on_invalid: skip}\n")
    assert "on_invalid" in str(info.value) and "drop_field" in str(info.value)
