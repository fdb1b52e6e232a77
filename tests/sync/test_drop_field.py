"""``on_invalid: drop_field`` through a real sync, on SQLite and PostgreSQL.

One invalid value (a birth date "1985-02-30") no longer loses its record: the record is
stored without the field, matched to the golden record another system made, and the
dropped field is reported in the run summary, the quarantine and the quality report. The
golden record keeps the value it had; the same bad value read again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.audit.tables import AuditEntry
from hub.canonical import Customer
from hub.cli.main import app
from hub.store import bulk
from hub.store.db import make_engine
from hub.store.tables import Quarantine, RecordHistory, Xref
from hub.sync import runner as sync_runner
from hub.sync.inbound import InboundSync

runner = CliRunner()

CRM = """
  crm:
    connector: csv
    settings: {directory: data/crm}
    streams:
      customers: {entity: customer, direction: inbound, resource: crm.csv, key: [nr],
                  mapping: mappings/crm_customer.yaml}
"""
CRM_MAPPING = """entity: customer
fields:
  first_name: vorname
  last_name: nachname
  email: {column: mail, normalise: email}
  date_of_birth: {column: geburt, format: "%Y-%m-%d", on_invalid: drop_field}
  risk_score: {column: risiko, on_invalid: drop_field}
"""
HEADER = "nr,vorname,nachname,mail,geburt,risiko\n"
#: Zoë is shop's customer 1001 (same e-mail), born 1985-04-12 by shop's account.
ZOE = "C-1,Zoë,Ødegård,zoe@example.org,{dob},\n"
#: a restricted field's invalid value: never kept, never shown
ADA = "C-2,Ada,Lovelace,ada@example.org,1815-12-10,CANARY-RISK\n"


@pytest.fixture
def config(starter: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    text = starter.read_text(encoding="utf-8").replace(
        "    loyalty_tier: {type: str, category: user.behavior.purchase_history}\n",
        "    loyalty_tier: {type: str, category: user.behavior.purchase_history}\n"
        "    risk_score: {type: int, category: user.health_and_medical}\n")
    starter.write_text(text + CRM, encoding="utf-8")
    (starter.parent / "mappings" / "crm_customer.yaml").write_text(CRM_MAPPING,
                                                                   encoding="utf-8")
    (starter.parent / "data" / "crm").mkdir()
    return starter


@pytest.fixture
def ticking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stream read a minute after the one before: crm's mapping has no business
    time, so each read is observed at its own time and hashes differently (as two syncs in
    two different seconds do), and the records go through survivorship every time."""
    minutes = itertools.count()

    class Ticking(InboundSync):
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.started = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC) + \
                dt.timedelta(minutes=next(minutes))

    monkeypatch.setattr(sync_runner, "InboundSync", Ticking)


def _crm(config: Path, *rows: str) -> None:
    (config.parent / "data" / "crm" / "crm.csv").write_text(HEADER + "".join(rows),
                                                            encoding="utf-8")


def kontor(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.output


def sync_json(config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out = kontor(config, "sync", "--json", *args)
    return code, json.loads(out)


def _stream(report: dict[str, Any], system: str) -> dict[str, Any]:
    return next(s for s in report["streams"] if s["system"] == system)


def _rows(config: Path, model: Any, *where: Any) -> list[dict[str, Any]]:
    """Rows of the master store, read as they are (no hub opened: that takes longer)."""
    engine = make_engine(os.environ["KONTOR_DATABASE_URL"])
    t = bulk.table_of(model)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(t).where(*(w(t) for w in where)))]
    engine.dispose()
    return rows


def _zoe(config: Path) -> dict[str, Any]:
    [row] = _rows(config, Customer, lambda t: t.c.email == "zoe@example.org")
    return row


def _history(config: Path, golden_id: str) -> int:
    return len(_rows(config, RecordHistory, lambda t: t.c.golden_id == golden_id))


def test_a_bad_birth_date_is_dropped_and_the_record_matched(config: Path) -> None:
    assert kontor(config, "sync", "shop")[0] == 0
    before = _zoe(config)
    _crm(config, ZOE.format(dob="1985-02-30"), ADA)

    code, report = sync_json(config, "crm")
    assert code == 2  # stored, but not all of it: the run is no success (README exit codes)
    assert report["status"] == "partial"
    crm = _stream(report, "crm")
    assert (crm["read"], crm["failed"], crm["dropped_fields"]) == (2, 0, 2)
    assert crm["created"] == 1 and crm["situations"]["unlinked"] == 1  # Zoë matched to 1001
    assert [(q["source_key"], q["field"], q["kind"]) for q in report["quarantined"]] == [
        ("C-1", "date_of_birth", "field"), ("C-2", "risk_score", "field")]

    zoe = _zoe(config)
    assert zoe["id"] == before["id"]
    # not blanked by the source that sent nothing valid: shop's birth date stays
    assert str(zoe["date_of_birth"]) == "1985-04-12"
    assert zoe["provenance"]["date_of_birth"]["system"] == "shop"
    [xref] = _rows(config, Xref, lambda t: t.c.system == "crm", lambda t: t.c.source_key == "C-1")
    assert xref["golden_id"] == zoe["id"] and "date_of_birth" not in xref["data"]

    code, out = kontor(config, "quarantine", "list", "--json")
    entries = {e["field"]: e for e in json.loads(out)}
    assert set(entries) == {"date_of_birth", "risk_score"}
    dob = entries["date_of_birth"]
    assert (dob["system"], dob["stream"], dob["source_key"], dob["status"]) == \
        ("crm", "customers", "C-1", "open")
    assert dob["reason"] == ("dropped, record kept without it: not a valid date (expected "
                             "YYYY-MM-DD) in column 'geburt'")
    # the steward sees the unrestricted bad value; a restricted one is not even kept
    code, out = kontor(config, "quarantine", "show", str(dob["id"]), "--json")
    assert json.loads(out)["record"] == {"geburt": "1985-02-30"}
    code, out = kontor(config, "quarantine", "show", str(entries["risk_score"]["id"]), "--json")
    assert json.loads(out)["record"] is None
    [risk] = _rows(config, Quarantine, lambda t: t.c.field == "risk_score")
    assert risk["payload"] is None
    code, out = kontor(config, "quarantine", "list")
    assert "date_of_birth" in out and "key C-1" in out and "CANARY" not in out

    # the run's summary, as `kontor runs show` prints it again
    code, out = kontor(config, "runs", "show", str(report["run"]))
    assert "2 fields dropped" in " ".join(out.split())
    assert "2 fields dropped (records kept):" in out and "CANARY" not in out

    # the audit trail: received, with the dropped fields named (never their values)
    [entry] = _rows(config, AuditEntry, lambda t: t.c.source_key == "C-1",
                    lambda t: t.c.kind == "transfer.in")
    assert entry["outcome"] == "received" and entry["golden_id"] == zoe["id"]
    assert set(entry["detail"]["dropped"]) == {"date_of_birth"}
    assert "1985-02-30" not in json.dumps(entry["detail"])
    assert kontor(config, "audit", "verify")[0] == 0

    code, out = kontor(config, "quality", "crm", "--json")
    fields = json.loads(out)["systems"]["crm"]["customer"]["fields"]
    assert fields["date_of_birth"] == {"completeness": 0.5, "invalid": 1, "dropped": 1}

    # the same file again: not even read, nothing changed
    code, out = kontor(config, "sync", "crm")
    assert code == 0 and "nothing changed" in out


