"""The demo back office end to end through the CLI: dirty records, convergence, and what
each target receives under the default policy pack (the canary lives in tests/privacy)."""

from __future__ import annotations

import csv
import json
import re
import sqlite3

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.demo import write_demo

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return write_demo(tmp_path_factory.mktemp("demo"), customers=600, employees=60, seed=99)


def test_sync_reports_exactly_the_dirty_records_then_converges(demo) -> None:  # type: ignore[no-untyped-def]
    config = str(demo.config)
    first = runner.invoke(app, ["--config", config, "sync", "--json"])
    assert first.exit_code == 2, first.output  # dirty records refused: never "success"
    report = json.loads(first.stdout)
    failed = {f"{s['system']}.{s['stream']}": s["failed"] for s in report["streams"]
              if s["failed"]}
    assert failed == demo.failures
    assert (report["status"], report["exit_code"], report["pending"]) == ("partial", 2, 0)
    locations = {q["location"] for q in report["quarantined"]}
    crm_lines = {int(re.search(r"line (\d+)", d).group(1)) for d in demo.dirty  # type: ignore[union-attr]
                 if d.startswith("crm")}
    assert {f"kunden.csv:{n}" for n in crm_lines} <= locations
    streams = {f"{s['system']}.{s['stream']}": s for s in report["streams"]}
    assert streams["payroll.employees"]["created"] == demo.employees - 1
    assert streams["newsletter.subscribers"]["created"] == demo.newsletter_subscribers

    second = runner.invoke(app, ["--config", config, "sync"])
    assert second.exit_code == 0, second.output
    assert "nothing changed" in second.output


def test_targets_receive_what_the_default_pack_allows(demo) -> None:  # type: ignore[no-untyped-def]
    with sqlite3.connect(demo.paths["payroll"]) as payroll:
        payroll.row_factory = sqlite3.Row
        rows = [dict(r) for r in payroll.execute("SELECT * FROM employees")]
    assert len(rows) == demo.employees - 1
    # payroll-bank-account: the IBAN goes to payroll (the demo's mapping asks for it)
    assert all(r["iban"] and r["iban"].startswith("DE") for r in rows)
    assert all(r["salary"] for r in rows)

    with open(demo.paths["newsletter"], encoding="utf-8") as fh:
        subscribers = list(csv.DictReader(fh))
    assert len(subscribers) == demo.newsletter_subscribers  # only those with consent
    assert all("@" in s["email"] for s in subscribers)

    with open(demo.paths["analytics"], encoding="utf-8") as fh:
        analytics = list(csv.DictReader(fh))
    assert analytics and all(a["customer_ref"].startswith("ps_") for a in analytics)
    assert all(not a["birth_year"] or re.fullmatch(r"\d{4}", a["birth_year"])
               for a in analytics)
    assert all(len(a["region"]) <= 2 for a in analytics)


def test_policy_tests_of_the_demo_pass(demo) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["--config", str(demo.config), "policy", "test"])
    assert result.exit_code == 0, result.output
    assert "6 passed, 0 failed" in result.output
