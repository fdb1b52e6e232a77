"""Several processes starting at once on a fresh store (two `kontor sync` of different
systems, two instances) migrate it once; none dies on a table the other just created."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from sqlalchemy import inspect

from hub.store.db import make_engine
from hub.store.migrate import upgrade

PROCESSES = 4


def _start(url: str, barrier: multiprocessing.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    engine = make_engine(url)
    barrier.wait(30)  # all at the same moment
    upgrade(engine)
    engine.dispose()


def test_processes_starting_together_migrate_once(database_url: str, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    started = [ctx.Process(target=_start, args=(database_url, barrier))
               for _ in range(PROCESSES)]
    for process in started:
        process.start()
    for process in started:
        process.join(120)
    assert [p.exitcode for p in started] == [0] * PROCESSES
    engine = make_engine(database_url)
    assert {"golden_customer", "outbox", "alembic_version"} <= set(
        inspect(engine).get_table_names())
    engine.dispose()
