"""Deletes from full snapshots, the delete and change thresholds, and echo suppression."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.canonical import Customer
from hub.context import Hub, open_hub
from hub.store import bulk
from hub.store.matching_tables import GoldenRetired
from hub.store.tables import Xref
from hub.sync.runner import run_sync
from tests.matching.deploy import (
    COLUMNS,
    PERSON,
    allow_policy,
    person,
    system,
    write_deployment,
    write_rows,
)

PEOPLE = [person(str(i), f"Vorname{i}", f"Nachname{i}", email=f"p{i}@example.org",
                 city="Berlin") for i in range(10)]


@pytest.fixture
def folder(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    return tmp_path


def _open(folder: Path, config: str = "") -> Hub:
    write_deployment(folder, system("crm") + system("shop"), config,
                     {"crm": PERSON, "shop": PERSON})
    write_rows(folder, "shop", [])
    return open_hub(folder / "kontor.yaml")


def _xrefs(hub: Hub) -> dict[str, bool]:
    t = bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        return {r.source_key: r.deleted_at is not None
                for r in conn.execute(select(t).where(t.c.system == "crm"))}


def test_a_record_missing_from_a_full_snapshot_is_deleted_and_can_come_back(
        folder: Path) -> None:
    write_rows(folder, "crm", PEOPLE)
    hub = _open(folder)
    run_sync(hub.deployment, hub.engine)
    write_rows(folder, "crm", PEOPLE[1:])
    result = run_sync(hub.deployment, hub.engine, systems=["crm"])
    crm = result.streams[0]
    assert result.status == "success"
    assert (crm.deleted, crm.situations["deleted"]) == (1, 1)
    assert [k for k, deleted in _xrefs(hub).items() if deleted] == ["0"]
    with hub.engine.connect() as conn:  # unlink (default): the golden record stays
        assert conn.execute(select(bulk.table_of(Customer).c.id)).all().__len__() == 10
    write_rows(folder, "crm", PEOPLE)  # it is back, unchanged
    result = run_sync(hub.deployment, hub.engine, systems=["crm"])
    assert not any(_xrefs(hub).values())
    assert result.streams[0].created == 0
    hub.close()


def test_retire_policy_retires_goldens_no_live_source_holds(folder: Path) -> None:
    write_rows(folder, "crm", PEOPLE)
    hub = _open(folder, "deletes:\n  on_delete: retire\n")
    write_rows(folder, "shop", [person("s1", "Vorname1", "Nachname1", email="p1@example.org")])
    run_sync(hub.deployment, hub.engine)
    write_rows(folder, "crm", PEOPLE[2:])  # 0 and 1 gone; 1 is still in the shop
    result = run_sync(hub.deployment, hub.engine, systems=["crm"])
    assert (result.streams[0].deleted, result.streams[0].retired) == (2, 1)
    t, x = bulk.table_of(GoldenRetired), bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        retired = conn.execute(select(t.c.golden_id, t.c.reason)).all()
        zero = conn.execute(select(x.c.golden_id).where(x.c.source_key == "0")).scalar_one()
    assert [tuple(r) for r in retired] == [(zero, "deleted in crm")]
    write_rows(folder, "crm", PEOPLE[:1] + PEOPLE[2:])  # 0 is back: its record lives again
    run_sync(hub.deployment, hub.engine, systems=["crm"])
    with hub.engine.connect() as conn:
        assert conn.execute(select(t.c.golden_id)).all() == []
    hub.close()


def test_an_empty_file_never_empties_the_hub(folder: Path) -> None:
    write_rows(folder, "crm", PEOPLE)
    hub = _open(folder)
    run_sync(hub.deployment, hub.engine)
    write_rows(folder, "crm", [])  # the export job wrote only the header
    result = run_sync(hub.deployment, hub.engine, systems=["crm"])
    crm = result.streams[0]
    assert result.status != "success"
    assert crm.held_deletes == 10 and crm.deleted == 0
    assert "stopped before deleting: 10 of 10" in (crm.error or "")
    assert not any(_xrefs(hub).values())
    write_rows(folder, "crm", PEOPLE[:7])  # 30 % gone: over the default 20 %
    assert run_sync(hub.deployment, hub.engine, systems=["crm"]).streams[0].held_deletes == 3
    hub.close()
    hub = _open(folder, "deletes:\n  max_delete_percent: 50\n")
    assert run_sync(hub.deployment, hub.engine, systems=["crm"]).streams[0].deleted == 3
    hub.close()


def test_change_threshold_stops_the_stream_before_applying(folder: Path) -> None:
    write_rows(folder, "crm", PEOPLE)
    hub = _open(folder, "deletes:\n  max_change_percent: 50\n")
    run_sync(hub.deployment, hub.engine)
    changed = [{**p, "city": "Hamburg", "changed": "2027-01-01T00:00:00"} for p in PEOPLE[:6]]
    write_rows(folder, "crm", changed + PEOPLE[6:])
    result = run_sync(hub.deployment, hub.engine, systems=["crm"])
    assert result.status != "success" and "max_change_percent" in (result.streams[0].error or "")
    with hub.engine.connect() as conn:
        cities = {r[0] for r in conn.execute(select(bulk.table_of(Customer).c.city))}
    assert cities == {"Berlin"}  # the batch over the limit was not applied
    hub.close()


def test_a_record_kontor_wrote_and_reads_back_is_an_echo_not_a_change(folder: Path) -> None:
    systems = system("shop") + """  crm:
    connector: csv
    default_region: DE
    settings: {directory: data}
    streams:
      people: {entity: customer, direction: inbound, resource: crm.csv, key: [id],
               mapping: mappings/crm.yaml}
      out: {entity: customer, direction: outbound, resource: crm.csv, key: [id],
            mapping: mappings/crm.yaml}
