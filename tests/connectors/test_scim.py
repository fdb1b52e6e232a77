"""The SCIM connector against a real SCIM 2.0 server (scim2-server, tests/scim_server.py)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ReadBatch, Record, StreamSpec
from connectors.scim import ScimConnector, ScimSettings
from connectors.scim.paths import ENTERPRISE, apply, to_record
from hub.errors import FatalConnectorError
from tests.scim_server import ScimServer, scim_server_fixture  # noqa: F401 - session fixture

KEY = "externalId"
SPEC = StreamSpec("Users", (KEY,))


@pytest.fixture
def tag() -> str:
    """A prefix for this test's users: the server is shared by the session."""
    return f"t{uuid.uuid4().hex[:8]}-"


def scim(server: ScimServer, tag: str, **settings: Any) -> ScimConnector:
    settings.setdefault("token", server.token)
    return ScimConnector(ScimSettings(base_url=server.url, filter=f'userName sw "{tag}"',
                                      page_size=2, **settings), system="idp",
                         base_dir=Path("."))


def people(tag: str) -> list[Record]:
    return [
        {KEY: f"{tag}1", "userName": f"{tag}zoe", "name.givenName": "Zoë",
         "name.familyName": "Ødegård", "emails.work": "zoe@example.org",
         "emails.home": "zoe@home.example", "enterprise.employeeNumber": "1001",
         "enterprise.department": "R&D 🎉", "active": True, "title": ""},
        {KEY: f"{tag}2", "userName": f"{tag}wang", "name.givenName": "小明",
         "name.familyName": "王", "enterprise.employeeNumber": "1002",
         "enterprise.manager": "m-1001", "phoneNumbers.mobile": "+49 170 1234567",
         "active": False, "title": None},
        {KEY: f"{tag}3", "userName": f"{tag}mueller", "displayName": "Müller-Lüdenscheid",
         "nickName": "x" * 5000},
    ]


def read_all(conn: ScimConnector, spec: StreamSpec = SPEC, **kw: Any) -> list[ReadBatch]:
    return list(conn.read(spec, **kw))


def by_key(batches: list[ReadBatch]) -> dict[str, Record]:
    return {r.data[KEY]: r.data for b in batches for r in b.records}


def raw(server: ScimServer, tag: str) -> dict[str, dict[str, Any]]:
    return {str(u["externalId"]): u for u in server.users()
            if str(u.get("externalId", "")).startswith(tag)}


def test_round_trip_and_the_resource_the_server_holds(scim_server: ScimServer, tag: str) -> None:
    with scim(scim_server, tag) as conn:
        result = conn.write(SPEC, people(tag))
        got = by_key(read_all(conn))
    assert result.written == 3 and not result.rejected
    for sent in people(tag):
        back = got[sent[KEY]]
        assert {k: back.get(k) for k in sent} == sent  # unicode, "" vs None, 5000 chars
        assert back["meta.lastModified"] and back["id"]
    stored = raw(scim_server, tag)[f"{tag}2"]
    assert stored[ENTERPRISE] == {"employeeNumber": "1002", "manager": {"value": "m-1001"}}
    assert ENTERPRISE in stored["schemas"]
    assert stored["phoneNumbers"] == [{"type": "mobile", "value": "+49 170 1234567"}]
    emails = raw(scim_server, tag)[f"{tag}1"]["emails"]
    assert sorted((e["type"], e["value"]) for e in emails) == \
        [("home", "zoe@home.example"), ("work", "zoe@example.org")]


def test_rewriting_the_same_batch_changes_nothing(scim_server: ScimServer, tag: str) -> None:
    with scim(scim_server, tag) as conn:
        conn.write(SPEC, people(tag))
        before = {k: v["meta"] for k, v in raw(scim_server, tag).items()}
        again = conn.write(SPEC, people(tag))
    assert again.written == 3 and not again.rejected
    assert {k: v["meta"] for k, v in raw(scim_server, tag).items()} == before  # same version


