"""Load test of the API: concurrent clients on 127.0.0.1 against a hub served by uvicorn.

For a record read, a search and a SCIM list (and ``/health`` as the baseline: the framework
and one ``SELECT 1``), it prints requests/s with closed-loop clients, then p50/p99 latency
under an open-loop rate of --rate requests/s (goals at 200 req/s: record read p99 < 20 ms,
search and SCIM list p99 < 50 ms). The hub is served by ``kontor serve --workers N`` (no
scheduler, no delivery worker) in processes of its own, on the demo deployment, on SQLite
and on PostgreSQL. Every phase is bounded in time and in request count. The closed loop
also reports the server's CPU time per request (its processes, from /proc): on a
shared machine the latencies move with the neighbours' load, that figure much less.

The load generator is one thread running asyncio over plain HTTP/1.1 keep-alive
connections (a few dozen microseconds of CPU per request, where an httpx client thread
took about a millisecond of the same two cores the server needs). The open loop sends
each request at its scheduled time and counts its latency from that time, waiting for a
free connection included; a request not answered with 200 within 10 s, or not sent by
twice the phase's duration, counts as an error.

    python bench/api_load.py --customers 3000 --employees 600 --seconds 8 --rate 200
    python bench/api_load.py --customers 100000 --employees 100000   # issue #13, item 7

Up to 4,000 customers and 600 employees come from the demo's sources through a real sync;
beyond that the store is grown by a direct bulk load of sealed clones (``grow``), about
40 s for 100,000 of each on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOAL_P99_MS = 20.0  # record read
GOAL_SEARCH_P99_MS = 50.0  # search and SCIM list (issue #13, item 7)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(config: Path, workers: int) -> Iterator[str]:
    """``kontor serve`` on a free port, as an operator runs it (jobs and deliveries off:
    the bench measures reads)."""
    port = _free_port()
    command = [sys.executable, "-c", "from hub.cli.main import app; app(prog_name='kontor')",
               "--config", str(config), "serve", "--port", str(port), "--no-scheduler",
               "--no-deliver", *(["--workers", str(workers)] if workers != 1 else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("the hub did not start")
        time.sleep(0.2)
    time.sleep(2 if workers > 1 else 0)  # every worker up, not just the first
    SERVER_PIDS[base] = process.pid
    try:
        yield base
    finally:
        SERVER_PIDS.pop(base, None)
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: base URL -> process id of the ``kontor serve`` answering there (its workers are children).
SERVER_PIDS: dict[str, int] = {}


def server_cpu(base: str) -> float:
    """CPU seconds used so far by the server at ``base`` and its worker processes (Linux;
    NaN elsewhere): per request, the figure a shared machine's load does not distort."""
    root = SERVER_PIDS.get(base)
    if root is None or not Path("/proc/self/stat").exists():
        return float("nan")
    parent, used = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = int(fields[11]) + int(fields[12])  # utime + stime
    tree, grown = {root}, True
    while grown:
        more = {pid for pid, ppid in parent.items() if ppid in tree} - tree
        tree |= more
        grown = bool(more)
    return sum(used.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


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
    if hub.engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk load (the test server runs without it):
        # statistics, and the GIN name indexes' pending entries merged (unmerged, every
        # search scans them one by one).
        with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
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


TIMEOUT = 10.0  # seconds for one answer


class Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads whole answers."""

    def __init__(self, base: str, token: str):
        self.host, _, port = base.removeprefix("http://").partition(":")
        self.port = int(port)
        self.head = (f"Host: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
                     "\r\n").encode()
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> bool:
        """True for a 200 answer; False for another status, a broken connection or no
        answer within TIMEOUT (the connection is then dropped, the next opens anew)."""
        try:
            return await asyncio.wait_for(self._get(path), TIMEOUT)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            return False

    async def _get(self, path: str) -> bool:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(f"GET {quote(path, safe='/?=&')} HTTP/1.1\r\n".encode() + self.head)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head[9:12])
        fields = dict(line.split(":", 1) for line in head.split("\r\n")[1:] if ":" in line)
        if "content-length" in fields:
            await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").strip() == "chunked":
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")
        else:
            raise ValueError("an answer without a length")
        if fields.get("connection", "").strip() == "close":
            self.close()
        return status == 200

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


def closed_loop(base: str, token: str, path_of: Callable[[random.Random], str], *,
                clients: int, seconds: float, max_requests: int) -> dict[str, float]:
    """``clients`` connections, each sending its next request when the last one answered."""
    latencies: list[float] = []
    errors = 0

    async def client(n: int, stop: float) -> None:
        nonlocal errors
        rng = random.Random(n)
        connection = Connection(base, token)
        await connection.get("/health")  # connected before the clock starts
        while time.perf_counter() < stop and len(latencies) + errors < max_requests:
            start = time.perf_counter()
            ok = await connection.get(path_of(rng))
            if ok:
                latencies.append((time.perf_counter() - start) * 1000)
            else:
                errors += 1
        connection.close()

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client(n, started + seconds) for n in range(clients)))
        return time.perf_counter() - started

    wall = asyncio.run(main())
    return {"rps": len(latencies) / wall, "p50": _percentile(latencies, 0.5),
            "p99": _percentile(latencies, 0.99), "n": len(latencies), "errors": errors}


def open_loop(base: str, token: str, path_of: Callable[[random.Random], str], *, rate: float,
              seconds: float, connections: int = 16) -> dict[str, float]:
    """Requests scheduled at a fixed ``rate``, each on the next free one of ``connections``;
    latency counts from the scheduled time, so a server that falls behind shows it (no
    coordinated omission). A server far behind is given up on after ``seconds`` more: the
    requests not sent by then count as errors."""
    total = int(rate * seconds)
    latencies: list[float] = []
    lags: list[float] = []  # how late the generator itself sent (counted in latency too)
    errors = 0
    rng = random.Random(1000)

    async def one(free: asyncio.Queue[Connection], path: str, due: float, give_up: float
                  ) -> None:
        nonlocal errors
        try:
            connection = await asyncio.wait_for(free.get(), give_up - time.perf_counter())
        except TimeoutError:
            errors += 1  # never sent: the server was far behind
            return
        ok = await connection.get(path)
        free.put_nowait(connection)
        if ok:
            latencies.append((time.perf_counter() - due) * 1000)
        else:
            errors += 1

    async def main() -> float:
        free: asyncio.Queue[Connection] = asyncio.Queue()
        pool = [Connection(base, token) for _ in range(connections)]
        await asyncio.gather(*(c.get("/health") for c in pool))  # connected beforehand
        for c in pool:
            free.put_nowait(c)
        t0 = time.perf_counter() + 0.05
        give_up = t0 + seconds * 2
        sent = []
        for i in range(total):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append((time.perf_counter() - due) * 1000)
            sent.append(asyncio.create_task(one(free, path_of(rng), due, give_up)))
        await asyncio.gather(*sent)
        for c in pool:
            c.close()
        return time.perf_counter() - t0

    wall = asyncio.run(main())
    return {"rate": rate, "achieved": len(latencies) / wall, "p50": _percentile(latencies, 0.5),
            "p99": _percentile(latencies, 0.99), "n": len(latencies), "errors": errors,
            "lag_p99": _percentile(lags, 0.99)}


def run(label: str, database_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        config, token, ids, names = prepare(Path(tmp) / "demo", args.customers, args.employees,
                                            database_url)
        setup = time.perf_counter() - started
        with served(config, args.workers) as base:
            measure(label, base, token, ids, names, args, setup)


def measure(label: str, base: str, token: str, ids: list[str], names: list[str],
            args: argparse.Namespace, setup: float | None = None) -> None:
    """Every scenario against a served hub: closed loop, then open loop; one line each."""
    print(f"\n{label}: {len(ids)} customers, {args.employees} employees"
          + (f" (set up in {setup:.0f} s)" if setup is not None else "")
          + f"; kontor serve --workers {args.workers}; {args.clients} closed-loop clients, "
          f"open loop on {args.connections} connections; {args.seconds:.0f} s / at most "
          f"{args.max_requests} requests per phase")
    print(f"{'scenario':<20}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms':>8}   |"
          f"{'open loop':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    lag = 0.0
    for name, path_of in scenarios(ids, names).items():
        cpu = server_cpu(base)
        closed = closed_loop(base, token, path_of, clients=args.clients,
                             seconds=args.seconds, max_requests=args.max_requests)
        cpu = (server_cpu(base) - cpu) * 1000 / max(closed["n"], 1)
        fixed = open_loop(base, token, path_of, rate=args.rate, seconds=args.seconds,
                          connections=args.connections)
        lag = max(lag, fixed["lag_p99"])
        verdict = ""
        goal = {"record read": GOAL_P99_MS, "search": GOAL_SEARCH_P99_MS,
                "SCIM list": GOAL_SEARCH_P99_MS}.get(name)
        if goal is not None:
            verdict = "  goal met" if fixed["p99"] < goal and not fixed["errors"] \
                else "  GOAL MISSED"
        print(f"{name:<20}{closed['rps']:>9.0f}{closed['p50']:>9.1f}"
              f"{closed['p99']:>9.1f}{cpu:>8.2f}   |{fixed['achieved']:>7.0f}/s  "
              f"{fixed['p50']:>9.1f}{fixed['p99']:>9.1f}"
              f"{int(closed['errors'] + fixed['errors']):>8}{verdict}", flush=True)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"baseline: /health = framework + one SELECT 1; goals at {args.rate:.0f} req/s: "
          f"record read p99 < {GOAL_P99_MS:.0f} ms, search and SCIM list p99 < "
          f"{GOAL_SEARCH_P99_MS:.0f} ms; CPU ms: the server's CPU time per request in the "
          f"closed loop (all its processes); the generator sent late by {lag:.1f} ms at p99 "
          f"(counted in the latencies); machine load average {load} on "
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
    parser.add_argument("--workers", type=int, default=2,
                        help="API processes (kontor serve --workers); default: one per core "
                             "of this 2-core machine")
    parser.add_argument("--connections", type=int, default=16,
                        help="keep-alive connections of the open loop")
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
