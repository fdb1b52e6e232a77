"""``kontor matching export``: the linkage map, with states, and never a field value."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.context import Hub, open_hub
from hub.matching import xref_map
from hub.subject_rights import erase
from hub.survivorship import review
from hub.sync.runner import run_sync
from tests.matching.deploy import (
    PERSON,
    golden_of,
    person,
    system,
    write_deployment,
    write_rows,
)

runner = CliRunner()
TAX = "QXTAXCANARY7ZQ"  # restricted (a government id): must appear nowhere
EMPLOYEE = """entity: employee
updated_at: changed
fields:
  employee_number: id
  first_name: first
  last_name: last
  iban: iban
"""
IBAN = "DE89370400440532013000"
ANNA = {"email": "anna.schmidt@example.org", "phone": "030 1234567", "tax": TAX,
        "street": "Hauptstraße 5", "zip": "10115", "city": "Berlin", "dob": "1980-03-04"}
CRM = [person("1", "Anna", "Schmidt", **ANNA),
       person("2", "Paul", "Weber", dob="1970-01-01", email="paul@example.org"),
       person("3", "Jonas", "Becker", dob="1990-05-05", email="jonas@example.org"),
       person("4", "Ida", "Richter", dob="2001-02-03", email="ida@example.org")]
VALUES = ("Anna", "Schmidt", "anna.schmidt", "Hauptstraße", "1980", "Paul", "Weber",
          "Richter", "Leandra", "Wolfhart", TAX, IBAN)


@pytest.fixture
def hub(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Hub:
    """crm and shop (customers), hr (employees); then a review merge, an erasure and a
    delete, so every state shows up."""
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    systems = system("crm") + system("shop") + system("hr", entity="employee")
    write_deployment(tmp_path, systems, "deletes:\n  max_delete_percent: 50\n",
                     {"crm": PERSON, "shop": PERSON, "hr": EMPLOYEE})
    write_rows(tmp_path, "crm", CRM)
    # s1 may be Anna (moved? the steward says yes); the key "=2+3" a spreadsheet would run
    write_rows(tmp_path, "shop", [
        person("s1", "Anna", "Schmidt", dob="1980-03-04", zip="80331", city="München"),
        person("=2+3", "Leandra", "Wolfhart", dob="1999-09-09")])
    write_rows(tmp_path, "hr", [{"id": "100", "first": "Anna", "last": "Schmidt",
                                 "iban": IBAN, "changed": "2026-01-01T00:00:00"}],
               ["id", "first", "last", "iban", "changed"])
    opened = open_hub(tmp_path / "kontor.yaml")
    run_sync(opened.deployment, opened.engine)
    [pair] = review.pairs(opened)
    review.decide(opened, pair["id"], "merge", actor="steward")
    erase(opened, "customer", golden_of(opened, "crm", "4"), actor="dpo")
    write_rows(tmp_path, "crm", CRM[:2] + CRM[3:])  # crm deletes Jonas
    run_sync(opened.deployment, opened.engine, systems=["crm"])
    yield opened
    opened.close()


def _export(hub: Hub, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(hub.deployment.path), "matching", "export",
                                 *args])
    return result.exit_code, result.stdout, result.stderr


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_every_live_source_record_with_its_golden_id_and_state(hub: Hub) -> None:
    anna, paul, ida = (golden_of(hub, "crm", k) for k in ("1", "2", "4"))
    lea, employee = golden_of(hub, "shop", "=2+3"), golden_of(hub, "hr", "100")
    code, out, err = _export(hub)
    assert code == 0, err
    header, *rows = _rows(out)
    assert header == ["entity", "system", "source_key", "golden_id", "state"]
    assert sorted(rows) == sorted([
        ["customer", "crm", "1", anna, "live"],
        ["customer", "crm", "2", paul, "live"],
        ["customer", "crm", "4", ida, "retired"],       # erased: the hub sends it no more
        ["employee", "hr", "100", employee, "live"],
        ["customer", "shop", "'=2+3", lea, "live"],     # no formula for a spreadsheet
        ["customer", "shop", "s1", anna, "merged"],     # the steward's merge moved it
    ])
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)  # ordered by system
    code, out, _ = _export(hub, "--deleted", "--entity", "customer", "--system", "crm")
    jonas = golden_of(hub, "crm", "3")
    assert _rows(out)[1:] == [["customer", "crm", "1", anna, "live"],
                              ["customer", "crm", "2", paul, "live"],
                              ["customer", "crm", "3", jonas, "deleted"],
                              ["customer", "crm", "4", ida, "retired"]]
    code, out, _ = _export(hub, "--entity", "employee", "--json")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"entity": "employee", "system": "hr", "source_key": "100", "golden_id": employee,
         "state": "live"}]
    code, out, _ = _export(hub, "--system", "shop", "--json")
    assert {json.loads(line)["source_key"] for line in out.splitlines()} == {"=2+3", "s1"}


def test_a_file_gets_the_same_map_and_no_value_leaves(hub: Hub, tmp_path: Path) -> None:
    _, expected, _ = _export(hub, "--deleted")
    target = tmp_path / "out" / "links.csv"
    target.parent.mkdir()
    code, out, err = _export(hub, "--deleted", "--out", str(target))
    assert code == 0, err
    assert target.read_text(encoding="utf-8") == expected
    assert "7 source records written to" in out
    assert list(target.parent.iterdir()) == [target]  # no .part left behind
    code, _, err = _export(hub, "--out", str(tmp_path / "missing" / "links.csv"))
    assert code == 1 and "links.csv" in err
    code, _, err = _export(hub, "--system", "crmm")
    assert code == 1 and "no system 'crmm'" in err
    code, _, err = _export(hub, "--entity", "person")
    assert code == 1 and "--entity: 'person'" in err
    # ids and states only: no value of any record, restricted or not, in any output
    outputs = [expected, out, target.read_text(encoding="utf-8"),
               *(o + e for _, o, e in (_export(hub, "--deleted", "--json"),))]
    found = [(v, t[:80]) for v in VALUES for t in outputs if v.lower() in t.lower()]
    assert found == []


def test_streaming_in_small_batches_gives_the_same_rows(hub: Hub) -> None:
    """A batch of two: each batch looks its merges up while the cursor stays open."""
    with hub.engine.connect() as conn:
        whole = list(xref_map.links(conn, ["customer", "employee"], deleted=True))
        small = list(xref_map.links(conn, ["customer", "employee"], deleted=True, batch=2))
        assert xref_map.count(conn, ["customer", "employee"], deleted=True) == 7
    assert small == whole and len(whole) == 7
    assert [link.state for link in whole].count("merged") == 1
