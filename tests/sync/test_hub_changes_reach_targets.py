"""Every change to a golden record, wherever it is made, reaches every subscribing target.

The demo back office (a real CSV newsletter list, a real SQL payroll table) plus two tables
on the real PostgreSQL: `warehouse.customers` and `directory.staff`. Each change is made
the way a user makes it (REST API, SCIM, a steward's merge, unmerge and override) and must
arrive at the targets on the next `kontor sync`, leaving its audit entries.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text

from hub.audit.tables import AuditEntry
from hub.auth.roles import Role
from hub.canonical import Customer
from hub.context import open_hub
from hub.store import bulk
from hub.store.tables import Outbox, Xref
from hub.survivorship.merging import Steward
from hub.survivorship.overrides import set_override
from hub.sync.runner import run_sync
from tests.api.kit import Served, demo_hub, serve
from tests.services import fresh_postgres_database

TARGETS = """
  warehouse:
    connector: sql
    settings: {{url: "{url}"}}
    streams:
      customers: {{entity: customer, direction: outbound, resource: customers,
                  key: [customer_number], mapping: mappings/warehouse.yaml}}
  directory:
    connector: sql
    settings: {{url: "{url}"}}
    streams:
      staff: {{entity: employee, direction: outbound, resource: staff,
              key: [work_email], mapping: mappings/directory.yaml}}
"""
WAREHOUSE = ("entity: customer\nfields:\n  customer_number: customer_number\n"
             "  email: email\n  first_name: first_name\n")
DIRECTORY = "entity: employee\nfields:\n  work_email: work_email\n  first_name: first_name\n"
POLICY = """rules:
  - {id: wh-ids, to: [warehouse], category: user.unique_id, action: allow}
  - {id: wh-mail, to: [warehouse], category: user.contact.email, action: allow}
  - {id: wh-names, to: [warehouse], category: user.name, action: allow}
  - {id: dir-mail, to: [directory], category: user.contact.email, action: allow}
  - {id: dir-names, to: [directory], category: user.name, action: allow}
