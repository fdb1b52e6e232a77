"""Writes through the REST API, on SQLite and PostgreSQL: an `api` source with provenance
and history, optimistic concurrency (ETag / If-Match), and only fields the role sees."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from hub.api import writes
from hub.api.payloads import InvalidValue
from hub.auth import tokens
from hub.auth.roles import Role
from hub.store import goldens
from tests.api.kit import Served


def _stored(fresh: Served, entity: str, golden_id: str) -> dict[str, object]:
    with fresh.hub.engine.connect() as conn:
        return goldens.read(conn, fresh.hub.sealer, entity, [golden_id])[golden_id]


def test_create_then_update_with_etags_history_and_provenance(fresh: Served) -> None:
    client, auth = fresh.client, fresh.auth(Role.SYSTEM)
    created = client.post("/api/v1/customers", headers=auth, json={
        "email": " Neu.Kunde@Example.ORG ", "first_name": "Nele", "date_of_birth": "1990-05-01"})
    assert created.status_code == 201, created.text
    body = created.json()
    gid = body["id"]
    assert created.headers["location"] == f"/api/v1/customers/{gid}"
    assert created.headers["etag"] == '"1"'
    assert body["email"] == "neu.kunde@example.org"  # cleaned like an inbound mapping does
    assert body["provenance"]["email"]["system"] == "api"
    assert body["provenance"]["email"]["key"].startswith("token:")

    no_precondition = client.patch(f"/api/v1/customers/{gid}", headers=auth,
                                   json={"city": "Kiel"})
    assert no_precondition.status_code == 428
    patched = client.patch(f"/api/v1/customers/{gid}", headers={**auth, "If-Match": '"1"'},
                           json={"city": "Kiel", "first_name": None})
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    assert (patched.json()["city"], patched.json()["first_name"]) == ("Kiel", None)
    stale = client.patch(f"/api/v1/customers/{gid}", headers={**auth, "If-Match": '"1"'},
                         json={"city": "Lübeck"})
    assert stale.status_code == 412
    assert _stored(fresh, "customer", gid)["city"] == "Kiel"

    same = client.patch(f"/api/v1/customers/{gid}", headers={**auth, "If-Match": 'W/"2"'},
                        json={"city": "Kiel"})
    assert same.headers["etag"] == '"2"'  # nothing changed: no new version

    history = client.get(f"/api/v1/customers/{gid}/history", headers=auth).json()
    assert [(h["version"], h["system"]) for h in history] == [(1, "api"), (2, "api")]
    assert history[1]["data"]["first_name"] is None


def test_put_replaces_visible_fields_and_keeps_hidden_ones(fresh: Served) -> None:
    before = _stored(fresh, "employee", "E-1002")
    assert before["salary"] and before["sick_leave_reason"] and before["phone"]
    current = fresh.client.get("/api/v1/employees/E-1002", headers=fresh.auth(Role.STEWARD))
    body = {k: v for k, v in current.json().items()
            if k not in ("id", "version", "created_at", "updated_at", "provenance", "iban",
                         "phone")}
    replaced = fresh.client.put("/api/v1/employees/E-1002", json=body, headers=fresh.auth(
        Role.STEWARD, **{"If-Match": current.headers["etag"]}))
    assert replaced.status_code == 200, replaced.text
    after = _stored(fresh, "employee", "E-1002")
    assert after["phone"] is None  # visible to the steward and left out: cleared
    # hidden from the steward (salary, health) or masked (iban): untouched
    for field in ("salary", "sick_leave_reason", "iban", "national_id"):
        assert after[field] == before[field], field
    assert after["provenance"]["phone"]["system"] == "api"
    assert after["provenance"]["work_email"] == before["provenance"]["work_email"]  # restated


def test_fields_the_role_cannot_read_cannot_be_written(fresh: Served) -> None:
    for field, value in (("salary", "1.00"), ("iban", "DE00"), ("sick_leave_reason", "x")):
        refused = fresh.client.patch("/api/v1/employees/E-1002", json={field: value},
                                     headers=fresh.auth(Role.STEWARD, **{"If-Match": '"1"'}))
        assert refused.status_code == 403, field
        assert value not in refused.text
    admin = fresh.client.patch("/api/v1/employees/E-1002", json={"salary": "4200.50"},
                               headers=fresh.auth(Role.ADMIN, **{"If-Match": '"1"'}))
    assert admin.status_code == 200 and admin.json()["salary"] == "4200.50"


def test_unique_business_keys_and_invalid_values(fresh: Served) -> None:
    taken = _stored(fresh, "customer", "C-1001")["email"]
    conflict = fresh.client.post("/api/v1/customers", json={"email": taken},
                                 headers=fresh.auth(Role.STEWARD))
    assert conflict.status_code == 409 and "C-1001" in conflict.json()["detail"]
    assert str(taken) not in conflict.text
    canary = "CANARY-no-at-sign"
    bad = fresh.client.post("/api/v1/customers", json={"email": canary},
                            headers=fresh.auth(Role.STEWARD))
    assert bad.status_code == 422 and canary not in bad.text
    unknown = fresh.client.post("/api/v1/customers", json={"nickname": canary},
                                headers=fresh.auth(Role.STEWARD))
    assert unknown.status_code == 422 and canary not in unknown.text


def test_concurrent_updates_with_the_same_etag_let_exactly_one_win(fresh: Served) -> None:
    def attempt(city: str) -> int:
        return fresh.client.patch("/api/v1/customers/C-1001", json={"city": city},
                                  headers=fresh.auth(Role.STEWARD, **{"If-Match": '"1"'})
                                  ).status_code

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(attempt, ["A-Stadt", "B-Stadt", "C-Stadt", "D-Stadt"]))
    assert outcomes.count(200) == 1 and outcomes.count(412) == 3
    assert _stored(fresh, "customer", "C-1001")["version"] == 2


def _counts(fresh: Served) -> list[int]:
    """Rows a write would add: golden customers, history, audit entries, outbox."""
    with fresh.hub.engine.connect() as conn:
        return [conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
                for table in ("golden_customer", "record_history", "audit_entry", "outbox")]


def test_a_record_that_names_no_one_is_refused_and_nothing_is_written(fresh: Served) -> None:
    auth = fresh.auth(Role.STEWARD)
    before = _counts(fresh)
    for body in ({}, {"city": "Kiel", "marketing_consent": True},
                 {"first_name": " \t ", "email": None, "last_name": "\u3000"}):
        refused = fresh.client.post("/api/v1/customers", headers=auth, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        error = refused.json()["errors"][0]
        assert error["loc"] == ["body"] and "email" in error["msg"], error
    replaced = fresh.client.put("/api/v1/customers/C-1001", json={"city": "Kiel"},
                                headers=fresh.auth(Role.STEWARD, **{"If-Match": '"1"'}))
    assert replaced.status_code == 422  # a replacement is a whole record too
    assert _counts(fresh) == before
    assert _stored(fresh, "customer", "C-1001")["version"] == 1
    named = fresh.client.post("/api/v1/customers", headers=auth, json={"last_name": "Ode"})
    assert named.status_code == 201, named.text


def test_if_match_must_be_an_etag(fresh: Served) -> None:
    for value in ("1", "version 1", '"1", "2"', '"abc"'):
        refused = fresh.client.patch("/api/v1/customers/C-1001", json={"city": "Kiel"},
                                     headers=fresh.auth(Role.STEWARD, **{"If-Match": value}))
        assert refused.status_code == 422, value
        assert refused.json()["errors"][0]["loc"] == ["header", "if-match"]
    assert _stored(fresh, "customer", "C-1001")["version"] == 1
    anyway = fresh.client.patch("/api/v1/customers/C-1001", json={"city": "Kiel"},
                                headers=fresh.auth(Role.STEWARD, **{"If-Match": "*"}))
    assert anyway.status_code == 200 and anyway.headers["etag"] == '"2"'


def test_the_write_path_itself_refuses_a_record_without_values(fresh: Served) -> None:
    caller = tokens.authenticate(fresh.hub.engine, fresh.tokens[Role.SYSTEM])
    assert caller is not None
    before = _counts(fresh)
    with pytest.raises(InvalidValue):
        writes.create(fresh.hub, "customer", {"city": None}, writes.WriteSource("scim", caller))
    assert _counts(fresh) == before
