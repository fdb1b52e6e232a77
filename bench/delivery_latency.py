"""Latency from an API write to the target row under `kontor serve`, beside the baseline of
making the same change and running `kontor sync` by hand.

    python bench/delivery_latency.py --writes 50 [--database postgresql://postgres@127.0.0.1/test]

A demo deployment is written to a temporary folder and synced once; `kontor serve` (no
scheduler) is started on a free loopback port; then, one after another, a subscriber's first
name is PATCHed through the API and the newsletter CSV is polled (every 10 ms) until it
holds the new value. Prints p50/p90/p99/max of that latency, then the same for
PATCH + `kontor sync` as a separate process (what a change cost before the delivery
worker: the time to the next sync, at best).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

KONTOR = str(Path(sys.executable).parent / "kontor")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _subscribers(folder: Path) -> dict[str, str]:
    with (folder / "data" / "newsletter" / "subscribers.csv").open(encoding="utf-8") as fh:
        return {r["email"]: r["first_name"] for r in csv.DictReader(fh)}


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return (f"p50 {statistics.median(ordered) * 1000:7.0f} ms   p90 {at(0.9) * 1000:7.0f} ms   "
            f"p99 {at(0.99) * 1000:7.0f} ms   max {ordered[-1] * 1000:7.0f} ms")


class Api:
    def __init__(self, url: str, token: str):
        self.url, self.auth = url, {"Authorization": f"Bearer {token}"}

    def patch_first_name(self, email: str, name: str) -> None:
        [row] = requests.get(f"{self.url}/api/v1/customers", params={"email": email},
                             headers=self.auth, timeout=10).json()["items"]
        done = requests.patch(f"{self.url}/api/v1/customers/{row['id']}",
                              json={"first_name": name}, timeout=10,
                              headers={**self.auth, "If-Match": f'"{row["version"]}"'})
        done.raise_for_status()


def _wait_for(folder: Path, email: str, name: str, started: float, limit: float = 60) -> float:
    while time.monotonic() - started < limit:
        if _subscribers(folder).get(email) == name:
            return time.monotonic() - started
        time.sleep(0.01)
    raise SystemExit(f"{email} never got {name!r} within {limit} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--baseline-writes", type=int, default=10)
    parser.add_argument("--database", help="master store URL (default: the demo's SQLite)")
    args = parser.parse_args()

    from hub.demo import write_demo

    tmp = Path(tempfile.mkdtemp(prefix="kontor-latency-"))
    folder = write_demo(tmp / "demo", customers=500, employees=20, seed=11).config.parent
    env = {**os.environ, "KONTOR_CONFIG": str(folder / "kontor.yaml")}
    admin_db = None
    if args.database:
        name = f"kontor_latency_{uuid.uuid4().hex[:8]}"
        admin_db = create_engine(args.database, isolation_level="AUTOCOMMIT")
        with admin_db.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        env["KONTOR_DATABASE_URL"] = admin_db.url.set(database=name).render_as_string(
            hide_password=False)
    subprocess.run([KONTOR, "sync"], check=False, cwd=folder, env=env, capture_output=True)
    token = json.loads(subprocess.run(
        [KONTOR, "tokens", "create", "--role", "admin", "--json"], cwd=folder, env=env,
        capture_output=True, text=True, check=True).stdout)["token"]
    emails = list(_subscribers(folder))
    port = _free_port()
    server = subprocess.Popen([KONTOR, "serve", "--port", str(port), "--no-scheduler"],
                              cwd=folder, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    api = Api(f"http://127.0.0.1:{port}", token)
    try:
        for _ in range(300):
            try:
                if requests.get(f"{api.url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        served = []
        for n in range(args.writes):
            email, name = emails[n % len(emails)], f"Served{n}"
            started = time.monotonic()
            api.patch_first_name(email, name)
            served.append(_wait_for(folder, email, name, started))
        # Baseline: the same write, then a `kontor sync` as its own process.
        synced = []
        for n in range(args.baseline_writes):
            email, name = emails[n % len(emails)], f"Synced{n}"
            started = time.monotonic()
            api.patch_first_name(email, name)
            subprocess.run([KONTOR, "sync", "newsletter"], check=False, cwd=folder, env=env,
                           capture_output=True)
            synced.append(_wait_for(folder, email, name, started))
    finally:
        server.terminate()
        server.wait(10)
        if admin_db is not None:
            with admin_db.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    store = "PostgreSQL" if args.database else "SQLite"
    print(f"API write -> newsletter CSV row, master store on {store}")
    print(f"  kontor serve (delivery worker), {len(served):3d} writes: {_percentiles(served)}")
    print(f"  write + kontor sync (baseline), {len(synced):3d} writes: {_percentiles(synced)}")
    print(f"  ratio of medians (baseline / serve): "
          f"{statistics.median(synced) / statistics.median(served):.1f}x")


if __name__ == "__main__":
    main()
