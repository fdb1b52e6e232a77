"""Issue 14, parts 3 and 6: every file Kontor creates is owner-only (0600), a keyring that
others may read is refused, and a wrong, missing or corrupt keyring or master key is one
plain error line and exit 1, never a traceback."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.store.db import make_engine

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")

runner = CliRunner()

WRONG_KEYRING = "wrong keyring or KONTOR_MASTER_KEY"


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    """Start from the usual 022, so the modes seen are the ones Kontor chose; put the
    test process's umask back afterwards (the CLI sets its own, in-process)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _kontor(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo deployment after one sync (shared, copied per test that changes it)."""
    old = os.umask(0o022)
    try:
        base = tmp_path_factory.mktemp("files")
        result = _kontor("demo", str(base / "d"), "--customers", "30", "--employees", "12")
        assert result.exit_code == 0, result.output
        result = _kontor("--config", str(base / "d" / "kontor.yaml"), "sync")
        assert result.exit_code in (0, 2), result.output  # 2: the demo's bad rows quarantined
    finally:
        os.umask(old)
    return base / "d"


@pytest.fixture
def deployment(synced: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "d"
    shutil.copytree(synced, copy)
    return copy


def test_every_file_kontor_writes_is_owner_only(deployment: Path, tmp_path: Path) -> None:
    config = str(deployment / "kontor.yaml")
    out = tmp_path / "out"
    out.mkdir()
    commands = [
        ["plan", "--out", str(out / "plan.json")],
        ["audit", "search", "--csv", str(out / "search.csv"), "--json-file",
         str(out / "search.json")],
        ["audit", "report", str(out / "report.html")],
        ["audit", "ropa", str(out / "ropa.csv")],
        ["audit", "access", str(out / "access.json"), "--employee", "E-1001"],
        ["audit", "export-checkpoints", str(out / "checkpoints.jsonl")],
    ]
    for args in commands:
        result = _kontor("--config", config, *args)
        assert result.exit_code == 0, (args, result.output)
    written = sorted(out.iterdir())
    assert len(written) >= len(commands) + 1, written
    kontor_files = [deployment / "kontor.db", deployment / ".kontor" / "keyring.json",
                    *written]
    loose = {str(f): oct(_mode(f)) for f in kontor_files if _mode(f) & 0o077}
    assert not loose, loose


def test_a_new_keyring_and_a_new_store_are_owner_only(tmp_path: Path) -> None:
    result = _kontor("init", str(tmp_path / "new"))
    assert result.exit_code == 0, result.output
    assert _mode(tmp_path / "new" / ".kontor" / "keyring.json") == 0o600
    result = _kontor("--config", str(tmp_path / "new" / "kontor.yaml"), "sync")
    assert result.exit_code == 0, result.output
    store = next((tmp_path / "new").glob("*.db"))
    assert _mode(store) & 0o077 == 0


def test_the_wal_and_shm_of_the_store_are_owner_only(tmp_path: Path) -> None:
    """SQLite gives -wal and -shm the database file's mode; the store is made 0600 first,
    even from a process whose umask is 022 (an embedding, a test, a worker)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as conn:  # held open: the WAL and SHM exist now
        conn.exec_driver_sql("SELECT * FROM t").all()
        files = [tmp_path / n for n in ("hub.db", "hub.db-wal", "hub.db-shm")]
        assert all(f.exists() for f in files), list(tmp_path.iterdir())
        assert {f.name: oct(_mode(f)) for f in files if _mode(f) & 0o077} == {}
    engine.dispose()


def test_an_existing_store_open_to_others_is_tightened(tmp_path: Path) -> None:
    store = tmp_path / "old.db"
    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    wal = tmp_path / "old.db-wal"
    wal.write_bytes(b"")
    os.chmod(store, 0o644)
    os.chmod(wal, 0o664)
    make_engine(f"sqlite:///{store}").dispose()
    assert _mode(store) == 0o600
    assert _mode(wal) == 0o600


COMMANDS = [
    ["sync"],
    ["status"],
    ["plan"],
    ["audit", "access", "{out}", "--employee", "E-1001"],
    ["audit", "verify"],
    ["policy", "simulate", "--system", "payroll", "--employee", "E-1001"],
    ["quarantine", "list"],
    ["steward", "review"],
    ["keys", "rotate"],
]


def _run_all(config: str, tmp_path: Path, env: dict[str, str] | None = None
             ) -> dict[str, tuple[int, str]]:
    results = {}
    for args in COMMANDS:
        args = [a.replace("{out}", str(tmp_path / "access.json")) for a in args]
        result = _kontor("--config", config, *args, env=env)
        results[" ".join(args[:2])] = (result.exit_code, result.output)
    return results




def _flat(text: str) -> str:
    return " ".join(text.split())  # log lines wrap long messages


def _one_clear_line(output: str, expected: str) -> bool:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return len(lines) == 1 and expected in lines[0] and "Traceback" not in output


def test_a_keyring_others_can_read_is_refused_by_every_command(deployment: Path,
                                                               tmp_path: Path) -> None:
    keyring = deployment / ".kontor" / "keyring.json"
    os.chmod(keyring, 0o644)
    results = _run_all(str(deployment / "kontor.yaml"), tmp_path)
    expected = f"keyring {keyring.resolve()} is readable by others (mode 0644): chmod 600 it"
    for command, (code, output) in results.items():
        assert code == 1, (command, output)
        assert _one_clear_line(output, expected), (command, output)
    check = _kontor("--config", str(deployment / "kontor.yaml"), "check")
    assert check.exit_code == 1 and "chmod 600 it" in check.output
    os.chmod(keyring, 0o600)
    assert _kontor("--config", str(deployment / "kontor.yaml"), "status").exit_code == 0


def test_the_environment_master_key_needs_no_file(deployment: Path, tmp_path: Path) -> None:
    (deployment / ".kontor" / "keyring.json").unlink()
    key = "A" * 43 + "="  # 32 zero bytes: valid, but not this store's key
    result = _kontor("--config", str(deployment / "kontor.yaml"), "plan",
                     env={"KONTOR_MASTER_KEY": key})
    assert result.exit_code == 1  # the store is opened, the probe finds the wrong key
    assert _one_clear_line(result.output, WRONG_KEYRING), result.output
    assert "KONTOR_MASTER_KEY" in result.output


def _change_a_source(deployment: Path) -> None:
    """So that `kontor sync` has to open existing subjects' data keys."""
    hr = deployment / "data" / "hr" / "mitarbeiter.xml"
    text = hr.read_text(encoding="utf-8")
    first = re.search(r"<nachname>([^<]+)</nachname>", text)
    assert first
    hr.write_text(text.replace(first.group(0), f"<nachname>{first.group(1)}x</nachname>", 1),
                  encoding="utf-8")


@pytest.mark.parametrize("how", ["wrong keyring", "corrupt keyring", "missing keyring",
                                 "bad master key", "wrong master key"])
def test_key_problems_are_one_line_and_exit_1(deployment: Path, tmp_path: Path,
                                              how: str) -> None:
    keyring = deployment / ".kontor" / "keyring.json"
    secret = keyring.read_text(encoding="utf-8")
    env: dict[str, str] | None = None
    if how == "wrong keyring":
        assert _kontor("init", str(tmp_path / "other")).exit_code == 0
        shutil.copy(tmp_path / "other" / ".kontor" / "keyring.json", keyring)
        expected = WRONG_KEYRING
    elif how == "corrupt keyring":
        keyring.write_text('{"active": "k1", "keys": {"k1": "not base64!"}', encoding="utf-8")
        expected = "unreadable keyring"
    elif how == "missing keyring":
        keyring.unlink()
        expected = "no keyring: run `kontor keys init`"
    elif how == "bad master key":
        env = {"KONTOR_MASTER_KEY": "short"}
        expected = "a master key must be base64 of 32 bytes"
    else:
        env = {"KONTOR_MASTER_KEY": "B" * 43 + "="}
        expected = WRONG_KEYRING
    _change_a_source(deployment)
    results = _run_all(str(deployment / "kontor.yaml"), tmp_path, env)
    for command, (code, output) in results.items():
        assert "Traceback" not in output, (command, output)
        assert code == 1, (command, output)
        if env and command == "keys rotate":  # "rotate it there": right, and one line too
            assert _one_clear_line(output, "KONTOR_MASTER_KEY"), output
            continue
        assert expected in _flat(output), (command, output)
        assert _one_clear_line(output, expected), (command, output)
        for key in re.findall(r'"([A-Za-z0-9+/]{43}=)"', secret):
            assert key not in output  # never any key material
    assert not (tmp_path / "access.json").exists()
