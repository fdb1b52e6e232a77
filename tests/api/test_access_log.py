"""The restricted-read log under concurrent requests: reads written together (group commit)
still each get their log row and one audit entry per record, and a request never returns
before its read is committed, nor succeeds when that write fails."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from hub.api import access_log
from hub.audit import query
from hub.auth.roles import Role
from hub.auth.tables import RestrictedReadLog
from hub.auth.tokens import Caller
from hub.store import bulk
from tests.api.kit import Served

READS = 24


def _log_rows(served: Served) -> list[dict[str, Any]]:
    log = bulk.table_of(RestrictedReadLog)
    with served.hub.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(log).order_by(log.c.id))]


def test_concurrent_reads_each_logged_and_traced(fresh: Served,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    before = len(_log_rows(fresh))
    keyring = fresh.hub.sealer.envelope.keyring
    batches: list[int] = []
    write = access_log._write

    def slow_write(engine, batch):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        threading.Event().wait(0.02)  # a write long enough for others to queue behind it
        write(engine, batch)

    monkeypatch.setattr(access_log, "_write", slow_write)
    seen_committed: list[bool] = []

    def read(n: int) -> None:
        ids = [f"E-9{n:03d}", f"E-8{n:03d}"]
        access_log.record_restricted_read(
            fresh.hub.engine, caller=Caller(n, f"t{n}", Role.READER), channel="scim",
            entity="employee", golden_ids=ids, fields=["iban"], keyring=keyring)
        # returned: the read is committed, visible to any other connection
        with fresh.hub.engine.connect() as conn:
            traced = query.trace(conn, "employee", ids[0])
        seen_committed.append(any(e["kind"] == "read.restricted" for e in traced))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(read, range(READS)))
    assert seen_committed == [True] * READS
    assert sum(batches) == READS and len(batches) < READS  # some written together
    rows = _log_rows(fresh)[before:]
    assert sorted(r["token_id"] for r in rows) == list(range(READS))
    for r in rows:
        n = r["token_id"]
        assert r["golden_ids"] == sorted([f"E-9{n:03d}", f"E-8{n:03d}"])
        assert (r["role"], r["channel"], r["fields"]) == ("reader", "scim", ["iban"])
    with fresh.hub.engine.connect() as conn:
        for n in range(READS):
            for golden_id in (f"E-9{n:03d}", f"E-8{n:03d}"):
                entries = [e for e in query.trace(conn, "employee", golden_id)
                           if e["kind"] == "read.restricted"]
                assert len(entries) == 1
                assert entries[0]["actor"] == f"api:token {n} (reader)"
                assert entries[0]["destination"] == "scim:reader"
                assert entries[0]["detail"] == {"fields": ["iban"]}
        total = conn.execute(select(func.count()).select_from(
            bulk.table_of(RestrictedReadLog))).scalar_one()
    assert total == before + READS


def test_a_failed_write_fails_every_request_it_held(fresh: Served,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def failing(engine, batch):  # type: ignore[no-untyped-def]
        release.wait(2)
        raise RuntimeError("the store refused the write")

    monkeypatch.setattr(access_log, "_write", failing)
    before = len(_log_rows(fresh))

    def read(n: int) -> str:
        try:
            access_log.record_restricted_read(
                fresh.hub.engine, caller=Caller(n, "t", Role.READER), channel="api",
                entity="employee", golden_ids=["E-1001"], fields=["iban"])
        except RuntimeError as exc:
            return str(exc)
        return "returned"

    with ThreadPoolExecutor(4) as pool:
        results = [pool.submit(read, n) for n in range(4)]
        threading.Event().wait(0.2)
        release.set()
        outcomes = [r.result() for r in results]
    assert outcomes == ["the store refused the write"] * 4
    assert len(_log_rows(fresh)) == before


def _hold_write_lock(served: Served, seconds: float, held: threading.Event) -> None:
    """Another process's writer (a sync, another API worker): the store's write lock."""
    with served.hub.engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        held.set()
        threading.Event().wait(seconds)
        conn.exec_driver_sql("ROLLBACK")


def test_a_read_logged_while_another_writer_holds_the_store_waits_for_it(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    if served.hub.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    before = len(_log_rows(served))
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(served, 0.3, held))
    holder.start()
    held.wait(5)
    try:
        access_log.record_restricted_read(  # fails at once on the lock, tries again
            served.hub.engine, caller=Caller(1, "t1", Role.READER), channel="scim",
            entity="employee", golden_ids=["E-9999"], fields=["iban"],
            keyring=served.hub.sealer.envelope.keyring)
    finally:
        holder.join()
    assert len(_log_rows(served)) == before + 1

    monkeypatch.setattr(access_log, "LOCKED_WAIT_SECONDS", 0.05)
    held.clear()
    holder = threading.Thread(target=_hold_write_lock, args=(served, 0.5, held))
    holder.start()
    held.wait(5)
    try:
        with pytest.raises(OperationalError, match="locked"):  # gives up, as told
            access_log.record_restricted_read(
                served.hub.engine, caller=Caller(1, "t1", Role.READER), channel="scim",
                entity="employee", golden_ids=["E-9998"], fields=["iban"],
                keyring=served.hub.sealer.envelope.keyring)
    finally:
        holder.join()
    assert len(_log_rows(served)) == before + 1  # nothing of the failed write
