"""The policy engine: specificity, deny beats allow, default deny, legal basis, conditions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from hub import canonical
from hub.errors import ConfigError
from policies import keys
from policies.actions import decrypt
from policies.engine import DEFAULT_DENY, NEEDS_LEGAL_BASIS, Destination
from policies.gate import PrivacyGate
from policies.load import load_policies
from policies.spec import Action

FIELDS = {e: set(canonical.builtin_fields(e)) for e in canonical.ENTITIES}
CATEGORIES = {e: {n: s.category for n, s in canonical.builtin_fields(e).items()}
              for e in canonical.ENTITIES}
DESTINATIONS = {"payroll", "payroll.employees", "newsletter", "newsletter.subscribers",
                "analytics", "analytics.customers"}
PAYROLL = Destination("payroll.employees", "system", "employment")
NEWSLETTER = Destination("newsletter.subscribers", "system", "marketing.communications.email")


def gate_for(tmp_path: Path, text: str) -> PrivacyGate:
    folder = tmp_path / "policies"
    folder.mkdir(exist_ok=True)
    (folder / "p.yaml").write_text(text, encoding="utf-8")
    ring = keys.create(tmp_path / "keyring.json") if not (tmp_path / "keyring.json").exists() \
        else keys.load(tmp_path / "keyring.json")
    return PrivacyGate(CATEGORIES, load_policies(folder, FIELDS, DESTINATIONS), ring)


def test_nothing_leaves_without_a_rule(tmp_path: Path) -> None:
    gate = gate_for(tmp_path, "rules: []\n")
    released, decisions = gate.release("employee", {"first_name": "Zoë", "iban": "DE89"},
                                       PAYROLL)
    assert released == {}
    assert {d.rule for d in decisions} == {DEFAULT_DENY}


def test_most_specific_rule_wins_and_deny_beats_allow_at_equal_specificity(tmp_path: Path
                                                                          ) -> None:
    gate = gate_for(tmp_path, """
rules:
  - {id: all-names, to: ["*"], category: user.name, action: allow}
  - {id: no-last-names-for-payroll, to: [payroll], category: user.name.last, action: deny}
  - {id: but-this-field, to: [payroll.employees], field: last_name, action: mask,
     params: {keep_first: 1, keep_last: 0}}
  - {id: allow-first, to: [payroll], field: first_name, action: allow}
  - {id: deny-first, to: [payroll], field: first_name, action: deny}
""")
    released, decisions = gate.release(
        "employee", {"first_name": "Zoë", "last_name": "Ødegård"}, PAYROLL)
    by_field = {d.field: d for d in decisions}
    assert released == {"last_name": "Ø******"}
    assert by_field["last_name"].rule == "but-this-field"
    assert by_field["first_name"].rule == "deny-first"
    assert all(d.policy_version.startswith("sha256:") for d in decisions)


def test_special_categories_need_a_legal_basis(tmp_path: Path) -> None:
    text = """
rules:
  - {id: health-to-payroll, to: [payroll], category: user.health_and_medical, action: allow}
"""
    gate = gate_for(tmp_path, text)
    released, decisions = gate.release("employee", {"sick_leave_reason": "flu"}, PAYROLL)
    assert released == {} and decisions[0].rule == NEEDS_LEGAL_BASIS
    gate = gate_for(tmp_path, text.replace("action: allow}",
                                           "action: allow, legal_basis: 'Art. 9(2)(b)'}"))
    released, decisions = gate.release("employee", {"sick_leave_reason": "flu"}, PAYROLL)
    assert released == {"sick_leave_reason": "flu"}
    assert decisions[0].legal_basis == "Art. 9(2)(b)"


def test_conditions_read_the_whole_record(tmp_path: Path) -> None:
    gate = gate_for(tmp_path, """
rules:
  - {id: email-with-consent, to: [newsletter], category: user.contact.email,
     when: {marketing_consent: true}, action: allow}
""")
    ask = {"email": "zoe@example.org"}
    assert gate.release("customer", ask, NEWSLETTER,
                        record={**ask, "marketing_consent": True})[0] == ask
    assert gate.release("customer", ask, NEWSLETTER,
                        record={**ask, "marketing_consent": False})[0] == {}
    assert gate.release("customer", ask, NEWSLETTER, record=ask)[0] == {}


def test_every_action_gives_its_form(tmp_path: Path) -> None:
    gate = gate_for(tmp_path, """