@pytest.mark.usefixtures("ticking")
def test_the_same_bad_value_changes_nothing_and_a_fix_resolves_it(config: Path) -> None:
    _crm(config, ZOE.format(dob="1986-01-01"))
    assert kontor(config, "sync")[0] == 0
    zoe = _zoe(config)
    assert str(zoe["date_of_birth"]) == "1986-01-01"  # crm's, newer than shop's
    history = _history(config, zoe["id"])

    # crm's own value turns invalid: the golden record keeps crm's last valid value (not
    # blanked, and not outvoted by shop's either: crm said nothing new about it)
    _crm(config, ZOE.format(dob="1986-13-01"))
    code, report = sync_json(config)
    assert code == 2
    crm, mailing = _stream(report, "crm"), _stream(report, "mailing")
    assert (crm["updated"], crm["unchanged"], crm["dropped_fields"]) == (0, 1, 1)
    assert (mailing["created"], mailing["updated"]) == (0, 0)  # nothing new sent on
    after = _zoe(config)
    assert str(after["date_of_birth"]) == "1986-01-01"
    [xref] = _rows(config, Xref, lambda t: t.c.source_key == "C-1")
    assert xref["data"]["date_of_birth"] == "1986-01-01"  # crm's last valid value counts on
    assert after["version"] == zoe["version"] and _history(config, zoe["id"]) == history

    # read again (another row changed the file): unchanged again, one open entry for it
    _crm(config, ZOE.format(dob="1986-13-01"), "C-9,Max,Muster,max@example.org,1970-01-01,\n")
    code, report = sync_json(config)
    crm = _stream(report, "crm")
    assert (crm["created"], crm["updated"], crm["unchanged"]) == (1, 0, 1)
    assert _stream(report, "mailing")["created"] == 0  # Max said no newsletter: not sent
    assert _zoe(config)["version"] == zoe["version"]
    entries = _rows(config, Quarantine, lambda t: t.c.source_key == "C-1")
    assert sorted(e["status"] for e in entries) == ["open", "superseded"]

    # the source fixes it: stored, and the entry is resolved
    _crm(config, ZOE.format(dob="1986-01-02"), "C-9,Max,Muster,max@example.org,1970-01-01,\n")
    code, report = sync_json(config)
    assert code == 0 and _stream(report, "crm")["updated"] == 1
    assert str(_zoe(config)["date_of_birth"]) == "1986-01-02"
    entries = _rows(config, Quarantine, lambda t: t.c.source_key == "C-1")
    assert sorted(e["status"] for e in entries) == ["resolved", "superseded"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_retry_stores_a_refused_record_once_its_field_may_be_dropped(config: Path) -> None:
    mapping = config.parent / "mappings" / "crm_customer.yaml"
    mapping.write_text(CRM_MAPPING.replace(', on_invalid: drop_field}', ', on_invalid: '
                                           'quarantine}'), encoding="utf-8")
    _crm(config, ZOE.format(dob="1985-02-30"))
    code, report = sync_json(config, "crm")
    assert code == 2 and _stream(report, "crm")["failed"] == 1  # quarantine, as chosen
    [refused] = report["quarantined"]
    assert refused["kind"] == "record"

    mapping.write_text(CRM_MAPPING, encoding="utf-8")
    code, out = kontor(config, "quarantine", "retry", "--all", "--json")
    result = json.loads(out)
    assert code == 0 and result["retried"] == [refused["id"]] and result["failed"] == []
    [dropped] = [e for e in json.loads(kontor(config, "quarantine", "list", "--json")[1])]
    assert (dropped["source_key"], dropped["field"]) == ("C-1", "date_of_birth")
    assert _rows(config, Xref, lambda t: t.c.source_key == "C-1")
    # nothing to retry in a dropped field's entry: the record is stored already
    code, out = kontor(config, "quarantine", "retry", str(dropped["id"]), "--json")
    assert json.loads(out)["skipped"] == {
        str(dropped["id"]): "the record is stored without this field: fix the value at the "
                            "source and sync again, or discard this entry"}
