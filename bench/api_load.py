"""Load test of the API: concurrent clients on 127.0.0.1 against a hub served by uvicorn.

For a record read, a search and a SCIM list (and ``/health`` as the baseline: the framework
and one ``SELECT 1``), it prints requests/s with closed-loop clients, then p50/p99 latency
under an open-loop rate of --rate requests/s (goal: record read p99 < 20 ms at 200 req/s).
The hub runs in its own process (one uvicorn worker) on the demo deployment, on SQLite and
on PostgreSQL. Every phase is bounded in time and in request count.

    python bench/api_load.py --customers 3000 --employees 600 --seconds 8 --rate 200
    python bench/api_load.py --customers 100000 --employees 100000   # issue #13, item 7

Up to 4,000 customers and 600 employees come from the demo's sources through a real sync;
beyond that the store is grown by a direct bulk load of sealed clones (``grow``), about
40 s for 100,000 of each on SQLite.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import random
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOAL_P99_MS = 20.0  # record read
GOAL_SEARCH_P99_MS = 50.0  # search and SCIM list (issue #13, item 7)


def _serve(config: str, port: int) -> None:
    import uvicorn

    from hub.api.app import create_app
    from hub.context import open_hub

    uvicorn.run(create_app(open_hub(config)), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(config: Path) -> Iterator[str]:
    port = _free_port()
    process = multiprocessing.get_context("spawn").Process(target=_serve,
                                                           args=(str(config), port))
    process.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not process.is_alive():
            raise RuntimeError("the hub did not start")
        time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.join(10)


# The demo's sync builds a realistic store of this size; beyond it, ``grow`` clones it.
SYNCED_CUSTOMERS = 4000
SYNCED_EMPLOYEES = 600


def prepare(folder: Path, customers: int, employees: int, database_url: str | None
            ) -> tuple[Path, str, list[str], list[str]]:
    """Demo deployment, synced, then grown to ``customers``/``employees`` golden records by
    a direct bulk load; returns (config, system token, customer ids, last names)."""
    import datetime as dt
    import re

    from sqlalchemy import select

    from hub.auth import tokens
    from hub.auth.roles import Role
    from hub.canonical import Customer
    from hub.context import open_hub
    from hub.demo import write_demo
    from hub.store import bulk
    from hub.sync.runner import run_sync

    summary = write_demo(folder, customers=min(customers, SYNCED_CUSTOMERS),
                         employees=min(employees, SYNCED_EMPLOYEES), seed=42)
    if database_url:
        text = re.sub(r"(?m)^database:.*$", f"database: {database_url}",
                      summary.config.read_text(encoding="utf-8"))
        summary.config.write_text(text, encoding="utf-8")
    hub = open_hub(summary.config)
    run_sync(hub.deployment, hub.engine)
    for entity, wanted in (("customer", customers), ("employee", employees)):
        grow(hub, entity, wanted)
    if hub.engine.dialect.name == "postgresql":  # statistics, as autovacuum gathers them
        with hub.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    token = tokens.create(hub.engine, role=Role.ADMIN, expires_in=dt.timedelta(hours=2),
                          name="bench").token
    table = bulk.table_of(Customer)
    with hub.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(table.c.id))]
        names = [r[0] for r in conn.execute(select(table.c.last_name))
                 if r[0] and len(r[0]) >= 4]
    hub.close()
    return summary.config, token, ids, names


def grow(hub: Any, entity: str, wanted: int, batch: int = 5000) -> None:
    """Add golden records until ``wanted`` exist: clones of the synced ones with shuffled
    names, fresh ids and unique e-mails, sealed like any golden row, bulk-inserted (a
    benchmark's setup: no history, xrefs or outbox, which the reads measured don't use)."""
    from sqlalchemy import func, select

    from hub.canonical import MODELS
    from hub.store import bulk, goldens

    try:
        refresh = importlib.import_module("hub.store.search_index").refresh
    except ImportError:  # a tree before the search index: the baseline
        refresh = None

    table = bulk.table_of(MODELS[entity])
    with hub.engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(table)).scalar_one()
    if wanted <= have:
        return
    templates = [r for rows in goldens.scan(hub.engine, hub.sealer, entity, 5000) for r in rows]
    firsts = [r["first_name"] for r in templates if r.get("first_name")]
    lasts = [r["last_name"] for r in templates if r.get("last_name")]
    email = "email" if entity == "customer" else "work_email"
    rng = random.Random(7)
    todo = wanted - have
    while todo > 0:
        n = min(batch, todo)
        with hub.engine.begin() as conn:
            ids = bulk.claim_ids(conn, entity, n)
            rows = []
            for gid in ids:
                row = dict(rng.choice(templates))
                row.update(id=gid, version=1, custom=dict(row.get("custom") or {}),
                           provenance=dict(row.get("provenance") or {}),
                           first_name=rng.choice(firsts), last_name=rng.choice(lasts))
                if row.get(email):
                    row[email] = f"{gid.lower()}.{row[email]}"
                for unique in ("customer_number", "employee_number", "external_id",
                               "user_name"):
                    if row.get(unique):
                        row[unique] = f"{row[unique]}-{gid}"
                rows.append(row)
            hub.sealer.seal_goldens(conn, entity, rows)
            bulk.insert_rows(conn, table, rows)
            if refresh is not None:
                refresh(conn, entity)  # as the write path does
        todo -= n


def scenarios(ids: list[str], names: list[str]) -> dict[str, Callable[[random.Random], str]]:
    return {
        "health (baseline)": lambda rng: "/health",
        "record read": lambda rng: f"/api/v1/customers/{rng.choice(ids)}",
        "search": lambda rng: f"/api/v1/customers?limit=20&name={rng.choice(names)[:4]}",
        "SCIM list": lambda rng: (f'/scim/v2/Users?count=20&startIndex={rng.randint(1, 200)}'
                                  '&filter=active eq true&sortBy=name.familyName'),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _get(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.HTTPError:  # a timeout: the server fell far behind
        return False


def closed_loop(base: str, token: str, path_of: Callable[[random.Random], str], *,
                clients: int, seconds: float, max_requests: int) -> dict[str, float]:
    """``clients`` threads, each sending its next request when the last one answered."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                          timeout=10) as client:
            while time.monotonic() < stop:
                with lock:
                    if len(latencies) + errors >= max_requests:
                        return
                start = time.perf_counter()
                ok = _get(client, path_of(rng))
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"rps": len(latencies) / wall, "p50": _percentile(latencies, 0.5),
            "p99": _percentile(latencies, 0.99), "n": len(latencies), "errors": errors}


