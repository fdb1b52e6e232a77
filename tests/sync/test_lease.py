"""One run per system at a time, on SQLite and on PostgreSQL with two "instances"."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import delete

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


def _lease_held_by(engine, holder: str) -> None:  # type: ignore[no-untyped-def]
    t = bulk.table_of(JobLease)
    with engine.begin() as conn:  # a lease that would not expire for a long time
        conn.execute(t.insert().values(name="sync:crm", holder=holder,
                                       expires_at=dt.datetime.now(dt.UTC) +
                                       dt.timedelta(minutes=10)))


def _state(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 1:].split()[0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_zombie_holder_is_taken_over_at_once(engine) -> None:  # type: ignore[no-untyped-def]
    # A killed run under a PID 1 that does not reap: the process exited, nobody waited.
    child = subprocess.Popen(["sh", "-c", "exit 0"])
    try:
        for _ in range(500):
            if _state(child.pid) == "Z":
                break
            time.sleep(0.01)
        assert _state(child.pid) == "Z"
        os.kill(child.pid, 0)  # the trap: signal 0 calls a zombie alive
        for holder in (f"{socket.gethostname()}:{child.pid}:0123abcd",  # the older form
                       lease.holder_id().replace(f":{os.getpid()}:", f":{child.pid}:", 1)):
            with engine.begin() as conn:
                conn.execute(delete(bulk.table_of(JobLease)))
            _lease_held_by(engine, holder)
            with lease.held(engine, ["sync:crm"]) as mine:
                assert mine != holder
    finally:
        child.wait()  # reap it


def test_a_live_holder_on_this_machine_is_respected(engine) -> None:  # type: ignore[no-untyped-def]
    child = subprocess.Popen(["sleep", "60"])
    try:
        start = lease._start_time(child.pid) or ""
        for holder in (f"{socket.gethostname()}:{child.pid}:{start}:0123abcd",
                       f"{socket.gethostname()}:{child.pid}:0123abcd"):  # the older form
            with engine.begin() as conn:
                conn.execute(delete(bulk.table_of(JobLease)))
            _lease_held_by(engine, holder)
            with pytest.raises(lease.Busy, match=f"synced by {holder} until"), \
                    lease.held(engine, ["sync:crm"]):
                pass
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_reused_pid_is_not_the_holder(engine) -> None:  # type: ignore[no-untyped-def]
    # The lease names a live pid, but the process with that pid started at another time.
    start = lease._start_time(os.getppid())
    assert start is not None
    holder = f"{socket.gethostname()}:{os.getppid()}:{int(start) + 1}:0123abcd"
    _lease_held_by(engine, holder)
    with lease.held(engine, ["sync:crm"]) as mine:
        assert mine != holder


def test_a_process_that_is_gone_is_not_the_holder(engine) -> None:  # type: ignore[no-untyped-def]
    child = subprocess.Popen(["sh", "-c", "exit 0"])
    child.wait()  # exited and reaped: its pid names nothing now
    holder = f"{socket.gethostname()}:{child.pid}:0123abcd"
    _lease_held_by(engine, holder)
    with lease.held(engine, ["sync:crm"]) as mine:
        assert mine != holder
