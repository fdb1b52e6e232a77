"""Review queue, outbox, audit trail and reports through the API: ids, counts, decisions,
never values; on SQLite and PostgreSQL where records change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.auth.roles import Role
from hub.store import goldens, outbox
from tests.api.kit import Served, demo_hub, raise_review_pair, serve


@pytest.fixture
def with_pair(tmp_path: Path, database_url: str) -> Iterator[tuple[Served, str]]:
    hub, person = raise_review_pair(demo_hub(tmp_path / "hub", database_url))
    yield serve(hub), person
    hub.close()


def test_review_queue_keep_apart_then_no_second_decision(with_pair: tuple[Served, str]
                                                          ) -> None:
    served, person = with_pair
    listed = served.client.get("/api/v1/review", headers=served.auth(Role.STEWARD))
    [pair] = listed.json()
    assert person in (pair["golden_a"], pair["golden_b"])
    assert pair["evidence"]["email"] == "different" and pair["system"] == "shop"
    with served.hub.engine.connect() as conn:
        stored = goldens.read(conn, served.hub.sealer, "customer", [person])[person]
    assert str(stored["last_name"]) not in listed.text  # levels, never values
    assert "someone.else@example.net" not in listed.text
    assert served.client.get("/api/v1/review", headers=served.auth(Role.READER)
                             ).status_code == 403

    url = f"/api/v1/review/{pair['id']}"
    bad = served.client.post(url, json={"decision": "CANARY"}, headers=served.auth(Role.STEWARD))
    assert bad.status_code == 422 and "CANARY" not in bad.text
    kept = served.client.post(url, json={"decision": "keep_apart"},
                              headers=served.auth(Role.STEWARD))
    assert kept.json() == {"pair": pair["id"], "decision": "keep_apart"}
    again = served.client.post(url, json={"decision": "merge"}, headers=served.auth(Role.ADMIN))
    assert again.status_code == 409
    decided = served.client.get("/api/v1/review", params={"status": "kept_apart"},
                                headers=served.auth(Role.STEWARD)).json()
    assert decided[0]["decided_by"] == "test-steward (token 2)"
    assert served.client.post("/api/v1/review/999999", json={"decision": "merge"},
                              headers=served.auth(Role.STEWARD)).status_code == 404


def test_review_merge_moves_the_xrefs(with_pair: tuple[Served, str]) -> None:
    served, person = with_pair
    [pair] = served.client.get("/api/v1/review", headers=served.auth(Role.STEWARD)).json()
    done = served.client.post(f"/api/v1/review/{pair['id']}", json={"decision": "merge"},
                              headers=served.auth(Role.STEWARD)).json()
    assert done["survivor"] == person and done["merged"] != person
    xrefs = served.client.get(f"/api/v1/customers/{person}/xrefs",
                              headers=served.auth(Role.READER)).json()
    assert {"crm", "shop"} <= {x["system"] for x in xrefs}


def test_outbox_lists_and_retries_dead_letters(tmp_path: Path) -> None:
    served = serve(demo_hub(tmp_path / "hub"))
    with served.hub.engine.begin() as conn:  # what the outbound sync does when refused
        outbox.enqueue(conn, "employee", ["E-1002", "E-1003"], [("payroll", "employees")])
        outbox.failed(conn, "payroll", "employees", ["E-1002"], "target refused: field x",
                      dead=True)
    listed = served.client.get("/api/v1/outbox", params={"status": "dead"},
                               headers=served.auth(Role.OPERATOR)).json()
    assert [(r["golden_id"], r["last_error"]) for r in listed["rows"]] == [
        ("E-1002", "target refused: field x")]
    depth = {(d["system"], d["status"]): d["count"] for d in listed["depth"]}
    assert depth[("payroll", "dead")] == 1 and depth[("payroll", "pending")] == 1
    assert served.client.post("/api/v1/outbox/retry", headers=served.auth(Role.AUDITOR)
                              ).status_code == 403
    retried = served.client.post("/api/v1/outbox/retry", params={"system": "payroll"},
                                 headers=served.auth(Role.OPERATOR))
    assert retried.json() == {"retried": 1}
    after = served.client.get("/api/v1/outbox", params={"status": "dead"},
                              headers=served.auth(Role.OPERATOR)).json()
    assert after["rows"] == []
    served.hub.close()


def test_audit_trace_search_and_reports_carry_no_values(tmp_path: Path) -> None:
    served = serve(demo_hub(tmp_path / "hub"))
    with served.hub.engine.connect() as conn:
        stored = goldens.read(conn, served.hub.sealer, "employee", ["E-1002"])["E-1002"]
    secrets = [str(stored[f]) for f in ("iban", "sick_leave_reason", "national_id", "salary")
               if stored[f]]
    served.client.get("/api/v1/employees/E-1002", headers=served.auth(Role.READER))
    trace = served.client.get("/api/v1/audit/trace", params={"entity": "employee",
                                                              "id": "E-1002"},
                              headers=served.auth(Role.AUDITOR))
    assert trace.status_code == 200
    body = trace.json()
    kinds = {(e["kind"], e["destination"]) for e in body["entries"]}
    assert ("transfer.in", "hub") in kinds and ("transfer.out", "payroll.employees") in kinds
    out = next(e for e in body["entries"] if e["destination"] == "payroll.employees")
    assert {f["field"]: f["action"] for f in out["fields"]}["iban"] == "allow"
    assert [(r["role"], r["fields"]) for r in body["restricted_reads"]] == [
        ("reader", ["iban"])]
    verified = served.client.get("/api/v1/audit/verify", headers=served.auth(Role.AUDITOR))
    assert verified.json()["ok"] is True and verified.json()["entries"] > 0
    search = served.client.get("/api/v1/audit/search", params={
        "system": "payroll", "category": "user.financial.bank_account", "limit": 5},
        headers=served.auth(Role.AUDITOR)).json()
    assert search and all(e["destination"] == "payroll.employees" for e in search)
    reports = {name: served.client.get(f"/api/v1/reports/{name}",
                                       headers=served.auth(Role.OPERATOR))
               for name in ("quality", "transfers", "processing")}
    assert all(r.status_code == 200 for r in reports.values())
    transfers = reports["transfers"].json()
    assert any(t["system"] == "payroll.employees" and
               t["category"] == "user.financial.bank_account" for t in transfers)
    processing = reports["processing"].json()
    assert {"payroll.employees", "newsletter.subscribers"} <= {p["destination"]
                                                               for p in processing}
    assert "crm" in reports["quality"].json()["systems"]
    for response in (trace, *reports.values()):
        assert all(value not in response.text for value in secrets)
    served.hub.close()
