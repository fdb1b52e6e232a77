"""Sealing that hides length and presence (issue 14): padded buckets, sealed absence, the
legacy format still opens, and `kontor keys reseal` upgrades a store batch by batch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.canonical import MODELS, builtin_fields
from hub.cli.main import app
from hub.context import open_hub
from hub.demo import write_demo
from hub.golden.writer import GoldenWriter, _writing
from hub.store import bulk, goldens
from hub.store.sealing import field_bucket
from hub.store.tables import Outbox, Quarantine, RecordHistory, SubjectKey
from hub.survivorship.merging import Steward
from policies.envelope import (
    BUCKETS,
    UnreadableValue,
    bucket_for,
    is_padded,
    is_sealed,
    seal,
    seal_v1,
    sealed_length,
    unseal,
)
from tests.privacy.canary import raw_seal_problems, store_file

runner = CliRunner()
KEY = os.urandom(32)


def test_values_of_one_bucket_seal_to_one_length_and_absence_too() -> None:
    values = [None, "clear", "record found", "pending", "GdB 100 (gleichgestellt)", ""]
    sealed = [seal(KEY, v, "employee|E-1|criminal_record_check", bucket=64) for v in values]
    assert {len(s) for s in sealed} == {sealed_length(64)}
    assert [unseal(KEY, s, "employee|E-1|criminal_record_check") for s in sealed] == values
    assert all(is_padded(s) and is_sealed(s) for s in sealed)
    # the legacy format told "clear" from "record found" by length alone
    assert len(seal_v1(KEY, "clear", "a")) != len(seal_v1(KEY, "record found", "a"))


def test_a_long_value_takes_the_next_bucket_only() -> None:
    assert [bucket_for(n, 64) for n in (0, 62, 63, 64, 255, 256, 5000)] == \
        [64, 64, 64, 256, 256, 1024, 8192]
    assert bucket_for(10, 256) == 256
    long = seal(KEY, "x" * 300, "aad", bucket=256)
    assert len(long) == sealed_length(1024) and unseal(KEY, long, "aad") == "x" * 300


def test_legacy_values_still_open_and_tampering_is_refused() -> None:
    old = seal_v1(KEY, {"a": 1}, "aad")
    assert is_sealed(old) and not is_padded(old)
    assert unseal(KEY, old, "aad") == {"a": 1}
    new = seal(KEY, "x", "aad")
    with pytest.raises(UnreadableValue):
        unseal(KEY, new, "other|aad")  # moved to another record or field
    with pytest.raises(UnreadableValue):
        unseal(os.urandom(32), new, "aad")


def test_every_restricted_field_has_a_bucket_its_values_share() -> None:
    for entity in MODELS:
        for spec in builtin_fields(entity).values():
            if spec.restricted:
                assert field_bucket(spec) in BUCKETS[:2], spec.name
    employee = builtin_fields("employee")
    assert field_bucket(employee["iban"]) == 64
    assert field_bucket(employee["disciplinary_notes"]) == 256


def test_a_fresh_store_hides_which_fields_are_filled(tmp_path: Path) -> None:
    """The demo's own data: most health and disciplinary fields are empty, yet every
    restricted column holds a same-size envelope."""
    summary = write_demo(tmp_path / "d", customers=120, employees=40, seed=11)
    assert runner.invoke(app, ["--config", str(summary.config), "sync"]).exit_code in (0, 2)
    assert raw_seal_problems(store_file(summary.config)) == []
    hub = open_hub(summary.config)
    with hub.engine.connect() as conn:
        opened = goldens.read(conn, hub.sealer, "employee", ["E-1001"])["E-1001"]
    hub.close()
    assert any(opened[f] is None for f in ("sick_leave_reason", "disability_status",
                                            "disciplinary_notes"))


def _make_legacy(config: Path) -> dict[str, dict[str, Any]]:
    """Rewrite a store as it was before padding: v1 values, NULL when absent. Returns the
    opened employees."""
    hub = open_hub(config)
    sealer = hub.sealer
    h, q = bulk.table_of(RecordHistory), bulk.table_of(Quarantine)
    opened: dict[str, dict[str, Any]] = {}
    with hub.engine.begin() as conn, _writing():
        for entity in MODELS:
            t = bulk.table_of(MODELS[entity])
            fields = sealer.builtin[entity]
            ids = [r.id for r in conn.execute(select(t.c.id))]
            rows = goldens.read(conn, sealer, entity, ids)
            deks = sealer._keys(conn, entity, ids, create=False)
            for gid, row in rows.items():
                legacy = {f: None if row[f] is None else
                          seal_v1(deks[gid], row[f], f"{entity}|{gid}|{f}")  # type: ignore[arg-type]
                          for f in fields}
                conn.execute(t.update().where(t.c.id == gid).values(
                    **legacy, provenance=row["provenance"]))  # in clear, as it was
                if entity == "employee":
                    opened[gid] = {f: row[f] for f in fields} | {"provenance": row["provenance"]}
            for hid, gid, data in conn.execute(select(h.c.id, h.c.golden_id, h.c.data).where(
                    h.c.entity == entity)).all():
                if not data:
                    continue
                story = dict(data)
                for f in fields:
                    if is_sealed(story.get(f)) and deks[gid] is None:
                        story[f] = None  # no key: absent, sealed under a throwaway key
                    elif is_sealed(story.get(f)):
                        value = unseal(deks[gid], story[f], f"{entity}|{gid}|{f}")  # type: ignore[arg-type]
                        story[f] = None if value is None else \
                            seal_v1(deks[gid], value, f"{entity}|{gid}|{f}")  # type: ignore[arg-type]
                conn.execute(h.update().where(h.c.id == hid).values(data=story))
        for qid, payload in conn.execute(select(q.c.id, q.c.payload).where(
                q.c.payload.is_not(None))).all():
            raw = sealer.open_payload(payload)
            conn.execute(q.update().where(q.c.id == qid).values(payload=raw))  # clear, as v0
    hub.close()
    return opened


def test_reseal_upgrades_a_legacy_store_batch_by_batch_and_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = write_demo(tmp_path / "d", customers=150, employees=40, seed=7)
    config = str(summary.config)
    runner.invoke(app, ["--config", config, "sync"])
    before = _make_legacy(summary.config)
    hub = open_hub(config)  # a steward's merge keeps both rows, as stored, for the unmerge
    merge_id = Steward(hub, "employee").merge("E-1005", "E-1006", actor="tester")
    hub.close()
    db = store_file(summary.config)
    problems = raw_seal_problems(db)
    assert any("NULL" in p for p in problems) and any("lengths" in p for p in problems)
    assert any("merge" in p for p in problems)
    # one subject was shredded before the upgrade: its legacy values can no longer open
    assert runner.invoke(app, ["--config", config, "keys", "forget", "--employee", "E-1004",
                               "--yes"]).exit_code == 0
    hub = open_hub(config)
    o, h = bulk.table_of(Outbox), bulk.table_of(RecordHistory)
    with hub.engine.connect() as conn:
        outbox_before = conn.execute(select(func.count()).select_from(o)).scalar_one()
        versions_before = conn.execute(select(func.count()).select_from(h)).scalar_one()

    # interrupted after two batches: what was done stays done
    calls = {"n": 0}
    original = GoldenWriter.reseal

    def flaky(self, conn, rows, history=()):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return original(self, conn, rows, history)

    monkeypatch.setattr(GoldenWriter, "reseal", flaky)
    failed = runner.invoke(app, ["--config", config, "keys", "reseal", "--batch-size", "20"])
    assert failed.exit_code != 0
    monkeypatch.setattr(GoldenWriter, "reseal", original)
    partly = raw_seal_problems(db)
    assert 0 < len(partly) < len(problems)

    result = runner.invoke(app, ["--config", config, "keys", "reseal", "--batch-size", "20"])
    assert result.exit_code == 0, result.output
    assert raw_seal_problems(db) == []
    again = runner.invoke(app, ["--config", config, "keys", "reseal"])
    assert again.exit_code == 0 and "re-sealed 0 customer records" in again.output

    fresh = open_hub(config)
    with fresh.engine.connect() as conn:
        after = goldens.read(conn, fresh.sealer, "employee", list(before))
        keys = {r.golden_id for r in conn.execute(select(bulk.table_of(SubjectKey)).where(
            bulk.table_of(SubjectKey).c.entity == "employee"))}
        assert conn.execute(select(func.count()).select_from(o)).scalar_one() == outbox_before
        assert conn.execute(select(func.count()).select_from(h)).scalar_one() == versions_before
        history = goldens.read_history(conn, fresh.sealer, "employee", "E-1002")
    fields = fresh.sealer.builtin["employee"]
    for gid, values in before.items():
        if gid in ("E-1005", "E-1006"):
            continue  # merged: checked after the unmerge below
        if gid == "E-1004":  # shredded: restricted values and their provenance are gone
            assert all(after[gid][f] is None and f not in after[gid]["provenance"]
                       for f in fields)
            assert after[gid]["provenance"]["first_name"] == values["provenance"]["first_name"]
        else:
            assert {f: after[gid][f] for f in values} == values, gid
    assert history and history[-1]["data"]["iban"] == before["E-1002"]["iban"]
    assert "E-1004" not in keys  # a shredded subject gets no key back
    Steward(fresh, "employee").unmerge(merge_id, actor="tester")
    with fresh.engine.connect() as conn:
        restored = goldens.read(conn, fresh.sealer, "employee", ["E-1005", "E-1006"])
    for gid in ("E-1005", "E-1006"):
        assert {f: restored[gid][f] for f in before[gid]} == before[gid], gid
    assert raw_seal_problems(db) == []
    assert set(before) - {"E-1004", "E-1006"} <= keys  # the others keep theirs
    fresh.close()
    hub.close()
