"""Indexed reads (hub/store/search_index.py, migration 0011), on SQLite and PostgreSQL: the
name search answers exactly what a plain scan answers and follows every write, keyset and
SCIM offset paging visit every record once, SCIM totals follow writes, and a page opened
for one caller releases what a fully opened page releases."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import inspect, or_, select, text

from hub.api.disclosure import Disclosure, business_values
from hub.api.services import NAME_FIELDS
from hub.auth.roles import PERMISSIONS, Permission, Role
from hub.auth.tokens import Caller
from hub.canonical import MODELS
from hub.golden.writer import writing
from hub.store import bulk, search_index
from tests.api.kit import Served

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
KONTOR = "urn:kontor:params:scim:schemas:extension:kontor:2.0:Employee"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = {"Content-Type": "application/scim+json"}


def _search(served: Served, plural: str, name: str, **params: Any) -> list[str]:
    response = served.client.get(f"/api/v1/{plural}", params={"name": name, "limit": 500,
                                                                **params},
                                 headers=served.auth(Role.READER))
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["items"]]


def _plain_scan(served: Served, entity: str, term: str) -> list[str]:
    """The search as it was before the index: the lower-cased LIKE over every row."""
    t = bulk.table_of(MODELS[entity])
    where = or_(*(t.c[f].icontains(term, autoescape=True) for f in NAME_FIELDS[entity]))
    with served.hub.engine.connect() as conn:
        return [r[0] for r in conn.execute(select(t.c.id).where(where).order_by(t.c.id))]


def _terms(served: Served, entity: str) -> list[str]:
    t = bulk.table_of(MODELS[entity])
    with served.hub.engine.connect() as conn:
        names = [v for row in conn.execute(select(*(t.c[f] for f in NAME_FIELDS[entity]))
                                           .order_by(t.c.id).limit(6)) for v in row if v]
    terms = {"e", "er", "ÜLL", "qqxz", '"', 'a"b', "%", "_", "  "}
    for name in names:
        for size in (2, 3, 4, 6):
            terms |= {name[i:i + size] for i in range(0, max(1, len(name) - size + 1), 2)}
        terms |= {name.upper()[:5], name.lower()[1:5], name}
    return sorted(terms)


def test_name_search_answers_what_a_plain_scan_answers(fresh: Served) -> None:
    hits = 0
    for entity in ("customer", "employee"):
        for term in _terms(fresh, entity):
            expected = _plain_scan(fresh, entity, term.strip())  # as the API strips it
            assert _search(fresh, f"{entity}s", term) == expected, term
            hits += bool(expected) and len(term) >= search_index.MIN_INDEXED
    assert hits > 20  # the indexed path answered, not only empty or short terms


def test_the_index_exists_and_the_search_uses_it(fresh: Served) -> None:
    engine = fresh.hub.engine
    t = bulk.table_of(MODELS["customer"])
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            where = search_index.name_filter(conn, "customer", t, NAME_FIELDS["customer"],
                                             "mül")
            sql = select(t.c.id).where(where).compile(conn,
                                                      compile_kwargs={"literal_binds": True})
            plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "VIRTUAL TABLE" in plan
        else:
            names = {i["name"] for i in inspect(conn).get_indexes("golden_customer")}
            assert {"ix_golden_customer_last_name_trgm",
                    "ix_golden_customer_organisation_name_trgm"} <= names
            # Migration 0014: finer statistics for the name columns, so the planner sees a
            # rare term as rare (and does not walk the primary key for its matches).
            targets: dict[str, int] = dict(conn.execute(text(
                "SELECT c.relname || '.' || a.attname, a.attstattarget FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname IN "
                "('golden_customer', 'golden_employee') AND a.attname IN "
                "('first_name', 'last_name', 'organisation_name')")).all())
            assert targets == {"golden_customer.first_name": 1000,
                               "golden_customer.last_name": 1000,
                               "golden_customer.organisation_name": 1000,
                               "golden_employee.first_name": 1000,
                               "golden_employee.last_name": 1000}


def test_the_index_follows_creates_updates_and_deletes(fresh: Served) -> None:
    client, auth = fresh.client, fresh.auth(Role.SYSTEM)
    created = client.post("/api/v1/customers", headers=auth, json={
        "email": "quax@example.org", "first_name": "Nele", "last_name": "Quaxwirbel"})
    assert created.status_code == 201, created.text
    gid = created.json()["id"]
    assert _search(fresh, "customers", "AXWIR") == [gid]
    changed = client.patch(f"/api/v1/customers/{gid}", headers={**auth, "If-Match": '"1"'},
                           json={"last_name": "Plimsollo"})
    assert changed.status_code == 200, changed.text
    assert _search(fresh, "customers", "axwir") == []
    assert _search(fresh, "customers", "imsoll") == [gid]
    gone = client.delete(f"/api/v1/customers/{gid}", headers={**auth, "If-Match": '"2"'})
    assert gone.status_code == 204, gone.text
    assert _search(fresh, "customers", "imsoll") == []


def _waiting(served: Served, entity: str) -> set[str]:
    """Golden ids noted as changed and not indexed yet (SQLite's search index)."""
    with served.hub.engine.connect() as conn:
        return {r[0] for r in conn.execute(text(f"SELECT id FROM search_{entity}_dirty"))}


def test_changes_not_indexed_yet_are_found_and_a_write_indexes_them(fresh: Served) -> None:
    if fresh.hub.engine.dialect.name != "sqlite":
        return  # PostgreSQL keeps its trigram indexes itself, in the writing statement
    t = bulk.table_of(MODELS["customer"])
    with fresh.hub.engine.connect() as conn:
        gid = conn.execute(select(t.c.id).order_by(t.c.id).limit(1)).scalar_one()
    assert _waiting(fresh, "customer") == set()  # the sync's writes were indexed
    # A step of the write path that changes golden rows without goldens.write (as an
    # erasure does): the trigger notes the id, the FTS index has not seen the change.
    token = writing.set(True)
    try:
        with fresh.hub.engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == gid).values(last_name="Vorbeigeschrieben"))
    finally:
        writing.reset(token)
    assert _waiting(fresh, "customer") == {gid}
    assert _search(fresh, "customers", "beigeschr") == [gid]
    assert _search(fresh, "customers", "BEIGESCHR") == _plain_scan(fresh, "customer",
                                                                    "BEIGESCHR")
    created = fresh.client.post("/api/v1/customers", headers=fresh.auth(Role.SYSTEM),
                                json={"email": "neu@example.org", "last_name": "Neuling"})
    assert created.status_code == 201, created.text
    assert _waiting(fresh, "customer") == set()  # the write path's refresh caught up
    assert _search(fresh, "customers", "beigeschr") == [gid]
    assert _search(fresh, "customers", "euling") == [created.json()["id"]]