@pytest.mark.parametrize("mode", ["put", "patch"])
def test_partial_record_changes_only_its_fields(scim_server: ScimServer, tag: str,
                                                mode: str) -> None:
    with scim(scim_server, tag, write_mode=mode) as conn:
        conn.write(SPEC, people(tag))
        version = raw(scim_server, tag)[f"{tag}1"]["meta"]["version"]
        result = conn.write(SPEC, [{KEY: f"{tag}1", "name.givenName": "Zoe",
                                    "emails.home": None, "enterprise.department": None}])
    assert result.written == 1 and not result.rejected
    stored = raw(scim_server, tag)[f"{tag}1"]
    assert stored["meta"]["version"] != version
    assert stored["name"] == {"givenName": "Zoe", "familyName": "Ødegård"}
    assert stored["emails"] == [{"type": "work", "value": "zoe@example.org"}]
    assert stored[ENTERPRISE] == {"employeeNumber": "1001"}


def test_incremental_read_by_last_modified(scim_server: ScimServer, tag: str) -> None:
    spec = StreamSpec("Users", (KEY,), cursor_field="meta.lastModified")
    with scim(scim_server, tag) as conn:
        conn.write(SPEC, people(tag))
        full = read_all(conn, spec)
        assert [b.cursor for b in full[:-1]] == []  # 3 users, one batch
        cursor = full[-1].cursor
        conn.write(SPEC, [{KEY: f"{tag}2", "title": "Engineer"}])
        changed = read_all(conn, spec, since=cursor)
        assert list(by_key(changed)) == [f"{tag}2"]
        assert changed[-1].cursor > cursor
        assert read_all(conn, spec, since=changed[-1].cursor) == []


def test_pages_and_batches_cover_every_user_once(scim_server: ScimServer, tag: str) -> None:
    batch = [{KEY: f"{tag}{i}", "userName": f"{tag}u{i}"} for i in range(7)]
    with scim(scim_server, tag) as conn:  # page_size 2: four pages
        assert conn.write(SPEC, batch).written == 7
        batches = read_all(conn, batch_size=3)
    assert [len(b.records) for b in batches] == [3, 3, 1]
    assert sorted(by_key(batches)) == sorted(r[KEY] for r in batch)


def test_refused_users_are_rejected_alone_without_values(scim_server: ScimServer,
                                                         tag: str) -> None:
    batch: list[Record] = [
        {KEY: f"{tag}a", "userName": f"{tag}same"},
        {KEY: f"{tag}b", "userName": f"{tag}same"},  # userName must be unique
        {KEY: f"{tag}c", "userName": f"{tag}c", "active": "secret-not-a-bool"},
        {"userName": f"{tag}nokey"},
        {KEY: f"{tag}d", "userName": f"{tag}d"},
    ]
    with scim(scim_server, tag) as conn:
        result = conn.write(SPEC, batch)
    assert result.written == 2 and sorted(raw(scim_server, tag)) == [f"{tag}a", f"{tag}d"]
    problems = dict(result.rejected)
    assert problems[f"{tag}b"].reason == "HTTP 409 Conflict (uniqueness)"
    assert problems[f"{tag}c"].reason.startswith("HTTP 400")
    assert "secret-not-a-bool" not in problems[f"{tag}c"].describe()
    assert problems["#4"].field == KEY


def test_upsert_by_enterprise_employee_number(scim_server: ScimServer, tag: str) -> None:
    spec = StreamSpec("Users", ("enterprise.employeeNumber",))
    number = tag + "77"
    with scim(scim_server, tag) as conn:
        conn.write(spec, [{"enterprise.employeeNumber": number, "userName": f"{tag}e"}])
        again = conn.write(spec, [{"enterprise.employeeNumber": number,
                                   "userName": f"{tag}e", "title": "Boss"}])
        users = read_all(conn)
    [user] = [r.data for b in users for r in b.records]
    assert again.written == 1 and user["title"] == "Boss"  # updated, not a second user


def test_user_name_key_matches_ignoring_case(scim_server: ScimServer, tag: str) -> None:
    spec = StreamSpec("Users", ("userName",))
    with scim(scim_server, tag) as conn:
        conn.write(spec, [{"userName": f"{tag}Zoe", "title": "a"}])
        again = conn.write(spec, [{"userName": f"{tag}ZOE", "title": "b"}])
        [user] = [r.data for b in read_all(conn) for r in b.records]
    assert again.written == 1 and not again.rejected  # updated, not refused as a duplicate
    assert user["title"] == "b"


