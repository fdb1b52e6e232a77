"""SCIM writes on SQLite and PostgreSQL: create, replace, PATCH operations, delete, ETags."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text

from hub.auth.roles import Role
from hub.store import goldens
from tests.api.kit import Served

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KONTOR = "urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = {"Content-Type": "application/scim+json"}


def _headers(fresh: Served, **extra: str) -> dict[str, str]:
    return fresh.auth(Role.SYSTEM, **SCIM_JSON, **extra)


def _create(fresh: Served, user_name: str = "ada.lovelace@example.org", **extra: Any) -> Any:
    body = {"schemas": [CORE, ENTERPRISE], "userName": user_name,
            "name": {"givenName": "Ada", "familyName": "Lovelace"}, "title": "Analyst",
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            ENTERPRISE: {"employeeNumber": "77001", "department": "Research"}, **extra}
    return fresh.client.post("/scim/v2/Users", json=body, headers=_headers(fresh))


def _patch(fresh: Served, user_id: str, *ops: dict[str, Any], **headers: str) -> Any:
    return fresh.client.patch(f"/scim/v2/Users/{user_id}", headers=_headers(fresh, **headers),
                              json={"schemas": [PATCH_OP], "Operations": list(ops)})


def _stored(fresh: Served, user_id: str) -> dict[str, Any]:
    with fresh.hub.engine.connect() as conn:
        return goldens.read(conn, fresh.hub.sealer, "employee", [user_id])[user_id]


def test_create_get_and_conditional_get(fresh: Served) -> None:
    created = _create(fresh)
    assert created.status_code == 201, created.text
    user = created.json()
    assert created.headers["content-type"] == "application/scim+json"
    assert created.headers["location"] == user["meta"]["location"]
    assert created.headers["etag"] == user["meta"]["version"] == 'W/"1"'
    assert user[ENTERPRISE] == {"employeeNumber": "77001", "department": "Research"}
    stored = _stored(fresh, user["id"])
    assert (stored["work_email"], stored["first_name"], stored["job_title"]) == \
        ("ada.lovelace@example.org", "Ada", "Analyst")
    assert stored["provenance"]["first_name"]["system"] == "scim"
    unchanged = fresh.client.get(f"/scim/v2/Users/{user['id']}",
                                 headers=_headers(fresh, **{"If-None-Match": 'W/"1"'}))
    assert unchanged.status_code == 304
    duplicate = _create(fresh, **{ENTERPRISE: {"employeeNumber": "77002"}})
    assert duplicate.status_code == 409 and duplicate.json()["scimType"] == "uniqueness"
    no_name = fresh.client.post("/scim/v2/Users", json={"schemas": [CORE]},
                                headers=_headers(fresh))
    assert no_name.status_code == 400 and no_name.json()["scimType"] == "invalidValue"


def test_patch_operations(fresh: Served) -> None:
    user_id = _create(fresh).json()["id"]
    manager = "E-1002"
    response = _patch(
        fresh, user_id,
        {"op": "replace", "path": "name.givenName", "value": "Augusta"},
        {"op": "add", "path": "emails", "value": [{"value": "ada@home.example", "type": "home"}]},
        {"op": "remove", "path": "title"},
        {"op": "replace", "value": {f"{ENTERPRISE}:department": "Engines",
                                    ENTERPRISE: {"manager": {"value": manager}}}},
        {"op": "replace", "path": 'emails[type eq "work"].value',
         "value": "countess@example.org"},
    )
    assert response.status_code == 200, response.text
    user = response.json()
    assert response.headers["etag"] == 'W/"2"'
    assert user["name"]["givenName"] == "Augusta" and "title" not in user
    # userName is its own attribute now: a new work address leaves it as it was.
    assert user["userName"] == "ada.lovelace@example.org"
    assert {e["type"]: e["value"] for e in user["emails"]} == {
        "work": "countess@example.org", "home": "ada@home.example"}
    assert user[ENTERPRISE]["department"] == "Engines"
    assert user[ENTERPRISE]["manager"]["value"] == manager
    stored = _stored(fresh, user_id)
    assert stored["manager_number"] == _stored(fresh, manager)["employee_number"]
    assert stored["job_title"] is None and stored["private_email"] == "ada@home.example"

    removed = _patch(fresh, user_id, {"op": "remove", "path": 'emails[type eq "home"]'})
    assert [e["type"] for e in removed.json()["emails"]] == ["work"]
    deactivated = _patch(fresh, user_id, {"op": "replace", "path": "active", "value": False})
    assert deactivated.json()["active"] is False
    assert _stored(fresh, user_id)["termination_date"] == dt.date.today()
    reactivated = _patch(fresh, user_id, {"op": "replace", "value": {"active": True}})
    assert reactivated.json()["active"] is True
    assert _stored(fresh, user_id)["termination_date"] is None


def test_patch_errors(fresh: Served) -> None:
    user_id = _create(fresh).json()["id"]
    cases = [
        ({"op": "jump", "path": "title"}, 400, "invalidSyntax"),
        ({"op": "remove"}, 400, "noTarget"),
        ({"op": "replace", "path": 'emails[type eq "other" and value pr]',
          "value": "x@example.org"}, 400, "noTarget"),
        ({"op": "replace", "path": "id", "value": "E-1"}, 400, "mutability"),
        ({"op": "replace", "path": "title[", "value": "x"}, 400, "invalidPath"),
        ({"op": "replace", "path": "CANARY_attr", "value": "x"}, 400, "invalidPath"),
        ({"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": ["x"]}},
         400, "invalidValue"),
        # Dates are read-only over SCIM (it has no date type); active has no "unassigned".
        ({"op": "replace", "path": f"{KONTOR}:hire_date", "value": "CANARY-date"},
         400, "mutability"),
        ({"op": "add", "value": {KONTOR: {"date_of_birth": "CANARY-date"}}}, 400, "mutability"),
        ({"op": "remove", "path": "active"}, 400, "mutability"),
        ({"op": "remove", "path": "userName"}, 400, "invalidValue"),
        ({"op": "replace", "path": "userName", "value": "  "}, 400, "invalidValue"),
    ]
    for op, status, kind in cases:
        response = _patch(fresh, user_id, op)
        assert (response.status_code, response.json().get("scimType")) == (status, kind), op
        assert "CANARY" not in response.text
    # A field this client may not read in clear (IBAN, masked) cannot be written either,
    # whether or not the value would change.
    for value in ("DE00 0000", None):
        hidden = _patch(fresh, user_id, {"op": "replace", "path": f"{KONTOR}:iban",
                                         "value": value})
        assert hidden.status_code == 403
    assert _stored(fresh, user_id)["version"] == 1


def test_etags_guard_against_lost_updates(fresh: Served) -> None:
    user_id = _create(fresh).json()["id"]
    first = _patch(fresh, user_id, {"op": "replace", "path": "title", "value": "Lead"},
                   **{"If-Match": 'W/"1"'})
    assert first.status_code == 200 and first.headers["etag"] == 'W/"2"'
    stale = _patch(fresh, user_id, {"op": "replace", "path": "title", "value": "Intern"},
                   **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412 and stale.json()["status"] == "412"
    assert _stored(fresh, user_id)["job_title"] == "Lead"


def test_put_replaces_core_and_listed_extensions_only(fresh: Served) -> None:
    user_id = "E-1002"
    before = _stored(fresh, user_id)
    assert before["hire_date"] and before["job_title"]
    current = fresh.client.get(f"/scim/v2/Users/{user_id}", headers=_headers(fresh)).json()
    body = {"schemas": [CORE], "userName": current["userName"],
            "name": {"givenName": "Renamed", "familyName": current["name"]["familyName"]},
            "emails": current["emails"]}
    replaced = fresh.client.put(f"/scim/v2/Users/{user_id}", json=body, headers=_headers(
        fresh, **{"If-Match": current["meta"]["version"]}))
    assert replaced.status_code == 200, replaced.text
    after = _stored(fresh, user_id)
    assert after["first_name"] == "Renamed"
    assert after["job_title"] is None  # a core attribute left out: cleared
    # extensions not listed in schemas, and fields hidden from this client, stay
    for field in ("hire_date", "department", "employee_number", "iban", "salary",
                  "sick_leave_reason"):
        assert after[field] == before[field], field
    assert replaced.json()["meta"]["version"] == 'W/"2"'


def _source_keys(fresh: Served, user_id: str) -> tuple[int, int]:
    """(match keys of this user's source records, match keys whose source record is gone)."""
    with fresh.hub.engine.connect() as conn:
        return conn.execute(text(
            "SELECT (SELECT count(*) FROM source_key k JOIN xref x ON x.id = k.xref_id "
            "WHERE x.golden_id = :g), (SELECT count(*) FROM source_key WHERE xref_id NOT IN "
            "(SELECT id FROM xref))"), {"g": user_id}).one()


def test_delete_forgets_what_the_sources_sent(fresh: Served) -> None:
    synced = "E-1003"  # came from HR: its source record has match keys and kept values
    assert _source_keys(fresh, synced)[0] > 0
    assert fresh.client.delete(f"/scim/v2/Users/{synced}",
                               headers=_headers(fresh)).status_code == 204
    assert tuple(_source_keys(fresh, synced)) == (0, 0)  # no digest outlives its record


def test_delete(fresh: Served) -> None:
    user_id = _create(fresh).json()["id"]
    stale = fresh.client.delete(f"/scim/v2/Users/{user_id}",
                                headers=_headers(fresh, **{"If-Match": 'W/"9"'}))
    assert stale.status_code == 412
    gone = fresh.client.delete(f"/scim/v2/Users/{user_id}", headers=_headers(fresh))
    assert gone.status_code == 204
    assert fresh.client.get(f"/scim/v2/Users/{user_id}",
                            headers=_headers(fresh)).status_code == 404
    assert fresh.client.delete(f"/scim/v2/Users/{user_id}",
                               headers=_headers(fresh)).status_code == 404
    history = fresh.client.get(f"/api/v1/employees/{user_id}/history",
                               headers=fresh.auth(Role.ADMIN)).json()
    assert [h["deleted"] for h in history] == [False, True]
