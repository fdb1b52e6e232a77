"""What a person reads after a sync: a summary that fits 80 columns without cutting a name,
every kind of change counted, a failed stream's reason wherever the stream shows, and
`kontor runs show N`, `kontor status` and `kontor quarantine list` telling the same story."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from hub.cli.main import app
from hub.demo import write_demo
from tests import kontor_process
from tests.sync.test_plan import drop_crm_rows, without_keyless_crm_rows

runner = CliRunner()
STREAMS = ("crm.kunden", "hr.mitarbeiter", "billing.customers", "payroll.employees",
           "newsletter.subscribers", "analytics.customers")


def kontor(config: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--config", str(config), *args])


def at_80_columns(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kontor`` as its own process with COLUMNS=80, its output piped (no colours)."""
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    return kontor_process.run(["--config", str(config), *args], env=env)


def fits(text: str) -> None:
    """Every line within 80 columns, and nothing cut short with an ellipsis."""
    for line in text.splitlines():
        assert len(line.rstrip()) <= 80, line
    assert "…" not in text.replace("… and", "").replace("opening the master store…", "")


def test_the_sync_summary_fits_80_columns_and_counts_every_kind_of_change(
        tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    with open(demo.config, "a", encoding="utf-8") as fh:
        fh.write("\ndeletes:\n  on_delete: retire\n")
    first = at_80_columns(demo.config, "sync")
    assert first.returncode == 2, first.stderr
    fits(first.stdout)
    for label in STREAMS:  # every name whole, never "crm.kun…"
        assert label in first.stdout
    text = " ".join(first.stdout.split())
    assert "Run 1: partial" in text
    assert re.search(r"← billing\.customers [\d,]+ read, [\d,]+ created, .*[\d,]+ merged "
                     r"into existing records, 1 refused \(\d+\.\ds\)", text)
    assert re.search(r"Into the store: [\d,]+ read, [\d,]+ created", text)
    assert "6 records quarantined" in text and "(key B-" in text  # the key of the record
    assert "exit code 2: records refused" in text

    without_keyless_crm_rows(demo)  # else the CRM's read infers no deletes
    drop_crm_rows(demo, 3)  # three customers gone from the CRM: retired, deleted at targets
    second = at_80_columns(demo.config, "sync")
    fits(second.stdout)
    text = " ".join(second.stdout.split())
    assert re.search(r"← crm\.kunden [\d,]+ read, .*3 deleted at the source, \d+ retired", text)
    assert re.search(r"→ analytics\.customers \d+ due, \d+ deleted", text)
    report = json.loads(kontor(demo.config, "sync", "--json").stdout)
    assert "review_pairs" in report and all(s["seconds"] is not None for s in report["streams"])


def test_runs_show_gives_counts_times_errors_and_quarantine(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    assert kontor(demo.config, "sync").exit_code == 2
    demo.paths["hr"].rename(tmp_path / "away.xml")  # the HR export is missing: hr fails
    failed = kontor(demo.config, "sync")
    assert failed.exit_code == 1
    reason = "hr: file not found"
    assert "✗ failed: " + reason in " ".join(failed.output.split())

    listing = " ".join(kontor(demo.config, "runs").output.split())
    assert f"✗ run 2: hr.mitarbeiter failed: {reason}" in listing
    assert "kontor runs show 2" in listing
    status = " ".join(kontor(demo.config, "status").output.split())
    assert "Last run: #2 partial" in status and f"hr.mitarbeiter failed: {reason}" in status

    one = at_80_columns(demo.config, "runs", "show", "1")
    assert one.returncode == 0, one.stderr
    fits(one.stdout)
    text = " ".join(one.stdout.split())
    assert "Run 1: partial — exit 2: records refused" in text
    assert re.search(r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d by cli, took \d+\.\ds", text)
    for label in STREAMS:
        assert re.search(re.escape(label) + r" [\d,]+ (read|due)[^(]*\(\d+\.\ds\)", text), label
    assert "6 records quarantined" in text
    assert re.search(r"mitarbeiter\.xml:record \d+ \(key \d+\)", text)
    two = " ".join(kontor(demo.config, "runs", "show", "2").output.split())
    assert "exit 1: error" in two and "hr.mitarbeiter 0 read" in two and reason in two
    data = json.loads(kontor(demo.config, "runs", "show", "1", "--json").stdout)
    assert data["exit_code"] == 2 and len(data["quarantined"]) == 6 and data["took"] > 0
    assert [s["system"] for s in data["streams"]][:3] == ["crm", "hr", "billing"]
    missing = kontor(demo.config, "runs", "show", "99")
    assert missing.exit_code == 1 and "no run #99" in missing.output


def test_status_counts_live_retired_and_merged_records_apart(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    with open(demo.config, "a", encoding="utf-8") as fh:
        fh.write("\ndeletes:\n  on_delete: retire\n")
    assert kontor(demo.config, "sync").exit_code == 2
    before = json.loads(kontor(demo.config, "status", "--json").stdout)["records"]["customer"]
    assert before["retired"] == before["merged"] == 0

    without_keyless_crm_rows(demo)
    drop_crm_rows(demo, 3)
    kontor(demo.config, "sync")
    merge = kontor(demo.config, "steward", "merge", "C-1010", "C-1011", "--as", "tester")
    assert merge.exit_code == 0, merge.output
    data = json.loads(kontor(demo.config, "status", "--json").stdout)
    after = data["records"]["customer"]
    assert after["retired"] >= 1 and after["merged"] == 1
    assert after["live"] == before["live"] - after["retired"] - 1
    assert data["golden_records"]["customer"] == after["live"]  # live only, as it says
    text = " ".join(kontor(demo.config, "status").output.split())
    assert (f"customers: {after['live']:,} live, {after['retired']:,} retired (gone from "
            "every source), 1 merged into other records") in text


def test_quarantine_list_shows_the_key_the_summary_showed(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=120, employees=20, seed=4)
    summary = " ".join(kontor(demo.config, "sync").output.split())
    keys = set(re.findall(r"\(key ([^)]+)\)", summary))
    assert keys  # the XML and SQL sources name their refused records' keys
    listing = kontor(demo.config, "quarantine", "list").output
    for key in keys:
        assert f"key {key}" in listing
