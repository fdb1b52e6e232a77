"""The REST read side on the synced demo: filters, pagination, provenance, the privacy gate
per role, the restricted-read log, policy simulation, and errors that never echo input."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from hub.auth.roles import Role
from hub.auth.tables import RestrictedReadLog
from hub.canonical import Customer
from hub.store import bulk, goldens
from tests.api.kit import Served

RESTRICTED = ("iban", "national_id", "social_security_number", "sick_leave_reason",
              "disability_status", "criminal_record_check", "disciplinary_notes")


def _stored(served: Served, entity: str, golden_id: str) -> dict[str, object]:
    with served.hub.engine.connect() as conn:
        return goldens.read(conn, served.hub.sealer, entity, [golden_id])[golden_id]


def _log_rows(served: Served) -> int:
    with served.hub.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(
            bulk.table_of(RestrictedReadLog))).scalar_one())


def test_cursor_pagination_visits_every_record_once(served: Served) -> None:
    seen, after = [], None
    while True:
        params = {"limit": 7, **({"after": after} if after else {})}
        page = served.client.get("/api/v1/customers", params=params,
                                 headers=served.auth(Role.READER)).json()
        seen += [c["id"] for c in page["items"]]
        after = page["next"]
        if after is None:
            break
    with served.hub.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(
            bulk.table_of(Customer))).scalar_one()
    assert len(seen) == len(set(seen)) == total


def test_filters_email_name_and_updated_since(served: Served) -> None:
    someone = served.client.get("/api/v1/customers/C-1003",
                                headers=served.auth(Role.READER)).json()
    by_email = served.client.get("/api/v1/customers", params={"email": someone["email"].upper()},
                                 headers=served.auth(Role.READER)).json()["items"]
    assert [c["id"] for c in by_email] == ["C-1003"]
    part = someone["last_name"][1:4].lower()
    by_name = served.client.get("/api/v1/customers", params={"name": part, "limit": 500},
                                headers=served.auth(Role.READER)).json()["items"]
    assert "C-1003" in [c["id"] for c in by_name]
    assert all(part in " ".join(str(c.get(f) or "") for f in
                                ("first_name", "last_name", "organisation_name")).lower()
               for c in by_name)
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    later = served.client.get("/api/v1/customers", params={"updated_since": future},
                              headers=served.auth(Role.READER)).json()
    assert later == {"items": [], "next": None}
    wildcard = served.client.get("/api/v1/customers", params={"name": "%"},
                                 headers=served.auth(Role.READER)).json()["items"]
    assert wildcard == []  # LIKE wildcards in the input are literal


def test_restricted_fields_never_reach_roles_the_policy_does_not_allow(served: Served) -> None:
    stored = _stored(served, "employee", "E-1002")
    assert stored["sick_leave_reason"] and stored["iban"] and stored["salary"]
    for role in (Role.READER, Role.STEWARD, Role.AUDITOR, Role.SYSTEM, Role.ADMIN):
        response = served.client.get("/api/v1/employees/E-1002", headers=served.auth(role))
        body = response.json()
        for field in RESTRICTED:
            if field != "iban":
                assert field not in body
                assert field not in body["provenance"]
            value = stored[field]
            if value:
                assert str(value) not in response.text, (role, field)
        # The default pack masks bank details for every API role: last four digits only.
        assert body["iban"].endswith(str(stored["iban"])[-4:]) and "*" in body["iban"]
        # Salary only for admins (rule api-salary-for-admins).
        assert ("salary" in body) == (role is Role.ADMIN)
        history = served.client.get("/api/v1/employees/E-1002/history",
                                    headers=served.auth(role)).text
        assert str(stored["sick_leave_reason"]) not in history
        assert str(stored["iban"]) not in history


def test_reads_of_restricted_fields_are_logged_without_values(served: Served) -> None:
    before = _log_rows(served)
    served.client.get("/api/v1/customers/C-1001", headers=served.auth(Role.READER))
    assert _log_rows(served) == before  # nothing restricted in a customer here
    served.client.get("/api/v1/employees/E-1002", headers=served.auth(Role.READER))
    served.client.get("/api/v1/employees", params={"limit": 3},
                      headers=served.auth(Role.AUDITOR))
    log = bulk.table_of(RestrictedReadLog)
    with served.hub.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(log).order_by(log.c.id.desc()).limit(2))]
    assert len(rows) == 2 and _log_rows(served) == before + 2
    listed, single = rows
    assert (single["role"], single["channel"], single["entity"]) == ("reader", "api", "employee")
    assert single["golden_ids"] == ["E-1002"] and single["fields"] == ["iban"]
    assert listed["role"] == "auditor" and len(listed["golden_ids"]) == 3
    assert listed["purpose"] == "essential.legal_obligation"
    stored = _stored(served, "employee", "E-1002")
    assert str(stored["iban"]) not in json.dumps(rows, default=str)
    # and each read is in the audit trail's hash chain, one entry per record
    trail = served.client.get("/api/v1/audit/trace", params={"entity": "employee",
                                                             "id": "E-1002"},
                              headers=served.auth(Role.AUDITOR)).json()["entries"]
    reads = [e for e in trail if e["kind"] == "read.restricted"]
    assert reads and reads[0]["destination"] == "api:reader"
    assert reads[0]["detail"]["fields"] == ["iban"]
    assert str(stored["iban"]) not in json.dumps(trail)


def test_provenance_xrefs_and_history(served: Served) -> None:
    prov = served.client.get("/api/v1/employees/E-1002/provenance",
                             headers=served.auth(Role.READER)).json()
    assert prov["fields"]["work_email"]["system"] == "hr"
    assert "sick_leave_reason" not in prov["fields"]
    xrefs = served.client.get("/api/v1/employees/E-1002/xrefs",
                              headers=served.auth(Role.READER)).json()
    assert [x["system"] for x in xrefs] == ["hr"]
    history = served.client.get("/api/v1/employees/E-1002/history",
                                headers=served.auth(Role.READER)).json()
    assert [h["version"] for h in history] == [1] and history[0]["system"] == "hr"


def test_policy_simulation_shows_decisions_and_only_values_the_caller_may_see(
        served: Served) -> None:
    response = served.client.get("/api/v1/policy/simulate", params={
        "system": "payroll", "entity": "employee", "id": "E-1002"},
        headers=served.auth(Role.AUDITOR))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["destination"]["name"] == "payroll.employees"
    fields = {f["field"]: f for f in body["fields"]}
    assert fields["iban"]["action"] == "allow"  # payroll receives the bank account
    assert "value" not in fields["iban"]  # ... but the auditor sees it only masked
    assert fields["work_email"]["value"]
    stored = _stored(served, "employee", "E-1002")
    assert str(stored["iban"]) not in response.text
    as_role = served.client.get("/api/v1/policy/simulate", params={
        "system": "api:reader", "entity": "employee", "id": "E-1002"},
        headers=served.auth(Role.STEWARD)).json()
    decisions = {f["field"]: f["action"] for f in as_role["fields"]}
    assert decisions["sick_leave_reason"] == "deny" and decisions["iban"] == "mask"
    unknown = served.client.get("/api/v1/policy/simulate", params={
        "system": "nowhere", "entity": "employee", "id": "E-1002"},
        headers=served.auth(Role.AUDITOR))
    assert unknown.status_code == 404


def test_errors_are_problem_details_that_never_echo_input(served: Served) -> None:
    canary = "CANARY-" + "q" * 30
    missing = served.client.get(f"/api/v1/customers/{canary[:30]}",
                                headers=served.auth(Role.READER))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    for params in ({"limit": canary}, {"updated_since": canary}, {"email": canary * 20}):
        bad = served.client.get("/api/v1/customers", params=params,
                                headers=served.auth(Role.READER))
        assert bad.status_code == 422, params
        assert canary not in bad.text
        assert bad.json()["errors"][0]["loc"][0] == "query"