"""
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass
class World:
    served: Served
    pg: Engine
    folder: Path

    @property
    def hub(self) -> Any:
        return self.served.hub

    def sync(self) -> None:
        result = run_sync(self.hub.deployment, self.hub.engine)
        assert not [s.error for s in result.streams if s.error]

    def warehouse(self) -> dict[str, tuple[str, str]]:
        with self.pg.connect() as conn:
            return {r[0]: (r[1], r[2]) for r in conn.execute(text(
                "SELECT customer_number, email, first_name FROM customers"))}

    def staff(self) -> dict[str, str]:
        with self.pg.connect() as conn:
            return dict(conn.execute(text("SELECT work_email, first_name FROM staff")).all())

    def newsletter(self) -> dict[str, str]:
        path = self.folder / "data" / "newsletter" / "subscribers.csv"
        with path.open(encoding="utf-8", newline="") as fh:
            return {r["email"]: r["first_name"] for r in csv.DictReader(fh)}

    def payroll(self) -> dict[str, str]:
        engine = create_engine(f"sqlite:///{self.folder / 'data' / 'payroll' / 'payroll.db'}")
        try:
            with engine.connect() as conn:
                return dict(conn.execute(text("SELECT email, first_name FROM employees")).all())
        finally:
            engine.dispose()

    def trail(self, golden_id: str) -> list[tuple[str, str, str | None]]:
        t = bulk.table_of(AuditEntry)
        with self.hub.engine.connect() as conn:
            return [(r.kind, r.outcome, r.destination) for r in conn.execute(
                select(t).where(t.c.golden_id == golden_id).order_by(t.c.seq))]

    def waiting(self) -> int:
        t = bulk.table_of(Outbox)
        with self.hub.engine.connect() as conn:
            return len(conn.execute(select(t.c.golden_id)).all())

    def api(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.served.client.request(method, url, headers={
            **self.served.auth(Role.ADMIN), **kwargs.pop("headers", {})}, **kwargs)
        assert response.status_code < 300, response.text
        return response


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with fresh_postgres_database() as url:
        pg = create_engine(url)
        with pg.begin() as conn:
            conn.execute(text("CREATE TABLE customers (customer_number TEXT PRIMARY KEY, "
                              "email TEXT, first_name TEXT)"))
            conn.execute(text("CREATE TABLE staff (work_email TEXT PRIMARY KEY, "
                              "first_name TEXT)"))
        hub = demo_hub(tmp_path / "hub", customers=30, employees=10)
        folder = hub.deployment.base_dir
        (folder / "mappings" / "warehouse.yaml").write_text(WAREHOUSE, encoding="utf-8")
        (folder / "mappings" / "directory.yaml").write_text(DIRECTORY, encoding="utf-8")
        (folder / "policies" / "targets.yaml").write_text(POLICY, encoding="utf-8")
        config = hub.deployment.path
        config.write_text(config.read_text(encoding="utf-8") + TARGETS.format(url=url),
                          encoding="utf-8")
        hub.close()
        world = World(serve(open_hub(config)), pg, folder)
        world.sync()
        yield world
        world.hub.close()
        pg.dispose()


def _subscriber(world: World) -> tuple[str, str]:
    """(golden id, email) of a customer on the newsletter list and in the warehouse."""
    listed = world.newsletter()
    for email, _ in world.warehouse().values():
        if email in listed:
            found = world.api("GET", "/api/v1/customers", params={"email": email}).json()
            items = found["items"] if isinstance(found, dict) else found
            return items[0]["id"], email
    raise AssertionError("no subscriber in the demo")


def test_api_patch_post_delete_reach_csv_and_postgres_targets(world: World) -> None:
    gid, email = _subscriber(world)
    etag = world.api("GET", f"/api/v1/customers/{gid}").headers["ETag"]
    world.api("PATCH", f"/api/v1/customers/{gid}", json={"first_name": "Patchedname"},
              headers={"If-Match": etag})
    assert world.waiting() > 0  # in the outbox with the change, before any sync
    world.sync()
    assert world.newsletter()[email] == "Patchedname"
    assert "Patchedname" in {n for _, n in world.warehouse().values()}
    assert ("transfer.in", "received", "hub") in world.trail(gid)
    assert ("transfer.out", "sent", "newsletter.subscribers") in world.trail(gid)

    created = world.api("POST", "/api/v1/customers", json={
        "first_name": "Postedname", "last_name": "New", "email": "posted@example.org",
        "customer_number": "API-1", "marketing_consent": True}).json()
    world.sync()
    assert world.newsletter()["posted@example.org"] == "Postedname"
    assert world.warehouse()["API-1"] == ("posted@example.org", "Postedname")

    etag = world.api("GET", f"/api/v1/customers/{created['id']}").headers["ETag"]
    world.api("DELETE", f"/api/v1/customers/{created['id']}", headers={"If-Match": etag})
    world.sync()
    assert "posted@example.org" not in world.newsletter()
    assert "API-1" not in world.warehouse()
    trail = world.trail(created["id"])
    assert ("transfer.in", "deleted", "hub") in trail
    assert ("transfer.out", "deleted", "warehouse.customers") in trail
    assert world.waiting() == 0


def test_scim_post_put_patch_delete_reach_the_targets(world: World) -> None:
    headers = {"Content-Type": "application/scim+json"}
    body = {"schemas": [SCIM_USER, ENTERPRISE], "userName": "ada@example.org",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            ENTERPRISE: {"employeeNumber": "E-9001"}}
    user = world.api("POST", "/scim/v2/Users", json=body, headers=headers).json()
    world.sync()
    assert world.staff()["ada@example.org"] == "Ada"
    assert world.payroll()["ada@example.org"] == "Ada"

    world.api("PUT", f"/scim/v2/Users/{user['id']}", headers=headers, json={
        **body, "name": {"givenName": "Augusta", "familyName": "Lovelace"}})
    world.sync()
    assert world.staff()["ada@example.org"] == "Augusta"

    world.api("PATCH", f"/scim/v2/Users/{user['id']}", headers=headers, json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "name.givenName", "value": "Ada A."}]})
    world.sync()
    assert world.staff()["ada@example.org"] == "Ada A."
    assert world.payroll()["ada@example.org"] == "Ada A."

    world.api("DELETE", f"/scim/v2/Users/{user['id']}")
    world.sync()
    assert "ada@example.org" not in world.staff()
    assert "ada@example.org" not in world.payroll()
    assert ("transfer.in", "received", "hub") in world.trail(user["id"])


def test_steward_merge_unmerge_override_reach_the_targets(world: World) -> None:
    before = world.warehouse()
    (a, _), (b, _) = sorted(before.items())[:2]
    t = bulk.table_of(Customer)
    with world.hub.engine.connect() as conn:
        ids = list(conn.execute(select(t.c.id).where(t.c.customer_number.in_([a, b])))
                   .scalars())
    survivor, merged = sorted(ids, key=lambda g: int(g.split("-")[1]))
    steward = Steward(world.hub, "customer")
    merge_id = steward.merge(survivor, merged, actor="tester")
    world.sync()
    after = world.warehouse()
    assert len(after) == len(before) - 1  # the merged-away record left the warehouse
    assert ("steward", "merged_away", "hub") in world.trail(merged)

    steward.unmerge(merge_id, actor="tester")
    world.sync()
    assert world.warehouse() == before  # re-created as it was

    set_override(world.hub, "customer", survivor, "first_name", "Stewardname", actor="tester")
    world.sync()
    assert "Stewardname" in {n for _, n in world.warehouse().values()}
    assert ("steward", "override", "hub") in world.trail(survivor)
    assert world.waiting() == 0


def _reconfigure(world: World, old: str, new: str) -> None:
    config = world.hub.deployment.path
    text_ = config.read_text(encoding="utf-8")
    assert old in text_
    config.write_text(text_.replace(old, new, 1), encoding="utf-8")
    world.hub.close()
    world.served = serve(open_hub(config))


def _only_in_crm(world: World) -> tuple[str, str]:
    """(golden id, KundenNr) of a warehouse customer that only the CRM knows."""
    x = bulk.table_of(Xref)
    with world.hub.engine.connect() as conn:
        rows = conn.execute(select(x.c.golden_id, x.c.system, x.c.source_key)).all()
    systems: dict[str, list[tuple[str, str]]] = {}
    for gid, system, key in rows:
        systems.setdefault(gid, []).append((system, key))
    for gid, refs in sorted(systems.items()):
        if len(refs) == 1 and refs[0][0] == "crm":
            return gid, refs[0][1]
    raise AssertionError("every customer is in two systems")


def test_deactivate_and_keep_instead_of_delete_and_a_retired_record(world: World) -> None:
    """Per target: the warehouse deactivates, the newsletter keeps; a record every source
    deleted (on_delete: retire) leaves the warehouse the same way."""
    _reconfigure(world, "key: [customer_number], mapping: mappings/warehouse.yaml}",
                 "key: [customer_number], mapping: mappings/warehouse.yaml,\n"
                 "                  on_golden_delete: deactivate,\n"
                 "                  deactivate: {first_name: '(inactive)'}}")
    _reconfigure(world, "        mapping: mappings/newsletter_customer.yaml",
                 "        mapping: mappings/newsletter_customer.yaml\n"
                 "        on_golden_delete: keep")
    config = world.hub.deployment.path
    config.write_text(config.read_text(encoding="utf-8") +
                      "\ndeletes: {detect: true, on_delete: retire}\n", encoding="utf-8")
    _reconfigure(world, "version: 1", "version: 1")
    world.sync()  # the changed mappings and policies put every record into the outbox
    gid, email = _subscriber(world)
    t = bulk.table_of(Customer)
    with world.hub.engine.connect() as conn:
        number = conn.execute(select(t.c.customer_number).where(t.c.id == gid)).scalar_one()
    etag = world.api("GET", f"/api/v1/customers/{gid}").headers["ETag"]
    world.api("DELETE", f"/api/v1/customers/{gid}", headers={"If-Match": etag})
    world.sync()
    assert world.warehouse()[number] == (email, "(inactive)")
    assert email in world.newsletter()  # kept
    assert world.waiting() == 0

    retired, key = _only_in_crm(world)
    with world.hub.engine.connect() as conn:
        number = conn.execute(select(t.c.customer_number).where(t.c.id == retired)
                              ).scalar_one()
    path = world.folder / "data" / "crm" / "kunden.csv"
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(line for line in lines
                                if not line.startswith(key.encode() + b";")))
    world.sync()
    assert world.warehouse()[number][1] == "(inactive)"
    assert ("record.retire", "retired", "hub") in world.trail(retired)
