"""SCIM requests as the OpenAPI document states them (hub/api/scim/bodies.py): typed bodies,
a userName that is not blank, PATCH values that fit their attribute, If-Match as an entity
tag, attribute names that name nothing ignored. Errors name where, never the value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.api.scim import bodies
from hub.auth.roles import Role
from hub.context import open_hub
from hub.demo import write_demo
from hub.store import goldens
from tests.api.kit import Served, serve

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KONTOR = "urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def _headers(served: Served, **extra: str) -> dict[str, str]:
    return served.auth(Role.SYSTEM, **{"Content-Type": "application/scim+json"}, **extra)


def _user(served: Served, user_id: str = "E-1002", **params: str) -> Any:
    return served.client.get(f"/scim/v2/Users/{user_id}", params=params,
                             headers=_headers(served))


def _patch(served: Served, body: dict[str, Any], user_id: str = "E-1002", **headers: str
           ) -> Any:
    return served.client.patch(f"/scim/v2/Users/{user_id}", json=body,
                               headers=_headers(served, **headers))


def _refused(response: Any, scim_type: str, where: str | None = None) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert response.headers["content-type"] == "application/scim+json"
    assert (body["schemas"], body["status"], body.get("scimType")) == ([ERROR], "400", scim_type)
    assert "CANARY" not in response.text
    if where is not None:
        assert where in body["detail"], body["detail"]


def test_the_models_name_the_extensions_by_their_uris() -> None:
    # The aliases are spelled out in bodies.py (type checkers want literals).
    aliases = {f.alias for f in bodies.ScimUser.model_fields.values()}
    assert {ENTERPRISE, KONTOR} <= aliases


def test_attribute_names_that_name_nothing_are_ignored(served: Served) -> None:
    listed = served.client.get("/scim/v2/Users", headers=_headers(served), params={
        "attributes": "nickName,userName,—,urn:x:y:z", "count": 2})
    assert listed.status_code == 200, listed.text
    assert [set(u) for u in listed.json()["Resources"]] == \
        [{"schemas", "id", "meta", "userName"}] * 2
    nothing = _user(served, attributes="groups")
    assert set(nothing.json()) == {"schemas", "id", "meta"}
    whole = _user(served).json()
    assert _user(served, excludedAttributes="groups,x509Certificates,%%").json() == whole


def test_a_malformed_if_match_is_a_400_not_a_412(served: Served) -> None:
    user = _user(served).json()
    replaced = {"schemas": [CORE], "userName": user["userName"]}
    change = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title",
                                                     "value": "CANARY"}]}
    for if_match in ("null", "3", 'W/"x"', "CANARY"):
        for response in (
                served.client.put("/scim/v2/Users/E-1002", json=replaced,
                                  headers=_headers(served, **{"If-Match": if_match})),
                _patch(served, change, **{"If-Match": if_match}),
                served.client.delete("/scim/v2/Users/E-1002",
                                     headers=_headers(served, **{"If-Match": if_match}))):
            _refused(response, "invalidValue", "if-match")
    stale = _patch(served, change, **{"If-Match": 'W/"99"'})
    assert stale.status_code == 412 and stale.json()["status"] == "412"
    assert _user(served).json() == user  # nothing was written


def test_a_user_needs_a_user_name_that_is_not_blank(served: Served) -> None:
    total = served.client.get("/scim/v2/Users", params={"count": 0},
                              headers=_headers(served)).json()["totalResults"]
    for body in ({"schemas": [CORE]}, {"userName": " \u3000\t"}, {"userName": None},
                 {"userName": 5}):
        response = served.client.post("/scim/v2/Users", json=body, headers=_headers(served))
        _refused(response, "invalidValue", "userName")
    assert served.client.get("/scim/v2/Users", params={"count": 0}, headers=_headers(
        served)).json()["totalResults"] == total


@pytest.mark.parametrize("extra, where", [
    ({"active": "true"}, "active"),
    ({"name": "CANARY"}, "name"),
    ({"emails": {"value": "a@example.org"}}, "emails"),
    ({"emails": [{"value": "CANARY", "type": "other"}]}, "emails.0.value"),  # kept or not
    ({"emails": [{"value": "a@example.org", "primary": "yes"}]}, "emails.0.primary"),
    ({"title": ["CANARY"]}, "title"),
    ({ENTERPRISE: {"manager": ["CANARY"]}}, "manager"),
    ({ENTERPRISE: "CANARY"}, ENTERPRISE),
])
def test_user_attributes_are_typed(served: Served, extra: dict[str, Any], where: str) -> None:
    response = served.client.post("/scim/v2/Users", headers=_headers(served),
                                  json={"schemas": [CORE], "userName": "typed", **extra})
    _refused(response, "invalidValue", where)


@pytest.mark.parametrize("operation, scim_type, where", [
    ({"op": "replace", "path": "active", "value": "false"}, "invalidValue", "active"),
    ({"op": "replace", "path": "name", "value": "CANARY"}, "invalidValue", "name"),
    ({"op": "add", "path": "emails", "value": "CANARY"}, "invalidValue", "emails"),
    ({"op": "add", "path": "emails", "value": [{"value": "CANARY"}]}, "invalidValue",
     "emails"),
    ({"op": "replace", "path": "title", "value": 5}, "invalidValue", "title"),
    ({"op": "replace", "path": ENTERPRISE, "value": "CANARY"}, "invalidValue", "enterprise"),
    ({"op": "replace", "path": KONTOR, "value": ["CANARY"]}, "invalidValue", "kontor"),
    ({"op": "add", "value": {"title": True}}, "invalidValue", "title"),
    ({"op": "add", "path": "title"}, "invalidValue", "needs a value"),
    # Which e-mail? A sub-attribute of a multi-valued attribute needs a value filter.
    ({"op": "replace", "path": "emails.value", "value": "a@example.org"}, "invalidPath", None),
    ({"op": "replace", "path": CORE, "value": {"title": "CANARY"}}, "invalidPath", None),
])
def test_patch_values_fit_their_attribute(served: Served, operation: dict[str, Any],
                                          scim_type: str, where: str | None) -> None:
    before = _user(served).json()
    response = _patch(served, {"schemas": [PATCH_OP], "Operations": [operation]})
    _refused(response, scim_type, where)
    assert _user(served).json() == before


def test_a_patch_envelope_is_checked(served: Served) -> None:
    op = {"op": "replace", "path": "title", "value": "CANARY"}
    _refused(_patch(served, {"schemas": "CANARY", "Operations": [op]}), "invalidSyntax")
    _refused(_patch(served, {"schemas": [PATCH_OP], "Operations": []}), "invalidSyntax")
    _refused(_patch(served, {"schemas": [PATCH_OP]}), "invalidSyntax")


def test_search_numbers_are_json_integers(served: Served) -> None:
    def search(**body: Any) -> Any:
        return served.client.post("/scim/v2/.search", json=body, headers=_headers(served))

    page = search(startIndex=2.0, count=3.0)
    assert page.status_code == 200, page.text
    assert (page.json()["startIndex"], page.json()["itemsPerPage"]) == (2, 3)
    for bad in ("2", 2.5, True, 2**40):
        _refused(search(startIndex=bad), "invalidValue", "startIndex")


def test_names_in_any_case_and_qualified_names_still_work(fresh: Served) -> None:
    created = fresh.client.post("/scim/v2/Users", headers=_headers(fresh), json={
        "SCHEMAS": [CORE], "USERNAME": "grace", f"{CORE}:title": "Admiral",
        f"{ENTERPRISE}:department": "Navy", "Emails": [{"VALUE": "grace@example.org",
                                                        "Type": "work"}]})
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    patched = _patch(fresh, {"SCHEMAS": [PATCH_OP], "operations": [
        {"OP": "Replace", "PATH": "TITLE", "VALUE": "Rear Admiral"},
        # A plain value for a value filter stands for its "value" (as before).
        {"op": "replace", "path": 'emails[type eq "work"]', "value": "g@example.org"}]},
        user_id=user_id)
    assert patched.status_code == 200, patched.text
    with fresh.hub.engine.connect() as conn:
        stored = goldens.read(conn, fresh.hub.sealer, "employee", [user_id])[user_id]
    assert (stored["user_name"], stored["job_title"], stored["department"],
            stored["work_email"]) == ("grace", "Rear Admiral", "Navy", "g@example.org")


def test_kontor_members_are_typed_as_the_deployments_fields(tmp_path: Path) -> None:
    summary = write_demo(tmp_path / "hub", customers=10, employees=2, seed=7)
    summary.config.write_text(summary.config.read_text(encoding="utf-8") + (
        "\ncustom_fields:\n  employee:\n"
        "    badge: {type: int, category: user.workplace}\n"
        "    seen_at: {type: datetime, category: user.workplace}\n"
        "    on_call: {type: bool, category: user.workplace}\n"), encoding="utf-8")
    served = serve(open_hub(summary.config))
    try:
        def post(extension: dict[str, Any]) -> Any:
            return served.client.post("/scim/v2/Users", headers=_headers(served), json={
                "schemas": [CORE], "userName": f"u{len(extension)}", KONTOR: extension})

        for extension, where in (({"badge": "3"}, "badge"), ({"badge": 2.5}, "badge"),
                                 ({"on_call": "true"}, "on_call"),
                                 ({"seen_at": 1700000000}, "seen_at"),
                                 ({"CANARY": 1}, "CANARY")):
            response = post(extension)
            assert response.status_code == 400, (extension, response.text)
            assert response.json()["detail"].endswith(f"{KONTOR}.{where}")
        created = post({"Badge": 3.0, "seen_at": "2026-01-31T08:00:00Z", "on_call": False,
                        "hire_date": "ignored: read-only"})
        assert created.status_code == 201, created.text
        assert {k: v for k, v in created.json()[KONTOR].items()
                if k in ("badge", "seen_at", "on_call")} == \
            {"badge": 3, "seen_at": "2026-01-31T08:00:00+00:00", "on_call": False}
        user_id = created.json()["id"]
        for path, value in ((f"{KONTOR}:badge", "4"), ("on_call", 1),
                            (f"{KONTOR}:seen_at", 0), (KONTOR, {"badge": True})):
            operation = {"op": "replace", "path": path, "value": value}
            response = _patch(served, {"Operations": [operation]}, user_id=user_id)
            assert response.status_code == 400, (operation, response.text)
            assert response.json()["scimType"] == "invalidValue"
        changed = _patch(served, {"Operations": [
            {"op": "replace", "path": f"{KONTOR}:badge", "value": 4}]}, user_id=user_id)
        assert changed.status_code == 200 and changed.json()[KONTOR]["badge"] == 4
    finally:
        served.hub.close()
