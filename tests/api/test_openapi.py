"""The OpenAPI document's error answers (hub/api/openapi.py), the `Allow` header of a 405,
and /health when the store is down. Schemathesis checks the document against the server
response by response (test_schemathesis.py); these pin down its shape."""

from __future__ import annotations

import json
import re
from typing import Any

from hub.api.openapi import ProblemDetails, ScimError
from hub.api.record_writes import ETAG_PATTERN
from hub.api.scim import bodies
from hub.auth.roles import Role
from hub.context import open_hub
from hub.demo import write_demo
from hub.store.db import make_engine
from tests.api.kit import Served, demo_hub, serve


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in doc["paths"].items()
            for method, op in ops.items()]


def _media(response: dict[str, Any]) -> list[str]:
    return list(response.get("content", {}))


def test_every_error_is_documented_as_a_problem_or_a_scim_error(served: Served) -> None:
    doc = served.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's 422 body is never sent
    assert {"ProblemDetails", "InvalidField", "ScimError"} <= set(schemas)
    for method, path, op in _operations(doc):
        responses = op["responses"]
        where = f"{method.upper()} {path}"
        if path == "/health":
            assert set(responses) == {"200", "503"}
            continue
        assert {"401", "403"} <= set(responses), where  # every other route needs a token
        assert "503" in responses, where  # the store may be down
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                expected = "application/scim+json" if path.startswith("/scim/") \
                    else "application/problem+json"
                assert _media(response) == [expected], (where, status)
            elif path.startswith("/scim/") and _media(response):
                assert _media(response) == ["application/scim+json"], (where, status)
        if "{" in path:
            assert "404" in responses, where
        if "422" in responses:
            assert not path.startswith("/scim/"), where  # SCIM: an invalid request is 400


