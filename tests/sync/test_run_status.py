"""Honest run status and exit codes: a run whose deliveries wait is "pending" (exit 3), never
a success; refused records exit 2; a failed stream exits 1; the most severe wins.

The target outage is real: a REST target on 127.0.0.1 (tests/connectors/rest_server.py)
answering 503 to every request, then recovering.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.api.services import systems_overview
from hub.auth import tokens
from hub.auth.roles import Role
from hub.cli.main import app
from hub.context import open_hub
from hub.jobs import run_job
from hub.store import bulk
from hub.store.tables import Outbox, SyncRun
from hub.sync.counts import StreamCounts
from hub.sync.runner import RunResult, _status
from tests.connectors.rest_server import Server, running

runner = CliRunner()

REST_TARGET = """    connector: rest
    settings:
      base_url: "{url}"
      retry: {{attempts: 1, backoff: 0.01, max_backoff: 0.05}}
"""
CSV_TARGET = """    connector: csv
    settings:
      directory: data/target
"""


def kontor(config: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--config", str(config), *args])


def sync_json(config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = kontor(config, "sync", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def stream(report: dict[str, Any], system: str) -> dict[str, Any]:
    return next(s for s in report["streams"] if s["system"] == system)


@pytest.fixture
def server() -> Iterator[Server]:
    with running() as srv:
        yield srv


@pytest.fixture
def rest_target(starter: Path, server: Server) -> Path:
    """The starter deployment with its mailing list behind a REST API instead of a CSV."""
    text = starter.read_text(encoding="utf-8")
    assert CSV_TARGET in text
    text = text.replace(CSV_TARGET, REST_TARGET.format(url=server.url)).replace(
        "resource: subscribers.csv", "resource: /plain/customers")
    starter.write_text(text, encoding="utf-8")
    mapping = starter.parent / "mappings" / "mailing_customer.yaml"
    mapping.write_text(mapping.read_text(encoding="utf-8").replace(
        "last_name: last_name", "last_name: name"), encoding="utf-8")  # the API wants a name
    return starter


def outbox_rows(config: Path) -> list[dict[str, Any]]:
    hub = open_hub(config)
    t = bulk.table_of(Outbox)
    with hub.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(t))]
    hub.close()
    return rows


def backoff_runs_out(config: Path) -> None:
    """Time passes: every record waiting for a retry is due again."""
    hub = open_hub(config)
    t = bulk.table_of(Outbox)
    with hub.engine.begin() as conn:
        conn.execute(update(t).where(t.c.status == "pending").values(next_attempt_at=None))
    hub.close()


def test_a_target_outage_ends_pending_and_success_after_recovery(rest_target: Path,
                                                                  server: Server) -> None:
    server.state.faults = [(503, {})] * 1000  # the target is down
    code, report = sync_json(rest_target)
    assert (code, report["status"], report["exit_code"]) == (3, "pending", 3)
    assert report["pending"] == 2 and report["dead"] == 0  # the two who agreed to mail
    mailing = stream(report, "mailing")
    assert mailing["pending"] == 2 and "503" in (mailing["error"] or "")
    assert stream(report, "shop")["created"] == 3  # the source side went on
    assert server.state.customers == {}

    # The records back off; the next run, target still down, is no success either.
    again = kontor(rest_target, "sync")
    assert again.exit_code == 3, again.output
    assert "Run 2: pending" in again.output
    assert "nothing changed" not in again.output
    text = " ".join(again.output.split())
    assert "⧗ 2 records wait for delivery to mailing.subscribers" in text
    assert "kontor outbox list" in text
    runs = kontor(rest_target, "runs")
    assert runs.output.count("pending") == 2
    status = json.loads(kontor(rest_target, "status", "--json").stdout)["last_run"]
    assert (status["status"], status["pending"], status["dead"]) == ("pending", 2, 0)
    hub = open_hub(rest_target)  # the dashboard's overview: waiting, not failing
    with hub.engine.connect() as conn:
        overview = {s["name"]: s["status"] for s in systems_overview(conn, hub.deployment)}
    hub.close()
    assert overview["mailing"] == "deliveries waiting"

    server.state.faults.clear()  # the target is back
    backoff_runs_out(rest_target)
    code, report = sync_json(rest_target)
    assert (code, report["status"], report["exit_code"]) == (0, "success", 0), report
    assert report["pending"] == 0 and stream(report, "mailing")["created"] == 2
    assert sorted(server.state.customers) == ["wang.xiaoming@example.cn", "zoe@example.org"]
    assert outbox_rows(rest_target) == []
    assert "nothing changed" in kontor(rest_target, "sync").output


def test_waiting_for_a_target_outside_the_selection_does_not_count(rest_target: Path,
                                                                   server: Server) -> None:
    server.state.faults = [(503, {})] * 1000
    assert sync_json(rest_target)[0] == 3
    code, report = sync_json(rest_target, "shop")  # only the source: nothing of it waits
    assert (code, report["status"], report["pending"]) == (0, "success", 0)
    code, report = sync_json(rest_target, "mailing")
    assert (code, report["status"], report["pending"]) == (3, "pending", 2)


def test_dead_letters_keep_the_run_pending_until_retried(rest_target: Path,
                                                         server: Server) -> None:
    server.state.faults = [(503, {})] * 1000
    assert sync_json(rest_target)[0] == 3
    hub = open_hub(rest_target)
    t = bulk.table_of(Outbox)
    with hub.engine.begin() as conn:  # eight failed attempts later
        conn.execute(update(t).values(status="dead", next_attempt_at=None))
    hub.close()
    server.state.faults.clear()
    code, report = sync_json(rest_target)
    assert (code, report["status"], report["pending"], report["dead"]) == (3, "pending", 0, 2)
    assert kontor(rest_target, "outbox", "retry").exit_code == 0
    code, report = sync_json(rest_target)
    assert (code, report["status"]) == (0, "success")


def test_a_refused_record_exits_2_even_while_deliveries_wait(rest_target: Path,
                                                             server: Server) -> None:
    source = rest_target.parent / "data" / "source" / "customers.csv"
    with open(source, "a", encoding="utf-8") as fh:
        fh.write("1004,Ada,Lovelace,ada@example.org,not-a-date,gb,yes,,2026-03-16T08:15:00\n")
    server.state.faults = [(503, {})] * 1000
    code, report = sync_json(rest_target)
    assert (code, report["status"], report["exit_code"]) == (2, "partial", 2)
    assert report["pending"] == 2 and len(report["quarantined"]) == 1
    server.state.faults.clear()
    backoff_runs_out(rest_target)
    code, report = sync_json(rest_target)  # the unchanged bad row is not read again
    assert (code, report["status"], report["pending"]) == (0, "success", 0)
    assert stream(report, "mailing")["created"] == 2


def test_a_quarantined_record_exits_2(starter: Path) -> None:
    source = starter.parent / "data" / "source" / "customers.csv"
    with open(source, "a", encoding="utf-8") as fh:
        fh.write("1004,Ada,Lovelace,ada@example.org,not-a-date,gb,yes,,2026-03-16T08:15:00\n")
    result = kontor(starter, "sync")
    assert result.exit_code == 2, result.output
    assert "Run 1: partial" in result.output and "1 record quarantined" in result.output
    assert "nothing changed" not in result.output


def test_a_source_that_is_down_exits_1(starter: Path, server: Server) -> None:
    (starter.parent / "data" / "source" / "customers.csv").unlink()
    code, report = sync_json(starter)
    assert (code, report["status"], report["exit_code"]) == (1, "partial", 1)
    assert "customers.csv" in stream(report, "shop")["error"]
    code, report = sync_json(starter, "shop")  # the only stream, and it failed
    assert (code, report["status"]) == (1, "failed")


def test_a_run_that_cannot_start_exits_1(starter: Path) -> None:
    starter.write_text(starter.read_text(encoding="utf-8") + "\nnonsense: [", encoding="utf-8")
    assert kontor(starter, "sync").exit_code == 1


def test_the_scheduled_job_logs_the_same_status(rest_target: Path, server: Server,
                                                caplog: pytest.LogCaptureFixture) -> None:
    rest_target.write_text(rest_target.read_text(encoding="utf-8")
                           + "\njobs:\n  nightly: {cron: \"0 2 * * *\"}\n", encoding="utf-8")
    server.state.faults = [(503, {})] * 1000
    with caplog.at_level(logging.INFO, logger="hub.jobs"):
        run_job(str(rest_target), "nightly")
    [line] = [r for r in caplog.records if r.name == "hub.jobs"]
    assert line.levelno == logging.WARNING
    assert "run 1 pending (exit code 3; 2 records wait for delivery" in line.getMessage()
    hub = open_hub(rest_target)
    runs = bulk.table_of(SyncRun)
    with hub.engine.connect() as conn:
        [(trigger, status, counts)] = conn.execute(
            select(runs.c.trigger, runs.c.status, runs.c.counts)).all()
    hub.close()
    assert (trigger, status) == ("scheduler:nightly", "pending")
    assert counts["mailing.subscribers"]["pending"] == 2


def test_metrics_show_the_pending_run(rest_target: Path, server: Server) -> None:
    server.state.faults = [(503, {})] * 1000
    assert sync_json(rest_target)[0] == 3
    hub = open_hub(rest_target)
    token = tokens.create(hub.engine, role=Role.OPERATOR, expires_in=dt.timedelta(hours=1),
                          name="prometheus").token
    with TestClient(create_app(hub)) as client:
        body = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    hub.close()
    assert 'kontor_runs{status="pending"} 1.0' in body
    assert 'kontor_runs{status="success"} 0.0' in body
    assert 'kontor_last_run_status{status="pending",trigger="cli"} 1.0' in body
    assert 'kontor_last_success_timestamp_seconds{trigger="cli"}' not in body
    assert 'kontor_outbox_depth{status="pending",target="mailing.subscribers"} 2.0' in body


def _counts(direction: str = "inbound", **kw: Any) -> StreamCounts:
    return StreamCounts("s", "t", direction, "customer", **kw)


@pytest.mark.parametrize(("streams", "status", "code"), [
    ([], "success", 0),
    ([_counts(), _counts("outbound", created=3)], "success", 0),
    ([_counts(), _counts("outbound", pending=5)], "pending", 3),
    ([_counts(), _counts("outbound", dead=1)], "pending", 3),
    # a target that failed while its records wait: a put-off delivery, not a failure
    ([_counts(), _counts("outbound", error="down", pending=5)], "pending", 3),
    ([_counts("outbound", error="down", pending=5)], "pending", 3),
    # ... but a target that failed with nothing waiting is an error
    ([_counts(), _counts("outbound", error="down")], "partial", 1),
    ([_counts(failed=1), _counts("outbound", pending=5)], "partial", 2),
    ([_counts(error="gone"), _counts("outbound", failed=1, dead=1)], "partial", 1),
    ([_counts(error="gone"), _counts("outbound", error="down")], "failed", 1),
    # a read that ended early is a stream problem, not a refused record
    ([_counts(incomplete="cut off", failed=1), _counts("outbound", pending=1)], "partial", 1),
])
def test_the_most_severe_status_and_exit_code_win(streams: list[StreamCounts], status: str,
                                                  code: int) -> None:
    assert _status(streams) == status
    assert RunResult(1, status, streams).exit_code == code
