"""Survivorship over every source record of a golden record: most frequent value, trust,
the address as one, writes through the hub, and the defaults by data category."""

from __future__ import annotations

import itertools
import random
from typing import Any

from hub.canonical import builtin_fields
from hub.matching.settings import EntitySurvivorship
from hub.survivorship.defaults import DEFAULTS, by_category
from hub.survivorship.rules import Survivorship
from hub.survivorship.sources import Sources

CUSTOMER = builtin_fields("customer")
ADDRESS = ("street", "postal_code", "city")

MICHAELA = {"first_name": "Michaela", "last_name": "Jakimow", "street": "Stanleystraße 8",
            "postal_code": "10115", "city": "Berlin"}
CORRUPT = {"first_name": "Michafla", "last_name": "Jakimow", "street": "Stanleykstreet 8",
           "postal_code": "10117", "city": "Berlln"}


def _rules(entity: str = "customer", **config: Any) -> Survivorship:
    return Survivorship(EntitySurvivorship.model_validate(config), builtin_fields(entity))


def _sync(rules: Survivorship, records: list[tuple[str, str, dict[str, Any], str]],
          sources: Sources | None = None, values: dict[str, Any] | None = None,
          prov: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None
          ) -> tuple[dict[str, Any], dict[str, Any], Sources]:
    """Merge (system, key, values, business time) records in turn, as a sync does."""
    sources = sources if sources is not None else Sources()
    values, prov = values or {}, prov or {}
    for system, key, record, at in records:
        values, prov, _ = rules.merge(values, prov, record, observed_at=at,
                                      source={"system": system, "key": key, "run": 1},
                                      overrides=overrides, sources=sources)
    return values, prov, sources


def test_the_corrupted_copy_loses_even_when_it_is_the_newest() -> None:
    values, prov, _ = _sync(_rules(), [("crm", "1", MICHAELA, "2026-01-01"),
                                       ("shop", "7", MICHAELA, "2026-01-02"),
                                       ("billing", "B3", CORRUPT, "2026-03-01")])
    assert {f: values[f] for f in MICHAELA} == MICHAELA
    assert prov["first_name"]["rule"] == "most_frequent"
    assert (prov["first_name"]["agree"], prov["first_name"]["of"]) == (2, 3)
    assert prov["first_name"]["system"] in ("crm", "shop")  # a record holding the value
    newest = _rules(default="most_recent")  # the former default, for contrast
    values, prov, _ = _sync(newest, [("crm", "1", MICHAELA, "2026-01-01"),
                                     ("shop", "7", MICHAELA, "2026-01-02"),
                                     ("billing", "B3", CORRUPT, "2026-03-01")])
    assert values["first_name"] == "Michafla" and prov["first_name"]["rule"] == "most_recent"


def test_the_same_records_in_any_order_give_the_same_golden_record() -> None:
    records = [("crm", "1", MICHAELA, "2026-01-01"), ("shop", "7", MICHAELA, "2026-01-05"),
               ("billing", "B3", CORRUPT, "2026-03-01"),
               ("erp", "E9", {**MICHAELA, "first_name": "M.", "city": "Berlin-Mitte"},
                "2026-02-01")]
    seen = set()
    for order in itertools.permutations(records):
        values, _, _ = _sync(_rules(), list(order))
        seen.add(tuple(sorted(values.items())))
        assert values["first_name"] == "Michaela" and values["street"] == "Stanleystraße 8"
    assert len(seen) == 1


def test_ties_go_to_the_trusted_system_then_to_the_most_recent() -> None:
    two = [("crm", "1", {"last_name": "Meier"}, "2026-05-01"),
           ("billing", "B1", {"last_name": "Maier"}, "2026-01-01")]
    values, prov, _ = _sync(_rules(), two)
    assert values["last_name"] == "Meier" and prov["last_name"]["system"] == "crm"  # newer
    values, prov, _ = _sync(_rules(trust=["billing"]), two)
    assert values["last_name"] == "Maier" and prov["last_name"]["system"] == "billing"
    per_field = _rules(trust=["billing"], fields={"last_name": {"rule": "most_frequent",
                                                                "trust": ["crm"]}})
    assert _sync(per_field, two)[0]["last_name"] == "Meier"


