"""Merging two golden records and splitting a wrong merge: xrefs, values, history, keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.context import Hub, open_hub
from hub.errors import HubError
from hub.store import bulk, goldens
from hub.store.matching_tables import MatchKey, ReviewPair
from hub.store.tables import RecordHistory, Xref
from hub.survivorship.merging import Steward
from hub.sync.runner import run_sync
from tests.matching.deploy import system, write_deployment, write_rows

EMPLOYEE = """entity: employee
updated_at: changed
fields:
  employee_number: id
  first_name: first
  last_name: last
  city: city
  iban: iban
"""
COLUMNS = ["id", "first", "last", "city", "iban", "changed"]
IBAN = "DE89370400440532013000"


@pytest.fixture
def hub(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    systems = system("hr", entity="employee") + system("payroll", entity="employee")
    write_deployment(tmp_path, systems, "", {"hr": EMPLOYEE, "payroll": EMPLOYEE})
    write_rows(tmp_path, "hr", [{"id": "100", "first": "Anna", "last": "Schmidt",
                                 "city": "Berlin", "changed": "2026-01-01T00:00:00"}], COLUMNS)
    # payroll keys its people differently: P-7 is Anna, but nothing says so
    write_rows(tmp_path, "payroll", [{"id": "P-7", "first": "A.", "last": "Schmidt",
                                      "city": "Berlin-Mitte", "iban": IBAN,
                                      "changed": "2026-02-01T00:00:00"}], COLUMNS)
    opened = open_hub(tmp_path / "kontor.yaml")
    run_sync(opened.deployment, opened.engine)
    yield opened
    opened.close()


def _state(hub: Hub) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str]]:
    t, x = bulk.table_of(__import__("hub.canonical").canonical.Employee), bulk.table_of(Xref)
    with hub.engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(t.c.id))]
        rows = goldens.read(conn, hub.sealer, "employee", ids)
        xrefs = {(r.system, r.source_key): r.golden_id for r in conn.execute(select(x))}
    return rows, xrefs


def test_merge_then_unmerge_restores_records_xrefs_and_sealed_values(hub: Hub) -> None:
    rows, xrefs = _state(hub)
    anna, payroll_anna = xrefs[("hr", "100")], xrefs[("payroll", "P-7")]
    assert anna != payroll_anna and len(rows) == 2
    steward = Steward(hub, "employee")

    merge_id = steward.merge(anna, payroll_anna, actor="alice")
    rows, xrefs = _state(hub)
    assert list(rows) == [anna] and set(xrefs.values()) == {anna}
    merged = rows[anna]
    assert merged["iban"] == IBAN  # the restricted value moved, re-sealed for its new record
    assert merged["city"] == "Berlin-Mitte"  # payroll's newer value won (most recent)
    assert merged["first_name"] == "Anna" and merged["employee_number"] == "100" or \
        merged["employee_number"] == "P-7"
    with hub.engine.connect() as conn:
        raw = conn.execute(select(bulk.table_of(
            __import__("hub.canonical").canonical.Employee).c.iban)).scalar_one()
    assert raw != IBAN  # sealed at rest

    with pytest.raises(HubError, match="itself"):
        steward.merge(anna, anna, actor="alice")

    survivor, restored = steward.unmerge(merge_id, actor="alice")
    assert (survivor, restored) == (anna, payroll_anna)
    rows, xrefs = _state(hub)
    assert xrefs == {("hr", "100"): anna, ("payroll", "P-7"): payroll_anna}
    assert rows[payroll_anna]["iban"] == IBAN  # still readable under its own key
    assert rows[anna]["iban"] is None and rows[anna]["city"] == "Berlin"
    assert rows[payroll_anna]["city"] == "Berlin-Mitte"
    h = bulk.table_of(RecordHistory)
    with hub.engine.connect() as conn:
        history = [(r.golden_id, r.version, r.system) for r in conn.execute(
            select(h).order_by(h.c.id))]
        pair = conn.execute(select(bulk.table_of(ReviewPair))).one()
        key_owners = {r.golden_id for r in conn.execute(select(bulk.table_of(MatchKey)))}
    assert history[-2:] == [(anna, 3, "steward"), (payroll_anna, 2, "steward")]
    assert pair.status == "kept_apart"  # never proposed again
    assert key_owners == {anna, payroll_anna}
    with pytest.raises(HubError, match="undone already"):
        steward.unmerge(merge_id, actor="alice")


def test_later_syncs_follow_the_xrefs_after_a_merge_and_an_unmerge(hub: Hub) -> None:
    _, xrefs = _state(hub)
    anna, other = xrefs[("hr", "100")], xrefs[("payroll", "P-7")]
    steward = Steward(hub, "employee")
    merge_id = steward.merge(anna, other, actor="alice")
    folder = hub.deployment.base_dir
    write_rows(folder, "payroll", [{"id": "P-7", "first": "A.", "last": "Schmidt",
                                    "city": "Potsdam", "iban": IBAN,
                                    "changed": "2026-03-01T00:00:00"}], COLUMNS)
    result = run_sync(hub.deployment, hub.engine, systems=["payroll"])
    assert result.streams[0].situations["linked"] == 1 and result.streams[0].created == 0
    rows, _ = _state(hub)
    assert rows[anna]["city"] == "Potsdam"
    steward.unmerge(merge_id, actor="alice")
    rows, _ = _state(hub)
    # the survivor loses what only the split-off source said; that record gets it back
    assert rows[anna]["city"] == "Berlin" and rows[other]["city"] == "Potsdam"
    assert rows[other]["iban"] == IBAN
