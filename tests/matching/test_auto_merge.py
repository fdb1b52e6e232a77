"""Golden records merge when a new record links them; a chain goes to the steward.

- Two golden records that did not match each other, then a record matching both: one
  golden record, merged through the write path (xrefs moved, the merged one gone at the
  targets, ``golden_merge`` for an unmerge), and the audit trail says why. ``kontor
  steward unmerge`` splits it again, and no later sync merges the pair again.
- Twins (one surname, birth date and address, other first names) and a record "L." that
  matches both: it joins one twin, the twins stay apart, and a review pair says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.audit import signing, verify
from hub.audit.tables import AuditEntry
from hub.context import Hub, open_hub
from hub.store import bulk
from hub.store.matching_tables import GoldenMerge, ReviewPair, SourceKey
from hub.survivorship import review
from hub.survivorship.merging import Steward
from hub.sync.runner import run_sync
from tests.matching.deploy import PERSON, person, system, write_deployment, write_rows
from tests.matching.test_matching_sync import _goldens, _xrefs

DOB = "1980-03-04"
X = person("x", "Anna", "Schmidt", dob=DOB, zip="10115", city="Berlin", tax="DE-77-ANNA")
Y = person("y", "Anna", "Schmidt", street="Hauptstraße 5", zip="10115", city="Berlin",
           phone="030 1234567")
Z = person("z", "Anna", "Schmidt", dob=DOB, street="Hauptstraße 5", zip="10115",
           city="Berlin", phone="030 1234567")


@pytest.fixture
def folder(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    write_deployment(tmp_path, system("crm") + system("shop"), "",
                     {"crm": PERSON, "shop": PERSON})
    return tmp_path


def _entries(hub: Hub, kind: str) -> list[Any]:
    a = bulk.table_of(AuditEntry)
    with hub.engine.connect() as conn:
        return list(conn.execute(select(a.c.outcome, a.c.golden_id, a.c.detail)
                                 .where(a.c.kind == kind).order_by(a.c.seq)))


def test_a_record_linking_two_golden_records_merges_them_and_unmerge_undoes_it(
        folder: Path) -> None:
    write_rows(folder, "crm", [X])
    write_rows(folder, "shop", [Y])
    hub = open_hub(folder / "kontor.yaml")
    try:
        run_sync(hub.deployment, hub.engine)
        first = _xrefs(hub)
        assert first[("crm", "x")] != first[("shop", "y")]  # names alone: not enough
        assert review.pairs(hub) == []
        write_rows(folder, "shop", [Y, Z])  # birth date like x, address and phone like y
        result = run_sync(hub.deployment, hub.engine)
        assert result.status == "success"
        x = _xrefs(hub)
        [golden] = _goldens(hub)
        assert set(x.values()) == {golden["id"]} == {first[("crm", "x")]}  # the oldest
        assert golden["date_of_birth"].isoformat() == DOB and golden["phone"]
        [(_, gone, detail)] = [e for e in _entries(hub, "record.merge")
                                     if e.outcome == "merged_away"]
        assert gone == first[("shop", "y")] and detail["into"] == golden["id"]
        assert detail["record"] == "z" and float(detail["score"]) >= 0.97
        assert {"last", "first", "date_of_birth"} <= set(detail)  # comparison levels
        assert "Schmidt" not in str(detail) and DOB not in str(detail)  # never values
        m = bulk.table_of(GoldenMerge)
        with hub.engine.connect() as conn:
            merge = conn.execute(select(m.c.id, m.c.actor, m.c.run_id)).one()
        assert merge.actor == "auto" and merge.run_id == result.run_id
        report = verify.verify(hub.engine, signing.public_keys(hub.deployment.keyring()))
        assert report.ok, report

        Steward(hub, "customer").unmerge(merge.id, actor="alice")
        back = _xrefs(hub)
        assert back[("shop", "y")] == first[("shop", "y")] != back[("crm", "x")]
        # z keeps its evidence, but the steward's decision stands: no merge again,
        # neither when nothing changed nor when z changes
        run_sync(hub.deployment, hub.engine)
        write_rows(folder, "shop", [Y, {**Z, "phone": "+49 30 1234567"}])
        run_sync(hub.deployment, hub.engine)
        assert len(_goldens(hub)) == 2
        r = bulk.table_of(ReviewPair)
        with hub.engine.connect() as conn:
            assert conn.execute(select(r.c.status)).scalars().all() == ["kept_apart"]
            keys = conn.execute(select(bulk.table_of(SourceKey).c.value)).scalars().all()
        # source records' keys: keyed digests only, never a value (the tax id included)
        assert keys and all(len(k) == 32 and int(k, 16) >= 0 for k in keys)
    finally:
        hub.close()


TWIN_HOME = {"dob": "1990-06-01", "street": "Lindenweg 3", "zip": "04109",
             "city": "Leipzig"}


@pytest.mark.parametrize("one_batch", [True, False])
def test_a_record_matching_both_twins_does_not_chain_them(folder: Path,
                                                          one_batch: bool) -> None:
    twins = [person("1", "Lena", "Vogel", **TWIN_HOME), person("2", "Luise", "Vogel",
                                                                **TWIN_HOME)]
    ambiguous = person("3", "L.", "Vogel", **TWIN_HOME)  # an initial fits both
    write_rows(folder, "crm", twins + [ambiguous] if one_batch else twins)
    write_rows(folder, "shop", [])
    hub = open_hub(folder / "kontor.yaml")
    try:
        run_sync(hub.deployment, hub.engine)
        assert review.pairs(hub) == [] or one_batch  # the twins alone: clearly two
        if not one_batch:
            write_rows(folder, "shop", [{**ambiguous, "id": "3"}])
            run_sync(hub.deployment, hub.engine)
        x = {k: v for (_, k), v in _xrefs(hub).items()}
        assert x["1"] != x["2"]  # never merged through "L."
        assert x["3"] in (x["1"], x["2"])
        assert len(_goldens(hub)) == 2
        [pair] = review.pairs(hub)  # the steward decides whether the twins are one
        assert {pair["golden_a"], pair["golden_b"]} == {x["1"], x["2"]}
        assert pair["evidence"]["guard"] == "household"
        assert pair["source_key"] in ("2", "3") and "Vogel" not in str(pair)
    finally:
        hub.close()
