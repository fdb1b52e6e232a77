"""The REST API on a synced starter deployment: pagination, problem details, no echo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.auth import tokens
from hub.auth.roles import Role
from hub.context import open_hub
from hub.sync.runner import run_sync


@pytest.fixture
def client(starter: Path):  # type: ignore[no-untyped-def]
    hub = open_hub(starter)
    run_sync(hub.deployment, hub.engine)
    token = tokens.create(hub.engine, role=Role.READER, expires_in=dt.timedelta(hours=1),
                          name="test").token  # every endpoint but /health needs a token
    with TestClient(create_app(hub), headers={"Authorization": f"Bearer {token}"}) as c:
        yield c
    hub.close()


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/customers/{golden_id}" in paths


def test_cursor_pagination_visits_every_record_once(client: TestClient) -> None:
    seen, after = [], None
    while True:
        page = client.get("/api/v1/customers", params={"limit": 2, **({"after": after} if after else {})}).json()
        seen += [c["id"] for c in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == ["C-1001", "C-1002", "C-1003"]


def test_record_with_provenance_history_and_xrefs(client: TestClient) -> None:
    record = client.get("/api/v1/customers/C-1002").json()
    assert record["email"] == "j.mueller@example.org"
    assert record["loyalty_tier"] == "silver"
    assert record["provenance"]["email"]["system"] == "shop"
    history = client.get("/api/v1/customers/C-1002/history").json()
    assert [h["version"] for h in history] == [1]
    xrefs = client.get("/api/v1/customers/C-1002/xrefs").json()
    assert [(x["system"], x["source_key"]) for x in xrefs] == [("shop", "1002")]


def test_errors_are_problem_details_without_echo(client: TestClient) -> None:
    missing = client.get("/api/v1/customers/C-9999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"] == "customer C-9999 not found"
    secret = "CANARY-" + "x" * 40
    invalid = client.get("/api/v1/customers", params={"limit": secret})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert secret not in invalid.text
