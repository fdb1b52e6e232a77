"""A synced demo hub with one token per role: what the API, SCIM and web tests start from."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.auth import tokens
from hub.auth.roles import Role
from hub.context import Hub, open_hub
from hub.demo import write_demo
from hub.sync.runner import run_sync


@dataclass
class Served:
    hub: Hub
    app: FastAPI
    client: TestClient
    tokens: dict[Role, str]

    def auth(self, role: Role, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}


def demo_hub(folder: Path, database_url: str | None = None, *, customers: int = 40,
             employees: int = 20) -> Hub:
    """The demo back office (default policy pack), synced once."""
    summary = write_demo(folder, customers=customers, employees=employees, seed=7)
    if database_url:
        text = re.sub(r"(?m)^database:.*$", f"database: {database_url}",
                      summary.config.read_text(encoding="utf-8"))
        summary.config.write_text(text, encoding="utf-8")
    hub = open_hub(summary.config)
    run_sync(hub.deployment, hub.engine)
    return hub


def serve(hub: Hub) -> Served:
    issued = {role: tokens.create(hub.engine, role=role, expires_in=dt.timedelta(days=1),
                                  name=f"test-{role.value}").token for role in Role}
    app = create_app(hub)
    return Served(hub, app, TestClient(app), issued)
