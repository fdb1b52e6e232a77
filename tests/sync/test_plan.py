"""`kontor plan` changes nothing anywhere; `kontor apply` applies exactly that plan."""

from __future__ import annotations

import csv
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


def _with_retire(demo_config: Path) -> None:
    """Deletes at a source retire the golden record, so targets delete their copies."""
    with open(demo_config, "a", encoding="utf-8") as fh:
        fh.write("\ndeletes:\n  on_delete: retire\n")


def without_keyless_crm_rows(demo) -> None:  # type: ignore[no-untyped-def]
    """Drop the CRM rows the demo spoils so that their key cannot be read (a wrong column
    count, an undecodable byte): while the CRM export holds one, a read infers no deletes
    (the missing record might be that one)."""
    path = demo.target / "data" / "crm" / "kunden.csv"
    lines = path.read_bytes().split(b"\n")
    width = len(next(csv.reader([lines[0].decode("cp1252")], delimiter=";")))

    def readable(line: bytes) -> bool:
        try:
            text = line.decode("cp1252")
        except UnicodeDecodeError:
            return False
        return not text.strip() or len(next(csv.reader([text], delimiter=";"))) == width

    path.write_bytes(b"\n".join(line for line in lines if readable(line)))


def drop_crm_rows(demo, count: int) -> None:  # type: ignore[no-untyped-def]
    """Remove ``count`` customers from the CRM export (its first rows after the header)."""
    path = demo.target / "data" / "crm" / "kunden.csv"
    lines = path.read_bytes().split(b"\n")
    del lines[1:1 + count]
    path.write_bytes(b"\n".join(lines))


def test_plan_counts_every_source_and_target_and_the_exit_code_says_if_anything_would_change(
        tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    first = kontor(demo.config, "plan", "--json", "--detailed-exitcode")
    assert first.exit_code == 2, first.output  # changes pending
    plan = json.loads(first.stdout)
    assert set(plan["inbound"]) == {"crm.kunden", "hr.mitarbeiter", "billing.customers"}
    assert set(plan["outbound"]) == {"payroll.employees", "newsletter.subscribers",
                                     "analytics.customers"}
    for target, counts in plan["outbound"].items():
        listed = [c for c in plan["changes"] if c["target"] == target]
        assert counts["create"] == len(listed) > 0  # every target, not the first 200 rows
        assert {c["action"] for c in listed} == {"create"}
    billing = plan["inbound"]["billing.customers"]
    assert billing["merged"] > 0 and billing["failed"] == 1  # matched to CRM records
    assert plan["errors"] == {}

    human = kontor(demo.config, "plan")
    assert human.exit_code == 0  # without --detailed-exitcode: 0 unless something failed
    text = " ".join(human.output.split())
    for target, counts in plan["outbound"].items():  # a count line per target
        assert f"→ {target} {counts['create']:,} to create" in text
        assert f"{target}: {counts['create']:,} to create (page 1 of" in text  # its changes
    assert f"← billing.customers {billing['created']:,} to create" in text
    total = sum(c["create"] for c in plan["outbound"].values())
    assert f"Total: {total:,} changes at 3 target(s) ({total:,} to create)" in text

    assert kontor(demo.config, "sync").exit_code == 2  # the demo's dirty records
    after = kontor(demo.config, "plan", "--detailed-exitcode")
    assert after.exit_code == 0, after.output  # in sync: nothing to do
    assert "no changes: every system is in sync" in after.output


def test_plan_shows_deletes_at_targets_as_the_sync_then_makes_them(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    _with_retire(demo.config)
    without_keyless_crm_rows(demo)
    assert kontor(demo.config, "sync").exit_code == 2  # the other dirty records
    drop_crm_rows(demo, 3)

    result = kontor(demo.config, "plan", "--json", "--detailed-exitcode")
    assert result.exit_code == 2
    plan = json.loads(result.stdout)
    crm = plan["inbound"]["crm.kunden"]
    assert crm["deleted"] == 3 and crm["retired"] >= 1
    deletes = [c for c in plan["changes"] if c["action"] == "delete"]
    assert deletes and all(c["golden_id"].startswith("C-") for c in deletes)
    assert plan["outbound"]["analytics.customers"]["delete"] == crm["retired"]

    synced = json.loads(kontor(demo.config, "sync", "--json").stdout)
    done = {f"{s['system']}.{s['stream']}": s for s in synced["streams"]}
    for target, counts in plan["outbound"].items():  # the plan said what the sync did
        assert done[target]["deleted"] == counts["delete"], target
    assert done["crm.kunden"]["retired"] == crm["retired"]


def test_plan_pages_one_target_at_a_time(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    plan = json.loads(kontor(demo.config, "plan", "--json").stdout)
    payroll = [c["key"] for c in plan["changes"] if c["target"] == "payroll.employees"]

    page1 = kontor(demo.config, "plan", "--target", "payroll", "--limit", "5")
    page2 = kontor(demo.config, "plan", "--target", "payroll.employees", "--limit", "5",
                   "--page", "2")
    assert page1.exit_code == page2.exit_code == 0
    assert "newsletter.subscribers:" not in page1.output  # counts for all, changes for one
    assert "→ newsletter.subscribers" in page1.output
    shown1 = [k for k in payroll if f"+ {k}\n" in page1.output]
    shown2 = [k for k in payroll if f"+ {k}\n" in page2.output]
    assert shown1 == payroll[:5] and shown2 == payroll[5:10]
    assert f"… {len(payroll) - 5} more: kontor plan --target payroll.employees --page 2" \
        in " ".join(page1.output.split())
    assert "‹restricted value›" in page1.output  # the iban column, masked

    every = kontor(demo.config, "plan", "--target", "payroll.employees", "--limit", "0")
    assert all(f"+ {k}\n" in every.output for k in payroll) and "more:" not in every.output
    only = json.loads(kontor(demo.config, "plan", "--json", "--target", "payroll").stdout)
    assert {c["target"] for c in only["changes"]} == {"payroll.employees"}
    unknown = kontor(demo.config, "plan", "--target", "nosuch")
    assert unknown.exit_code == 1 and "no target nosuch" in unknown.output


def test_a_source_that_cannot_be_planned_exits_1_and_says_why(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    demo.paths["hr"].unlink()
    result = kontor(demo.config, "plan", "--detailed-exitcode")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "hr.mitarbeiter" in text and "cannot plan it: hr: file not found" in text
    assert "1 stream(s) could not be planned" in text


def test_plan_says_deactivate_where_the_target_keeps_a_marked_copy(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    _with_retire(demo.config)
    text = demo.config.read_text(encoding="utf-8").replace(
        "        mapping: mappings/analytics_customer.yaml\n",
        "        mapping: mappings/analytics_customer.yaml\n"
        "        on_golden_delete: deactivate\n        deactivate: {status: inactive}\n")
    demo.config.write_text(text, encoding="utf-8")
    without_keyless_crm_rows(demo)
    assert kontor(demo.config, "sync").exit_code == 2
    drop_crm_rows(demo, 2)
    plan = json.loads(kontor(demo.config, "plan", "--json").stdout)
    marked = [c for c in plan["changes"] if c["target"] == "analytics.customers"]
    assert [c["action"] for c in marked] == ["deactivate", "deactivate"]
    assert all(c["fields"]["status"] == ["active", "inactive"] for c in marked)
    assert plan["outbound"]["analytics.customers"]["deactivate"] == 2
    done = json.loads(kontor(demo.config, "sync", "--json").stdout)
    analytics = next(s for s in done["streams"] if s["system"] == "analytics")
    assert analytics["deactivated"] == 2
