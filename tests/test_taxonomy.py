"""Every canonical field carries a real data category, and restricted ones are flagged."""

from __future__ import annotations

import pytest

from hub import canonical, taxonomy


@pytest.mark.parametrize("entity", canonical.ENTITIES)
def test_every_field_has_a_known_category(entity: str) -> None:
    fields = canonical.builtin_fields(entity)
    assert fields, "an entity without classified fields"
    for spec in fields.values():
        assert spec.category.key in taxonomy.known_keys()


def test_special_and_restricted_employee_fields() -> None:
    fields = canonical.builtin_fields("employee")
    special = {n for n, s in fields.items() if s.special}
    assert special == {"sick_leave_reason", "disability_status", "criminal_record_check",
                       "disciplinary_notes"}
    restricted = {n for n, s in fields.items() if s.restricted}
    assert restricted == special | {"iban", "national_id", "social_security_number"}
    assert not fields["salary"].special and not fields["work_email"].restricted


def test_lookup_uses_fides_taxonomy_and_own_keys() -> None:
    assert not taxonomy.lookup("user.contact.email").own
    assert taxonomy.lookup("user.health_and_medical.genetic").special
    assert taxonomy.lookup("user.legal_proceedings").own
    with pytest.raises(KeyError):
        taxonomy.lookup("user.health")
    assert "user.health_and_medical" in taxonomy.suggest("user.health_and_medicine")