def test_keyset_pages_of_a_search_visit_every_match_once(served: Served) -> None:
    grams = [t for t in _terms(served, "customer") if len(t.strip()) == 3][:30]
    common = max(grams, key=lambda t: len(_search(served, "customers", t)))
    for term in ("er", common, "e"):
        whole = _search(served, "customers", term)
        assert len(whole) > 3, term
        pages: list[str] = []
        after = None
        while True:
            params: dict[str, Any] = {"name": term, "limit": 3}
            if after:
                params["after"] = after
            page = served.client.get("/api/v1/customers", params=params,
                                     headers=served.auth(Role.READER)).json()
            pages += [r["id"] for r in page["items"]]
            after = page["next"]
            if after is None:
                break
        assert pages == whole


def _scim(served: Served, **params: Any) -> dict[str, Any]:
    response = served.client.get("/scim/v2/Users", params=params,
                                 headers=served.auth(Role.SYSTEM))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _active_total(served: Served) -> int:
    return int(_scim(served, filter="active eq true", count=1)["totalResults"])


def test_scim_offset_pages_and_totals_follow_writes(fresh: Served) -> None:
    query = {"filter": "active eq true", "sortBy": "name.familyName"}
    whole = _scim(fresh, count=1000, **query)
    ids = [u["id"] for u in whole["Resources"]]
    assert whole["totalResults"] == len(ids) > 5
    family = [u.get("name", {}).get("familyName") or "" for u in whole["Resources"]]
    assert family == sorted(family)
    pages: list[str] = []
    for start in range(1, len(ids) + 2, 4):
        page = _scim(fresh, startIndex=start, count=4, **query)
        assert page["totalResults"] == len(ids) and page["startIndex"] == start
        pages += [u["id"] for u in page["Resources"]]
    assert pages == ids

    before = _active_total(fresh)
    headers = fresh.auth(Role.SYSTEM, **SCIM_JSON)
    created = fresh.client.post("/scim/v2/Users", headers=headers, json={
        "schemas": [CORE], "userName": "zora.quell@example.org",
        "name": {"givenName": "Zora", "familyName": "Quell"},
        "emails": [{"value": "zora.quell@example.org", "type": "work", "primary": True}]})
    assert created.status_code == 201, created.text
    assert _active_total(fresh) == before + 1  # the remembered total saw the write
    user = created.json()["id"]
    off = fresh.client.patch(f"/scim/v2/Users/{user}", headers=headers, json={
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active",
                                              "value": False}]})
    assert off.status_code == 200, off.text
    assert _active_total(fresh) == before
    assert _scim(fresh, filter='name.familyName eq "Quell"')["totalResults"] == 1


def test_filters_on_fields_the_caller_may_not_see_are_still_refused(served: Served) -> None:
    # salary: in clear for admins only; sick-leave reason: nobody's, and sealed at rest.
    for field in ("salary", "sick_leave_reason"):
        response = served.client.get("/scim/v2/Users", params={
            "filter": f"{KONTOR}:{field} pr"}, headers=served.auth(Role.SYSTEM))
        assert response.status_code == 400, field
        assert response.json()["scimType"] == "invalidFilter"


def test_a_page_opened_for_a_caller_releases_what_a_fully_opened_page_does(
        served: Served) -> None:
    hub, gate = served.hub, served.app.state.gate
    for entity in ("customer", "employee"):
        t = bulk.table_of(MODELS[entity])
        with hub.engine.connect() as conn:
            raw = [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id).limit(25))]
            for role in Role:
                if Permission.RECORDS_READ not in PERMISSIONS[role]:
                    continue
                view = Disclosure(hub, gate, Caller(0, "test", role), "api")
                full, lean = copy.deepcopy(raw), copy.deepcopy(raw)
                hub.sealer.open_goldens(conn, entity, full)
                view.open(conn, entity, lean)
                assert view.records(entity, lean) == view.records(entity, full), role
                pairs = [(r["id"], business_values(r)) for r in lean]
                assert view.values(entity, pairs) == [
                    gate.release(entity, v, view.destination, record=v, record_id=gid)
                    for gid, v in pairs], role
    with hub.engine.connect() as conn:  # the generation table is there and counts
        assert conn.execute(text("SELECT count(*) FROM search_generation")).scalar() == 2
