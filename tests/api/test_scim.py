"""The SCIM 2.0 service provider against the synced demo: discovery, filters, sorting,
pagination, errors, and the privacy gate (reads; writes are in test_scim_writes.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from hub.auth.roles import Role
from hub.canonical import Employee
from hub.store import goldens
from tests.api.kit import Served

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KONTOR = "urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim(served: Served, filter_: str | None = None, **params: Any) -> Any:
    if filter_ is not None:
        params["filter"] = filter_
    response = served.client.get("/scim/v2/Users", params=params,
                                 headers=served.auth(Role.SYSTEM))
    assert response.headers["content-type"] == "application/scim+json"
    return response


def ids(served: Served, filter_: str, **params: Any) -> set[str]:
    response = scim(served, filter_, count=200, **params)
    assert response.status_code == 200, response.text
    return {u["id"] for u in response.json()["Resources"]}


@pytest.fixture(scope="module")
def everyone(served: Served) -> list[dict[str, Any]]:
    body = scim(served, count=200).json()
    with served.hub.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Employee.__table__)).scalar_one()
    assert body["totalResults"] == len(body["Resources"]) == stored > 10
    return body["Resources"]  # type: ignore[no-any-return]


def where(users: list[dict[str, Any]], test: Any) -> set[str]:
    return {u["id"] for u in users if test(u)}


def test_discovery_documents(served: Served) -> None:
    def get(path: str) -> Any:
        return served.client.get(path, headers=served.auth(Role.SYSTEM))

    config = get("/scim/v2/ServiceProviderConfig").json()
    assert config["patch"]["supported"] and config["filter"]["supported"]
    assert config["etag"]["supported"] and config["sort"]["supported"]
    assert not config["bulk"]["supported"]
    schemas = get("/scim/v2/Schemas").json()
    assert {s["id"] for s in schemas["Resources"]} == {
        "urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, KONTOR}
    kontor = get(f"/scim/v2/Schemas/{KONTOR}").json()
    assert "iban" in {a["name"] for a in kontor["attributes"]}
    types = get("/scim/v2/ResourceTypes").json()["Resources"]
    assert types[0]["endpoint"] == "/Users" and types[0]["schemaExtensions"][0]["schema"] == \
        ENTERPRISE
    assert get("/scim/v2/ResourceTypes/User").status_code == 200
    assert get("/scim/v2/Schemas/urn:nothing").status_code == 404


def test_users_carry_core_and_enterprise_attributes(served: Served,
                                                    everyone: list[dict[str, Any]]) -> None:
    user = next(u for u in everyone if u["id"] == "E-1002")
    with served.hub.engine.connect() as conn:
        stored = goldens.read(conn, served.hub.sealer, "employee", ["E-1002"])["E-1002"]
    assert user["userName"] == stored["work_email"]
    assert user["name"]["familyName"] == stored["last_name"]
    assert user[ENTERPRISE]["employeeNumber"] == stored["employee_number"]
    assert user[ENTERPRISE]["department"] == stored["department"]
    assert user["meta"]["version"] == 'W/"1"'
    assert user["meta"]["location"].endswith("/scim/v2/Users/E-1002")
    assert user["active"] is True
    single = served.client.get("/scim/v2/Users/E-1002", headers=served.auth(Role.SYSTEM))
    assert single.headers["etag"] == 'W/"1"' and single.json() == user
    # restricted values never appear; bank details only masked
    for field in ("sick_leave_reason", "national_id", "criminal_record_check", "iban"):
        if stored[field]:
            assert str(stored[field]) not in single.text, field
    assert "sick_leave_reason" not in user.get(KONTOR, {})
    assert user[KONTOR]["iban"].endswith(str(stored["iban"])[-4:])


def test_managers_are_references_to_users(served: Served,
                                          everyone: list[dict[str, Any]]) -> None:
    numbers = {u[ENTERPRISE]["employeeNumber"]: u["id"] for u in everyone}
    with served.hub.engine.connect() as conn:
        stored = goldens.read(conn, served.hub.sealer, "employee", [u["id"] for u in everyone])
    managed = [u for u in everyone if stored[u["id"]]["manager_number"] in numbers]
    assert managed, "the demo should have managers among these employees"
    for user in managed:
        assert user[ENTERPRISE]["manager"]["value"] == \
            numbers[stored[user["id"]]["manager_number"]]


def test_filter_operators(served: Served, everyone: list[dict[str, Any]]) -> None:
    one = next(u for u in everyone if u["id"] == "E-1003")
    family = one["name"]["familyName"]
    assert ids(served, f'userName eq "{one["userName"].upper()}"') == {"E-1003"}
    assert ids(served, f'userName ne "{one["userName"]}"') == where(
        everyone, lambda u: u["id"] != "E-1003")
    assert ids(served, f'name.familyName sw "{family[:2].lower()}"') == where(
        everyone, lambda u: u["name"]["familyName"].lower().startswith(family[:2].lower()))
    assert ids(served, f'name.familyName ew "{family[-2:]}"') == where(
        everyone, lambda u: u["name"]["familyName"].lower().endswith(family[-2:].lower()))
    assert ids(served, 'userName co "A"') == where(everyone, lambda u: "a" in u["userName"])
    assert ids(served, "title pr") == where(everyone, lambda u: u.get("title"))
    number = one[ENTERPRISE]["employeeNumber"]
    for op, test in (("gt", str.__gt__), ("ge", str.__ge__), ("lt", str.__lt__),
                     ("le", str.__le__)):
        assert ids(served, f'{ENTERPRISE}:employeeNumber {op} "{number}"') == where(
            everyone, lambda u, t=test: t(u[ENTERPRISE]["employeeNumber"], number)), op
    assert ids(served, 'meta.lastModified gt "2000-01-01T00:00:00Z"') == where(
        everyone, lambda u: True)
    assert ids(served, 'meta.created lt "2000-01-01T00:00:00Z"') == set()
    assert ids(served, "active eq true") == where(everyone, lambda u: u["active"])


def test_logic_parentheses_and_value_paths(served: Served,
                                           everyone: list[dict[str, Any]]) -> None:
    depts = sorted({u[ENTERPRISE]["department"] for u in everyone})
    d0, d1 = depts[0], depts[1]
    dept = f"{ENTERPRISE}:department"
    assert ids(served, f'({dept} eq "{d0}" or {dept} eq "{d1}") and not (title pr)') == where(
        everyone, lambda u: u[ENTERPRISE]["department"] in (d0, d1) and not u.get("title"))
    assert ids(served, f'{dept} eq "{d0}" or {dept} eq "{d1}" and title pr') == where(
        everyone, lambda u: u[ENTERPRISE]["department"] == d0
        or (u[ENTERPRISE]["department"] == d1 and u.get("title")))
    homes = where(everyone, lambda u: any(e["type"] == "home" for e in u.get("emails", [])))
    assert ids(served, 'emails[type eq "home"]') == homes
    assert ids(served, 'emails[type eq "work" and value ew "@brandt-haustechnik.de"]') == \
        where(everyone, lambda u: u["userName"].endswith("@brandt-haustechnik.de"))
    some = next(u for u in everyone if u["id"] == "E-1004")
    assert ids(served, f'emails.value eq "{some["userName"]}"') == {"E-1004"}
    assert ids(served, f'emails co "{some["userName"][:6]}"') >= {"E-1004"}


def test_sorting_and_pagination(served: Served, everyone: list[dict[str, Any]]) -> None:
    by_number = sorted(everyone, key=lambda u: u[ENTERPRISE]["employeeNumber"])
    up = scim(served, sortBy=f"{ENTERPRISE}:employeeNumber", count=200).json()["Resources"]
    assert [u["id"] for u in up] == [u["id"] for u in by_number]
    down = scim(served, sortBy="employeeNumber", sortOrder="descending",
                count=200).json()["Resources"]
    assert [u["id"] for u in down] == [u["id"] for u in reversed(by_number)]
    pages, start = [], 1
    while True:
        page = scim(served, startIndex=start, count=6, sortBy="userName").json()
        assert page["totalResults"] == len(everyone) and page["startIndex"] == start
        assert page["itemsPerPage"] == len(page["Resources"]) <= 6
        if not page["Resources"]:
            break
        pages += [u["id"] for u in page["Resources"]]
        start += 6
    assert len(pages) == len(set(pages)) == len(everyone)
    only_total = scim(served, count=0).json()
    assert (only_total["totalResults"], only_total["Resources"]) == (len(everyone), [])
    below_one = scim(served, startIndex=-5, count=1).json()
    assert below_one["startIndex"] == 1 and len(below_one["Resources"]) == 1


def test_attributes_projection(served: Served) -> None:
    users = scim(served, attributes="userName", count=2).json()["Resources"]
    assert set(users[0]) == {"schemas", "id", "meta", "userName"}
    lean = scim(served, excludedAttributes=f"emails,{ENTERPRISE}", count=2).json()["Resources"]
    assert "emails" not in lean[0] and ENTERPRISE not in lean[0] and "userName" in lean[0]


@pytest.mark.parametrize("bad, kind", [
    ('userName eq "CANARY-1"  and', "invalidFilter"),
    ('CANARY2 eq "x"', "invalidFilter"),
    (f'{KONTOR}:iban pr', "invalidFilter"),  # masked for this role: not filterable
    (f'{KONTOR}:sick_leave_reason eq "CANARY-3"', "invalidFilter"),
    ('emails[type eq "work"', "invalidFilter"),
])
def test_bad_filters_are_scim_errors_without_echo(served: Served, bad: str, kind: str) -> None:
    response = scim(served, bad)
    assert response.status_code == 400
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == "400" and body["scimType"] == kind
    assert "CANARY" not in response.text


def test_sort_by_a_hidden_or_unknown_attribute_is_refused(served: Served) -> None:
    for sort_by in (f"{KONTOR}:salary", "nonsense"):
        assert scim(served, sortBy=sort_by).status_code == 400


def test_only_system_and_admin_speak_scim(served: Served) -> None:
    refused = served.client.get("/scim/v2/Users", headers=served.auth(Role.READER))
    assert refused.status_code == 403 and refused.json()["schemas"] == [ERROR]
    anonymous = served.client.get("/scim/v2/Users")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/scim+json"
    assert served.client.get("/scim/v2/Users", headers=served.auth(Role.ADMIN)).status_code \
        == 200
    missing = served.client.get("/scim/v2/Users/E-999999", headers=served.auth(Role.SYSTEM))
    assert missing.status_code == 404 and missing.json()["status"] == "404"


def test_locations_never_come_from_the_host_header(served: Served,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spoofed = {**served.auth(Role.SYSTEM), "Host": "evil.example",
               "X-Forwarded-Host": "evil.example"}
    user = served.client.get("/scim/v2/Users/E-1002", headers=spoofed).json()
    config = served.client.get("/scim/v2/ServiceProviderConfig", headers=spoofed).json()
    # no public_url: the address the server listens on (the TestClient's "testserver")
    assert user["meta"]["location"] == "http://testserver/scim/v2/Users/E-1002"
    assert config["meta"]["location"] == "http://testserver/scim/v2/ServiceProviderConfig"
    monkeypatch.setattr(served.hub.deployment.config, "public_url",
                        "https://kontor.example.org/hub/")
    user = served.client.get("/scim/v2/Users/E-1002", headers=spoofed).json()
    assert user["meta"]["location"] == "https://kontor.example.org/hub/scim/v2/Users/E-1002"
    types = served.client.get("/scim/v2/ResourceTypes", headers=spoofed).text
    assert "evil.example" not in types and "https://kontor.example.org/hub/scim/v2/" in types
