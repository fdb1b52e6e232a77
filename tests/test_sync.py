"""Inbound and outbound sync against the master store on SQLite and real PostgreSQL."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from hub.context import Hub, open_hub
from hub.store import bulk
from hub.store.migrate import alembic_config
from hub.store.tables import RecordHistory, Xref
from hub.sync.runner import run_sync

HEADER = "id,first_name,last_name,email,birthday,country,newsletter,tier,changed_at\n"

SECOND_SOURCE = """
  webshop:
    connector: csv
    settings: {directory: data/webshop}
    streams:
      customers: {entity: customer, direction: inbound, resource: customers.csv, key: [id],
                  mapping: mappings/shop_customer.yaml}
"""


@pytest.fixture
def hub(starter: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    text = starter.read_text(encoding="utf-8") + SECOND_SOURCE  # last system: synced after shop
    starter.write_text(text, encoding="utf-8")
    webshop = starter.parent / "data" / "webshop"
    webshop.mkdir(parents=True)
    (webshop / "customers.csv").write_text(
        HEADER + "W-1,Jürgen,Müller,j.mueller@example.org,,DE,yes,,2025-01-01T00:00:00\n"
                 "W-2,Ada,Lovelace,ada@example.org,1815-12-10,GB,yes,,2025-01-01T00:00:00\n",
        encoding="utf-8")
    opened = open_hub(starter)
    yield opened
    opened.close()


def _goldens(hub: Hub) -> dict[str, dict]:
    from hub.canonical import Customer
    t = bulk.table_of(Customer)
    with hub.engine.connect() as conn:
        return {r.email: dict(r._mapping) for r in conn.execute(select(t))}


def test_schema_matches_the_models(hub: Hub) -> None:
    cfg = alembic_config()
    with hub.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # raises if a model changed without a migration


def test_first_sync_matches_across_systems_and_second_changes_nothing(hub: Hub) -> None:
    first = run_sync(hub.deployment, hub.engine)
    assert first.status == "success"
    counts = {f"{s.system}.{s.stream}": s for s in first.streams}
    assert (counts["shop.customers"].read, counts["shop.customers"].created) == (3, 3)
    # W-1 is the same person as shop's 1002 (same email, other case): no new golden record
    assert counts["webshop.customers"].created == 1
    goldens = _goldens(hub)
    assert len(goldens) == 4
    mueller = goldens["j.mueller@example.org"]
    # shop's record is newer (2026) than webshop's (2025): shop's last name survives
    assert mueller["last_name"] == "Müller-Lüdenscheid"
    assert mueller["provenance"]["last_name"]["system"] == "shop"
    assert mueller["custom"] == {"loyalty_tier": "silver"}
    with hub.engine.connect() as conn:
        x = bulk.table_of(Xref)
        systems = sorted(r.system for r in conn.execute(
            select(x.c.system).where(x.c.golden_id == mueller["id"])))
    assert systems == ["shop", "webshop"]
    sent = counts["mailing.subscribers"]
    assert (sent.created, sent.skipped) == (3, 1)  # Jürgen said no to the newsletter

    second = run_sync(hub.deployment, hub.engine)
    assert second.status == "success"
    assert second.changed == 0
    assert all(s.failed == 0 for s in second.streams)
    assert _goldens(hub) == goldens


def test_newer_source_value_wins_and_history_keeps_every_version(hub: Hub) -> None:
    run_sync(hub.deployment, hub.engine)
    source = hub.deployment.base_dir / "data" / "webshop" / "customers.csv"
    source.write_text(
        HEADER + "W-1,Jürgen,Müller,j.mueller@example.org,,DE,yes,,2027-01-01T00:00:00\n"
                 "W-2,Ada,King,ada@example.org,1815-12-10,GB,yes,,2026-06-01T00:00:00\n",
        encoding="utf-8")
    result = run_sync(hub.deployment, hub.engine, systems=["webshop"])
    counts = result.streams[0]
    assert (counts.updated, counts.unchanged, counts.created) == (2, 0, 0)
    goldens = _goldens(hub)
    assert goldens["j.mueller@example.org"]["last_name"] == "Müller"  # 2027 beats 2026
    assert goldens["j.mueller@example.org"]["version"] == 2
    assert goldens["ada@example.org"]["last_name"] == "King"  # the source's own newer value
    h = bulk.table_of(RecordHistory)
    with hub.engine.connect() as conn:
        versions = [(r.version, r.data["last_name"]) for r in conn.execute(
            select(h).where(h.c.golden_id == goldens["j.mueller@example.org"]["id"])
            .order_by(h.c.version))]
    assert versions == [(1, "Müller-Lüdenscheid"), (2, "Müller")]

    result = run_sync(hub.deployment, hub.engine, systems=["mailing"])
    # Ada's name changed; Jürgen's newer consent (webshop, 2027) makes him a subscriber
    assert (result.streams[0].updated, result.streams[0].created) == (1, 1)
    with open(hub.deployment.base_dir / "data" / "target" / "subscribers.csv",
              encoding="utf-8") as fh:
        rows = {r["email"]: r for r in csv.DictReader(fh)}
    assert rows["ada@example.org"]["last_name"] == "King"


def test_bad_rows_are_quarantined_and_good_rows_synced(hub: Hub) -> None:
    source = hub.deployment.base_dir / "data" / "source" / "customers.csv"
    with open(source, "ab") as fh:
        fh.write(b"1004,Bad,Date,bad.date@example.org,1985-02-31,DE,no,,2026-01-01T00:00:00\n")
        fh.write(b"1005,Too,Many,columns@example.org,1985-01-01,DE,no,,2026-01-01T00:00:00,x\n")
        fh.write(b"1006,Good,Row,good@example.org,1985-01-01,DE,no,,2026-01-01T00:00:00\n")
    result = run_sync(hub.deployment, hub.engine, systems=["shop"])
    assert result.status == "partial"
    counts = result.streams[0]
    assert (counts.read, counts.created, counts.failed) == (6, 4, 2)
    from hub.store.tables import Quarantine
    q = bulk.table_of(Quarantine)
    with hub.engine.connect() as conn:
        rows = conn.execute(select(q).order_by(q.c.id)).all()
    by_line = {r.location: r for r in rows}
    assert sorted(by_line) == ["customers.csv:5", "customers.csv:6"]
    assert by_line["customers.csv:5"].field == "date_of_birth"
    assert "not a valid date" in by_line["customers.csv:5"].reason
    assert "column" in by_line["customers.csv:6"].reason
    assert all("1985-02-31" not in r.reason for r in rows)


def test_quarantine_lists_each_bad_record_once_and_resolves_fixed_ones(hub: Hub) -> None:
    from hub.store.tables import Quarantine
    source = hub.deployment.base_dir / "data" / "source" / "customers.csv"
    good = source.read_bytes()
    bad_date = b"1004,Bad,Date,bad.date@example.org,1985-02-31,DE,no,,2026-01-01T00:00:00\n"
    source.write_bytes(good + bad_date + b"1005,Too,Many\n")
    run_sync(hub.deployment, hub.engine, systems=["shop"])
    source.write_bytes(good + bad_date + b"1005,Too,Many\n" + b"\n")  # changed, same errors
    run_sync(hub.deployment, hub.engine, systems=["shop"])
    q = bulk.table_of(Quarantine)
    with hub.engine.connect() as conn:
        open_rows = conn.execute(select(q.c.location).where(q.c.status == "open")).all()
    assert sorted(r.location for r in open_rows) == ["customers.csv:5", "customers.csv:6"]

    source.write_bytes(good + bad_date.replace(b"1985-02-31", b"1985-02-28"))
    result = run_sync(hub.deployment, hub.engine, systems=["shop"])
    assert result.status == "success" and result.streams[0].created == 1
    with hub.engine.connect() as conn:
        statuses = [tuple(r) for r in conn.execute(select(q.c.run_id, q.c.status)
                                                   .where(q.c.source_key == "1004")
                                                   .order_by(q.c.id))]
    assert statuses == [(1, "superseded"), (2, "resolved")]