def test_case_and_spelling_do_not_split_the_votes() -> None:
    values, prov, _ = _sync(_rules(), [
        ("crm", "1", {"last_name": "Müller", "street": "Hauptstraße 5"}, "2026-01-01"),
        ("shop", "2", {"last_name": "MÜLLER", "street": "Hauptstr. 5"}, "2026-01-02"),
        ("hr", "3", {"last_name": "Müller", "street": "hauptstrasse 5"}, "2026-01-03"),
        ("erp", "4", {"last_name": "Mueller", "street": "Nebenweg 1"}, "2026-06-01"),
        ("web", "5", {"last_name": "Mueller", "street": "Nebenweg 1"}, "2026-06-02")])
    # Müller/MÜLLER: 3 votes to Mueller's 2, shown as spelled most often
    assert values["last_name"] == "Müller" and prov["last_name"]["agree"] == 3
    assert values["street"] in ("Hauptstraße 5", "Hauptstr. 5", "hauptstrasse 5")
    assert prov["street"]["agree"] == 3


def test_the_address_comes_from_one_record_never_mixed() -> None:
    rng = random.Random(7)
    streets, postals, cities = ["A-Weg 1", "B-Str. 2", "C-Platz 3"], ["1", "2", "3"], \
        ["Ahaus", "Bonn", "Celle"]
    for _ in range(200):
        records = []
        for n in range(rng.randint(1, 5)):
            address = {"street": rng.choice(streets), "postal_code": rng.choice(postals),
                       "city": rng.choice(cities)}
            for part in ADDRESS:  # some records lack a part
                if rng.random() < 0.2:
                    address[part] = None
            records.append((rng.choice(["crm", "shop", "billing"]), str(n), address,
                            f"2026-01-{rng.randint(1, 28):02d}"))
        rules = _rules(default=rng.choice(["most_frequent", "most_recent", "most_complete"]))
        values, prov, _ = _sync(rules, records)
        golden = {p: values[p] for p in ADDRESS}
        held = [r for _, _, r, _ in records]
        # every part held comes from one record, or from one telling the same place more fully
        winner = next(r for s, k, r, _ in records
                      if (s, k) == (prov[next(p for p in ADDRESS if p in prov and
                                              not prov[p].get("filled"))]["system"],
                                    prov[next(p for p in ADDRESS if p in prov and
                                              not prov[p].get("filled"))]["key"])) \
            if any(p in prov for p in ADDRESS) else None
        if winner is None:
            assert all(v is None for v in golden.values())
            continue
        for part, value in golden.items():
            if winner.get(part) is not None:
                assert value == winner[part], (records, golden)
            elif value is not None:
                assert prov[part]["filled"]
                assert any(r.get(part) == value and all(
                    r.get(p) in (None, winner[p]) for p in ADDRESS if winner.get(p) is not None)
                    for r in held)


def test_a_fuller_address_wins_a_tie_and_a_partial_one_fills_nothing_it_contradicts() -> None:
    full = {"street": "Hauptstraße 5", "postal_code": "10115", "city": "Berlin"}
    values, prov, _ = _sync(_rules(), [
        ("crm", "1", full, "2026-01-01"),
        ("shop", "2", {"street": "Hauptstraße 5", "city": "Berlin"}, "2026-02-01")])
    assert {p: values[p] for p in ADDRESS} == full and prov["street"]["agree"] == 2
    # a newer address elsewhere (most_recent): its parts only; the old postal code goes
    values, prov, _ = _sync(_rules(fields={"address": "most_recent"}), [
        ("crm", "1", full, "2026-01-01"),
        ("shop", "2", {"street": "Domplatz 1", "city": "Köln"}, "2026-02-01")])
    assert {p: values[p] for p in ADDRESS} == {"street": "Domplatz 1", "postal_code": None,
                                               "city": "Köln"}
    assert "postal_code" not in prov
    # the same place told more fully by another record: its postal code fills the gap
    values, prov, _ = _sync(_rules(fields={"address": "most_recent"}), [
        ("crm", "1", full, "2026-01-01"),
        ("shop", "2", {"street": "Hauptstraße 5", "city": "Berlin"}, "2026-02-01")])
    assert values["postal_code"] == "10115" and prov["postal_code"]["system"] == "crm"
    assert prov["postal_code"]["filled"] and prov["street"]["system"] == "shop"


def test_null_never_overwrites_and_a_record_counts_with_its_latest_values_only() -> None:
    rules = _rules()
    values, prov, sources = _sync(rules, [("crm", "1", {"phone": "+4930111"}, "2026-01-01"),
                                          ("shop", "2", {"phone": "+4930222"}, "2026-01-02"),
                                          ("hr", "3", {"phone": "+4930222"}, "2026-01-03")])
    assert values["phone"] == "+4930222"
    # shop corrects its record: now 2 say 111; hr then sends no phone at all (no blanking)
    values, prov, sources = _sync(rules, [("shop", "2", {"phone": "+4930111"}, "2026-02-01"),
                                          ("hr", "3", {"phone": None}, "2026-02-02")],
                                  sources, values, prov)
    assert values["phone"] == "+4930111" and (prov["phone"]["agree"], prov["phone"]["of"]) \
        == (2, 2)
    assert len(sources) == 3