def test_delete_is_idempotent(scim_server: ScimServer, tag: str) -> None:
    with scim(scim_server, tag) as conn:
        conn.write(SPEC, people(tag))
        result = conn.delete(SPEC, [f"{tag}1", (f"{tag}3",), f"{tag}never"])
    assert result.written == 3 and not result.rejected
    assert list(raw(scim_server, tag)) == [f"{tag}2"]


def test_bad_token_is_fatal_and_not_shown(scim_server: ScimServer, tag: str) -> None:
    with scim(scim_server, tag) as conn:
        conn.check()
    with scim(scim_server, tag, token="wrong-token-value") as conn, \
            pytest.raises(FatalConnectorError, match="401") as err:
        conn.check()
    assert "wrong-token-value" not in str(err.value)
    assert "wrong-token-value" not in repr(ScimSettings(base_url="http://x", token="wrong-token-value"))


def test_discover_from_the_servers_schemas(scim_server: ScimServer, tag: str) -> None:
    with scim(scim_server, tag) as conn:
        [found] = conn.discover(SPEC)
        assert "Users" in conn.streams()
    fields = {f["name"]: f for f in found["fields"]}
    for name in ("userName", "name.givenName", "emails.work", "addresses.work.locality",
                 "enterprise.employeeNumber", "enterprise.manager", "meta.lastModified"):
        assert name in fields, name
    assert fields["userName"]["required"] and fields["meta.lastModified"]["read_only"]
    assert fields["id"]["read_only"]
    assert "password" not in fields and "groups" not in fields


def test_kontor_discover_on_a_scim_system(scim_server: ScimServer, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from hub.cli.main import app

    monkeypatch.setenv("KONTOR_TEST_SCIM_TOKEN", scim_server.token)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "idp.yaml").write_text(
        "entity: employee\nfields:\n  employee_number: enterprise.employeeNumber\n",
        encoding="utf-8")
    (tmp_path / "kontor.yaml").write_text(f"""version: 1
systems:
  idp:
    connector: scim
    settings:
      base_url: {scim_server.url}
      token: ${{env:KONTOR_TEST_SCIM_TOKEN}}
    streams:
      users:
        entity: employee
        direction: outbound
        resource: Users
        key: [enterprise.employeeNumber]
        purpose: essential.service
        mapping: mappings/idp.yaml
""", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "kontor.yaml"), "discover",
                                      "idp", "--stream", "users", "--json"])
    assert result.exit_code == 0, result.output
    assert scim_server.token not in result.output
    [stream] = json.loads(result.output)["streams"]
    guesses = {f["name"]: f["guess"] for f in stream["fields"]}
    assert guesses["name.givenName"] == "first_name"
    assert guesses["enterprise.employeeNumber"] == "employee_number"


def test_flattening_round_trips() -> None:
    resource = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "id": "42", "userName": "zoe", "name": {"givenName": "Zoë"},
                "emails": [{"type": "work", "value": "z@w", "primary": True}, {"value": "z@o"}],
                "addresses": [{"type": "home", "locality": "Oslo"}],
                ENTERPRISE: {"manager": {"value": "7", "displayName": "Boss"}}}
    record = to_record(resource)
    assert record == {"id": "42", "userName": "zoe", "name.givenName": "Zoë",
                      "emails.work": "z@w", "emails.other": "z@o",
                      "addresses.home.locality": "Oslo", "enterprise.manager": "7"}
    assert apply(resource, record) == resource  # nothing to change
    changed = apply(resource, {"emails.other": None, "addresses.home.locality": "Bergen"})
    assert changed["emails"] == [{"type": "work", "value": "z@w", "primary": True}]
    assert changed["addresses"] == [{"type": "home", "locality": "Bergen"}]


def test_registered_as_entry_point() -> None:
    from hub import registry
    assert registry.get("scim") is ScimConnector
