"""The kontor command line: exit codes, plain-word errors, --json for scripts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hub.cli.main import app

runner = CliRunner()


def test_help_everywhere() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "demo", "check", "sync", "serve", "status", "connectors"):
        assert command in result.output
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0, command


def test_init_writes_a_deployment_that_checks_and_syncs(tmp_path: Path) -> None:
    target = tmp_path / "new"
    assert runner.invoke(app, ["init", str(target)]).exit_code == 0
    config = str(target / "kontor.yaml")
    check = runner.invoke(app, ["--config", config, "check", "--json"])
    assert check.exit_code == 0, check.output
    assert json.loads(check.stdout)["ok"] is True
    sync = runner.invoke(app, ["--config", config, "sync"])
    assert sync.exit_code == 0, sync.output
    assert (target / "data" / "target" / "subscribers.csv").read_text(encoding="utf-8") \
        .startswith("email,first_name,last_name")
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 1 and "--force" in again.output


def test_check_lists_every_problem_and_exits_1(starter: Path) -> None:
    (starter.parent / "data" / "source").rename(starter.parent / "data" / "moved")
    text = starter.read_text(encoding="utf-8").replace(
        "only_if: {marketing_consent: true}", "only_if: {shoe_size: 42}")
    starter.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["--config", str(starter), "check", "--json"])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert [p["path"] for p in problems] == ["systems.mailing.streams.subscribers.only_if"]
    assert "unknown field 'shoe_size'" in problems[0]["problem"]

    starter.write_text(text.replace("only_if: {shoe_size: 42}", "only_if: {}"), encoding="utf-8")
    result = runner.invoke(app, ["--config", str(starter), "check"])
    assert result.exit_code == 1
    assert "systems.shop" in result.output and "connection failed" in result.output


def test_sync_of_unknown_system_and_missing_config(tmp_path: Path, starter: Path) -> None:
    result = runner.invoke(app, ["--config", str(starter), "sync", "nosuch"])
    assert result.exit_code == 1 and "unknown system(s): nosuch" in result.output
    result = runner.invoke(app, ["--config", str(tmp_path / "none.yaml"), "status"])
    assert result.exit_code == 1 and "file not found" in result.output


def test_unreachable_source_fails_the_run_but_not_the_other_systems(starter: Path) -> None:
    (starter.parent / "data" / "source" / "customers.csv").unlink()
    result = runner.invoke(app, ["--config", str(starter), "sync", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "partial"
    errors = {s["system"]: s["error"] for s in report["streams"]}
    assert "customers.csv" in errors["shop"]
    assert errors["mailing"] is None


def test_connectors_lists_the_bundled_ones_with_capabilities() -> None:
    result = runner.invoke(app, ["connectors", "--json"])
    assert result.exit_code == 0
    kinds = {c["kind"]: c["capabilities"] for c in json.loads(result.stdout)["connectors"]}
    assert {"csv", "sql", "xml"} <= set(kinds)
    assert "write" in kinds["sql"] and "incremental" in kinds["sql"]
    assert "incremental" not in kinds["csv"]  # a file is read whole


def test_status_json(starter: Path) -> None:
    runner.invoke(app, ["--config", str(starter), "sync"])
    result = runner.invoke(app, ["--config", str(starter), "status", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["golden_records"] == {"customer": 3, "employee": 0}
    assert data["last_run"]["status"] == "success"


def test_check_reports_mapped_columns_the_source_lacks(starter: Path) -> None:
    mapping = starter.parent / "mappings" / "shop_customer.yaml"
    text = mapping.read_text(encoding="utf-8").replace(
        "  first_name: first_name", "  first_name: firstname").replace(
        "  loyalty_tier: tier", "  loyalty_tier: {expr: \"upper(tier_code)\"}")
    mapping.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["--config", str(starter), "check", "--json"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.stdout)["problems"]
    lines = text.splitlines()
    first = lines.index("  first_name: firstname") + 1
    tier = lines.index('  loyalty_tier: {expr: "upper(tier_code)"}') + 1
    assert [(p["file"], p["path"]) for p in problems] == [
        (f"{mapping}:{first}", "fields.first_name.column"),
        (f"{mapping}:{tier}", "fields.loyalty_tier.expr")]
    assert problems[0]["problem"].startswith(
        "column 'firstname' is not in customers.csv (columns: id, first_name, ")
    plain = runner.invoke(app, ["--config", str(starter), "check"])
    assert f"{mapping}:{first}: fields.first_name.column: column 'firstname' is not in " \
        "customers.csv" in " ".join(plain.output.split())


def test_check_warns_of_a_setting_no_longer_read(starter: Path) -> None:
    text = starter.read_text(encoding="utf-8")
    starter.write_text(text + "\nmatching:\n  customer:\n    fuzzy: {max_candidates: 5}\n",
                       encoding="utf-8")
    result = runner.invoke(app, ["--config", str(starter), "check", "--json"])
    assert result.exit_code == 0, result.output  # old files still load and check
    [warning] = [w for w in json.loads(result.stdout)["warnings"]
                 if w["stream"] == "matching.customer"]
    assert "max_candidates is no longer used" in warning["warning"]
