"""Survivorship rules field by field, and steward overrides that later syncs do not beat.

These decide between the golden record's value and the incoming one (no source records
given, as for a write through the API); counting every source record's value is in
``test_survivorship_counts.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.canonical import Customer
from hub.context import open_hub
from hub.errors import HubError
from hub.matching.settings import EntitySurvivorship
from hub.store import bulk
from hub.survivorship.overrides import clear_override, set_override
from hub.survivorship.rules import Survivorship
from hub.sync.runner import run_sync
from tests.matching.deploy import PERSON, person, system, write_deployment, write_rows

FIELDS = ["last_name", "street", "phone"]


def _rules(**config: object) -> Survivorship:
    return Survivorship(EntitySurvivorship.model_validate(config), FIELDS)


def _merge(rules: Survivorship, current: dict, prov: dict, value: dict, at: str,
           system: str, key: str = "k") -> tuple[dict, dict, bool]:
    return rules.merge(current, prov, value, observed_at=at,
                       source={"system": system, "key": key, "run": 1})


def test_most_recent_by_business_time_and_null_never_overwrites() -> None:
    rules = _rules(default="most_recent")
    values, prov, _ = _merge(rules, {}, {}, {"last_name": "Schmidt"}, "2026-02-01", "crm")
    values, prov, changed = _merge(rules, values, prov, {"last_name": "Schmitt"},
                                   "2026-01-01", "shop")  # older at its source: loses
    assert (values["last_name"], changed) == ("Schmidt", False)
    values, prov, changed = _merge(rules, values, prov, {"last_name": None, "street": "A 1"},
                                   "2026-03-01", "shop")
    assert values == {"last_name": "Schmidt", "street": "A 1", "phone": None} and changed
    assert prov["last_name"]["system"] == "crm" and prov["street"]["system"] == "shop"


def test_trusted_source_beats_newer_values_of_less_trusted_systems() -> None:
    # written with the former names (source_priority, priority): still read
    rules = _rules(default="most_recent",
                   fields={"last_name": {"rule": "source_priority", "priority": ["hr", "crm"]}})
    assert rules.rule("last_name") == "trusted_source"
    values, prov, _ = _merge(rules, {}, {}, {"last_name": "Schmidt"}, "2026-01-01", "hr")
    values, prov, changed = _merge(rules, values, prov, {"last_name": "Schmitt"},
                                   "2027-01-01", "crm")
    assert values["last_name"] == "Schmidt" and not changed
    values, prov, _ = _merge(rules, values, prov, {"last_name": "Meier"}, "2027-01-01", "shop")
    assert values["last_name"] == "Schmidt"  # unlisted systems rank last
    values, prov, _ = _merge(rules, values, prov, {"last_name": "Schmidt-Lang"},
                             "2025-01-01", "hr", key="k")  # hr's own record, but older
    assert values["last_name"] == "Schmidt"
    values, prov, _ = _merge(rules, values, prov, {"last_name": "Schmidt-Lang"},
                             "2028-01-01", "hr", key="k")
    assert values["last_name"] == "Schmidt-Lang"
    assert prov["last_name"]["rule"] == "trusted_source"
    # street follows the entity's default rule: the most recent wins
    values, prov, _ = _merge(rules, values, prov, {"street": "B 2"}, "2026-01-01", "shop")
    values, prov, _ = _merge(rules, values, prov, {"street": "C 3"}, "2026-06-01", "crm")
    assert values["street"] == "C 3"


def test_most_complete_keeps_the_fuller_value() -> None:
    rules = _rules(fields={"address": "most_complete"})  # street is part of the address
    values, prov, _ = _merge(rules, {}, {}, {"street": "Hauptstraße 5a"}, "2026-01-01", "crm")
    values, prov, changed = _merge(rules, values, prov, {"street": "Hauptstr. 5"},
                                   "2027-01-01", "shop")
    assert values["street"] == "Hauptstraße 5a" and not changed
    values, prov, _ = _merge(rules, values, prov, {"street": "Hauptstraße 5a, 2. OG"},
                             "2020-01-01", "billing")
    assert values["street"] == "Hauptstraße 5a, 2. OG"  # fuller wins, even when older


def test_config_refuses_unknown_fields_and_systems(tmp_path: Path) -> None:
    from hub.config import load
    config = ("survivorship:\n  customer:\n    trust: [crm, api, nosuch]\n    fields:\n"
              "      shoe_size: most_complete\n      street: {rule: trusted_source}\n"
              "      tax_id: most_frequent\n      status: {rule: trusted_source, trust: [crm]}\n"
              "  employee:\n    default: trusted_source\n")
    write_deployment(tmp_path, system("crm"), config, {"crm": PERSON})
    with pytest.raises(HubError) as info:
        load(tmp_path / "kontor.yaml")
    messages = [(p.path, p.message) for p in info.value.problems]  # type: ignore[attr-defined]
    assert ("survivorship.customer", "unknown system 'nosuch' in trust") in messages  # api: ok
    assert any(p == "survivorship.customer.fields.shoe_size" for p, _ in messages)
    street = dict(messages)["survivorship.customer.fields.street"]
    assert "part of the address" in street and "fields.address" in street
    assert "restricted" in dict(messages)["survivorship.customer.fields.tax_id"]
    assert ("survivorship.employee", "default trusted_source needs a trust list") in messages
    assert not any(p.endswith("fields.status") for p, _ in messages)
    assert all(":" in p.file for p in info.value.problems)  # type: ignore[attr-defined]


def test_steward_override_survives_later_syncs_until_cleared(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    write_deployment(tmp_path, system("crm"), "", {"crm": PERSON})
    write_rows(tmp_path, "crm", [person("1", "Anna", "Schmidt", city="Berlin")])
    hub = open_hub(tmp_path / "kontor.yaml")
    run_sync(hub.deployment, hub.engine)
    t = bulk.table_of(Customer)

    def golden() -> dict:
        with hub.engine.connect() as conn:
            return dict(conn.execute(select(t)).one()._mapping)

    gid = golden()["id"]
    set_override(hub, "customer", gid, "city", "Potsdam", actor="alice", reason="moved")
    assert golden()["city"] == "Potsdam"
    assert golden()["provenance"]["city"]["system"] == "steward"
    write_rows(tmp_path, "crm", [person("1", "Anna", "Schmidt", city="Hamburg",
                                        changed="2030-01-01T00:00:00")])
    run_sync(hub.deployment, hub.engine)
    assert golden()["city"] == "Potsdam"
    with pytest.raises(HubError, match="restricted"):
        set_override(hub, "customer", gid, "tax_id", "X", actor="alice")
    with pytest.raises(HubError, match="not a valid date"):
        set_override(hub, "customer", gid, "date_of_birth", "31.12.1980", actor="alice")

    assert clear_override(hub, "customer", gid, "city")
    write_rows(tmp_path, "crm", [person("1", "Anna", "Schmidt", city="Köln",
                                        changed="2031-01-01T00:00:00")])
    run_sync(hub.deployment, hub.engine)
    assert golden()["city"] == "Köln"
    hub.close()
