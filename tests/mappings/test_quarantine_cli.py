"""``kontor quarantine list|show|retry|discard`` on records a mapping refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.canonical import Employee
from hub.context import open_hub
from hub.store import bulk, goldens
from hub.store.tables import Quarantine
from tests.matching.deploy import system, write_deployment, write_rows

MAPPING = """entity: employee
on_invalid: quarantine
fields:
  employee_number: id
  last_name: name
  hire_date: {column: eintritt, format: "%d.%m.%Y"}
  iban: iban
  sick_leave_reason: krank
"""
COLUMNS = ["id", "name", "eintritt", "iban", "krank", "notiz"]
IBAN, SICK = "DE89370400440532013000", "CANARY-FLU"
runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_deployment(tmp_path, system("hr", entity="employee"), "", {"hr": MAPPING})
    write_rows(tmp_path, "hr", [
        {"id": "1", "name": "Schmidt", "eintritt": "01.02.2020", "iban": IBAN},
        # the HR export switched to ISO dates for new hires: the mapping does not know yet
        {"id": "2", "name": "Weber", "eintritt": "2024-05-01", "iban": IBAN, "krank": SICK,
         "notiz": "secret note"},
        {"id": "3", "name": "Becker", "eintritt": "31.02.2024"},  # no such day
    ], COLUMNS)
    return path


def _cli(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(__import__("hub.cli.main").cli.main.app,
                           ["--config", str(config), *args])
    return result.exit_code, result.output


def test_list_show_retry_and_discard(config: Path) -> None:
    code, out = _cli(config, "sync", "--json")
    assert code == 2  # records refused
    code, out = _cli(config, "quarantine", "--json")  # no subcommand: the open entries
    assert code == 0
    entries = {e["source_key"]: e for e in json.loads(out)}
    assert set(entries) == {"2", "3"} and entries["2"]["field"] == "hire_date"
    code, listed = _cli(config, "quarantine", "list", "--json")
    assert json.loads(listed) == json.loads(out)

    code, out = _cli(config, "quarantine", "show", str(entries["2"]["id"]), "--json")
    record = json.loads(out)["record"]
    assert record["eintritt"] == "2024-05-01"  # the refused value itself: needed to fix it
    assert record["name"] == "Weber"
    assert record["iban"].startswith("•••") and "bank_account" in record["iban"]
    assert record["krank"].startswith("•••") and "health" in record["krank"]
    assert record["notiz"] == "••• (column not in the mapping)"
    code, text = _cli(config, "quarantine", "show", str(entries["2"]["id"]))
    assert code == 0 and "eintritt ←" in text
    for shown in (out, text):
        assert IBAN not in shown and SICK not in shown and "secret note" not in shown

    # still refused with today's mapping: a new entry supersedes the old one
    code, out = _cli(config, "quarantine", "retry", str(entries["2"]["id"]), "--json")
    assert code == 1 and json.loads(out)["failed"] == [entries["2"]["id"]]

    mapping = config.parent / "mappings" / "hr.yaml"
    mapping.write_text(MAPPING.replace('format: "%d.%m.%Y"', 'format: "%Y-%m-%d"'),
                       encoding="utf-8")
    code, out = _cli(config, "quarantine", "list", "--json")
    weber = next(e for e in json.loads(out) if e["source_key"] == "2")
    code, out = _cli(config, "quarantine", "retry", str(weber["id"]), "--json")
    assert code == 0, out
    assert json.loads(out)["retried"] == [weber["id"]]

    hub = open_hub(config)
    t = bulk.table_of(Employee)
    with hub.engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(t.c.id))]
        rows = {r["employee_number"]: r for r in goldens.read(conn, hub.sealer, "employee",
                                                                ids).values()}
        statuses = {r.id: r.status for r in conn.execute(select(bulk.table_of(Quarantine)))}
    hub.close()
    assert str(rows["2"]["hire_date"]) == "2024-05-01" and rows["2"]["iban"] == IBAN
    assert statuses[weber["id"]] == "retried"
    assert statuses[entries["2"]["id"]] == "superseded"

    code, out = _cli(config, "quarantine", "discard", "--system", "hr", "--json")
    assert json.loads(out)["discarded"] == [entries["3"]["id"]]
    code, out = _cli(config, "quarantine", "--json")
    assert json.loads(out) == []
    code, out = _cli(config, "quarantine", "retry")
    assert code == 1 and "--all" in out
