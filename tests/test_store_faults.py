"""A master store that is down, read-only or from a newer Kontor: one plain line and exit 1
from every command, and `kontor check` says so before a sync would find out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from hub.cli.main import app
from tests.services import fresh_postgres_database

runner = CliRunner()

UNREACHABLE = "postgresql://kontor:s3cret-pw@127.0.0.1:1/kontor"  # nothing listens on port 1


def _kontor(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result.exit_code, result.output


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    return lines[0]


def _store(starter: Path, url: str) -> None:
    text_ = starter.read_text(encoding="utf-8").replace("\ndatabase: kontor.db\n", "\n")
    starter.write_text(f"database: {json.dumps(url)}\n{text_}", encoding="utf-8")


def test_an_unreachable_store_is_one_line_and_exit_1_everywhere(starter: Path) -> None:
    _store(starter, UNREACHABLE)
    for command in (["sync"], ["status"], ["runs"], ["quarantine", "list"]):
        code, output = _kontor(starter, *command)
        assert code == 1, (command, output)
        line = _one_error_line(output)
        assert "master store" in line and "unreachable" in line, line
        assert "s3cret-pw" not in output  # the password never shows

    code, output = _kontor(starter, "check", "--json")
    assert code == 1
    report = json.loads(output)
    store = next(s for s in report["systems"] if s["system"] == "master store")
    assert store["status"] == "failed" and "unreachable" in store["detail"]
    assert [p["path"] for p in report["problems"]] == ["database"]
    assert "s3cret-pw" not in output


def test_check_reports_a_healthy_store_and_its_schema(starter: Path) -> None:
    code, output = _kontor(starter, "check", "--json")
    assert code == 0, output
    store = json.loads(output)["systems"][0]
    assert store == {"system": "master store", "connector": "sqlite", "status": "ok",
                     "detail": "new (the first command creates it)"}
    assert _kontor(starter, "sync")[0] == 0
    store = json.loads(_kontor(starter, "check", "--json")[1])["systems"][0]
    assert store["detail"] == "schema current"


def test_a_read_only_sqlite_store(starter: Path) -> None:
    assert _kontor(starter, "sync")[0] == 0  # the store exists, with records
    # SQLite's URI form, relative to kontor.yaml like a plain file name.
    _store(starter, "sqlite:///file:kontor.db?mode=ro&uri=true")
    code, output = _kontor(starter, "check", "--json")
    assert code == 1
    assert "is read-only" in json.loads(output)["problems"][0]["problem"]

    source = starter.parent / "data" / "source" / "customers.csv"
    lines = source.read_text(encoding="utf-8").splitlines()
    source.write_text("\n".join([*lines, lines[1].replace("1001", "1999", 1)
                                 .replace("zoe@", "zoe2@")]) + "\n", encoding="utf-8")
    code, output = _kontor(starter, "sync")
    assert code == 1
    assert "read-only" in _one_error_line(output)
    assert not (starter.parent / "file:kontor.db").exists()  # the URI was not a file name


def test_a_store_from_a_newer_kontor(starter: Path) -> None:
    assert _kontor(starter, "sync")[0] == 0
    engine = create_engine(f"sqlite:///{starter.parent / 'kontor.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    code, output = _kontor(starter, "check", "--json")
    assert code == 1
    assert "newer than this Kontor" in json.loads(output)["problems"][0]["problem"]
    for command in (["sync"], ["status"], ["runs"], ["audit", "verify"]):  # not a traceback
        code, output = _kontor(starter, *command)
        assert code == 1, command
        assert "written by a newer Kontor: its schema is 9999_from_the_future" in \
            _one_error_line(output), command


@pytest.mark.postgres
def test_a_read_only_postgresql_store(starter: Path) -> None:
    with fresh_postgres_database() as url:
        _store(starter, url)
        assert _kontor(starter, "sync")[0] == 0
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:  # a hot standby or a read-only maintenance window
            name = conn.execute(text("SELECT current_database()")).scalar()
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        admin.dispose()
        code, output = _kontor(starter, "check", "--json")
        assert code == 1
        assert "is read-only" in json.loads(output)["problems"][0]["problem"]
        source = starter.parent / "data" / "source" / "customers.csv"
        source.write_text(source.read_text(encoding="utf-8").replace("Zoë", "Zoey"),
                          encoding="utf-8")
        code, output = _kontor(starter, "sync")
        assert code == 1
        assert "read-only" in _one_error_line(output)
