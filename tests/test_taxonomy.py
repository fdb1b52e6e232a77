"""Every canonical field carries a real data category, and restricted ones are flagged."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hub import canonical, taxonomy

ROOT = Path(__file__).resolve().parent.parent


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


def test_the_vendored_fides_taxonomy_ships_with_its_attribution() -> None:
    folder = taxonomy.FIDES_TAXONOMY.parent
    notice = (folder / "NOTICE").read_text(encoding="utf-8")
    assert "Ethyca" in notice and "CC BY 4.0" in notice and "fideslang 3.1.4" in notice
    licence = (folder / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("Attribution 4.0 International")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "fides_taxonomy/*" in pyproject["tool"]["setuptools"]["package-data"]["hub"]
    assert not any(d.startswith("fideslang") for d in pyproject["project"]["dependencies"])
    assert len(taxonomy.known_keys()) == 85 + len(taxonomy.OWN_CATEGORIES)
    assert {"marketing.communications.email", "essential.service.payment_processing",
            "personalize.profiling"} <= taxonomy.data_uses()
    assert "user.contact.email" not in taxonomy.data_uses()


def test_a_rule_names_a_fides_data_use_as_its_purpose(tmp_path: Path) -> None:
    from hub.errors import ConfigError
    from policies.load import load_policies

    fields = {"customer": {"email"}}
    rule = ("rules:\n  - {id: r1, to: [mailing], category: user.contact.email, "
            "purpose: %s, action: allow}\n")
    (tmp_path / "p.yaml").write_text(rule % "marketing.communications.email", encoding="utf-8")
    assert len(load_policies(tmp_path, fields, {"mailing"}).rules) == 1
    (tmp_path / "p.yaml").write_text(rule % "marketing.communication", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown data use 'marketing.communication'"):
        load_policies(tmp_path, fields, {"mailing"})