def test_writes_document_their_preconditions_and_conflicts(served: Served) -> None:
    doc = served.client.get("/openapi.json").json()
    for plural in ("customers", "employees"):
        one = doc["paths"][f"/api/v1/{plural}/{{golden_id}}"]
        for method in ("put", "patch", "delete"):
            assert {"404", "412", "422", "428"} <= set(one[method]["responses"]), method
            if_match = next(p for p in one[method]["parameters"] if p["name"] == "if-match")
            assert if_match["required"] and if_match["in"] == "header"
        created = doc["paths"][f"/api/v1/{plural}"]["post"]
        assert {"201", "400", "409", "422"} <= set(created["responses"])
        assert set(created["responses"]["201"]["headers"]) == {"ETag", "Location"}
        body = created["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        record = doc["components"]["schemas"][body.rsplit("/", 1)[1]]
        assert record["anyOf"] and all(len(a["required"]) == 1 for a in record["anyOf"])


def test_problem_bodies_match_their_schemas(served: Served) -> None:
    reader = served.auth(Role.READER)
    for url, headers in (("/api/v1/customers/C-0", reader),
                         ("/api/v1/customers?limit=0", reader),
                         ("/api/v1/runs", reader), ("/api/v1/systems", {})):
        response = served.client.get(url, headers=headers)
        assert response.headers["content-type"] == "application/problem+json", url
        problem = ProblemDetails.model_validate(response.json())
        assert problem.status == response.status_code
    scim = served.client.get("/scim/v2/Users/E-0", headers=served.auth(Role.SYSTEM))
    assert scim.status_code == 404
    assert ScimError.model_validate(scim.json()).status == "404"


def test_a_405_allows_every_method_of_the_resource(served: Served) -> None:
    admin = served.auth(Role.ADMIN)
    for path, allowed in (("/api/v1/customers", "GET, POST"),
                          ("/api/v1/customers/C-1001", "GET, PUT, PATCH, DELETE"),
                          ("/scim/v2/Users/E-1001", "GET, PUT, PATCH, DELETE")):
        refused = served.client.options(path, headers=admin)
        assert refused.status_code == 405, path
        assert refused.headers["allow"] == allowed, path
    assert served.client.post("/health").headers["allow"] == "GET"


def test_health_says_503_when_the_store_cannot_be_reached(tmp_path: Any) -> None:
    served = serve(demo_hub(tmp_path / "hub", customers=10, employees=2))
    assert served.client.get("/health").json() == {"status": "ok"}
    served.hub.engine.dispose()
    served.hub.engine = make_engine("postgresql://postgres@127.0.0.1:1/none")  # nothing there
    down = served.client.get("/health")
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert down.json()["detail"] == "the store cannot be reached"
    served.hub.engine.dispose()


def test_date_time_filters_take_rfc3339_as_documented(served: Served) -> None:
    doc = served.client.get("/openapi.json").json()
    since = next(p for p in doc["paths"]["/api/v1/customers"]["get"]["parameters"]
                 if p["name"] == "updated_since")
    assert {"type": "string", "format": "date-time"} in since["schema"]["anyOf"]
    reader = served.auth(Role.READER)
    for ok in ("2026-01-31T08:00:00Z", "2026-01-31T09:00:00.5+01:00"):
        assert served.client.get("/api/v1/customers", params={"updated_since": ok},
                                 headers=reader).status_code == 200, ok
    for bad in ("2026-01-31", "2026-01-31T08:00:00", "0.5", "1700000000"):
        refused = served.client.get("/api/v1/audit/search", params={"since": bad},
                                    headers=served.auth(Role.AUDITOR))
        assert refused.status_code == 422, bad
        assert refused.json()["errors"][0]["loc"] == ["query", "since"]


def test_every_route_says_503_when_the_store_goes_away(tmp_path: Any) -> None:
    """A store that is down (or read-only, or full) is the server's trouble for a while,
    not a bug: 503 with Retry-After and the cause, never its address or a traceback."""
    served = serve(demo_hub(tmp_path / "hub", customers=10, employees=2))
    headers = served.auth(Role.ADMIN)
    assert served.client.get("/api/v1/customers", headers=headers).status_code == 200
    served.hub.engine.dispose()
    served.hub.engine = make_engine("postgresql://postgres@127.0.0.1:1/none")  # nothing there
    for path in ("/api/v1/customers", "/api/v1/runs", "/scim/v2/Users"):
        down = served.client.get(path, headers=headers)
        assert down.status_code == 503, path
        assert down.headers["retry-after"] == "30"
        body = down.json()
        assert "master store cannot be used: it is unreachable" in body["detail"], path
        assert "127.0.0.1" not in down.text and "Traceback" not in down.text
    served.hub.engine.dispose()


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_scim_requests_are_documented_as_the_server_reads_them(served: Served) -> None:
    doc = served.client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert {r.rsplit("/", 1)[1] for r in _refs(doc)} <= set(schemas)  # every $ref resolves
    users, one = doc["paths"]["/scim/v2/Users"], doc["paths"]["/scim/v2/Users/{user_id}"]
    created = users["post"]["requestBody"]["content"]
    assert list(created) == ["application/scim+json", "application/json"]
    assert created["application/json"]["schema"]["$ref"].endswith("/ScimUser")
    assert schemas["ScimUser"]["required"] == ["userName"]
    # This deployment's Kontor extension: its fields and no others; dates and decimals
    # read-only (ignored in a POST or PUT, refused in a PATCH).
    kontor, change = schemas["ScimKontorEmployee"], schemas["ScimKontorEmployeeChange"]
    assert kontor["additionalProperties"] is False and change["additionalProperties"] is False
    assert {"iban", "national_id", "hire_date", "salary"} <= set(kontor["properties"])
    assert kontor["properties"]["hire_date"]["readOnly"] is True
    assert "iban" in change["properties"] and "hire_date" not in change["properties"]
    body = one["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ScimPatchOp"}
    operations = schemas["ScimPatchOp"]["properties"]["Operations"]
    assert operations["minItems"] == 1 and schemas["ScimPatchOp"]["required"] == ["Operations"]
    kinds = {r["$ref"].rsplit("/", 1)[1] for r in operations["items"]["anyOf"]}
    assert {"ScimSetString", "ScimSetUserName", "ScimRemove", "ScimSetAttributes"} <= kinds
    assert "ScimSetInteger" not in kinds  # the demo has no integer field to write
    for method in ("put", "patch", "delete"):
        if_match = next(p for p in one[method]["parameters"] if p["name"] == "if-match")
        assert not if_match["required"] and if_match["schema"]["pattern"] == ETAG_PATTERN
        assert {"400", "412"} <= set(one[method]["responses"])
    listed = {p["name"]: p["schema"] for p in users["get"]["parameters"]}
    assert (listed["filter"]["format"], listed["sortBy"]["format"]) == \
        ("scim-filter", "scim-sort-by")
    assert "scimType" in users["get"]["responses"]["400"]["description"]
    used = set(re.findall(r'"format": "([^"]+)"', json.dumps(doc)))
    assert used - {"date", "date-time"} <= set(bodies.FORMATS)


def test_scim_patch_operations_follow_the_deployments_fields(tmp_path: Any) -> None:
    summary = write_demo(tmp_path / "hub", customers=10, employees=2, seed=7)
    summary.config.write_text(summary.config.read_text(encoding="utf-8") + (
        "\ncustom_fields:\n  employee:\n"
        "    badge: {type: int, category: user.workplace}\n"
        "    seen_at: {type: datetime, category: user.workplace}\n"), encoding="utf-8")
    served = serve(open_hub(summary.config))
    try:
        schemas = served.client.get("/openapi.json").json()["components"]["schemas"]
    finally:
        served.hub.close()
    kinds = {r["$ref"].rsplit("/", 1)[1]
             for r in schemas["ScimPatchOp"]["properties"]["Operations"]["items"]["anyOf"]}
    assert {"ScimSetInteger", "ScimSetDateTime"} <= kinds
    badge = schemas["ScimKontorEmployee"]["properties"]["badge"]
    assert {"type": "integer"} in badge["anyOf"]
