"""The outbox: a target that is down gets every change once it is back; refused records
become dead letters that can be retried or discarded; nothing is sent twice."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from hub.cli.main import app
from tests.services import fresh_postgres_database

runner = CliRunner()

WAREHOUSE = """
  warehouse:
    connector: sql
    settings: {{url: "{url}"}}
    streams:
      customers: {{entity: customer, direction: outbound, resource: customers,
                  key: [customer_number], mapping: mappings/warehouse.yaml}}
"""
MAPPING = "entity: customer\nfields:\n  customer_number: customer_number\n  email: email\n"
POLICY = ("rules:\n  - {id: wh, to: [warehouse], field: customer_number, action: allow}\n"
          "  - {id: wh-mail, to: [warehouse], field: email, action: allow}\n")


def kontor(config: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--config", str(config), *args])


@pytest.fixture
def deployment(starter: Path):  # type: ignore[no-untyped-def]
    with fresh_postgres_database() as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE customers (customer_number TEXT PRIMARY KEY, "
                              "email VARCHAR(40))"))
        folder = starter.parent
        (folder / "mappings" / "warehouse.yaml").write_text(MAPPING, encoding="utf-8")
        (folder / "policies" / "warehouse.yaml").write_text(POLICY, encoding="utf-8")
        starter.write_text(starter.read_text(encoding="utf-8") + WAREHOUSE.format(url=url),
                           encoding="utf-8")
        yield starter, engine, url
        engine.dispose()


def _rows(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT customer_number, email FROM customers")).all())


def test_a_target_that_is_down_gets_every_change_once_it_is_back(deployment) -> None:  # type: ignore[no-untyped-def]
    config, engine, url = deployment
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace(url, url.replace(":5432/", ":1/")), encoding="utf-8")
    down = kontor(config, "sync", "--json")
    assert down.exit_code == 3  # deliveries pending: nothing failed for good
    report = json.loads(down.stdout)
    assert (report["status"], report["pending"]) == ("pending", 3)
    warehouse = next(s for s in report["streams"] if s["system"] == "warehouse")
    assert warehouse["error"] and "outbox" in warehouse["error"]
    shop = next(s for s in report["streams"] if s["system"] == "shop")
    assert shop["created"] == 3  # the source side went on
    waiting = json.loads(kontor(config, "outbox", "list", "--json").stdout)
    pending = [d for d in waiting["depth"] if d["system"] == "warehouse"]
    assert pending == [{"system": "warehouse", "stream": "customers", "status": "pending",
                        "count": 3}]

    config.write_text(good, encoding="utf-8")  # the target is back
    back = kontor(config, "sync", "--json")
    assert back.exit_code == 0, back.output
    assert set(_rows(engine)) == {"1001", "1002", "1003"}
    assert json.loads(kontor(config, "outbox", "list", "--json").stdout)["rows"] == []
    again = kontor(config, "sync")
    assert "nothing changed" in again.output


def test_refused_records_become_dead_letters_to_retry_or_discard(deployment) -> None:  # type: ignore[no-untyped-def]
    config, engine, _ = deployment
    source = config.parent / "data" / "source" / "customers.csv"
    with open(source, "a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow(["1004", "Lang", "Adresse",
                                 "a.very.long.address.for.a.small.column@example.org",
                                 "1990-01-01", "de", "no", "", "2026-01-01T00:00:00"])
    first = kontor(config, "sync", "--json")
    assert first.exit_code == 2  # a record refused by the target
    assert json.loads(first.stdout)["dead"] == 1
    assert set(_rows(engine)) == {"1001", "1002", "1003"}  # the rest went through
    dead = json.loads(kontor(config, "outbox", "list", "--dead", "--json").stdout)["rows"]
    assert [(d["system"], d["status"]) for d in dead] == [("warehouse", "dead")]
    assert "example.org" not in json.dumps(dead)  # the error names no value

    with engine.begin() as conn:  # the target's admin widens the column
        conn.execute(text("ALTER TABLE customers ALTER COLUMN email TYPE TEXT"))
    waiting = kontor(config, "sync", "--json")  # the dead letter keeps the run pending
    assert (waiting.exit_code, json.loads(waiting.stdout)["status"]) == (3, "pending")
    assert kontor(config, "outbox", "retry").exit_code == 0
    assert kontor(config, "sync").exit_code == 0
    assert "1004" in _rows(engine)
    assert kontor(config, "outbox", "discard", "--yes").exit_code == 0
