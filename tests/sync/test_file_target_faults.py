"""A file target that cannot be written fails its own stream only, in plain words.

The other streams go on, the records for the broken target wait in the outbox and the run
ends pending (exit 3). Tests run as root, so file modes stop nothing: the broken target is
a directory standing where its file should be.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from hub.cli.main import app
from hub.context import open_hub
from hub.store import bulk
from hub.store.tables import Outbox

runner = CliRunner()

SECOND_STREAM = """      everyone:
        entity: customer
        direction: outbound
        resource: everyone.csv
        key: [email]
        purpose: marketing.communications.email
        only_if: {marketing_consent: true}
        mapping: mappings/mailing_customer.yaml
"""


def backoff_runs_out(config: Path) -> None:
    """Time passes: every record waiting for a retry is due again."""
    hub = open_hub(config)
    t = bulk.table_of(Outbox)
    with hub.engine.begin() as conn:
        conn.execute(update(t).where(t.c.status == "pending").values(next_attempt_at=None))
    hub.close()


def _two_targets(starter: Path) -> Path:
    text = starter.read_text(encoding="utf-8")
    anchor = "        mapping: mappings/mailing_customer.yaml\n"
    assert text.count(anchor) == 1
    starter.write_text(text.replace(anchor, anchor + SECOND_STREAM), encoding="utf-8")
    blocked = starter.parent / "data" / "target" / "everyone.csv"
    blocked.mkdir()  # a directory where the file should be
    return blocked


def test_an_unwritable_file_target_fails_only_its_stream(starter: Path) -> None:
    blocked = _two_targets(starter)
    plain = runner.invoke(app, ["--config", str(starter), "sync"])
    assert plain.exit_code == 3, plain.output
    assert "Traceback" not in plain.output and "IsADirectoryError" not in plain.output
    text = " ".join(plain.output.split())
    assert "is a directory, not a file" in text and "everyone.csv" in text
    written = (starter.parent / "data" / "target" / "subscribers.csv").read_text(
        encoding="utf-8")
    assert "zoe@example.org" in written  # the other stream delivered

    backoff_runs_out(starter)  # the waiting records are due again: same failure, same place
    result = runner.invoke(app, ["--config", str(starter), "sync", "--json"])
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "pending" and report["pending"] == 2
    streams = {(s["system"], s["stream"]): s for s in report["streams"]}
    broken = streams[("mailing", "everyone")]
    assert str(blocked) in broken["error"] and "is a directory" in broken["error"]
    assert broken["pending"] == 2  # the two who agreed to mail wait in the outbox
    assert streams[("mailing", "subscribers")]["error"] is None

    blocked.rmdir()  # the operator clears the way; the waiting records arrive
    backoff_runs_out(starter)
    again = runner.invoke(app, ["--config", str(starter), "sync", "--json"])
    assert again.exit_code == 0, again.output
    assert "zoe@example.org" in blocked.read_text(encoding="utf-8")
