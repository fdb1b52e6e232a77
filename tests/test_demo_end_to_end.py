"""The demo back office, end to end through the CLI and the API — and the privacy canary.

Restricted values planted in the HR export must not appear in any output: the payroll
database, the newsletter file, CLI output, logs, API responses, the quarantine reasons.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.cli.main import app
from hub.context import open_hub
from hub.demo import write_demo

CANARIES = {
    "krankheitsgrund": "CANARY-HEALTH-7f3a9c",
    "schwerbehinderung": "CANARY-DISABILITY-55e1",
    "fuehrungszeugnis": "CANARY-CRIMINAL-b20d",
    "abmahnungen": "CANARY-LEGAL-91ac",
    "iban": "DE89CANARY0000000000001",
    "ausweisnummer": "CANARYID42",
    "sozialversicherungsnummer": "CANARYSSN-6677",
}


def _plant(xml: Path) -> None:
    """Put canary values into the restricted fields of the first three employees."""
    text = xml.read_text(encoding="utf-8")
    for tag, value in CANARIES.items():
        text, n = re.subn(rf"<{tag}>[^<]*</{tag}>|<{tag}\s*/>", f"<{tag}>{value}</{tag}>",
                          text, count=3)
        assert n, f"no <{tag}> in the demo export"
    xml.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("demo")
    summary = write_demo(folder, customers=600, employees=60, seed=99)
    _plant(folder / "data" / "hr" / "mitarbeiter.xml")
    return summary


def _assert_no_canary(where: str, text: str) -> None:
    for value in CANARIES.values():
        assert value not in text, f"restricted value leaked into {where}"


def test_sync_reports_exactly_the_dirty_records_then_converges(demo, caplog) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    config = str(demo.config)
    with caplog.at_level(logging.DEBUG):
        first = runner.invoke(app, ["--config", config, "sync", "--json"])
    assert first.exit_code == 1, first.output  # dirty records failed: never "success"
    import json
    report = json.loads(first.stdout)
    failed = {f"{s['system']}.{s['stream']}": s["failed"] for s in report["streams"]
              if s["failed"]}
    assert failed == demo.failures
    assert report["status"] == "partial"
    locations = {q["location"] for q in report["quarantined"]}
    crm_lines = {int(re.search(r"line (\d+)", d).group(1)) for d in demo.dirty  # type: ignore[union-attr]
                 if d.startswith("crm")}
    assert {f"kunden.csv:{n}" for n in crm_lines} <= locations
    streams = {f"{s['system']}.{s['stream']}": s for s in report["streams"]}
    assert streams["payroll.employees"]["created"] == demo.employees - 1
    assert streams["newsletter.subscribers"]["created"] == demo.newsletter_subscribers
    _assert_no_canary("sync output", first.output)
    _assert_no_canary("logs", caplog.text)

    second = runner.invoke(app, ["--config", config, "sync"])
    assert second.exit_code == 0, second.output
    assert "nothing changed" in second.output
    _assert_no_canary("second sync output", second.output)


def test_targets_never_receive_restricted_values(demo) -> None:  # type: ignore[no-untyped-def]
    payroll = sqlite3.connect(demo.paths["payroll"])
    rows = payroll.execute("SELECT * FROM employees").fetchall()
    assert len(rows) == demo.employees - 1
    dump = "\n".join(payroll.iterdump())
    _assert_no_canary("payroll database", dump)
    columns = [c[1] for c in payroll.execute("PRAGMA table_info(employees)")]
    iban = columns.index("iban")
    assert all(r[iban] in (None, "") for r in rows)  # bank details denied by default
    _assert_no_canary("newsletter file", demo.paths["newsletter"].read_text(encoding="utf-8"))


def test_api_and_read_commands_never_show_restricted_values(demo) -> None:  # type: ignore[no-untyped-def]
    hub = open_hub(demo.config)
    client = TestClient(create_app(hub))
    listing = client.get("/api/v1/employees", params={"limit": 500})
    assert listing.status_code == 200
    employees = listing.json()["items"]
    assert len(employees) == demo.employees - 1
    assert "sick_leave_reason" not in employees[0] and "iban" not in employees[0]
    assert employees[0]["employee_number"]
    texts = [listing.text]
    for e in employees[:5]:
        for suffix in ("", "/history", "/xrefs"):
            r = client.get(f"/api/v1/employees/{e['id']}{suffix}")
            assert r.status_code == 200
            texts.append(r.text)
    texts += [client.get(p).text for p in ("/api/v1/quarantine", "/api/v1/runs",
                                           "/api/v1/systems", "/openapi.json")]
    _assert_no_canary("API responses", "\n".join(texts))
    runner = CliRunner()
    for command in (["status"], ["status", "--json"], ["quarantine"], ["quarantine", "--json"],
                    ["check"]):
        result = runner.invoke(app, ["--config", str(demo.config), *command])
        assert result.exit_code == 0, (command, result.output)
        _assert_no_canary(f"kontor {' '.join(command)}", result.output)
    hub.close()
