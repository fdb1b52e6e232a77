"""Matching inside real syncs: xref, rules, fuzzy scoring, situations, the review queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from hub.canonical import Customer
from hub.context import Hub, open_hub
from hub.store import bulk
from hub.store.matching_tables import MatchKey, ReviewPair
from hub.store.tables import Quarantine, Xref
from hub.survivorship import review
from hub.sync.runner import run_sync
from tests.matching.deploy import PERSON, person, system, write_deployment, write_rows

ANNA = {"email": "anna.schmidt@example.org", "phone": "030 1234567",
        "street": "Hauptstraße 5", "zip": "10115", "city": "Berlin", "dob": "1980-03-04"}


@pytest.fixture
def folder(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    return tmp_path


def _open(folder: Path, config: str = "", systems: tuple[str, ...] = ("crm", "shop")) -> Hub:
    write_deployment(folder, "".join(system(s) for s in systems), config,
                     {s: PERSON for s in systems})
    return open_hub(folder / "kontor.yaml")


def _goldens(hub: Hub) -> list[dict[str, Any]]:
    t = bulk.table_of(Customer)
    with hub.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]


def _xrefs(hub: Hub) -> dict[tuple[str, str], str]:
    t = bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        return {(r.system, r.source_key): r.golden_id for r in conn.execute(select(t))}


def test_rules_then_fuzzy_link_records_of_two_systems(folder: Path) -> None:
    write_rows(folder, "crm", [person("1", "Anna", "Schmidt", **ANNA),
                               person("2", "Paul", "Weber", tax="DE123", dob="1970-01-01"),
                               person("3", "Jonas", "Becker", dob="1990-05-05", zip="04109",
                                      street="Hauptstraße 7")])
    write_rows(folder, "shop", [
        # same email, other spelling of everything else: the email rule decides
        person("s1", "A.", "Schmitt", email="Anna.Schmidt@Example.org"),
        # the tax id rule, though the name is missing
        person("s2", "", "", tax="de123"),
        # no shared key at all: names swapped, street abbreviated, another phone format
        person("s3", "Becker", "Jonas", dob="1990-05-05", zip="04109", street="Hauptstr. 7",
               phone="+49 30 7777777"),
        # somebody new
        person("s4", "Ida", "Richter", dob="2001-02-03")])
    hub = _open(folder)
    result = run_sync(hub.deployment, hub.engine)
    assert result.status == "success"
    crm, shop = result.streams
    assert crm.situations == {"linked": 0, "unlinked": 0, "unmatched": 3, "disputed": 0,
                              "deleted": 0}
    assert shop.situations == {"linked": 0, "unlinked": 3, "unmatched": 1, "disputed": 0,
                               "deleted": 0}
    x = _xrefs(hub)
    assert x[("shop", "s1")] == x[("crm", "1")]
    assert x[("shop", "s2")] == x[("crm", "2")]
    assert x[("shop", "s3")] == x[("crm", "3")]
    assert len(_goldens(hub)) == 4
    again = run_sync(hub.deployment, hub.engine)
    assert [s.situations["linked"] for s in again.streams] == [0, 0]  # unchanged files
    hub.close()


def test_records_of_one_batch_that_match_share_one_new_golden(folder: Path) -> None:
    write_rows(folder, "crm", [person("1", "Anna", "Schmidt", **ANNA),
                               person("2", "Schmidt", "Anna", **{**ANNA, "email": ""}),
                               person("3", "Anna", "Schmidt", email="ANNA.SCHMIDT@example.org")])
    hub = _open(folder, systems=("crm",))
    result = run_sync(hub.deployment, hub.engine)
    assert result.streams[0].created == 1 and len(_goldens(hub)) == 1
    assert len(set(_xrefs(hub).values())) == 1
    hub.close()


def test_uncertain_pairs_go_to_the_steward_and_decisions_are_remembered(folder: Path) -> None:
    # Same name and birthday, but another city, phone and email: maybe a move, maybe not.
    write_rows(folder, "crm", [person("1", "Anna", "Schmidt", **ANNA)])
    write_rows(folder, "shop", [person("s1", "Anna", "Schmidt", dob="1980-03-04",
                                       zip="80331", city="München", street="Ringstraße 9")])
    hub = _open(folder)
    result = run_sync(hub.deployment, hub.engine)
    assert result.streams[1].situations["disputed"] == 1
    assert len(_goldens(hub)) == 2  # nothing merged on a guess
    [pair] = review.pairs(hub)
    assert pair["system"] == "shop" and pair["source_key"] == "s1"
    assert 0.8 <= pair["score"] < 0.97
    assert pair["evidence"]["date_of_birth"] == "exact"
    assert "Schmidt" not in str(pair)  # levels, never values

    review.decide(hub, pair["id"], "keep_apart", actor="steward")
    assert review.pairs(hub) == []
    # the shop record changes: matched by its xref now, the pair is not asked again
    write_rows(folder, "shop", [person("s1", "Anna", "Schmidt", dob="1980-03-04", zip="80331",
                                       city="München", street="Ringstraße 11")])
    run_sync(hub.deployment, hub.engine)
    assert review.pairs(hub) == [] and len(_goldens(hub)) == 2
    hub.close()


def test_approving_a_pair_merges_the_records_and_moves_xrefs(folder: Path) -> None:
    write_rows(folder, "crm", [person("1", "Anna", "Schmidt", **ANNA)])
    write_rows(folder, "shop", [person("s1", "Anna", "Schmidt", dob="1980-03-04", zip="80331",
                                       city="München", email="anna@web.de")])
    hub = _open(folder)
    run_sync(hub.deployment, hub.engine)
    [pair] = review.pairs(hub)
    done = review.decide(hub, pair["id"], "merge", actor="alice")
    [golden] = _goldens(hub)
    assert golden["id"] == done["survivor"]
    assert set(_xrefs(hub).values()) == {golden["id"]}
    t = bulk.table_of(ReviewPair)
    with hub.engine.connect() as conn:
        status = conn.execute(select(t.c.status, t.c.decided_by)).one()
        keys = {r.golden_id for r in conn.execute(select(bulk.table_of(MatchKey)))}
    assert tuple(status) == ("merged", "alice")
    assert keys == {golden["id"]}  # the merged record's match keys are gone
    hub.close()


def test_on_unmatched_quarantine_keeps_unknown_people_out(folder: Path) -> None:
    write_rows(folder, "crm", [person("1", "Anna", "Schmidt", **ANNA)])
    write_rows(folder, "shop", [person("s1", "Anna", "Schmidt", email=ANNA["email"]),
                                person("s2", "Ida", "Richter", dob="2001-02-03")])
    config = "matching:\n  customer:\n    on_unmatched: {shop: quarantine}\n"
    hub = _open(folder, config)
    result = run_sync(hub.deployment, hub.engine, systems=["shop"])
    assert result.streams[0].failed == 2  # nobody is known yet
    result = run_sync(hub.deployment, hub.engine, systems=["crm"])
    write_rows(folder, "shop", [person("s1", "Anna", "Schmidt", email=ANNA["email"]),
                                person("s2", "Ida", "Richter", dob="2001-02-03", city="Ulm")])
    result = run_sync(hub.deployment, hub.engine, systems=["shop"])
    assert (result.streams[0].failed, result.streams[0].situations["unlinked"]) == (1, 1)
    q = bulk.table_of(Quarantine)
    with hub.engine.connect() as conn:
        open_rows = conn.execute(select(q.c.source_key, q.c.reason)
                                 .where(q.c.status == "open")).all()
    assert [r.source_key for r in open_rows] == ["s2"]
    assert "unmatched" in open_rows[0].reason
    hub.close()


def _statements(hub: Hub, rows: int, folder: Path) -> int:
    write_rows(folder, "crm", [person(str(i), f"Vorname{i}", f"Nachname{i}",
                                      dob=f"19{50 + i % 40}-0{1 + i % 9}-1{i % 9}",
                                      zip=f"{10000 + i}", email=f"p{i}@example.org")
                               for i in range(rows)])
    seen: list[str] = []
    def listener(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(hub.engine, "before_cursor_execute", listener)
    try:
        run_sync(hub.deployment, hub.engine)
    finally:
        event.remove(hub.engine, "before_cursor_execute", listener)
    return len(seen)


def test_matching_queries_are_per_batch_not_per_record(folder: Path) -> None:
    hub = _open(folder, systems=("crm",))
    few = _statements(hub, 60, folder)
    hub.close()
    other = folder / "second"
    other.mkdir()
    hub = _open(other, systems=("crm",))
    many = _statements(hub, 480, other)  # one batch of 500 either way
    hub.close()
    assert many <= few + 10, (few, many)


def test_records_written_outside_a_sync_get_match_keys(folder: Path) -> None:
    """The API creates a customer (its own write path, nothing called by hand): a later
    sync of the same person from a source links to it, one golden record."""
    from hub.api.writes import WriteSource, create
    from hub.auth.roles import Role
    from hub.auth.tokens import Caller

    write_rows(folder, "crm", [])
    write_rows(folder, "shop", [person("s1", "Anna", "Schmidt", email="anna@example.org")])
    hub = _open(folder)
    row = create(hub, "customer", {"first_name": "Anna", "last_name": "Schmidt",
                                   "email": "anna@example.org"},
                 WriteSource("api", Caller(1, "tester", Role.ADMIN)))
    result = run_sync(hub.deployment, hub.engine, systems=["shop"])
    assert result.streams[0].situations["unlinked"] == 1
    assert _xrefs(hub)[("shop", "s1")] == row["id"]
    assert len(_goldens(hub)) == 1
    hub.close()


def test_batches_of_one_record_meet_the_records_of_earlier_batches(folder: Path) -> None:
    """With one record a batch, every record meets the source records stored before it
    (not only the golden record's surviving values): the same clusters as one batch."""
    write_deployment(folder, system("crm") + system("shop"), "", {"crm": PERSON,
                                                                  "shop": PERSON},
                     batch_size=1)
    write_rows(folder, "crm", [person("1", "Anna", "Schmidt", **ANNA),
                               person("2", "Paul", "Weber", **{**ANNA, "email": "p@x.org"})])
    write_rows(folder, "shop", [person(f"s{i}", "Schmidt", "Anna", **{**ANNA, "email": ""})
                                for i in range(3)])
    hub = open_hub(folder / "kontor.yaml")
    result = run_sync(hub.deployment, hub.engine)
    assert result.status == "success"
    assert result.streams[1].situations["unlinked"] == 3
    x = _xrefs(hub)
    assert {x[("shop", f"s{i}")] for i in range(3)} == {x[("crm", "1")]}
    hub.close()
