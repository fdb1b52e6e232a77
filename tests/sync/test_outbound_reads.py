"""The outbound path reads, decrypts and releases only what a stream needs, and sends
exactly what the privacy gate's reference path (``PrivacyGate.release`` over the whole
golden record) would: conditions on fields the mapping does not send, custom fields,
transforms, denied and unclassified fields, ``only_if`` on a custom field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.context import open_hub
from hub.store import bulk, goldens
from hub.store import sealing as sealing_module
from hub.store.tables import Customer
from hub.sync import outbound
from hub.sync.runner import run_sync
from policies.gate import Destination, PrivacyGate
from policies.load import PolicySet
from policies.spec import Action, Rule
from tests.privacy.test_gate_properties import DESTS, ENTITY, KEYRING, SPECS
from tests.privacy.test_gate_properties import records as gate_records
from tests.privacy.test_gate_properties import rules as gate_rules

SOURCE = """id,first_name,last_name,email,birthday,country,newsletter,tier,tax_id,changed_at
1001,Zoë,Ødegård,zoe@example.org,1985-04-12,no,yes,gold,DE-1234567,2026-01-10T09:00:00
1002,Jürgen,Müller,j.mueller@example.org,1979-11-02,de,no,silver,DE-7654321,2026-02-01T12:30:00
1003,Ana,Silva,ana@example.org,1990-01-01,pt,yes,,,2026-02-03T08:00:00
1004,Li,Wei,li@example.org,,cn,,gold,CN-42,2026-02-04T08:00:00
"""

STREAMS = """  crm:
    connector: csv
    settings: {directory: data/crm}
    streams:
      people:
        entity: customer
        direction: outbound
        resource: people.csv
        key: [number]
        mapping: mappings/crm_out.yaml
      gold:
        entity: customer
        direction: outbound
        resource: gold.csv
        key: [number]
        only_if: {loyalty_tier: gold}
        mapping: mappings/crm_gold.yaml
"""

CRM_OUT = """entity: customer
fields:
  customer_number: number
  email: mail
  first_name: first
  last_name: last
  loyalty_tier: tier
  tax_id: tax
  country: land
"""

CRM_GOLD = """entity: customer
fields:
  customer_number: number
  last_name: last
"""

RULES = """  - id: crm-number
    to: [crm]
    field: customer_number
    action: allow
  - id: crm-mail-with-consent
    to: [crm]
    category: user.contact.email
    when: {marketing_consent: true}
    action: allow
  - id: crm-names
    to: [crm]
    category: user.name
    action: allow
  - id: crm-last-name-masked-without-consent
    to: [crm]
    field: last_name
    when: {marketing_consent: false}
    action: mask
    params: {keep_first: 1, keep_last: 0}
  - id: crm-tier-pseudonymised
    to: [crm]
    field: loyalty_tier
    action: pseudonymise
  - id: crm-tax-masked
    to: [crm]
    field: tax_id
    action: mask
    params: {keep_last: 2}
"""


def _deployment(starter: Path) -> Path:
    folder = starter.parent
    (folder / "data" / "source" / "customers.csv").write_text(SOURCE, encoding="utf-8")
    shop = folder / "mappings" / "shop_customer.yaml"
    shop.write_text(shop.read_text(encoding="utf-8") + "  tax_id: tax_id\n", encoding="utf-8")
    (folder / "mappings" / "crm_out.yaml").write_text(CRM_OUT, encoding="utf-8")
    (folder / "mappings" / "crm_gold.yaml").write_text(CRM_GOLD, encoding="utf-8")
    (folder / "data" / "crm").mkdir()
    text = starter.read_text(encoding="utf-8")
    anchor = "systems:\n"
    assert text.count(anchor) == 1
    starter.write_text(text.replace(anchor, anchor + STREAMS), encoding="utf-8")
    policy = folder / "policies" / "starter.yaml"
    ptext = policy.read_text(encoding="utf-8")
    assert ptext.count("rules:\n") == 1
    policy.write_text(ptext.replace("rules:\n", "rules:\n" + RULES), encoding="utf-8")
    return starter


def _capture(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, dict[str, Any]]]:
    """What every outbound stream hands its connector: resource -> golden id -> record."""
    sent: dict[str, dict[str, dict[str, Any]]] = {}
    real = outbound.deliver

    def spy(connector: Any, spec: Any, records: dict[str, Any]) -> Any:
        sent.setdefault(spec.resource, {}).update({g: p[0] for g, p in records.items()})
        return real(connector, spec, records)

    monkeypatch.setattr(outbound, "deliver", spy)
    return sent


def _reference(config: Path, stream_name: str) -> dict[str, dict[str, Any]]:
    """The records the gate's reference path gives, from whole golden records."""
    hub = open_hub(config)
    stream = next(s for s in hub.deployment.streams("outbound") if s.name == stream_name
                  and s.system == "crm")
    gate = hub.deployment.gate(hub.deployment.keyring())
    specs = hub.deployment.fields["customer"]
    builtin = [n for n, s in specs.items() if not s.custom]
    t = bulk.table_of(Customer)
    with hub.engine.connect() as conn:
        ids = list(conn.execute(select(t.c.id)).scalars())
        rows = goldens.read(conn, hub.sealer, "customer", ids)
    hub.close()
    out = {}
    for gid, row in rows.items():
        golden = {**{f: row[f] for f in builtin}, **row["custom"]}
        if any(golden.get(k) != v for k, v in stream.config.only_if.items()):
            continue
        released, _ = gate.release(
            "customer", {f: golden.get(f) for f in stream.mapping.canonical_fields},
            Destination(stream.label, "system", stream.config.purpose),
            record=golden, record_id=gid)
        out[gid] = stream.mapping.outbound(released)
    return out


