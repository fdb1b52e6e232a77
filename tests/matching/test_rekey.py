"""Changing how match keys are made re-keys the store: stored keys meet new ones.

Keys are digests made by the matching rules and blocking in force when a record arrived.
After a change, a store re-keyed must hold exactly the keys a store built from scratch
under the new settings holds; otherwise a new record would miss the records it duplicates.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from hub.cli.main import app
from hub.demo import write_demo

runner = CliRunner()
CHANGE = """
matching:
  customer:
    rules: [[email]]
    fuzzy: {blocking: [email_local, dob_postal]}
"""


def _kontor(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(config), *args])
    assert result.exit_code in (0, 2), result.output  # 2: the demo's dirty rows, refused
    return result.output


def _keys(folder: Path) -> tuple[set[tuple[str, str]], set[tuple[str, int]]]:
    with sqlite3.connect(folder / "kontor.db") as db:
        golden = set(db.execute("SELECT value, golden_id FROM match_key "
                                "WHERE entity = 'customer'"))
        source = set(db.execute("SELECT value, xref_id FROM source_key "
                                "WHERE entity = 'customer'"))
    return golden, source


def test_a_changed_configuration_rekeys_as_if_built_anew(tmp_path: Path) -> None:
    old = write_demo(tmp_path / "old", customers=150, employees=10, seed=4)
    _kontor(old.config, "sync")
    before = _keys(old.target)
    assert "up to date" in _kontor(old.config, "matching", "rekey", "--entity", "customer")

    with old.config.open("a", encoding="utf-8") as fh:
        fh.write(CHANGE)
    _kontor(old.config, "sync")  # sees the change: re-keys before matching anything
    rekeyed = _keys(old.target)

    anew = write_demo(tmp_path / "new", customers=150, employees=10, seed=4)
    shutil.copy(old.target / ".kontor" / "keyring.json", anew.target / ".kontor")
    with anew.config.open("a", encoding="utf-8") as fh:
        fh.write(CHANGE)
    _kontor(anew.config, "sync")
    fresh = _keys(anew.target)

    assert rekeyed[0] != before[0] and rekeyed[1] != before[1]
    assert rekeyed == fresh
    assert "up to date" in _kontor(old.config, "matching", "rekey", "--entity", "customer")
    forced = _kontor(old.config, "matching", "rekey", "--entity", "customer", "--force")
    assert "keys re-made for" in forced and _keys(old.target) == fresh
