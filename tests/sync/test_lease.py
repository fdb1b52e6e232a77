"""One run per system at a time, on SQLite and on PostgreSQL with two "instances"."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from hub.store import bulk
from hub.store.db import make_engine
from hub.store.migrate import upgrade
from hub.store.tables import JobLease
from hub.sync import lease


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_a_second_instance_waits_its_turn(engine) -> None:  # type: ignore[no-untyped-def]
    second = make_engine(engine.url.render_as_string(hide_password=False))  # another process
    with lease.held(engine, ["sync:crm", "sync:payroll"]):
        with pytest.raises(lease.Busy, match="sync:payroll is being synced by"), \
                lease.held(second, ["sync:payroll"]):
            pass
        with lease.held(second, ["sync:hr"]):  # other systems are free
            pass
    with lease.held(second, ["sync:payroll"]):  # released after the first run
        pass
    second.dispose()


def test_a_crashed_holder_is_taken_over_after_expiry(engine) -> None:  # type: ignore[no-untyped-def]
    t = bulk.table_of(JobLease)
    with engine.begin() as conn:  # a lease left behind by an instance that was killed
        conn.execute(t.insert().values(name="sync:crm", holder="dead-host:1:x",
                                       expires_at=dt.datetime.now(dt.UTC) +
                                       dt.timedelta(seconds=1)))
    with pytest.raises(lease.Busy), lease.held(engine, ["sync:crm"]):
        pass
    time.sleep(1.2)
    with lease.held(engine, ["sync:crm"]) as holder:
        assert holder != "dead-host:1:x"


def test_all_or_none_and_no_overlap_under_contention(engine) -> None:  # type: ignore[no-untyped-def]
    inside, overlaps, runs = [], [], []

    def job(n: int) -> None:
        for _ in range(5):
            try:
                with lease.held(engine, ["sync:crm"]):
                    inside.append(n)
                    if len(inside) > 1:
                        overlaps.append(tuple(inside))
                    time.sleep(0.01)
                    inside.remove(n)
                    runs.append(n)
            except lease.Busy:
                time.sleep(0.005)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert overlaps == [] and runs  # never two at once, and work got done


def test_the_heartbeat_keeps_a_long_run_alive(engine) -> None:  # type: ignore[no-untyped-def]
    t = bulk.table_of(JobLease)
    with lease.held(engine, ["sync:crm"], ttl=dt.timedelta(seconds=0.6)):
        time.sleep(1.0)  # longer than the TTL: the heartbeat renewed it
        with engine.connect() as conn:
            row = conn.execute(t.select()).one()
        assert row.expires_at.replace(tzinfo=dt.UTC) > dt.datetime.now(dt.UTC)
