"""Prometheus metrics from the master store, for an operator token only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.auth import tokens
from hub.auth.roles import Role
from hub.context import open_hub
from hub.sync.runner import run_sync


def test_metrics_count_runs_records_and_the_outbox(starter: Path) -> None:
    hub = open_hub(starter)
    run_sync(hub.deployment, hub.engine)
    run_sync(hub.deployment, hub.engine)
    token = tokens.create(hub.engine, role=Role.OPERATOR, expires_in=dt.timedelta(hours=1),
                          name="prometheus").token
    with TestClient(create_app(hub)) as client:
        assert client.get("/metrics").status_code == 401
        body = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'kontor_runs{status="success"} 2.0' in body
    assert 'kontor_records{outcome="created",stream="shop.customers"} 3.0' in body
    assert 'kontor_records{outcome="read",stream="mailing.subscribers"}' in body
    assert 'kontor_last_success_timestamp_seconds{trigger="cli"}' in body
    hub.close()
