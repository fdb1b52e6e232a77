"""Tamper with the trail in every way; `verify` must catch each and name where."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from hub.audit import signing, verify
from hub.audit.chain import entry_hash
from hub.audit.tables import AuditEntry
from hub.cli.main import app
from hub.context import Hub, open_hub
from hub.store import bulk

runner = CliRunner()


@pytest.fixture
def trail(starter: Path) -> Iterator[Hub]:
    """A starter deployment synced twice (two signed checkpoints, a dozen entries)."""
    config = str(starter)
    assert runner.invoke(app, ["--config", config, "sync"]).exit_code == 0
    source = starter.parent / "data" / "source" / "customers.csv"
    source.write_text(source.read_text(encoding="utf-8").replace("Jürgen", "Juergen"),
                      encoding="utf-8")
    assert runner.invoke(app, ["--config", config, "sync"]).exit_code == 0
    hub = open_hub(starter)
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
    report = check(trail)
    assert (report.ok, report.seq) == (False, 4) and "does not follow" in report.problem


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
    sql(trail.engine, "DELETE FROM audit_checkpoint")
    assert check(trail).ok  # without the exported copy the rewrite would pass...
    report = check(trail, signing.load_checkpoints(out))
    assert not report.ok  # ...with it, it does not
    # and the exported copy verifies offline with the public key alone
    offline = runner.invoke(app, ["--config", str(trail.deployment.path), "audit", "verify",
                                  "--checkpoints", str(out), "--public-key", str(keys)])
    assert offline.exit_code == 1 and "rewritten" in offline.output


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
