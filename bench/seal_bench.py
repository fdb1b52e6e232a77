"""Benchmark: the cost of sealing that hides length and presence (issue 14).

Side by side, the legacy format (``sealed:v1:``, unpadded, absent = NULL) and the padded one
(``sealed:v2:``, every value padded to its field's bucket, absent sealed too):

1. bytes per sealed value and seal / open operations per second, per restricted field, on
   the demo's own values (empty fields included, as they occur);
2. the master store of a demo deployment after ``kontor sync``: file size with the legacy
   format and with the padded one (after ``kontor keys reseal``), both VACUUMed, and the
   time the reseal took.

    python bench/seal_bench.py [--customers 2000 --employees 300 --ops 20000]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select
from typer.testing import CliRunner

from hub.canonical import MODELS, builtin_fields
from hub.cli.main import app
from hub.config import load
from hub.context import open_hub
from hub.demo import write_demo
from hub.golden.writer import _writing
from hub.store import bulk, goldens
from hub.store.sealing import field_bucket
from hub.store.tables import RecordHistory
from policies.envelope import cipher, is_sealed, seal, seal_v1, seal_with, unseal

runner = CliRunner()


def _rate(fn: Callable[[], Any], n: int, repeat: int = 3) -> float:
    """Operations per second, the median of ``repeat`` runs of ``n``."""
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def _demo_values(folder: Path, customers: int, employees: int) -> tuple[Path, dict[str, list]]:
    summary = write_demo(folder, customers=customers, employees=employees, seed=1234)
    result = runner.invoke(app, ["--config", str(summary.config), "sync"])
    if result.exit_code not in (0, 2):
        raise SystemExit(f"kontor sync failed: {result.output}")
    hub = open_hub(summary.config)
    values: dict[str, list] = {}
    with hub.engine.connect() as conn:
        t = bulk.table_of(MODELS["employee"])
        ids = [r.id for r in conn.execute(select(t.c.id))]
        rows = goldens.read(conn, hub.sealer, "employee", ids)
    for name in hub.sealer.builtin["employee"]:
        values[name] = [r[name] for r in rows.values()]
    hub.close()
    return summary.config, values


def micro(values: dict[str, list], ops: int) -> None:
    key = os.urandom(32)
    specs = builtin_fields("employee")
    print(f"{'field':<24}{'filled':>8}{'v1 bytes':>10}{'v2 bytes':>10}"
          f"{'v1 seal/s':>12}{'v2 seal/s':>12}{'v1 open/s':>12}{'v2 open/s':>12}")
    totals = {"v1": 0, "v2": 0}
    for name, column in values.items():
        bucket = field_bucket(specs[name])
        aad = f"employee|E-1001|{name}"
        # v1: absent values were NULL (no bytes); v2: every value is an envelope
        v1 = [seal_v1(key, v, aad) if v is not None else None for v in column]
        v2 = [seal(key, v, aad, bucket=bucket) for v in column]
        v1_bytes = statistics.mean(len(s) if s else 0 for s in v1)
        v2_bytes = statistics.mean(len(s) for s in v2)
        totals["v1"] += sum(len(s) if s else 0 for s in v1)
        totals["v2"] += sum(len(s) for s in v2)
        filled = [v for v in column if v is not None] or ["x"]
        sample, sealed1 = filled[0], seal_v1(key, filled[0], aad)
        sealed2 = seal(key, sample, aad, bucket=bucket)
        n = max(ops // 4, 100)
        rates = [_rate(partial(seal_v1, key, sample, aad), n),
                 _rate(partial(seal, key, sample, aad, bucket=bucket), n),
                 _rate(partial(unseal, key, sealed1, aad), n),
                 _rate(partial(unseal, key, sealed2, aad), n)]
        share = sum(v is not None for v in column) / max(len(column), 1)
        print(f"{name:<24}{share:>7.0%} {v1_bytes:>9.1f} {v2_bytes:>9.1f}"
              + "".join(f"{r:>12,.0f}" for r in rates))
    print(f"{'all restricted columns':<24}{'':>8}{totals['v1']:>10,}{totals['v2']:>10,}"
          f"   (bytes, {len(next(iter(values.values())))} employees)")


def batch(config: Path) -> None:
    """Sealing one write's rows, side by side: per value, a cipher made for each (``seal``)
    against one cipher per data key (``seal_with``, what the write path uses); and the
    Sealer sealing golden and history rows in two passes (a data-key look-up each) against
    one (``seal_write``). Every value still gets its own nonce. Rolled back."""
    hub = open_hub(config)
    sealer, entity = hub.sealer, "employee"
    builtin = list(builtin_fields(entity))
    with hub.engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(bulk.table_of(MODELS[entity]).c.id))]
        rows = list(goldens.read(conn, sealer, entity, ids).values())
        deks = sealer._keys(conn, entity, ids)
    fields, custom = sealer.builtin[entity], sealer.custom[entity]
    throwaway = os.urandom(32)
    # (data key, value, AAD) of every restricted value: golden, provenance, history
    work = [(deks[r["id"]] or throwaway, r[f] if f in fields else r["custom"].get(f),
             f"{entity}|{r['id']}|{aad}")
            for r in rows for f in fields + custom for aad in (f, f"provenance.{f}", f)]

    def per_value() -> int:
        for dek, value, aad in work:
            seal(dek, value, aad, bucket=64)
        return len(work)

    def per_key() -> int:
        made: dict[bytes, Any] = {}
        for dek, value, aad in work:
            aead = made.get(dek) or made.setdefault(dek, cipher(dek))
            seal_with(aead, value, aad.encode(), 64)
        return len(work)

    def copies() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return ([{**r, "custom": dict(r["custom"]), "provenance": dict(r["provenance"])}
                 for r in rows],
                [{"golden_id": r["id"], "data": {f: r[f] for f in builtin} |
                  {"custom": dict(r["custom"])}} for r in rows])

    def sealed(fn: Callable[[Any, list[dict[str, Any]], list[dict[str, Any]]], None]
               ) -> Callable[[], float]:
        def run() -> float:
            fresh, history = copies()  # not timed
            with hub.engine.connect() as conn:
                start = time.perf_counter()
                fn(conn, fresh, history)
                took = time.perf_counter() - start
                conn.rollback()
            return len(work) / took
        return run

    def two_passes(conn: Any, fresh: list[dict[str, Any]], history: list[dict[str, Any]]
                   ) -> None:
        sealer.seal_goldens(conn, entity, fresh)
        sealer.seal_history(conn, entity, history)

    def one_pass(conn: Any, fresh: list[dict[str, Any]], history: list[dict[str, Any]]
                 ) -> None:
        sealer.seal_write(conn, entity, fresh, history)

    print(f"sealing one write of {len(rows)} employees ({len(work):,} values)"
          f"{'values/s':>12}")
    print(f"  {'seal: a cipher per value':<52}{_rate(per_value, 1) * len(work):>12,.0f}")
    print(f"  {'seal_with: a cipher per data key':<52}{_rate(per_key, 1) * len(work):>12,.0f}")
    for label, fn in (("Sealer: goldens and history, two key look-ups", two_passes),
                      ("Sealer.seal_write: one look-up", one_pass)):
        print(f"  {label:<52}{statistics.median(sealed(fn)() for _ in range(3)):>12,.0f}")
    hub.close()


def _make_legacy(config: Path) -> None:
    """Rewrite the store as a pre-padding hub left it: v1 values, NULL when absent."""
    hub = open_hub(config)
    sealer, h = hub.sealer, bulk.table_of(RecordHistory)
    with hub.engine.begin() as conn, _writing():
        for entity in MODELS:
            t, fields = bulk.table_of(MODELS[entity]), sealer.builtin[entity]
            ids = [r.id for r in conn.execute(select(t.c.id))]
            deks = sealer._keys(conn, entity, ids, create=False)
            for gid, row in goldens.read(conn, sealer, entity, ids).items():
                conn.execute(t.update().where(t.c.id == gid).values(**{
                    f: None if row[f] is None else
                    seal_v1(deks[gid], row[f], f"{entity}|{gid}|{f}")  # type: ignore[arg-type]
                    for f in fields}, provenance=row["provenance"]))
            for hid, gid, data in conn.execute(select(h.c.id, h.c.golden_id, h.c.data).where(
                    h.c.entity == entity)).all():
                story = dict(data or {})
                for f in fields:
                    if is_sealed(story.get(f)) and deks[gid] is None:
                        story[f] = None  # no key: absent, sealed under a throwaway key
                    elif is_sealed(story.get(f)):
                        value = unseal(deks[gid], story[f], f"{entity}|{gid}|{f}")  # type: ignore[arg-type]
                        story[f] = None if value is None else seal_v1(
                            deks[gid], value, f"{entity}|{gid}|{f}")  # type: ignore[arg-type]
                conn.execute(h.update().where(h.c.id == hid).values(data=story))
    hub.close()


def _size(config: Path) -> int:
    db = Path(load(config).database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
    return db.stat().st_size


def store(config: Path) -> None:
    _make_legacy(config)
    legacy = _size(config)
    start = time.perf_counter()
    result = runner.invoke(app, ["--config", str(config), "keys", "reseal"])
    took = time.perf_counter() - start
    if result.exit_code:
        raise SystemExit(f"kontor keys reseal failed: {result.output}")
    padded = _size(config)
    print(f"store after demo sync (VACUUMed): legacy {legacy / 1024:,.0f} KiB, "
          f"padded {padded / 1024:,.0f} KiB ({(padded - legacy) / legacy:+.1%}); "
          f"kontor keys reseal took {took:.2f} s")
    done = " ".join(result.output[result.output.find("re-sealed"):].split())
    print(f"  ({done})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--employees", type=int, default=300)
    parser.add_argument("--ops", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config, values = _demo_values(Path(tmp) / "demo", args.customers, args.employees)
        micro(values, args.ops)
        batch(config)
        store(config)


if __name__ == "__main__":
    main()
