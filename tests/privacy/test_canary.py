"""The privacy canary: unique values in every restricted field of every employee, then a
search of every target, file, CLI output, log line, API response and quarantine entry —
raw and encoded. Canaries may appear only where a policy allows (IBAN to payroll).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import shutil
import sqlite3
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.auth import tokens
from hub.auth.roles import Role
from hub.cli.main import app
from hub.context import open_hub
from hub.demo import write_demo
from policies import engine
from policies.spec import Action
from tests.privacy.canary import leaks, output_texts, plant, raw_seal_problems, store_file

SOURCES = ("data/crm", "data/hr", "data/billing", ".kontor", "policies", "mappings")
runner = CliRunner()


def _refuse_one_payroll_row(db: Path) -> None:
    """The payroll system refuses one employee: the error path must not leak either."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON employees "
                     "WHEN NEW.personnel_no = '10003' BEGIN SELECT RAISE(ABORT, 'refused'); END")


def _deployment(folder: Path) -> tuple[Path, dict[str, list[str]]]:
    summary = write_demo(folder, customers=300, employees=60, seed=5)
    planted = plant(folder / "data" / "hr" / "mitarbeiter.xml")
    _refuse_one_payroll_row(summary.paths["payroll"])
    return summary.config, planted


@contextmanager
def _captured_logs() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _exercise(config: Path) -> dict[str, str]:
    """Run every egress once; return what each produced."""
    out: dict[str, str] = {}
    with _captured_logs() as logs:
        for args in (["sync", "--json"], ["sync"], ["status", "--json"], ["status"],
                     ["quarantine", "--json"], ["quarantine"], ["check"],
                     ["policy", "simulate", "--system", "payroll", "--employee", "E-1001"],
                     ["policy", "simulate", "--system", "api:reader", "--employee", "E-1002",
                      "--json"],
                     ["audit", "trace", "--employee", "E-1001", "--json"],
                     ["audit", "search", "--category", "user.health_and_medical", "--json"],
                     ["audit", "search", "--kind", "transfer.out", "--json"],
                     ["audit", "report", str(config.parent / "report.html")],
                     ["audit", "ropa", str(config.parent / "ropa.csv")],
                     ["audit", "verify"], ["matching", "export", "--json"],
                     ["matching", "thresholds", "--json"],
                     ["matching", "thresholds", "--html", str(config.parent / "pr.html")]):
            result = runner.invoke(app, ["--config", str(config), *args])
            out["kontor " + " ".join(args)] = result.output
            if result.exception and not isinstance(result.exception, SystemExit):
                out["exception of kontor " + " ".join(args)] = "".join(
                    traceback.format_exception(result.exception))
        hub = open_hub(config)
        with TestClient(create_app(hub)) as client:
            for role in Role:  # every role, as its own token
                token = tokens.create(hub.engine, role=role, expires_in=dt.timedelta(hours=1),
                                      name=f"canary-{role.value}").token
                client.headers["Authorization"] = f"Bearer {token}"
                listing = client.get("/api/v1/employees", params={"limit": 500})
                out[f"{role.value}: GET /api/v1/employees"] = listing.text
                items = listing.json().get("items", []) if listing.status_code == 200 else \
                    [{"id": "E-1001"}, {"id": "E-1002"}]
                for item in items[:8]:
                    for suffix in ("", "/history", "/xrefs"):
                        path = f"/api/v1/employees/{item['id']}{suffix}"
                        out[f"{role.value}: GET {path}"] = client.get(path).text
                for path in ("/api/v1/quarantine", "/api/v1/runs", "/scim/v2/Users",
                             ("/api/v1/policy/simulate?system=payroll.employees&entity=employee"
                              "&id=E-1001")):
                    out[f"{role.value}: GET {path}"] = client.get(path).text
        hub.close()
    out["logs"] = logs.getvalue()
    return out


@pytest.fixture(scope="module")
def exercised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    folder = tmp_path_factory.mktemp("canary")
    config, planted = _deployment(folder)
    return folder, planted, _exercise(config)


def test_planted_canaries_reached_the_store(exercised) -> None:  # type: ignore[no-untyped-def]
    _, planted, outputs = exercised
    report = json.loads(outputs["kontor sync --json"])
    hr = next(s for s in report["streams"] if s["system"] == "hr")
    assert hr["created"] >= 50  # the canaries went in; the scan below is not vacuous
    assert sum(len(v) for v in planted.values()) >= 7 * 55