def test_a_write_through_the_hub_replaces_what_sources_said_before_it() -> None:
    rules = _rules()
    values, prov, sources = _sync(rules, [("crm", "1", MICHAELA, "2026-01-01"),
                                          ("shop", "2", MICHAELA, "2026-01-02")])
    # an API write (no sources: decided against the golden record's value) at a later time
    values, prov, changed = rules.merge(values, prov, {"last_name": "Lang", "city": "Potsdam"},
                                        observed_at="2026-03-01",
                                        source={"system": "api", "key": "token:1"})
    assert changed and values["last_name"] == "Lang" and prov["last_name"]["system"] == "api"
    # the address edited at the hub is the held address with the new city, all of it "api"
    assert (values["street"], values["city"]) == ("Stanleystraße 8", "Potsdam")
    assert prov["street"]["system"] == prov["city"]["system"] == "api"
    # a source record older than the write: no vote against it
    values, prov, _ = _sync(rules, [("crm", "1", {**MICHAELA, "phone": "+4930"}, "2026-02-01")],
                            sources, values, prov)
    assert values["last_name"] == "Lang" and values["city"] == "Potsdam"
    assert values["phone"] == "+4930"
    # newer source values compete again: two say Jakimow after the write
    values, prov, _ = _sync(rules, [("crm", "1", MICHAELA, "2026-04-01"),
                                    ("shop", "2", MICHAELA, "2026-04-02")],
                            sources, values, prov)
    assert values["last_name"] == "Jakimow" and prov["last_name"]["agree"] == 2


def test_an_override_beats_every_rule() -> None:
    rules = _rules()
    values, prov, _ = _sync(rules, [("crm", "1", MICHAELA, "2026-01-01"),
                                    ("shop", "2", MICHAELA, "2026-01-02")])
    prov = {**prov, "city": {"system": "steward", "key": "alice", "at": "2026-01-03"}}
    values, prov, _ = _sync(rules, [("hr", "3", MICHAELA, "2026-05-01")], None,
                            {**values, "city": "Potsdam"}, prov, overrides={"city": "Potsdam"})
    assert values["city"] == "Potsdam" and prov["city"]["system"] == "steward"
    assert values["street"] == "Stanleystraße 8"  # the rest of the address: by the rule


def test_defaults_by_data_category() -> None:
    customer, employee = _rules(), _rules("employee")
    assert [customer.rule(f) for f in ("first_name", "email", "date_of_birth", "street",
                                       "city", "country")] == ["most_frequent"] * 6
    assert customer.rule("status") == customer.rule("marketing_consent") == "most_recent"
    assert customer.rule("tax_id") == "trusted_source"  # restricted: not counted
    assert [employee.rule(f) for f in ("department", "job_title", "termination_date",
                                       "salary", "sick_leave_reason")] == ["most_recent"] * 5
    assert employee.rule("user_name") == "most_frequent"
    assert employee.rule("iban") == employee.rule("national_id") == "trusted_source"
    assert by_category("user.contact.address.street")[0] == "most_frequent"
    assert all(rule in ("most_frequent", "trusted_source", "most_recent")
               for rule, _ in DEFAULTS.values())
    # kontor.yaml: the entity's default replaces the table, a field's rule the default
    mine = _rules(default="most_recent", fields={"status": "most_frequent"})
    assert mine.rule("first_name") == "most_recent" and mine.rule("status") == "most_frequent"
    assert mine.rule("tax_id") == "most_recent"


def test_restricted_fields_are_never_kept_per_source() -> None:
    rules = _rules("employee", trust=["payroll"])
    iban_a, iban_b = "DE02120300000000202051", "DE02500105170137075030"
    values, prov, sources = _sync(rules, [
        ("payroll", "1", {"last_name": "Roth", "iban": iban_a}, "2026-01-01"),
        ("hr", "2", {"last_name": "Roth", "iban": iban_b}, "2026-02-01"),
        ("crm", "3", {"last_name": "Roth", "iban": iban_b}, "2026-03-01")])
    assert values["iban"] == iban_a and prov["iban"]["rule"] == "trusted_source"
    assert all("iban" not in r.values for r in sources.records.values())
