"""Schema drift: source columns the mapping does not know are reported, never passed on."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from hub.canonical import Customer
from hub.cli.main import app
from hub.context import open_hub
from hub.store import bulk
from tests.matching.deploy import person, system, write_deployment, write_rows

MAPPING = "entity: customer\nfields:\n  customer_number: id\n  last_name: last\n"


def test_check_and_sync_report_unknown_columns_and_drop_them(tmp_path: Path) -> None:
    config = write_deployment(tmp_path, system("crm"), "", {"crm": MAPPING})
    write_rows(tmp_path, "crm", [person("1", "Anna", "Schmidt", iban="DE89 3704")],
               ["id", "first", "last", "iban"])
    runner = CliRunner()
    result = runner.invoke(app, ["--config", str(config), "check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["unknown_columns"] == {"crm.people": ["first", "iban"]}
    text = runner.invoke(app, ["--config", str(config), "check"]).output
    assert "crm.people: columns the mapping does not know" in text and "DE89" not in text

    result = runner.invoke(app, ["--config", str(config), "sync", "--json"])
    assert json.loads(result.stdout)["streams"][0]["unknown_columns"] == ["first", "iban"]
    hub = open_hub(config)
    with hub.engine.connect() as conn:
        row = dict(conn.execute(select(bulk.table_of(Customer))).one()._mapping)
    hub.close()
    assert row["first_name"] is None and row["custom"] == {}
    assert "DE89" not in json.dumps(row, default=str)  # nothing of it reached the store