"""
    write_deployment(folder, systems, "", {"crm": PERSON, "shop": PERSON},
                     policy=allow_policy("crm"))
    write_rows(folder, "shop", [person("s1", "Anna", "Schmidt", email="anna@example.org",
                                       city="Berlin", changed="2026-01-01T00:00:00")])
    write_rows(folder, "crm", [], [c for c in COLUMNS if c != "changed"])
    hub = open_hub(folder / "kontor.yaml")
    first = run_sync(hub.deployment, hub.engine)
    assert {f"{s.system}.{s.stream}": s.created for s in first.streams}["crm.out"] == 1

    # Meanwhile the shop moves Anna to Hamburg. The CRM still holds Kontor's "Berlin",
    # read back with no business time of its own (so: now). Taken as news, it would win
    # and flip the golden record back: the ping-pong of bidirectional syncs.
    write_rows(folder, "shop", [person("s1", "Anna", "Schmidt", email="anna@example.org",
                                       city="Hamburg", changed="2026-06-01T00:00:00")])
    second = run_sync(hub.deployment, hub.engine)
    crm_in = next(s for s in second.streams if s.system == "crm" and s.stream == "people")
    assert (crm_in.echoes, crm_in.updated, crm_in.situations["unlinked"]) == (1, 0, 1)
    with hub.engine.connect() as conn:
        assert conn.execute(select(bulk.table_of(Customer).c.city)).scalar_one() == "Hamburg"
    out = next(s for s in second.streams if s.stream == "out")
    assert out.updated == 1  # and the CRM gets Hamburg
    third = run_sync(hub.deployment, hub.engine)
    crm_in = next(s for s in third.streams if s.system == "crm" and s.stream == "people")
    assert (crm_in.echoes, third.changed) == (1, 0)  # converged: nothing moves any more

    text = (folder / "data" / "crm.csv").read_text(encoding="utf-8")
    (folder / "data" / "crm.csv").write_text(text.replace("Hamburg", "Bonn"), encoding="utf-8")
    fourth = run_sync(hub.deployment, hub.engine)  # a real edit in the CRM is a change
    crm_in = next(s for s in fourth.streams if s.system == "crm" and s.stream == "people")
    assert (crm_in.echoes, crm_in.updated) == (0, 1)
    with hub.engine.connect() as conn:
        assert conn.execute(select(bulk.table_of(Customer).c.city)).scalar_one() == "Bonn"
    hub.close()
