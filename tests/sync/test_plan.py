"""`kontor plan` changes nothing anywhere; `kontor apply` applies exactly that plan."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from hub.cli.main import app
from hub.demo import write_demo

runner = CliRunner()


def kontor(config: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--config", str(config), *args])


def _store_counts(folder: Path) -> tuple[int, ...]:
    db = sqlite3.connect(folder / "kontor.db")
    return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                 for t in ("golden_customer", "golden_employee", "sync_run", "audit_entry",
                           "outbox", "delivery"))


def test_plan_writes_nothing_and_shows_field_changes(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    assert kontor(demo.config, "sync").exit_code == 2  # the demo's dirty records
    before = _store_counts(demo.target)
    payroll_before = sqlite3.connect(demo.paths["payroll"]).execute(
        "SELECT * FROM employees ORDER BY 1").fetchall()

    xml = demo.paths["hr"]  # HR changes one employee's department and bank account
    text = xml.read_text(encoding="utf-8")
    start = text.index("<abteilung>") + len("<abteilung>")
    text = text[:start] + "Neue Abteilung" + text[text.index("</abteilung>", start):]
    iban = text.index("<iban>") + len("<iban>")
    text = text[:iban] + "DE02120300000000202051" + text[text.index("</iban>", iban):]
    xml.write_text(text, encoding="utf-8")

    result = kontor(demo.config, "plan", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    (change,) = [c for c in plan["changes"] if c["target"] == "payroll.employees"]
    assert change["action"] == "update" and change["golden_id"] == "E-1001"
    assert change["fields"]["department"][1] == "Neue Abteilung"
    assert change["fields"]["iban"] == ["‹restricted value›", "‹restricted value›"]
    assert "DE02120300000000202051" not in result.stdout
    assert plan["inbound"]["hr.mitarbeiter"]["updated"] == 1
    # nothing happened: not in the store, not in the target
    assert _store_counts(demo.target) == before
    assert sqlite3.connect(demo.paths["payroll"]).execute(
        "SELECT * FROM employees ORDER BY 1").fetchall() == payroll_before


def test_apply_runs_the_plan_and_refuses_a_stale_one(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    planfile = tmp_path / "plan.json"
    assert kontor(demo.config, "plan", "--out", str(planfile)).exit_code == 0
    stale = tmp_path / "stale.json"
    stale.write_text(planfile.read_text(encoding="utf-8"), encoding="utf-8")

    applied = kontor(demo.config, "apply", str(planfile))
    assert "plan applied as run" in applied.output
    rows = sqlite3.connect(demo.paths["payroll"]).execute("SELECT count(*) FROM employees")
    assert rows.fetchone()[0] == demo.employees - 1

    refused = kontor(demo.config, "apply", str(stale))  # the data moved on: it was applied
    assert refused.exit_code == 2 and "moved on" in refused.output