def open_loop(base: str, token: str, path_of: Callable[[random.Random], str], *, rate: float,
              seconds: float, workers: int = 16) -> dict[str, float]:
    """Requests scheduled at a fixed ``rate``; latency counts from the scheduled time, so a
    server that falls behind shows it (no coordinated omission). A server far behind is
    given up on after ``seconds`` more: the requests not sent by then count as errors."""
    total = int(rate * seconds)
    give_up = seconds * 2
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    next_index = 0
    ready = threading.Barrier(workers + 1)
    t0 = 0.0
    clients = [httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                            timeout=10) for _ in range(workers)]

    def worker(n: int) -> None:
        nonlocal next_index, errors
        rng = random.Random(1000 + n)
        client = clients[n]
        client.get("/health")  # connection open before the clock starts
        ready.wait()
        ready.wait()  # t0 is set between the two barriers
        while True:
            with lock:
                if next_index >= total:
                    return
                if time.perf_counter() > t0 + give_up:
                    errors += total - next_index
                    next_index = total
                    return
                due = t0 + next_index / rate
                next_index += 1
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            ok = _get(client, path_of(rng))
            elapsed = (time.perf_counter() - due) * 1000
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.perf_counter() + 0.05
    ready.wait()
    for t in threads:
        t.join()
    for client in clients:
        client.close()
    achieved = len(latencies) / (time.perf_counter() - t0)
    return {"rate": rate, "achieved": achieved, "p50": _percentile(latencies, 0.5),
            "p99": _percentile(latencies, 0.99), "n": len(latencies), "errors": errors}


def run(label: str, database_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        config, token, ids, names = prepare(Path(tmp) / "demo", args.customers, args.employees,
                                            database_url)
        setup = time.perf_counter() - started
        with served(config) as base:
            print(f"\n{label}: {len(ids)} customers, {args.employees} employees "
                  f"(set up in {setup:.0f} s); "
                  f"{args.clients} closed-loop clients, {args.seconds:.0f} s / at most "
                  f"{args.max_requests} requests per phase")
            print(f"{'scenario':<20}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}   |"
                  f"{'open loop':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
            for name, path_of in scenarios(ids, names).items():
                closed = closed_loop(base, token, path_of, clients=args.clients,
                                     seconds=args.seconds, max_requests=args.max_requests)
                fixed = open_loop(base, token, path_of, rate=args.rate, seconds=args.seconds)
                verdict = ""
                goal = {"record read": GOAL_P99_MS, "search": GOAL_SEARCH_P99_MS,
                        "SCIM list": GOAL_SEARCH_P99_MS}.get(name)
                if goal is not None:
                    verdict = "  goal met" if fixed["p99"] < goal and not fixed["errors"] \
                        else "  GOAL MISSED"
                print(f"{name:<20}{closed['rps']:>9.0f}{closed['p50']:>9.1f}"
                      f"{closed['p99']:>9.1f}   |{fixed['achieved']:>7.0f}/s  "
                      f"{fixed['p50']:>9.1f}{fixed['p99']:>9.1f}"
                      f"{int(closed['errors'] + fixed['errors']):>8}{verdict}")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"baseline: /health = framework + one SELECT 1; goals at {args.rate:.0f} req/s: "
          f"record read p99 < {GOAL_P99_MS:.0f} ms, search and SCIM list p99 < "
          f"{GOAL_SEARCH_P99_MS:.0f} ms; machine load average {load} on "
          f"{os.cpu_count()} CPUs (shared)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--employees", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    for db in args.databases.split(","):
        if db == "sqlite":
            run("SQLite", None, args)
        else:
            from tests.services import fresh_postgres_database

            holder = fresh_postgres_database() if db == "postgresql" else nullcontext(None)
            with holder as url:
                run("PostgreSQL", url, args)


if __name__ == "__main__":
    main()
