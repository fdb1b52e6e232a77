"""Survivorship in the real sync and in a steward's merge: every source record counts, the
provenance in the store says which record won and by which rule, restricted values stay
sealed and are never kept per source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.canonical import Customer
from hub.context import Hub, open_hub
from hub.store import bulk, goldens
from hub.store.tables import Xref
from hub.survivorship.merging import Steward
from hub.sync.runner import run_sync
from tests.matching.deploy import PERSON, person, system, write_deployment, write_rows

TAX = "12345678911"
MICHAELA = {"email": "m.jakimow@example.org", "street": "Stanleystraße 8", "zip": "10115",
            "city": "Berlin", "dob": "1980-05-17"}


def _deploy(folder: Path, config: str = "") -> Hub:
    systems = system("crm") + system("shop") + system("billing")
    write_deployment(folder, systems, config, {s: PERSON for s in ("crm", "shop", "billing")})
    write_rows(folder, "crm", [person("1", "Michaela", "Jakimow", tax=TAX, **MICHAELA,
                                      changed="2026-01-01T00:00:00")])
    write_rows(folder, "shop", [person("S7", "Michaela", "Jakimow", **MICHAELA,
                                       changed="2026-01-02T00:00:00")])
    # the newest copy is the corrupted one (same e-mail: the same person)
    write_rows(folder, "billing", [person("B3", "Michafla", "Jakimow", tax="99999999999", **{
        **MICHAELA, "street": "Stanleykstreet 8", "zip": "10117"},
        changed="2026-03-01T00:00:00")])
    return open_hub(folder / "kontor.yaml")


def _goldens(hub: Hub) -> dict[str, dict[str, Any]]:
    t = bulk.table_of(Customer)
    with hub.engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(t.c.id))]
        return goldens.read(conn, hub.sealer, "customer", ids)


def test_the_sync_keeps_what_most_records_say_and_says_why(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    hub = _deploy(tmp_path)
    run_sync(hub.deployment, hub.engine)
    [golden] = _goldens(hub).values()
    assert (golden["first_name"], golden["street"], golden["postal_code"]) == \
        ("Michaela", "Stanleystraße 8", "10115")
    prov = golden["provenance"]
    assert prov["first_name"]["system"] in ("crm", "shop")
    assert (prov["first_name"]["rule"], prov["first_name"]["agree"], prov["first_name"]["of"]) \
        == ("most_frequent", 2, 3)
    assert prov["street"]["system"] == prov["postal_code"]["system"] == prov["city"]["system"]
    # the restricted tax id: decided between two values (no trust list: the newer), sealed
    assert golden["tax_id"] == "99999999999" and prov["tax_id"]["rule"] == "trusted_source"
    t, x = bulk.table_of(Customer), bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        raw = conn.execute(select(t.c.tax_id, t.c.provenance)).one()
        kept = [r.data for r in conn.execute(select(x.c.data))]
    assert TAX not in str(raw) and "99999999999" not in str(raw)
    assert "sealed" in raw.provenance["tax_id"]  # its provenance too
    assert len(kept) == 3 and all("tax_id" not in d for d in kept)

    # shop's record changes: the other address has two votes of three now, and wins whole
    write_rows(tmp_path, "shop", [person("S7", "Michaela", "Jakimow", **{
        **MICHAELA, "street": "Stanleykstreet 8", "zip": "10117"},
        changed="2026-04-01T00:00:00")])
    run_sync(hub.deployment, hub.engine)
    [golden] = _goldens(hub).values()
    assert (golden["street"], golden["postal_code"], golden["first_name"]) == \
        ("Stanleykstreet 8", "10117", "Michaela")
    hub.close()


def test_newest_wins_when_kontor_yaml_says_so(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KONTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    hub = _deploy(tmp_path, "survivorship:\n  customer:\n    default: most_recent\n")
    run_sync(hub.deployment, hub.engine)
    [golden] = _goldens(hub).values()
    assert (golden["first_name"], golden["street"]) == ("Michafla", "Stanleykstreet 8")
    assert golden["provenance"]["first_name"] == {
        "system": "billing", "key": "B3", "run": 1, "at": "2026-03-01T00:00:00",
        "rule": "most_recent"}
    hub.close()


def test_a_steward_merge_counts_the_records_of_both_and_an_unmerge_splits_them(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    systems = system("crm") + system("shop") + system("billing")
    config = ("matching:\n  customer:\n    rules: [[customer_number]]\n"
              "    fuzzy: {enabled: false}\n")
    write_deployment(tmp_path, systems, config, {s: PERSON for s in ("crm", "shop", "billing")})
    # nothing links them: three golden records, the crm one newest but corrupted
    write_rows(tmp_path, "crm", [person("1", "Michafla", "Jakimow", **MICHAELA,
                                        changed="2026-05-01T00:00:00")])
    write_rows(tmp_path, "shop", [person("2", "Michaela", "Jakimow", **MICHAELA)])
    write_rows(tmp_path, "billing", [person("3", "Michaela", "Jakimow", **MICHAELA)])
    hub = open_hub(tmp_path / "kontor.yaml")
    run_sync(hub.deployment, hub.engine)
    x = bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        ids = {r.system: r.golden_id for r in conn.execute(select(x.c.system, x.c.golden_id))}
    steward = Steward(hub, "customer")
    steward.merge(ids["crm"], ids["shop"], actor="alice")
    # crm's and shop's records: one vote each, crm's is newer
    assert _goldens(hub)[ids["crm"]]["first_name"] == "Michafla"
    second = steward.merge(ids["crm"], ids["billing"], actor="alice")
    golden = _goldens(hub)[ids["crm"]]
    assert golden["first_name"] == "Michaela" and golden["provenance"]["first_name"]["agree"] == 2
    steward.unmerge(second, actor="alice")
    rows = _goldens(hub)
    assert rows[ids["crm"]]["first_name"] == "Michafla"  # crm and shop again: a tie
    assert rows[ids["billing"]]["first_name"] == "Michaela"
    assert rows[ids["billing"]]["provenance"]["first_name"]["system"] == "billing"
    hub.close()


def test_an_api_write_stands_against_older_source_values(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.api import writes
    from hub.auth.roles import Role
    from hub.auth.tokens import Caller

    monkeypatch.setenv("KONTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    hub = _deploy(tmp_path)
    run_sync(hub.deployment, hub.engine)
    [gid] = _goldens(hub)
    source = writes.WriteSource("api", Caller(1, "desk", Role.STEWARD))
    writes.update(hub, "customer", gid, expected_version=None, values={"last_name": "Lang"},
                  clear=(), source=source)
    # billing changes its record (a business time before the write): its name is no vote
    write_rows(tmp_path, "billing", [person("B3", "Michaela", "Jakimow", **MICHAELA,
                                            phone="030 1234567", changed="2026-06-01T00:00:00")])
    run_sync(hub.deployment, hub.engine)
    golden = _goldens(hub)[gid]
    assert golden["last_name"] == "Lang" and golden["provenance"]["last_name"]["system"] == "api"
    assert golden["phone"] == "+49301234567"
    # told again after the write: sources compete (one against the write: the newer wins)
    write_rows(tmp_path, "billing", [person("B3", "Michaela", "Jakimow", **MICHAELA,
                                            changed="2099-01-01T00:00:00")])
    run_sync(hub.deployment, hub.engine)
    assert _goldens(hub)[gid]["last_name"] == "Jakimow"
    hub.close()