rules:
  - {id: a, to: [payroll], field: iban, action: mask}
  - {id: b, to: [payroll], field: employee_number, action: pseudonymise}
  - {id: c, to: [payroll], field: national_id, action: encrypt, legal_basis: law}
  - {id: d, to: [payroll], field: social_security_number, action: tokenise}
  - {id: e, to: [payroll], field: date_of_birth, action: generalise}
  - {id: f, to: [payroll], field: salary, action: generalise, params: {bands: [2000, 4000, 6000]}}
  - {id: g, to: [payroll], field: postal_code, action: generalise, params: {keep: 2}}
  - {id: h, to: [payroll], field: phone, action: "null"}
""")
    values = {"iban": "DE89370400440532013000", "employee_number": "10042",
              "national_id": "L01X00T47", "social_security_number": "65170839J003",
              "date_of_birth": dt.date(1980, 12, 31), "salary": Decimal("4250.00"),
              "postal_code": "10115", "phone": "+49 30 1234567"}
    out, _ = gate.release("employee", values, PAYROLL, record_id="E-1001")
    assert out["iban"] == "*" * 18 + "3000"
    assert out["employee_number"].startswith("ps_") and len(out["employee_number"]) == 35
    assert out["date_of_birth"] == 1980 and out["salary"] == "4000-6000"
    assert out["postal_code"] == "10" and out["phone"] is None
    # encrypt: the destination decrypts with its key; record and field are bound
    key = gate.transformer.destination_key("payroll.employees")
    assert decrypt(key, out["national_id"], entity="employee", record_id="E-1001",
                   field="national_id") == "L01X00T47"
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        decrypt(key, out["national_id"], entity="employee", record_id="E-1002",
                field="national_id")
    # tokenise: reversible only through Kontor
    assert gate.transformer.detokenise(out["social_security_number"], "employee",
                                       "social_security_number") == "65170839J003"
    # every transform is stable, so a re-sent record is byte-identical
    again, _ = gate.release("employee", values, PAYROLL, record_id="E-1001")
    assert again == out


def test_pseudonyms_are_stable_per_destination_and_unlinkable_across(tmp_path: Path) -> None:
    gate = gate_for(tmp_path, """
rules:
  - {id: p, to: ["*"], field: employee_number, action: pseudonymise}
""")
    other = Destination("analytics.customers", "system")
    one = gate.release("employee", {"employee_number": "10042"}, PAYROLL)[0]
    two = gate.release("employee", {"employee_number": "10042"}, PAYROLL)[0]
    three = gate.release("employee", {"employee_number": "10042"}, other)[0]
    assert one == two and one != three


def test_policy_problems_name_file_line_and_key(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "bad.yaml").write_text("""rules:
  - {id: x, to: [payrol], category: user.health, action: allow}
  - {id: x, to: [payroll], field: shoe_size, action: allow, purpose: spying}
  - {id: y, to: [payroll], field: iban, action: teleport}
""", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_policies(folder, FIELDS, DESTINATIONS)
    found = {(p.path, p.message.split(";")[0]) for p in info.value.problems}
    expected = ("Input should be 'allow', 'generalise', 'mask', 'encrypt', "
                "'tokenise', 'pseudonymise', 'null' or 'deny'")
    assert ("rules.2.action", expected) in found
    (folder / "bad.yaml").write_text("""rules:
  - {id: x, to: [payrol], category: user.health, action: allow}
  - {id: x, to: [payroll], field: shoe_size, action: allow, purpose: spying}
""", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_policies(folder, FIELDS, DESTINATIONS)
    paths = sorted(p.path for p in info.value.problems)
    assert paths == ["rules.0.category", "rules.0.to.0", "rules.1.field", "rules.1.id",
                     "rules.1.purpose"]
    assert info.value.problems[0].file.startswith(f"{folder / 'bad.yaml'}:")


def test_version_changes_with_the_policy_text(tmp_path: Path) -> None:
    first = gate_for(tmp_path, "rules: []\n").version
    second = gate_for(tmp_path, "rules: []  # reviewed\n").version
    assert first != second and first.startswith("sha256:")
    assert Action.DENY.value == "deny"
