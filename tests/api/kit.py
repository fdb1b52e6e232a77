"""A synced demo hub with one token per role: what the API, SCIM and web tests start from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.api.app import create_app
from hub.auth import tokens
from hub.auth.roles import Role
from hub.canonical import Customer
from hub.context import Hub, open_hub
from hub.demo import write_demo
from hub.sync.runner import run_sync
from tests import prepared


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
    """The demo back office (default policy pack), synced once: a copy of the one each
    test process builds per size and kind of store (tests/prepared.py)."""
    def write(target: Path) -> Path:
        return write_demo(target, customers=customers, employees=employees, seed=7).config

    config = prepared.copy_of(f"demo-{customers}-{employees}", write, _sync, folder,
                              database_url)
    return open_hub(config)


def _sync(config: Path) -> None:
    hub = open_hub(config)
    try:
        run_sync(hub.deployment, hub.engine)
    finally:
        hub.close()


SHOP = """
  shop:
    connector: csv
    description: Web shop sign-ups (added by the tests to raise a review pair)
    settings: {directory: data/shop}
    streams:
      people: {entity: customer, direction: inbound, resource: shop.csv, key: [id],
               mapping: mappings/shop_people.yaml}
"""
SHOP_MAPPING = """entity: customer
updated_at: changed
fields:
  first_name: first
  last_name: last
  email: {column: email, normalise: [email]}
  postal_code: zip
  city: city
  date_of_birth: dob
"""


def raise_review_pair(hub: Hub) -> tuple[Hub, str]:
    """Add a shop whose one sign-up looks like a synced person with another email: the
    matcher cannot be sure and asks a steward. Returns the reopened hub and that person."""
    t = Customer.__table__
    with hub.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.first_name.is_not(None),
                                           t.c.date_of_birth.is_not(None),
                                           t.c.postal_code.is_not(None))
                           .order_by(t.c.id).limit(1)).one()
    base = hub.deployment.base_dir
    (base / "data" / "shop").mkdir(parents=True, exist_ok=True)
    (base / "data" / "shop" / "shop.csv").write_text(
        "id,first,last,email,zip,city,dob,changed\n"
        f"s1,{row.first_name},{row.last_name},someone.else@example.net,{row.postal_code},"
        f"{row.city},{row.date_of_birth},2026-01-01T00:00:00\n", encoding="utf-8")
    (base / "mappings" / "shop_people.yaml").write_text(SHOP_MAPPING, encoding="utf-8")
    config = hub.deployment.path
    config.write_text(config.read_text(encoding="utf-8") + SHOP, encoding="utf-8")
    hub.close()
    hub = open_hub(config)
    run_sync(hub.deployment, hub.engine, systems=["shop"])
    return hub, str(row.id)


def serve(hub: Hub) -> Served:
    issued = {role: tokens.create(hub.engine, role=role, expires_in=dt.timedelta(days=1),
                                  name=f"test-{role.value}").token for role in Role}
    app = create_app(hub)
    return Served(hub, app, TestClient(app), issued)
