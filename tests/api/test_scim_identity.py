"""SCIM identity on SQLite and PostgreSQL: userName as any unique text (its own field, the
work e-mail from ``emails``), externalId, managers the hub does not know yet, read-only
attributes, POST /.search, and migration 0009 under a store that already has employees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import inspect

from hub.auth.roles import Role
from hub.store import goldens
from hub.store.migrate import alembic_config, upgrade
from tests.api.kit import Served, demo_hub, serve

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KONTOR = "urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def _headers(fresh: Served) -> dict[str, str]:
    return fresh.auth(Role.SYSTEM, **{"Content-Type": "application/scim+json"})


def _post(fresh: Served, body: dict[str, Any]) -> Any:
    return fresh.client.post("/scim/v2/Users", json={"schemas": [CORE], **body},
                             headers=_headers(fresh))


def _patch(fresh: Served, user_id: str, *ops: dict[str, Any]) -> Any:
    return fresh.client.patch(f"/scim/v2/Users/{user_id}", headers=_headers(fresh),
                              json={"schemas": [PATCH_OP], "Operations": list(ops)})


def _get(fresh: Served, user_id: str) -> Any:
    return fresh.client.get(f"/scim/v2/Users/{user_id}", headers=_headers(fresh)).json()


def _stored(fresh: Served, user_id: str) -> dict[str, Any]:
    with fresh.hub.engine.connect() as conn:
        return goldens.read(conn, fresh.hub.sealer, "employee", [user_id])[user_id]


def _found(fresh: Served, filter_: str) -> set[str]:
    response = fresh.client.get("/scim/v2/Users", params={"filter": filter_},
                                headers=_headers(fresh))
    assert response.status_code == 200, response.text
    return {u["id"] for u in response.json()["Resources"]}


def test_user_name_is_any_text_unique_regardless_of_case(fresh: Served) -> None:
    created = _post(fresh, {"userName": "Ada.L", "externalId": "okta-00uA1",
                            "emails": [{"value": "ada@example.org", "type": "work"},
                                       {"value": "ada@home.example", "type": "home"}]})
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["userName"] == "Ada.L" and user["externalId"] == "okta-00uA1"
    stored = _stored(fresh, user["id"])
    assert (stored["user_name"], stored["work_email"], stored["private_email"]) == \
        ("Ada.L", "ada@example.org", "ada@home.example")
    assert _found(fresh, 'userName eq "ada.l"') == {user["id"]}  # caseExact false
    assert _found(fresh, 'externalId eq "okta-00uA1"') == {user["id"]}
    assert _found(fresh, 'externalId eq "OKTA-00UA1"') == set()  # caseExact true

    # Taken, whatever the case: by another SCIM user, or by an HR employee whose work
    # e-mail stands in as its userName.
    hr_email = _stored(fresh, "E-1002")["work_email"]
    for name in ("ADA.l", hr_email.upper()):
        taken = _post(fresh, {"userName": name})
        assert (taken.status_code, taken.json()["scimType"]) == (409, "uniqueness"), name
        assert name not in taken.text
    for body in ({}, {"userName": " "}, {"userName": None}):
        missing = _post(fresh, body)
        assert (missing.status_code, missing.json()["scimType"]) == (400, "invalidValue")

    renamed = _patch(fresh, user["id"], {"op": "replace", "path": "userName", "value": "ada"})
    assert renamed.json()["userName"] == "ada"
    moved = _patch(fresh, user["id"], {"op": "replace", "path": 'emails[type eq "work"].value',
                                       "value": "countess@example.org"})
    assert moved.json()["userName"] == "ada"  # a new work e-mail leaves userName alone
    assert _stored(fresh, user["id"])["work_email"] == "countess@example.org"
    # Responses carry no "primary", but the work address still answers to it in a path.
    primary = _patch(fresh, user["id"], {"op": "replace", "path": "emails[primary eq true].value",
                                         "value": "augusta@example.org"})
    assert primary.status_code == 200, primary.text
    assert primary.json()["emails"] == [{"value": "augusta@example.org", "type": "work"},
                                        {"value": "ada@home.example", "type": "home"}]
    clash = _patch(fresh, user["id"], {"op": "replace", "path": "userName",
                                       "value": hr_email})
    assert clash.status_code == 409 and _get(fresh, user["id"])["userName"] == "ada"


def test_emails_give_the_work_email_and_an_email_user_name_still_does(fresh: Served) -> None:
    legacy = _post(fresh, {"userName": "Grace.Hopper@Example.org"})  # no emails: as before
    assert legacy.status_code == 201, legacy.text
    assert legacy.json()["userName"] == "Grace.Hopper@Example.org"  # as given
    assert legacy.json()["emails"] == [{"value": "grace.hopper@example.org", "type": "work"}]
    primary = _post(fresh, {"userName": "kj", "emails": [
        {"value": "kj@home.example", "type": "home"},
        {"value": "kj@example.org", "type": "other", "primary": True}]})
    assert primary.status_code == 201, primary.text
    stored = _stored(fresh, primary.json()["id"])
    assert (stored["work_email"], stored["private_email"]) == \
        ("kj@example.org", "kj@home.example")
    plain = _post(fresh, {"userName": "not-an-email"})
    assert plain.status_code == 201 and "emails" not in plain.json()
    bad = _post(fresh, {"userName": "lin", "emails": [{"value": "CANARY", "type": "work"}]})
    assert (bad.status_code, bad.json()["scimType"]) == (400, "invalidValue")
    # Named as the client sent it (every address in emails must be one, kept or not).
    assert "CANARY" not in bad.text and "emails.0.value" in bad.json()["detail"]


def test_an_employee_without_user_name_shows_its_work_email(fresh: Served) -> None:
    before = _stored(fresh, "E-1003")
    assert before["user_name"] is None
    user = _get(fresh, "E-1003")
    assert user["userName"] == before["work_email"]
    titled = _patch(fresh, "E-1003", {"op": "replace", "path": "title", "value": "Lead"})
    assert titled.status_code == 200 and _stored(fresh, "E-1003")["user_name"] is None
    # Its stand-in follows the work e-mail, until a client gives it a userName of its own.
    moved = _patch(fresh, "E-1003", {"op": "replace", "path": 'emails[type eq "work"].value',
                                     "value": "new.address@example.org"})
    assert moved.json()["userName"] == "new.address@example.org"
    named = _patch(fresh, "E-1003", {"op": "replace", "path": "userName", "value": "jb"})
    assert named.json()["userName"] == "jb" and _stored(fresh, "E-1003")["user_name"] == "jb"


def test_a_manager_the_hub_does_not_know_is_kept_and_resolves_later(fresh: Served) -> None:
    report = _post(fresh, {"schemas": [CORE, ENTERPRISE], "userName": "report",
                           ENTERPRISE: {"manager": {"value": "P-7700"}}})
    assert report.status_code == 201, report.text
    assert report.json()[ENTERPRISE]["manager"] == {"value": "P-7700"}
    report_id = report.json()["id"]
    assert _stored(fresh, report_id)["manager_number"] == "P-7700"
    boss = _post(fresh, {"schemas": [CORE, ENTERPRISE], "userName": "boss",
                         ENTERPRISE: {"employeeNumber": "P-7700"}})
    boss_id = boss.json()["id"]
    manager = _get(fresh, report_id)[ENTERPRISE]["manager"]
    assert manager["value"] == boss_id and manager["$ref"].endswith(f"/Users/{boss_id}")
    # A known User without an employee number: its id is kept and resolves to it.
    plain = _post(fresh, {"userName": "plain"}).json()["id"]
    pointed = _patch(fresh, report_id, {"op": "replace", "path": f"{ENTERPRISE}:manager",
                                        "value": {"value": plain}})
    assert pointed.json()[ENTERPRISE]["manager"]["value"] == plain
    assert _stored(fresh, report_id)["manager_number"] == plain
    put = fresh.client.put(f"/scim/v2/Users/{report_id}", headers=_headers(fresh), json={
        "schemas": [CORE, ENTERPRISE], "userName": "report",
        ENTERPRISE: {"manager": {"value": "E-999999"}}})
    assert put.status_code == 200 and put.json()[ENTERPRISE]["manager"] == {"value": "E-999999"}


def test_read_only_attributes_are_ignored_in_a_put(fresh: Served) -> None:
    schema = fresh.client.get(f"/scim/v2/Schemas/{KONTOR}", headers=_headers(fresh)).json()
    mutability = {a["name"]: a["mutability"] for a in schema["attributes"]}
    # The system role: dates read-only (SCIM has no date type), the IBAN seen masked,
    # special categories and salary not there at all; termination_date is `active`.
    assert mutability == {"date_of_birth": "readOnly", "hire_date": "readOnly",
                          "iban": "readOnly"}
    before = _stored(fresh, "E-1002")
    current = _get(fresh, "E-1002")
    assert current[KONTOR]["iban"] != before["iban"]  # masked
    current[KONTOR]["hire_date"] = "1999-01-01"
    del current["meta"]
    replaced = fresh.client.put("/scim/v2/Users/E-1002", json=current, headers=_headers(fresh))
    assert replaced.status_code == 200, replaced.text
    after = _stored(fresh, "E-1002")
    for field in ("iban", "hire_date", "date_of_birth", "salary", "termination_date"):
        assert after[field] == before[field], field
    # Removing the whole extension removes what this client may write: nothing here.
    removed = _patch(fresh, "E-1002", {"op": "remove", "path": KONTOR})
    assert removed.status_code == 200, removed.text
    assert _stored(fresh, "E-1002")["iban"] == before["iban"]


def test_search_by_post(fresh: Served) -> None:
    wanted = _get(fresh, "E-1004")
    body = {"schemas": [SEARCH], "filter": f'userName eq "{wanted["userName"]}"',
            "attributes": ["userName"], "count": 5}
    for path in ("/scim/v2/Users/.search", "/scim/v2/.search"):
        found = fresh.client.post(path, json=body, headers=_headers(fresh))
        assert found.status_code == 200, found.text
        assert found.headers["content-type"] == "application/scim+json"
        resources = found.json()["Resources"]
        assert [(u["id"], set(u)) for u in resources] == \
            [("E-1004", {"schemas", "id", "meta", "userName"})]
    page = fresh.client.post("/scim/v2/Users/.search", headers=_headers(fresh), json={
        "sortBy": "userName", "sortOrder": "descending", "startIndex": 2, "count": 3,
        "excludedAttributes": ["emails"]}).json()
    assert page["startIndex"] == 2 and page["itemsPerPage"] == 3
    names = [u["userName"] for u in page["Resources"]]
    assert names == sorted(names, key=str.lower, reverse=True)
    assert all("emails" not in u for u in page["Resources"])
    for bad in ({"count": "ten"}, {"attributes": "userName"}, {"sortOrder": "up"},
                {"filter": 'userName eq "CANARY'}):
        response = fresh.client.post("/scim/v2/.search", json=bad, headers=_headers(fresh))
        assert response.status_code == 400, bad
        assert "CANARY" not in response.text


def test_migration_0009_keeps_the_employees(database_url: str, tmp_path: Path) -> None:
    hub = demo_hub(tmp_path / "hub", database_url)
    try:
        cfg = alembic_config()
        with hub.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008_web_sessions")
        columns = {c["name"] for c in inspect(hub.engine).get_columns("golden_employee")}
        assert "user_name" not in columns and "work_email" in columns
        upgrade(hub.engine)
        with hub.engine.connect() as conn:
            rows = goldens.read(conn, hub.sealer, "employee", ["E-1002"])
        assert rows["E-1002"]["user_name"] is None and rows["E-1002"]["work_email"]
        served = serve(hub)
        user = served.client.get("/scim/v2/Users/E-1002",
                                 headers=served.auth(Role.SYSTEM)).json()
        assert user["userName"] == rows["E-1002"]["work_email"]
    finally:
        hub.close()
