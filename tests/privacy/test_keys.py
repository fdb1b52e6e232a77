"""Master keys: rotation re-wraps every data key, and a running hub keeps reading."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli.main import app
from hub.context import open_hub
from hub.demo import write_demo
from hub.store import bulk, goldens
from hub.store.tables import SubjectKey

runner = CliRunner()


def test_rotation_rewraps_data_keys_and_a_running_hub_keeps_reading(tmp_path: Path) -> None:
    summary = write_demo(tmp_path / "d", customers=100, employees=20, seed=3)
    config = str(summary.config)
    runner.invoke(app, ["--config", config, "sync"])
    running = open_hub(config)  # started before the rotation, with the old keyring
    with running.engine.connect() as conn:
        before = goldens.read(conn, running.sealer, "employee", ["E-1001", "E-1002"])
    assert before["E-1001"]["iban"]

    result = runner.invoke(app, ["--config", config, "keys", "rotate"])
    assert result.exit_code == 0, result.output
    ring = json.loads((tmp_path / "d" / ".kontor" / "keyring.json").read_text())
    assert ring["active"] == "k2" and set(ring["keys"]) == {"k1", "k2"}
    t = bulk.table_of(SubjectKey)
    with running.engine.connect() as conn:
        assert {r.key_id for r in conn.execute(select(t.c.key_id))} == {"k2"}

    running.sealer._deks.clear()  # force unwrapping again, as after a restart of the cache
    with running.engine.connect() as conn:
        after = goldens.read(conn, running.sealer, "employee", ["E-1001", "E-1002"])
    assert after["E-1001"]["iban"] == before["E-1001"]["iban"]
    fresh = open_hub(config)
    with fresh.engine.connect() as conn:
        again = goldens.read(conn, fresh.sealer, "employee", ["E-1002"])
    assert again["E-1002"]["sick_leave_reason"] == before["E-1002"]["sick_leave_reason"]
    running.close()
    fresh.close()


def test_missing_keyring_is_a_plain_error(tmp_path: Path) -> None:
    summary = write_demo(tmp_path / "d", customers=50, employees=10, seed=3)
    (tmp_path / "d" / ".kontor" / "keyring.json").unlink()
    result = runner.invoke(app, ["--config", str(summary.config), "check"])
    assert result.exit_code == 1
    assert "no keyring: run `kontor keys init`" in result.output
    assert runner.invoke(app, ["--config", str(summary.config), "keys", "init"]).exit_code == 0
    assert runner.invoke(app, ["--config", str(summary.config), "keys", "init"]).exit_code == 1
