"""The outbox's set-based statements and row versions: a record that changes while its
previous version is on the way to a target stays due (the newer version is sent too);
failed attempts count, back off and dead-letter per row; dead letters can be revived or
discarded; a batch of any size is one statement per target stream."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select

from hub.context import open_hub
from hub.store import bulk, outbox
from hub.store.tables import Delivery, Outbox
from hub.survivorship.overrides import set_override
from hub.sync import outbound
from hub.sync.runner import run_sync
from tests.services import fresh_postgres_database

S = ("target", "people")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    from sqlmodel import SQLModel

    def made(url: str) -> Engine:
        e = create_engine(url)
        SQLModel.metadata.create_all(e, tables=[bulk.table_of(Outbox), bulk.table_of(Delivery)])
        return e

    if request.param == "sqlite":
        e = made(f"sqlite:///{tmp_path / 'o.db'}")
        yield e
        e.dispose()
    else:
        with fresh_postgres_database() as url:
            e = made(url)
            yield e
            e.dispose()


def _rows(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    with engine.connect() as conn:
        return {(r["stream"], r["golden_id"]): r for r in outbox.listing(conn, limit=100_000)}


def test_a_record_changed_while_on_the_way_stays_due(engine: Engine) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, "customer", ["C-1", "C-2", "C-3"], [S])
    with engine.connect() as conn:
        tokens = outbox.due(conn, *S, "", 10)
    assert list(tokens) == ["C-1", "C-2", "C-3"]
    with engine.begin() as conn:  # C-2 changes while the batch is being written
        outbox.enqueue(conn, "customer", ["C-2"], [S])
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        outbox.acknowledge(conn, *S, 7, now, {g: (f"key-{g}", f"hash-{g}") for g in tokens},
                           tokens)
    assert list(_rows(engine)) == [("people", "C-2")]  # its newer version is still due
    with engine.connect() as conn:
        assert list(outbox.due(conn, *S, "", 10)) == ["C-2"]
        delivered = conn.execute(select(bulk.table_of(Delivery).c.golden_id,
                                        bulk.table_of(Delivery).c.target_key)).all()
    assert sorted(delivered) == [("C-1", "key-C-1"), ("C-2", "key-C-2"), ("C-3", "key-C-3")]


def test_a_stale_refusal_does_not_dead_letter_the_newer_version(engine: Engine) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, "customer", ["C-1", "C-2"], [S])
    with engine.connect() as conn:
        tokens = outbox.due(conn, *S, "", 10)
    with engine.begin() as conn:
        outbox.enqueue(conn, "customer", ["C-2"], [S])
    with engine.begin() as conn:
        assert outbox.failed(conn, *S, ["C-1", "C-2"], "refused", dead=True,
                             tokens=tokens) == 1
    rows = _rows(engine)
    assert rows[("people", "C-1")]["status"] == "dead"
    assert (rows[("people", "C-2")]["status"], rows[("people", "C-2")]["attempts"]) == (
        "pending", 0)


def test_failed_attempts_back_off_then_go_dead(engine: Engine) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, "customer", ["C-1", "C-2"], [S])
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        with engine.begin() as conn:
            dead = outbox.failed(conn, *S, ["C-1", "C-2"], "the target is down")
        rows = _rows(engine)
        assert {r["attempts"] for r in rows.values()} == {attempt}
        if attempt < outbox.MAX_ATTEMPTS:
            assert dead == 0
            assert {r["status"] for r in rows.values()} == {"pending"}
            assert all(r["next_attempt_at"] is not None for r in rows.values())
            with engine.connect() as conn:  # backing off: not due before its time
                waiting = outbox.due(conn, *S, "", 10)
            assert set(waiting) <= {"C-1", "C-2"}
        else:
            assert dead == 2
            assert {r["status"] for r in rows.values()} == {"dead"}
    with engine.connect() as conn:
        assert outbox.due(conn, *S, "", 10) == {}
    with engine.begin() as conn:  # a change brings a dead letter back to life
        outbox.enqueue(conn, "customer", ["C-1"], [S])
    assert _rows(engine)[("people", "C-1")]["status"] == "pending"
    assert _rows(engine)[("people", "C-1")]["attempts"] == 0
    with engine.begin() as conn:
        assert outbox.revive(conn, "other") == 0  # scoped to a system
        outbox.CHANGED.clear()
        assert outbox.revive(conn) == 1
        assert outbox.CHANGED.is_set()  # `kontor serve` delivers it without waiting
        outbox.failed(conn, *S, ["C-2"], "refused", dead=True)
        assert outbox.discard(conn, *S) == 1
    assert list(_rows(engine)) == [("people", "C-1")]


def test_a_large_batch_is_one_statement_per_stream(engine: Engine) -> None:
    ids = [f"C-{n}" for n in range(40_000)]  # beyond any bound-parameter limit
    streams = [S, ("target", "others")]
    statements: list[str] = []

    def count(conn, cursor, statement, *args: Any) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.begin() as conn:
            outbox.enqueue(conn, "customer", ids + ids[:5], streams)  # duplicates too
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sum("INSERT INTO outbox" in s for s in statements) == 2
    with engine.connect() as conn:
        tokens = outbox.due(conn, *S, "", 50_000)
    assert len(tokens) == 40_000
    with engine.begin() as conn:
        outbox.acknowledge(conn, *S, 1, dt.datetime.now(dt.UTC),
                           {g: ("k" + g, "h") for g in tokens}, tokens)
    with engine.connect() as conn:
        depth = outbox.depth(conn)
    assert depth == {("target", "others", "pending"): 40_000}


def _subscribers(folder: Path) -> dict[str, str]:
    with open(folder / "data" / "target" / "subscribers.csv", encoding="utf-8") as fh:
        return {r["email"]: r["first_name"] for r in csv.DictReader(fh)}


def test_a_change_made_during_delivery_reaches_the_target(
        starter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A steward's override lands while the first sync is writing the record out: the sync
    sends the older version, and the next one the override (before, the acknowledgement
    took the newer change out of the outbox with the older one, and it never arrived)."""
    hub = open_hub(starter)
    real = outbound.deliver
    changed: list[str] = []

    def deliver_and_change(connector, spec, sent):  # type: ignore[no-untyped-def]
        if not changed and sent:
            gid = next(iter(sent))
            set_override(hub, "customer", gid, "first_name", "Overridden", actor="tester")
            changed.append(gid)
        return real(connector, spec, sent)

    monkeypatch.setattr(outbound, "deliver", deliver_and_change)
    try:
        run_sync(hub.deployment, hub.engine)
        assert changed
        assert "Overridden" not in _subscribers(starter.parent).values()  # the older one
        with hub.engine.connect() as conn:
            waiting = outbox.due(conn, "mailing", "subscribers", "", 100)
        assert list(waiting) == changed
        run_sync(hub.deployment, hub.engine)
        assert "Overridden" in _subscribers(starter.parent).values()
        with hub.engine.connect() as conn:
            assert outbox.due(conn, "mailing", "subscribers", "", 100) == {}
    finally:
        hub.close()