def test_canaries_appear_only_where_a_policy_allows(exercised) -> None:  # type: ignore[no-untyped-def]
    folder, planted, outputs = exercised
    texts = output_texts(folder, SOURCES) | outputs
    everything = [c for values in planted.values() for c in values]
    found = leaks(texts, everything)
    allowed_iban = set(planted["iban"])
    illegal = [(where, c) for where, c in found
               if not (c in allowed_iban and where.startswith("data/payroll/payroll.db"))]
    assert illegal == [], f"restricted values leaked: {illegal[:10]}"
    # and the one allowed path really carries them: payroll got the bank accounts
    assert {c for where, c in found if where.startswith("data/payroll")} <= allowed_iban
    assert any(c in allowed_iban for _, c in found)


def test_the_scan_catches_a_policy_that_lets_everything_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: flip default deny to allow, and the same scan must find leaks."""
    config, planted = _deployment(tmp_path / "mutant")
    original = engine.FieldPlan._decision

    def allow_by_default(self, action, rule, basis):  # type: ignore[no-untyped-def]
        if rule in (engine.DEFAULT_DENY, engine.NEEDS_LEGAL_BASIS):
            action = Action.ALLOW
        return original(self, action, rule, basis)

    monkeypatch.setattr(engine.FieldPlan, "_decision", allow_by_default)
    texts = output_texts(tmp_path / "mutant", SOURCES) | _exercise(config)
    found = leaks(texts, [c for f, values in planted.items() if f != "iban" for c in values])
    assert found, "with default allow, health and criminal data must show up somewhere"


def test_the_raw_store_hides_length_and_presence(exercised) -> None:  # type: ignore[no-untyped-def]
    """Issue 14: every restricted column of golden rows and history holds a padded
    envelope of one length per field, filled or not; quarantined records are padded."""
    folder, _, _ = exercised
    assert raw_seal_problems(store_file(folder / "kontor.yaml")) == []


def test_a_subject_can_be_crypto_shredded(tmp_path: Path) -> None:
    config, planted = _deployment(tmp_path / "shred")
    runner.invoke(app, ["--config", str(config), "sync"])
    hub = open_hub(config)
    from hub.store import goldens
    with hub.engine.connect() as conn:
        before = goldens.read(conn, hub.sealer, "employee", ["E-1001"])["E-1001"]
    assert before["sick_leave_reason"] in planted["sick_leave_reason"]
    result = runner.invoke(app, ["--config", str(config), "keys", "forget", "--employee",
                                 "E-1001", "--yes"])
    assert result.exit_code == 0, result.output
    fresh = open_hub(config)  # a new process: no cached key
    with fresh.engine.connect() as conn:
        after = goldens.read(conn, fresh.sealer, "employee", ["E-1001"])["E-1001"]
        history = goldens.read_history(conn, fresh.sealer, "employee", "E-1001")
    assert after["sick_leave_reason"] is None and after["first_name"] == before["first_name"]
    assert all(h["data"]["sick_leave_reason"] is None for h in history)
    db = store_file(config)
    assert raw_seal_problems(db) == []  # the shredded row and history keep their lengths

    # Art. 17 erasure: the golden row is blanked (absent is sealed too), history dropped.
    result = runner.invoke(app, ["--config", str(config), "audit", "erase", "--employee",
                                 "E-1002", "--yes"])
    assert result.exit_code == 0, result.output
    assert raw_seal_problems(db) == []

    # An API DELETE: the golden row goes, history stays sealed under a shredded key.
    from hub.auth import tokens
    from hub.auth.roles import Role
    token = tokens.create(fresh.engine, role=Role.ADMIN, expires_in=dt.timedelta(hours=1),
                          name="deleter").token
    with TestClient(create_app(fresh)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        etag = client.get("/api/v1/employees/E-1003").headers["etag"]
        gone = client.delete("/api/v1/employees/E-1003", headers={"If-Match": etag})
    assert gone.status_code == 204, gone.text
    assert raw_seal_problems(db) == []
    hub.close()
    fresh.close()
    shutil.rmtree(tmp_path / "shred")


def test_the_access_report_holds_only_its_subjects_own_data(
        exercised, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, planted, _ = exercised
    out = tmp_path / "access.json"
    result = runner.invoke(app, ["--config", str(folder / "kontor.yaml"), "audit", "access",
                                 str(out), "--employee", "E-1003"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    own = {report["data"].get(f) for f in planted}
    found = {c for _, c in leaks({"access": out.read_text(encoding="utf-8")},
                                 [c for values in planted.values() for c in values])}
    assert found and found <= own  # GDPR Art. 15: the person's own data, no one else's
