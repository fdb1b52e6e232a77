"""`kontor tokens`: shown once, stored as a hash only, listed with last use, revocable."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.auth import tokens
from hub.auth.tables import ApiToken
from hub.cli.main import app
from hub.context import open_hub
from hub.store import bulk

runner = CliRunner()


def _create(config: str, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["--config", config, "tokens", "create", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_token_lifecycle_through_the_cli(starter: Path) -> None:
    config = str(starter)
    created = _create(config, "--role", "auditor", "--expires", "90d", "--name", "compliance")
    token = str(created["token"])
    assert token.startswith("kt_") and len(token) == 46
    expires = dt.datetime.fromisoformat(str(created["expires_at"]))
    assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)

    hub = open_hub(starter)
    with hub.engine.connect() as conn:  # only the hash is stored, never the token
        stored = [dict(r._mapping) for r in conn.execute(select(bulk.table_of(ApiToken)))]
    assert token not in json.dumps(stored, default=str)
    assert stored[0]["token_hash"] == tokens.hash_token(token)

    listed = runner.invoke(app, ["--config", config, "tokens", "list", "--json"])
    row = json.loads(listed.stdout)[0]
    assert (row["name"], row["role"], row["state"], row["last_used_at"]) == \
        ("compliance", "auditor", "active", None)
    assert token not in listed.stdout and "token_hash" not in listed.stdout

    client = TestClient(create_app(hub))
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/runs", headers=bearer).status_code == 200
    row = json.loads(runner.invoke(app, ["--config", config, "tokens", "list", "--json"]).stdout)[0]
    assert row["last_used_at"] is not None

    human = runner.invoke(app, ["--config", config, "tokens", "list"])
    assert "compliance" in human.output and token not in human.output

    revoked = runner.invoke(app, ["--config", config, "tokens", "revoke", str(created["id"])])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/runs", headers=bearer).status_code == 401
    again = runner.invoke(app, ["--config", config, "tokens", "revoke", str(created["id"])])
    assert again.exit_code == 1 and "already revoked" in again.output
    row = json.loads(runner.invoke(app, ["--config", config, "tokens", "list", "--json"]).stdout)[0]
    assert row["state"] == "revoked"
    hub.close()


def test_the_token_is_shown_once_in_plain_output(starter: Path) -> None:
    result = runner.invoke(app, ["--config", str(starter), "tokens", "create", "--role",
                                 "reader"])
    assert result.exit_code == 0, result.output
    assert "kt_" in result.output and "cannot show it again" in result.output


def test_expired_tokens_are_refused(starter: Path) -> None:
    hub = open_hub(starter)
    created = tokens.create(hub.engine, role=tokens.Role.ADMIN,
                            expires_in=dt.timedelta(seconds=1), name="short")
    client = TestClient(create_app(hub))
    bearer = {"Authorization": f"Bearer {created.token}"}
    assert client.get("/api/v1/runs", headers=bearer).status_code == 200
    time.sleep(1.1)
    assert client.get("/api/v1/runs", headers=bearer).status_code == 401
    assert tokens.list_tokens(hub.engine)[0]["state"] == "expired"
    hub.close()


def test_a_revocation_elsewhere_takes_effect_within_the_trust_window(starter: Path) -> None:
    hub = open_hub(starter)
    created = tokens.create(hub.engine, role=tokens.Role.ADMIN,
                            expires_in=dt.timedelta(days=1), name="cli-revoked")
    client = TestClient(create_app(hub))
    bearer = {"Authorization": f"Bearer {created.token}"}
    assert client.get("/api/v1/runs", headers=bearer).status_code == 200
    t = bulk.table_of(ApiToken)  # as `kontor tokens revoke` in another process would
    with hub.engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == created.id).values(
            revoked_at=dt.datetime.now(dt.UTC)))
    time.sleep(tokens.TRUST_SECONDS + 0.1)
    assert client.get("/api/v1/runs", headers=bearer).status_code == 401
    hub.close()


def test_bad_arguments_are_named(starter: Path) -> None:
    config = str(starter)
    bad_expiry = runner.invoke(app, ["--config", config, "tokens", "create", "--role", "reader",
                                     "--expires", "0d"])
    assert bad_expiry.exit_code == 2 and "expiry" in bad_expiry.output
    bad_role = runner.invoke(app, ["--config", config, "tokens", "create", "--role", "root"])
    assert bad_role.exit_code == 2
    unknown = runner.invoke(app, ["--config", config, "tokens", "revoke", "999"])
    assert unknown.exit_code == 1 and "does not exist" in unknown.output


def test_durations_and_distinct_tokens(starter: Path) -> None:
    assert tokens.parse_duration("12h") == dt.timedelta(hours=12)
    assert tokens.parse_duration("4w") == dt.timedelta(weeks=4)
    hub = open_hub(starter)
    made = [tokens.create(hub.engine, role=tokens.Role.READER, expires_in=dt.timedelta(days=1),
                          name="r") for _ in range(3)]
    assert len({m.token for m in made}) == 3
    assert all(tokens.authenticate(hub.engine, m.token) is not None for m in made)
    hub.close()
