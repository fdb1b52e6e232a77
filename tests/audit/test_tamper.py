"""Tamper with the trail in every way; `verify` must catch each and name where."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from hub.audit import signing, verify
from hub.audit.chain import entry_hash
from hub.audit.record import AuditLog
from hub.audit.tables import AuditCheckpoint, AuditEntry
from hub.cli.main import app
from hub.context import Hub, open_hub
from hub.store import bulk
from tests import prepared

runner = CliRunner()


def _synced_twice(config: Path) -> None:
    """Two syncs, a record changed in between: two signed checkpoints, a dozen entries."""
    assert runner.invoke(app, ["--config", str(config), "sync"]).exit_code == 0
    source = config.parent / "data" / "source" / "customers.csv"
    source.write_text(source.read_text(encoding="utf-8").replace("Jürgen", "Juergen"),
                      encoding="utf-8")
    assert runner.invoke(app, ["--config", str(config), "sync"]).exit_code == 0


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Hub]:
    """A starter deployment synced twice (a copy: tests/prepared.py)."""
    hub = open_hub(prepared.copy_of("starter-synced-twice", prepared.write_starter,
                                    _synced_twice, tmp_path / "deploy"))
    yield hub
    hub.close()


def check(hub: Hub, external: list | None = None) -> verify.Report:
    return verify.verify(hub.engine, signing.public_keys(hub.deployment.keyring()), external)


def entries(engine: Engine) -> list[dict]:
    t = bulk.table_of(AuditEntry)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.seq))]


def sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def test_an_untouched_trail_verifies(trail: Hub) -> None:
    report = check(trail)
    assert report.ok, report.problem
    assert report.entries == len(entries(trail.engine)) >= 10
    assert report.checkpoints == 2


def test_an_edited_field_is_found(trail: Hub) -> None:
    sql(trail.engine, "UPDATE audit_entry SET outcome = 'rejected' WHERE seq = 4")
    report = check(trail)
    assert (report.ok, report.seq) == (False, 4) and "altered" in report.problem


def test_a_deleted_entry_is_found(trail: Hub) -> None:
    sql(trail.engine, "DELETE FROM audit_entry WHERE seq = 5")
    report = check(trail)
    assert (report.ok, report.seq) == (False, 5) and "missing" in report.problem


def test_an_inserted_entry_is_found(trail: Hub) -> None:
    rows = entries(trail.engine)
    last = max(r["seq"] for r in rows)
    for seq in range(last, 2, -1):  # make room at 3
        sql(trail.engine, "UPDATE audit_entry SET seq = :new WHERE seq = :old",
            new=seq + 1, old=seq)
    forged = {**rows[2], "seq": 3, "outcome": "sent", "prev_hash": rows[1]["hash"]}
    forged["hash"] = entry_hash(forged)
    with trail.engine.begin() as conn:
        conn.execute(bulk.table_of(AuditEntry).insert().values(**forged))
    report = check(trail)  # named as the inserted one, not the one after it
    assert (report.ok, report.seq) == (False, 3) and "entry 3 was inserted" in report.problem


def test_two_swapped_entries_are_found(trail: Hub) -> None:
    rows = entries(trail.engine)
    a, b = rows[5], rows[6]
    t = bulk.table_of(AuditEntry)
    with trail.engine.begin() as conn:
        conn.execute(t.delete().where(t.c.seq.in_([a["seq"], b["seq"]])))
        conn.execute(t.insert().values(**{**b, "seq": a["seq"]}))
        conn.execute(t.insert().values(**{**a, "seq": b["seq"]}))
    report = check(trail)
    assert (report.ok, report.seq) == (False, a["seq"])


def test_a_truncated_tail_is_found(trail: Hub) -> None:
    rows = entries(trail.engine)
    keep = rows[-3]
    sql(trail.engine, "DELETE FROM audit_entry WHERE seq > :seq", seq=keep["seq"])
    # a careful attacker also moves the head back
    sql(trail.engine, "UPDATE audit_head SET seq = :seq, hash = :hash",
        seq=keep["seq"], hash=keep["hash"])
    report = check(trail)
    assert not report.ok and "truncated" in report.problem
    assert report.seq == keep["seq"] + 1


def _rewrite_from(engine: Engine, seq: int) -> None:
    """Change an entry, then recompute every hash after it: a chain without the key."""
    rows = entries(engine)
    t = bulk.table_of(AuditEntry)
    prev = None
    with engine.begin() as conn:
        for r in rows:
            if r["seq"] < seq:
                prev = r["hash"]
                continue
            if r["seq"] == seq:
                r["outcome"] = "rejected"
            r["prev_hash"] = prev
            r["hash"] = prev = entry_hash(r)
            conn.execute(t.update().where(t.c.seq == r["seq"])
                         .values(outcome=r["outcome"], prev_hash=r["prev_hash"], hash=r["hash"]))
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


def test_a_chain_recomputed_without_the_signing_key_is_found(trail: Hub) -> None:
    _rewrite_from(trail.engine, 3)
    report = check(trail)
    assert not report.ok and "rewritten after it was signed" in report.problem


def test_deleted_checkpoints_are_caught_by_an_exported_copy(trail: Hub, tmp_path: Path
                                                           ) -> None:
    out, keys = tmp_path / "checkpoints.jsonl", tmp_path / "public.json"
    result = runner.invoke(app, ["--config", str(trail.deployment.path), "audit",
                                 "export-checkpoints", str(out), "--public-key", str(keys)])
    assert result.exit_code == 0, result.output
    _rewrite_from(trail.engine, 3)
    # the exported copy verifies offline with the public key alone
    offline = runner.invoke(app, ["--config", str(trail.deployment.path), "audit", "verify",
                                  "--checkpoints", str(out), "--public-key", str(keys)])
    assert offline.exit_code == 1 and "rewritten" in offline.output
    sql(trail.engine, "DELETE FROM audit_checkpoint")
    report = check(trail, signing.load_checkpoints(out))
    assert not report.ok and "checkpoint 1" in report.problem


def test_a_forged_checkpoint_is_found(trail: Hub) -> None:
    sql(trail.engine, "UPDATE audit_checkpoint SET signature = :s WHERE id = 1",
        s="A" * 88)
    report = check(trail)
    assert not report.ok and "signature" in report.problem


def test_cli_verify_exit_codes(trail: Hub) -> None:
    config = str(trail.deployment.path)
    ok = runner.invoke(app, ["--config", config, "audit", "verify"])
    assert ok.exit_code == 0 and "verified" in ok.output
    sql(trail.engine, "UPDATE audit_entry SET actor = 'mallory' WHERE seq = 2")
    bad = runner.invoke(app, ["--config", config, "audit", "verify", "--json"])
    assert bad.exit_code == 1 and '"seq": 2' in bad.output


# --- checkpoints that can't vanish (issue 14, part 4) ----------------------------------


def checkpoints(engine: Engine) -> list[dict]:
    t = bulk.table_of(AuditCheckpoint)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]


def sign(hub: Hub) -> dict:
    with hub.engine.begin() as conn:
        return signing.checkpoint(conn, hub.deployment.keyring())


def _synced_twice_unchanged(config: Path) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["--config", str(config), "sync"])
        assert result.exit_code == 0, result.output


@pytest.fixture
def signed(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    """The trail on SQLite and PostgreSQL, with four chained checkpoints: two syncs (a
    copy, tests/prepared.py), then two more checkpoints. Signed here, after the copy is
    opened: the copy's kontor.yaml names another store, which the trail records as a
    configuration change, and the checkpoints must cover it."""
    hub = open_hub(prepared.copy_of("starter-synced-twice-unchanged", prepared.write_starter,
                                    _synced_twice_unchanged, tmp_path / "deploy",
                                    database_url))
    sign(hub)
    sign(hub)
    yield hub
    hub.close()


def verify_cli(hub: Hub, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(hub.deployment.path), "audit", "verify", *args])


def test_checkpoints_form_a_chain_recorded_in_the_trail(signed: Hub) -> None:
    rows = checkpoints(signed.engine)
    assert [r["n"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["prev"] == "0" * 64
    assert all(b["prev"] == signing.digest(a) for a, b in itertools.pairwise(rows))
    records = [e for e in entries(signed.engine) if e["kind"] == signing.RECORD_KIND]
    assert [(e["detail"]["checkpoint"], e["seq"]) for e in records] == \
        [(r["n"], r["seq"] + 1) for r in rows]
    report = check(signed)
    assert report.ok and report.checkpoints == 4 and report.unsigned_tail == 0
    result = verify_cli(signed)
    assert result.exit_code == 0, result.output


def test_deleting_each_checkpoint_in_turn_is_found(signed: Hub) -> None:
    t = bulk.table_of(AuditCheckpoint)
    for row in checkpoints(signed.engine):
        with signed.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.id == row["id"]))
        report = check(signed)
        assert not report.ok and report.checkpoint == row["n"], (row["n"], report.problem)
        assert f"checkpoint {row['n']} was deleted" in report.problem
        result = verify_cli(signed)
        assert result.exit_code == 1 and "deleted" in result.output
        with signed.engine.begin() as conn:
            conn.execute(t.insert().values(**row))
        assert check(signed).ok


@pytest.mark.parametrize("victims", [[1], [2, 3], [4], [3, 4], [1, 2, 3, 4]],
                         ids=["first", "middle-two", "last", "last-two", "all"])
def test_deleted_checkpoints_fail_verify(signed: Hub, victims: list[int]) -> None:
    sql(signed.engine, f"DELETE FROM audit_checkpoint WHERE n IN ({', '.join(map(str, victims))})")
    report = check(signed)
    assert not report.ok and report.status == "tampered"
    assert f"checkpoint {victims[0]}" in report.problem and "deleted" in report.problem
    assert verify_cli(signed).exit_code == 1


def test_truncated_chain_with_every_checkpoint_deleted_is_found(signed: Hub) -> None:
    rows = entries(signed.engine)
    keep = rows[-4]
    sql(signed.engine, "DELETE FROM audit_entry WHERE seq > :seq", seq=keep["seq"])
    sql(signed.engine, "UPDATE audit_head SET seq = :seq, hash = :hash",
        seq=keep["seq"], hash=keep["hash"])
    sql(signed.engine, "DELETE FROM audit_checkpoint")
    report = check(signed)
    assert not report.ok and "checkpoint 1 was deleted" in report.problem


def test_rehashed_chain_with_every_checkpoint_deleted_is_found(signed: Hub) -> None:
    _rewrite_from(signed.engine, 3)
    sql(signed.engine, "DELETE FROM audit_checkpoint")
    report = check(signed)
    assert not report.ok and "checkpoint 1 was deleted" in report.problem
    assert verify_cli(signed).exit_code == 1


def _strip_and_rehash(engine: Engine) -> int:
    """The strongest attack without the key: drop every checkpoint and every entry that
    records one, renumber and rehash the rest — a trail that looks never signed."""
    rows = [r for r in entries(engine) if r["kind"] != signing.RECORD_KIND]
    t = bulk.table_of(AuditEntry)
    prev = "0" * 64
    with engine.begin() as conn:
        conn.execute(t.delete())
        conn.execute(text("DELETE FROM audit_checkpoint"))
        for seq, r in enumerate(rows, start=1):
            r.update(seq=seq, prev_hash=prev)
            r["hash"] = prev = entry_hash(r)
            conn.execute(t.insert().values(**r))
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"),
                     {"s": len(rows), "h": prev})
    return len(rows)


def test_a_trail_rewritten_as_never_signed_is_an_unsigned_tail(signed: Hub, tmp_path: Path
                                                               ) -> None:
    out = tmp_path / "checkpoints.jsonl"
    signing.export_checkpoints(checkpoints(signed.engine), out)
    count = _strip_and_rehash(signed.engine)
    # inside the database this is a trail never signed: all of it is an unsigned tail...
    report = check(signed)
    assert report.ok and report.unsigned_tail == count and report.notes
    report = verify.verify(signed.engine, signing.public_keys(signed.deployment.keyring()),
                           unsigned_tail_allowance=count - 1)
    assert (report.ok, report.status, report.exit_code) == (False, "unsigned_tail", 3)
    # ...and a copy of the checkpoints kept elsewhere catches it
    report = check(signed, signing.load_checkpoints(out))
    assert not report.ok and report.status == "tampered"


def test_exported_checkpoints_missing_from_the_database_fail(signed: Hub, tmp_path: Path
                                                            ) -> None:
    out = tmp_path / "checkpoints.jsonl"
    signing.export_checkpoints(checkpoints(signed.engine), out)
    # A rollback to a state the store really had: the newest checkpoint, the entry that
    # records it (the last one) and the head moved back. Nothing inside the database can
    # tell this from the past, so verify alone passes...
    rows = entries(signed.engine)
    sql(signed.engine, "DELETE FROM audit_checkpoint WHERE n = 4")
    sql(signed.engine, "DELETE FROM audit_entry WHERE seq = :seq", seq=rows[-1]["seq"])
    sql(signed.engine, "UPDATE audit_head SET seq = :seq, hash = :hash",
        seq=rows[-2]["seq"], hash=rows[-2]["hash"])
    assert check(signed).ok
    # ...but not against the exported copy: exit 1, not a note
    report = check(signed, signing.load_checkpoints(out))
    assert not report.ok and report.checkpoint == 4
    assert "missing from the database" in report.problem
    result = verify_cli(signed, "--checkpoints", str(out))
    assert result.exit_code == 1 and "missing from the database" in result.output


def test_a_replaced_last_checkpoint_is_found(signed: Hub) -> None:
    # the signer itself would carry on after a deleted last checkpoint: the record shows it
    sql(signed.engine, "DELETE FROM audit_checkpoint WHERE n = 4")
    sign(signed)
    report = check(signed)
    assert not report.ok and "checkpoint 4 was replaced" in report.problem


def test_two_inserted_entries_are_named(trail: Hub) -> None:
    rows = entries(trail.engine)
    for seq in range(max(r["seq"] for r in rows), 4, -1):  # make room at 5 and 6
        sql(trail.engine, "UPDATE audit_entry SET seq = :new WHERE seq = :old",
            new=seq + 2, old=seq)
    prev = rows[3]["hash"]
    with trail.engine.begin() as conn:
        for seq in (5, 6):
            forged = {**rows[4], "seq": seq, "actor": "mallory", "prev_hash": prev}
            forged["hash"] = prev = entry_hash(forged)
            conn.execute(bulk.table_of(AuditEntry).insert().values(**forged))
    report = check(trail)
    assert report.seq == 5 and "entries 5 to 6 were inserted" in report.problem


def test_a_deleted_and_renumbered_entry_is_named(trail: Hub) -> None:
    last = max(r["seq"] for r in entries(trail.engine))
    sql(trail.engine, "DELETE FROM audit_entry WHERE seq = 4")
    for seq in range(5, last + 1):
        sql(trail.engine, "UPDATE audit_entry SET seq = :new WHERE seq = :old",
            new=seq - 1, old=seq)
    report = check(trail)
    assert report.seq == 4 and "entry 4 was deleted" in report.problem


def test_a_changed_and_rehashed_entry_is_named(trail: Hub) -> None:
    row = entries(trail.engine)[4]
    row["outcome"] = "rejected"
    sql(trail.engine, "UPDATE audit_entry SET outcome = 'rejected', hash = :h WHERE seq = 5",
        h=entry_hash(row))
    report = check(trail)
    assert report.seq == 5 and "entry 5 was changed" in report.problem


@pytest.mark.parametrize("seq", [1_000_000, 0, -7])
def test_a_far_out_of_range_entry_is_named(trail: Hub, seq: int) -> None:
    rows = entries(trail.engine)
    forged = {**rows[-1], "seq": seq, "prev_hash": rows[-1]["hash"]}
    forged["hash"] = entry_hash(forged)
    with trail.engine.begin() as conn:
        conn.execute(bulk.table_of(AuditEntry).insert().values(**forged))
    report = check(trail)
    assert report.seq == seq and "inserted" in report.problem, report.problem


def test_an_entry_appended_past_the_head_is_named(trail: Hub) -> None:
    rows = entries(trail.engine)
    forged = {**rows[-1], "seq": rows[-1]["seq"] + 1, "prev_hash": rows[-1]["hash"]}
    forged["hash"] = entry_hash(forged)
    with trail.engine.begin() as conn:
        conn.execute(bulk.table_of(AuditEntry).insert().values(**forged))
    report = check(trail)
    assert report.seq == forged["seq"] and "inserted after the end" in report.problem


def _add_entries(hub: Hub, count: int) -> None:
    log = AuditLog(hub.deployment.keyring(), "test")
    for _ in range(count):
        log.add("read", "done")
    with hub.engine.begin() as conn:
        log.flush(conn)


def test_an_unsigned_tail_beyond_the_allowance_fails(signed: Hub) -> None:
    path = signed.deployment.path
    path.write_text(path.read_text(encoding="utf-8") + "\naudit_unsigned_tail: 3\n",
                    encoding="utf-8")
    assert verify_cli(signed).exit_code == 0  # records the configuration change
    sign(signed)
    _add_entries(signed, 3)
    within = verify_cli(signed)
    assert within.exit_code == 0 and "3 entries past the last checkpoint" in within.output
    _add_entries(signed, 1)
    beyond = verify_cli(signed)
    assert beyond.exit_code == 3 and "--allow-unsigned-tail" in beyond.output
    assert '"status": "unsigned_tail"' in verify_cli(signed, "--json").output
    allowed = verify_cli(signed, "--allow-unsigned-tail")
    assert allowed.exit_code == 0 and "4 entries past the last checkpoint" in allowed.output
    sign(signed)
    assert verify_cli(signed).exit_code == 0


def test_legacy_checkpoints_start_the_chain(starter: Path) -> None:
    """Checkpoints signed before the chain (n NULL, as the migration leaves them) stay
    valid; the first chained checkpoint links to the last of them."""
    hub = open_hub(starter)
    try:
        private = signing._private(hub.deployment.keyring())
        legacy = []
        for _ in range(2):
            _add_entries(hub, 2)
            with hub.engine.connect() as conn:
                tip = conn.execute(text("SELECT seq, hash FROM audit_head")).one()
            at = dt.datetime.now(dt.UTC)
            row = {"seq": tip.seq, "hash": tip.hash, "at": at,
                   "key_id": signing.fingerprint(private.public_key()),
                   "signature": base64.b64encode(private.sign(
                       signing.message(tip.seq, tip.hash, at))).decode()}
            with hub.engine.begin() as conn:
                conn.execute(bulk.table_of(AuditCheckpoint).insert().values(**row))
            legacy.append(row)
        first = sign(hub)
        assert first["n"] == 1 and first["prev"] == signing.digest(checkpoints(hub.engine)[1])
        report = check(hub)
        assert report.ok and report.checkpoints == 3, report.problem
        sql(hub.engine, "DELETE FROM audit_checkpoint WHERE n IS NULL AND seq = :seq",
            seq=legacy[-1]["seq"])
        report = check(hub)
        assert not report.ok and "checkpoint 1 does not follow" in report.problem
    finally:
        hub.close()
