"""The LDAP connector against a real OpenLDAP slapd started by the tests (tests/ldap_server)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest

from connectors.base import ReadBatch, Record, StreamSpec
from connectors.ldap import LdapConnector, LdapSettings
from connectors.ldap.dn import split_first
from hub.errors import FatalConnectorError, RetriableConnectorError
from tests.ldap_server import Slapd, slapd_fixture  # noqa: F401 - the session fixture

KEY = "employeeNumber"
PEOPLE: list[Record] = [
    {KEY: "1001", "cn": "Zoë Ødegård", "sn": "Ødegård", "givenName": "Zoë",
     "mail": ["zoe@example.org", "z.odegard@example.org"], "title": None},
    {KEY: "王-1002", "cn": "王小明", "sn": "王", "givenName": "小明", "mail": None,
     "title": "工程师 🎉"},
    {KEY: "Müller, Hans+1 #ü", "cn": "Müller-Lüdenscheid", "sn": "Müller-Lüdenscheid",
     "givenName": None, "mail": ["hm@example.org"], "title": "x" * 2000},
]
ATTRS = [KEY, "cn", "sn", "givenName", "mail", "title"]


@pytest.fixture
def unit(slapd: Slapd) -> Iterator[str]:
    """A fresh ``ou=`` container per test, removed with its entries afterwards."""
    name = f"ou=t{uuid.uuid4().hex[:10]}"
    with admin(slapd) as conn:
        conn.add(f"{name},{slapd.base_dn}", ["organizationalUnit"], {"ou": name[3:]})
    yield name
    with admin(slapd) as conn:
        conn.search(f"{name},{slapd.base_dn}", "(objectClass=inetOrgPerson)", attributes=["1.1"])
        for dn in [e["dn"] for e in conn.response]:
            conn.delete(dn)
        conn.delete(f"{name},{slapd.base_dn}")


def admin(slapd: Slapd) -> ldap3.Connection:
    return ldap3.Connection(slapd.url, slapd.root_dn, slapd.password, auto_bind=True)


def ldap(slapd: Slapd, **settings: Any) -> LdapConnector:
    settings.setdefault("bind_dn", slapd.root_dn)
    settings.setdefault("password", slapd.password)
    settings.setdefault("lists", ["mail"])
    settings.setdefault("base_dn", slapd.base_dn)
    return LdapConnector(LdapSettings(url=slapd.url, **settings),
                         system="directory", base_dir=Path("."))


def records(batches: list[ReadBatch]) -> dict[str, Record]:
    return {r.data[KEY]: r.data for b in batches for r in b.records}


def csn(slapd: Slapd, unit: str) -> dict[str, str]:
    """entryCSN per key: it changes with every modification of an entry."""
    with admin(slapd) as conn:
        conn.search(f"{unit},{slapd.base_dn}", "(objectClass=inetOrgPerson)",
                    attributes=[KEY, "entryCSN"])
        return {e["raw_attributes"][KEY][0].decode(): e["raw_attributes"]["entryCSN"][0].decode()
                for e in conn.response}


def test_round_trip_with_unicode_lists_and_escaped_dns(slapd: Slapd, unit: str) -> None:
    spec = StreamSpec(unit, (KEY,))
    with ldap(slapd, attributes=ATTRS) as conn:
        result = conn.write(spec, PEOPLE)
        got = records(list(conn.read(spec)))
    assert result.written == 3 and not result.rejected
    for sent in PEOPLE:  # mail is a list; a directory keeps no order among values
        back = got[sent[KEY]]
        assert {**back, "mail": sorted(back["mail"] or [])} == \
            {**sent, "mail": sorted(sent["mail"] or [])}
        assert (back["mail"] is None) == (sent["mail"] is None)
    with admin(slapd) as conn:  # the key with comma, plus, # and umlaut is escaped in the DN
        conn.search(slapd.base_dn, "(employeeNumber=Müller, Hans+1 #ü)", attributes=["1.1"])
        [entry] = conn.response
    assert split_first(entry["dn"]) == (KEY, "Müller, Hans+1 #ü", f"{unit},{slapd.base_dn}")


def test_rewriting_the_same_batch_changes_nothing(slapd: Slapd, unit: str) -> None:
    spec = StreamSpec(unit, (KEY,))
    with ldap(slapd) as conn:
        conn.write(spec, PEOPLE)
        before = csn(slapd, unit)
        again = conn.write(spec, PEOPLE)
    assert again.written == 3 and not again.rejected
    assert len(before) == 3 and all("#" in v for v in before.values())  # real CSNs
    assert csn(slapd, unit) == before  # not even a no-op modify reached the server


def test_modify_replaces_only_changed_attributes(slapd: Slapd, unit: str) -> None:
    spec = StreamSpec(unit, (KEY,))
    with ldap(slapd, attributes=ATTRS) as conn:
        conn.write(spec, PEOPLE)
        before = csn(slapd, unit)
        result = conn.write(spec, [{KEY: "1001", "title": "Chief", "mail": None}])
        got = records(list(conn.read(spec)))
    assert result.written == 1
    assert got["1001"]["title"] == "Chief" and got["1001"]["mail"] is None  # None removes
    assert got["1001"]["sn"] == "Ødegård"  # not in the record: untouched
    after = csn(slapd, unit)
    assert after["1001"] != before["1001"]
    assert {k: v for k, v in after.items() if k != "1001"} == \
        {k: v for k, v in before.items() if k != "1001"}


def test_several_values_for_a_single_field_is_a_problem(slapd: Slapd, unit: str) -> None:
    spec = StreamSpec(unit, (KEY,))
    with ldap(slapd) as conn:
        conn.write(spec, PEOPLE[:2])
        with admin(slapd) as raw:
            raw.modify(f"employeeNumber=1001,{unit},{slapd.base_dn}",
                       {"cn": [(ldap3.MODIFY_ADD, ["Zoe Odegard"])]})
        [batch] = list(conn.read(spec))
    assert [r.data[KEY] for r in batch.records] == ["王-1002"]
    [problem] = batch.problems
    assert (problem.field, problem.source_key) == ("cn", "1001")
    assert "Zoe" not in problem.describe() and "2 values" in problem.reason


def test_paged_read_gets_past_the_servers_size_limit(slapd: Slapd, unit: str) -> None:
    spec = StreamSpec(unit, (KEY,))
    with ldap(slapd) as conn:
        conn.write(spec, [{KEY: f"{i:03d}", "cn": f"n{i}", "sn": "s"} for i in range(12)])
    reader = {"bind_dn": slapd.reader_dn, "password": slapd.reader_password, "page_size": 4}
    with ldap(slapd, **reader) as conn:
        batches = list(conn.read(spec, batch_size=5))
    assert sorted(records(batches)) == [f"{i:03d}" for i in range(12)]
    assert [len(b.records) for b in batches] == [5, 5, 2]
    with ldap3.Connection(slapd.url, slapd.reader_dn, slapd.reader_password,
                          auto_bind=True) as plain:  # the limit is real for this account
        plain.search(f"{unit},{slapd.base_dn}", "(objectClass=inetOrgPerson)")
        assert plain.result["description"] == "sizeLimitExceeded" and len(plain.response) == 5


def test_incremental_read_by_modify_timestamp(slapd: Slapd, unit: str) -> None:
    write = StreamSpec(unit, (KEY,))
    spec = StreamSpec(unit, (KEY,), cursor_field="modifyTimestamp")
    with ldap(slapd) as conn:
        conn.write(write, PEOPLE[:2])
        time.sleep(1.1)  # modifyTimestamp has one-second resolution
        conn.write(write, PEOPLE[2:])
        full = list(conn.read(spec, batch_size=2))
        assert [b.cursor for b in full[:-1]] == [None]
        first = full[-1].cursor
        assert len(first) == 15 and first.endswith("Z")  # generalized time
        time.sleep(1.1)
        conn.write(write, [{KEY: "1001", "title": "changed"}])
        changed = list(conn.read(spec, since=first))
    # >=: the entry of the cursor's own second comes again; the untouched older one not.
    assert set(records(changed)) == {"1001", "Müller, Hans+1 #ü"}
    assert changed[-1].cursor > first


def test_refused_entries_are_rejected_alone_without_values(slapd: Slapd, unit: str) -> None:
    spec = StreamSpec(unit, (KEY,))
    batch: list[Record] = [
        {KEY: "ok-1", "cn": "A", "sn": "A"},
        {KEY: "no-sn", "cn": "B"},  # inetOrgPerson requires sn
        {KEY: "bad-mail", "cn": "C", "sn": "C", "mail": "zoë@ex"},  # IA5 only
        {"cn": "no key", "sn": "x"},
        {KEY: "ok-2", "cn": "D", "sn": "D"},
    ]
    with ldap(slapd) as conn:
        result = conn.write(spec, batch)
        got = records(list(conn.read(spec)))
    assert result.written == 2 and sorted(got) == ["ok-1", "ok-2"]
    problems = {key: p for key, p in result.rejected}
    assert set(problems) == {"no-sn", "bad-mail", "#4"}
    assert problems["no-sn"].reason == "LDAP objectClassViolation (65)"
    assert problems["no-sn"].field == "sn"
    assert problems["bad-mail"].field == "mail"
    assert "zoë" not in problems["bad-mail"].describe()


def test_delete_is_idempotent(slapd: Slapd, unit: str) -> None:
    spec = StreamSpec(unit, (KEY,))
    with ldap(slapd) as conn:
        conn.write(spec, PEOPLE)
        result = conn.delete(spec, ["1001", ("Müller, Hans+1 #ü",), "never-there"])
        left = records(list(conn.read(spec)))
    assert result.written == 3 and not result.rejected
    assert list(left) == ["王-1002"]


def test_changed_naming_attribute_renames_the_entry(slapd: Slapd, unit: str) -> None:
    spec = StreamSpec(unit, (KEY,))
    with ldap(slapd, rdn_attribute="uid") as conn:
        conn.write(spec, [{KEY: "7", "uid": "zoe", "cn": "Zoë", "sn": "Ø"}])
        result = conn.write(spec, [{KEY: "7", "uid": "zoe.o"}])
        [record] = records(list(conn.read(spec))).values()
    assert result.written == 1 and record["uid"] == "zoe.o" and record["cn"] == "Zoë"
    with admin(slapd) as raw:
        raw.search(f"{unit},{slapd.base_dn}", "(employeeNumber=7)", attributes=["1.1"])
        assert raw.response[0]["dn"].startswith("uid=zoe.o,")


def test_unknown_attribute_stops_the_batch(slapd: Slapd, unit: str) -> None:
    with ldap(slapd) as conn, pytest.raises(FatalConnectorError, match="shoeSize"):
        conn.write(StreamSpec(unit, (KEY,)), [{KEY: "1", "cn": "a", "sn": "b", "shoeSize": 44}])


def test_check_and_errors_name_the_problem_not_the_secret(slapd: Slapd) -> None:
    with ldap(slapd) as conn:
        conn.check()
    with ldap(slapd, password="wrong-password-value") as conn, \
            pytest.raises(FatalConnectorError, match="invalid credentials") as err:
        conn.check()
    assert "wrong-password-value" not in str(err.value)
    with ldap(slapd, base_dn="dc=nothing,dc=test") as conn, \
            pytest.raises(FatalConnectorError, match="not found"):
        conn.check()
    with ldap(slapd, object_class="noSuchClass") as conn, \
            pytest.raises(FatalConnectorError, match="noSuchClass"):
        conn.check()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = LdapSettings(url=f"ldap://127.0.0.1:{port}", bind_dn=slapd.root_dn,
                            password="x", base_dn=slapd.base_dn, connect_timeout=2)
    with LdapConnector(settings, system="directory", base_dir=Path(".")) as conn, \
            pytest.raises(RetriableConnectorError):
        conn.check()
    assert "wrong-password-value" not in repr(LdapSettings(
        url=slapd.url, bind_dn="cn=x", password="wrong-password-value", base_dn="dc=x"))


def test_discover_lists_schema_attributes_and_streams(slapd: Slapd, unit: str) -> None:
    with ldap(slapd) as conn:
        [found] = conn.discover(StreamSpec(unit, (KEY,), cursor_field="modifyTimestamp"))
        units = conn.streams()
    fields = {f["name"]: f for f in found["fields"]}
    assert fields["sn"]["required"] and not fields["mail"]["required"]
    assert fields[KEY]["single_valued"] and fields["mail"]["list"]
    assert fields["modifyTimestamp"]["type"] == "datetime"
    assert fields["modifyTimestamp"]["read_only"]
    assert "userPassword" not in fields and "jpegPhoto" not in fields  # binary: never read
    assert found["key"] == [KEY] and unit in units and "ou=people" in units


def test_discover_with_configured_attributes_names_what_read_returns(slapd: Slapd,
                                                                     unit: str) -> None:
    spec = StreamSpec(unit, (KEY,))
    with ldap(slapd, attributes=["cn", "sn", "title"]) as conn:
        conn.write(spec, PEOPLE[:1])
        [found] = conn.discover(spec)
        [record] = records(list(conn.read(spec))).values()
    assert [f["name"] for f in found["fields"]] == ["cn", "sn", "title", KEY] == list(record)


def test_registered_as_entry_point() -> None:
    from hub import registry
    assert registry.get("ldap") is LdapConnector


def test_kontor_discover_writes_a_starter_employee_mapping(
        slapd: Slapd, unit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hub.cli.main import app

    monkeypatch.setenv("KONTOR_TEST_LDAP_PASSWORD", slapd.password)
    (tmp_path / "kontor.yaml").write_text(f"""version: 1
systems:
  directory:
    connector: ldap
    settings:
      url: {slapd.url}
      bind_dn: "{slapd.root_dn}"
      password: ${{env:KONTOR_TEST_LDAP_PASSWORD}}
      base_dn: "{slapd.base_dn}"
      attributes: [givenName, sn, mail, title]
    streams:
      staff:
        entity: employee
        direction: inbound
        resource: "{unit}"
        key: [employeeNumber]
        mapping: mappings/minimal.yaml
""", encoding="utf-8")
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "minimal.yaml").write_text(
        "entity: employee\nfields:\n  employee_number: employeeNumber\n", encoding="utf-8")
    mapping = tmp_path / "mappings" / "directory_employee.yaml"
    result = CliRunner().invoke(app, [
        "--config", str(tmp_path / "kontor.yaml"), "discover", "directory", "--stream",
        "staff", "--write-mapping", str(mapping), "--json"])
    assert result.exit_code == 0, result.output
    assert slapd.password not in result.output
    text = mapping.read_text(encoding="utf-8")
    for field in ("givenName", "sn", "mail", "title", "employeeNumber"):
        assert field in text