def test_targets_get_what_the_reference_gate_path_gives(
        starter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _deployment(starter)
    sent = _capture(monkeypatch)
    hub = open_hub(config)
    result = run_sync(hub.deployment, hub.engine)
    hub.close()
    assert result.status == "success", result
    people, gold = sent["people.csv"], sent["gold.csv"]
    assert people == _reference(config, "people")
    assert gold == _reference(config, "gold")
    assert len(people) == 4 and len(gold) == 2  # 1001 and 1004 are gold
    by_number = {r["number"]: r for r in people.values()}
    # The condition reads consent, which the mapping does not send.
    assert by_number["1001"]["mail"] == "zoe@example.org"
    assert "mail" not in by_number["1002"]
    assert by_number["1002"]["last"] == "M*****"  # masked without consent
    assert by_number["1001"]["last"] == "Ødegård"
    # Restricted and custom values are opened and transformed; no rule: never sent.
    assert by_number["1001"]["tax"].endswith("67") and "DE-12345" not in by_number["1001"]["tax"]
    assert by_number["1001"]["tier"] not in (None, "gold")
    assert by_number["1001"]["tier"] == by_number["1004"]["tier"]
    assert all("land" not in r for r in people.values())


def test_a_delivery_opens_only_the_restricted_fields_it_sends(
        starter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _deployment(starter)
    hub = open_hub(config)
    assert run_sync(hub.deployment, hub.engine).status == "success"
    opened: list[bytes] = []
    real = sealing_module.unseal_with

    def spy(aead: Any, value: str, aad: bytes) -> Any:
        opened.append(aad)
        return real(aead, value, aad)

    monkeypatch.setattr(sealing_module, "unseal_with", spy)
    t = bulk.table_of(Customer)
    with hub.engine.connect() as conn:
        ids = list(conn.execute(select(t.c.id)).scalars())
        rows = goldens.read(conn, hub.sealer, "customer", ids,
                            fields=["customer_number", "last_name"])
    assert opened == []  # tax_id (sealed in every row) and its provenance stay shut
    assert all(set(r) == {"id", "customer_number", "last_name", "custom"} for r in rows.values())
    assert all(r["custom"] == {} for r in rows.values())
    with hub.engine.connect() as conn:
        rows = goldens.read(conn, hub.sealer, "customer", ids,
                            fields=["tax_id", "loyalty_tier"])
    assert opened and {a.rsplit(b"|", 1)[1] for a in opened} == {b"tax_id"}
    full = {}
    with hub.engine.connect() as conn:
        full = goldens.read(conn, hub.sealer, "customer", ids)
    for gid, row in rows.items():
        assert row["tax_id"] == full[gid]["tax_id"]
        assert row["custom"] == {k: v for k, v in full[gid]["custom"].items()
                                 if k == "loyalty_tier"}
    assert any(r["tax_id"] == "DE-1234567" for r in rows.values())
    hub.close()


departments = st.sampled_from(["IT", "HR", "Sales"])


def _with_departments(pairs: list[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
    """Records whose departments meet the rules' conditions (``department: IT``/``HR``)."""
    return [{**record, "department": department} for record, department in pairs]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=gate_rules(), batch=st.lists(st.tuples(gate_records, departments), min_size=1,
                                          max_size=6).map(_with_departments),
       dest=st.sampled_from(DESTS),
       fields=st.lists(st.sampled_from([*SPECS, "shoe_size"]), min_size=1, max_size=8))
def test_the_compiled_release_decides_and_releases_as_the_gate(
        rules: list[Rule], batch: list[dict[str, Any]], dest: Destination,
        fields: list[str]) -> None:
    gate = PrivacyGate({ENTITY: {n: s.category for n, s in SPECS.items()}},
                       PolicySet(rules, {}, "sha256:test"), KEYRING)
    releaser = gate.releaser(ENTITY, fields, dest)
    assert set(releaser.condition_fields) <= {"department"}
    for i, record in enumerate(batch):  # records share compiled decisions: each its own
        expected, decided = gate.release(ENTITY, {f: record.get(f) for f in fields}, dest,
                                         record=record, record_id=f"E-{i}")
        released, decisions = releaser.release(record, record, f"E-{i}")
        assert decisions == decided
        assert list(released) == list(expected)
        for d in decisions:
            if d.action is Action.ENCRYPT and record.get(d.field):  # a random nonce each time
                assert released[d.field] != record[d.field]
            elif d.action is not Action.DENY:
                assert released[d.field] == expected[d.field], d
