"""Benchmark and proof harness for issue 11: two syncs of different sources at once.

`kontor sync crm` and `kontor sync billing` feed one entity (customer). Run as two
processes at the same moment, they must leave exactly the golden records and xrefs that
running them one after the other leaves. Golden ids depend on the order of writes, so a
store is compared in a canonical form: the partition of the (system, source_key) xrefs into
golden records, the golden count, each golden record's values and which system supplied
each value (both keyed by its xrefs, not its id), and the review pairs (likewise).

Race mode (the default) writes a demo deployment (`kontor demo`) with a small
`batch_size`, so that the two syncs' batches interleave, then repeats: fresh copy and
fresh store, both syncs at once, compare with the sequential runs (crm then billing, and
billing then crm). Every sync is a separate process of this checkout's `kontor`.

    python bench/race_bench.py --repeat 20 --customers 8000 --employees 600 --db sqlite
    python bench/race_bench.py --repeat 20 --customers 8000 --employees 600 --db postgres
    python bench/race_bench.py --repeat 3 --no-guard     # the race without the entity lock

Guard mode times a full `kontor sync` (every system, inbound and outbound, fresh store
each time) with the concurrency guard on and off (`KONTOR_NO_ENTITY_LOCK=1`, meant for
this measurement only), in turn A B A B ..., and prints median seconds, records/s and the
on/off ratio, taken pair by pair: of the whole process (interpreter start included) and of
the run itself (its sync_run row's start to finish).

    python bench/race_bench.py --guard-cost --repeat 7 --customers 8000 --db sqlite
    python bench/race_bench.py --guard-cost --workload sync-bench --rows 100000

`--workload sync-bench` times the deployment of bench/sync_bench.py (one SQLite source
table, one CSV target, batch_size 5000) instead of the demo.

PostgreSQL: a new database per store on ``KONTOR_TEST_POSTGRES``
(default postgresql://postgres@127.0.0.1:5432/test), dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: This checkout's CLI, whatever `kontor` is first on PATH.
KONTOR = [sys.executable, "-c", "from hub.cli.main import app; app()"]
POSTGRES_ADMIN_URL = os.environ.get("KONTOR_TEST_POSTGRES",
                                    "postgresql://postgres@127.0.0.1:5432/test")
#: Exit codes a sync may end with here: 0, or "records refused" (the demo's dirty records),
#: which is 1 today and 2 once exit codes are split (issue 11, item 5).
ACCEPTED_EXIT = (0, 1, 2)
#: Golden columns that depend on the order of writes, not on what was merged.
BOOKKEEPING = {"id", "version", "created_at", "updated_at", "provenance"}
TIMEOUT = 600

Member = tuple[str, str]  # (system, source_key)
Group = frozenset[Member]
#: Makes a fresh master store for one run: yields its URL, or None for the deployment's own
#: SQLite file.
NewStore = Callable[[], contextlib.AbstractContextManager[str | None]]


# -- deployments and stores -------------------------------------------------------------


def make_demo(folder: Path, *, customers: int, employees: int, batch_size: int,
              seed: int = 1234) -> Path:
    """`kontor demo FOLDER` with ``batch_size`` set in its kontor.yaml; returns FOLDER."""
    run_kontor(["demo", str(folder), "--customers", str(customers), "--employees",
                str(max(employees, 10)), "--seed", str(seed)], cwd=ROOT, check=True)
    config = folder / "kontor.yaml"
    text, n = re.subn(r"(?m)^batch_size: *\d+", f"batch_size: {batch_size}",
                      config.read_text(encoding="utf-8"))
    if n != 1:
        raise RuntimeError(f"no top-level batch_size in {config}")
    config.write_text(text, encoding="utf-8")
    return folder


def copy_deployment(template: Path, target: Path) -> Path:
    """A fresh copy of a deployment, without any store the template may have."""
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("kontor.db*"))
    return target


@contextlib.contextmanager
def store(db: str) -> Iterator[str | None]:
    """A fresh, empty master store: None for SQLite (the deployment's own kontor.db, new in
    every copy), or the URL of a new PostgreSQL database, dropped afterwards."""
    if db == "sqlite":
        yield None
        return
    import psycopg

    admin = psycopg.conninfo.conninfo_to_dict(POSTGRES_ADMIN_URL.replace("+psycopg", ""))
    name = f"kontor_race_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    host, port, user = admin.get("host", "127.0.0.1"), admin.get("port", 5432), admin["user"]
    try:
        yield f"postgresql://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def kontor_env(url: str | None, *, guard: bool = True) -> dict[str, str]:
    """The environment of a `kontor` process: this checkout first on the path, the given
    store (or the deployment's own), the concurrency guard on unless told otherwise."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KONTOR_FAULT", "KONTOR_DATABASE_URL", "KONTOR_NO_ENTITY_LOCK",
                        "KONTOR_CONFIG")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    if url:
        env["KONTOR_DATABASE_URL"] = url
    if not guard:
        env["KONTOR_NO_ENTITY_LOCK"] = "1"
    return env


#: How a `kontor` process starts: None, a fresh interpreter (``subprocess.Popen``). The
#: tests set tests.kontor_process.KontorProcess: a process forked from pre-imported
#: modules, which skips the interpreter's start-up (not measured here) and has the
#: ``wait``/``kill``/``returncode`` used below.
PROCESS: Callable[..., Any] | None = None


def start_kontor(args: Sequence[str], *, cwd: Path, env: dict[str, str], stdout: Path,
                 stderr: Path) -> Any:
    """`kontor ARGS` started, its output into the two files."""
    if PROCESS is not None:
        return PROCESS(list(args), cwd=cwd, env=env, stdout=stdout, stderr=stderr)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        return subprocess.Popen([*KONTOR, *args], cwd=cwd, env=env, stdout=out, stderr=err)


def run_kontor(args: Sequence[str], *, cwd: Path, url: str | None = None,
               check: bool = False, guard: bool = True) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="kontor-run-") as scratch:
        out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
        process = start_kontor(args, cwd=cwd, env=kontor_env(url, guard=guard), stdout=out,
                               stderr=err)
        try:
            code = process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        done = subprocess.CompletedProcess(list(args), code,
                                           out.read_text(encoding="utf-8", errors="replace"),
                                           err.read_text(encoding="utf-8", errors="replace"))
    if check and done.returncode != 0:
        raise RuntimeError(f"kontor {' '.join(args)} exited {done.returncode}:\n"
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done


def migrate(folder: Path, url: str | None) -> None:
    """Create the store's schema up front (`kontor status`), as the issue's reproducer
    does, so that what races is the syncs, not two migrations of an empty database."""
    run_kontor(["status"], cwd=folder, url=url, check=True)


# -- syncs ------------------------------------------------------------------------------


@dataclasses.dataclass
class Sync:
    """One `kontor sync SYSTEM --json` process, its output in files (no pipe to fill)."""

    folder: Path
    systems: list[str]
    url: str | None
    guard: bool = True
    process: Any = None  # subprocess.Popen, or what PROCESS makes
    started: float = 0.0
    seconds: float = 0.0
    returncode: int | None = None
    report: dict[str, Any] | None = None
    stderr: str = ""

    @property
    def label(self) -> str:
        return " ".join(self.systems) or "(all)"

    def start(self) -> Sync:
        tag = "-".join(self.systems) or "all"
        self._out = self.folder / f"sync-{tag}.out"
        self._err = self.folder / f"sync-{tag}.err"
        self.started = time.perf_counter()
        self.process = start_kontor(["sync", *self.systems, "--json"], cwd=self.folder,
                                    env=kontor_env(self.url, guard=self.guard),
                                    stdout=self._out, stderr=self._err)
        return self

    def wait(self) -> Sync:
        assert self.process is not None
        try:
            self.returncode = self.process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.returncode = self.process.wait()
        self.seconds = time.perf_counter() - self.started
        self.stderr = self._err.read_text(encoding="utf-8", errors="replace")
        with contextlib.suppress(ValueError):
            self.report = json.loads(self._out.read_text(encoding="utf-8"))
        return self

    def problems(self) -> list[str]:
        """Why this sync does not count as a normal run (empty: it does): an exit code
        other than success or records refused, no JSON report, a stream that failed."""
        found = []
        if self.returncode not in ACCEPTED_EXIT:
            found.append(f"exit code {self.returncode}")
        if "is being synced by" in self.stderr:
            found.append("lease conflict: " + self.stderr.strip().splitlines()[-1])
        if self.report is None:
            tail = "; ".join(self.stderr.strip().splitlines()[-3:])
            found.append(f"no JSON report (stderr: {tail[-600:]})")
        else:
            found += [f"{s['system']}.{s['stream']} failed: {s['error']}"
                      for s in self.report.get("streams", []) if s.get("error")]
            if self.report.get("status") == "failed":
                found.append("run status failed")
        return [f"kontor sync {self.label}: {p}" for p in found]

    def records_read(self, direction: str = "inbound") -> int:
        return sum(s["read"] for s in (self.report or {}).get("streams", [])
                   if s["direction"] == direction)


def sequential(folder: Path, url: str | None, order: Sequence[str]) -> list[Sync]:
    """One system after the other, each its own process."""
    return [Sync(folder, [system], url).start().wait() for system in order]


def race(folder: Path, url: str | None, systems: Sequence[str], *,
         guard: bool = True) -> list[Sync]:
    """Every system's sync started at once, each its own process; waits for all."""
    syncs = [Sync(folder, [system], url, guard=guard).start() for system in systems]
    return [s.wait() for s in syncs]


# -- the canonical form of a store ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A master store's customers, independent of golden ids."""

    goldens: int
    #: the xrefs of each golden record, as a set of (system, source_key)
    partition: frozenset[Group]
    #: golden records without any xref (never expected here)
    orphans: int
    #: xref group -> (column, value) of every non-bookkeeping column, and
    #: (field, supplying system) from the provenance
    values: dict[Group, tuple[tuple[str, Any], ...]]
    #: (group a, group b, status) of every review pair, the groups in sorted order
    review: frozenset[tuple[Group, Group, str]]

    @property
    def xrefs(self) -> int:
        return sum(len(g) for g in self.partition)

    def same_as(self, other: Snapshot) -> bool:
        return (self.goldens == other.goldens and self.partition == other.partition
                and self.orphans == other.orphans and self.values == other.values
                and self.review == other.review)

    def differences(self, reference: Snapshot) -> str:
        """What sets this store apart from ``reference``, in a line."""
        if self.same_as(reference):
            return "identical"
        extra = self.partition - reference.partition
        missing = reference.partition - self.partition
        delta = self.goldens - reference.goldens
        parts = [f"goldens {self.goldens:,} vs {reference.goldens:,} ({delta:+,})"]
        if extra or missing:
            parts.append(f"{len(extra):,} golden groups not in the reference, "
                         f"{len(missing):,} reference groups missing "
                         f"(xrefs {self.xrefs:,} vs {reference.xrefs:,})")
        shared = self.partition & reference.partition
        changed = sum(1 for g in shared if self.values[g] != reference.values[g])
        if changed:
            parts.append(f"{changed:,} golden records with other values")
        if self.review != reference.review:
            parts.append(f"review pairs {len(self.review):,} vs {len(reference.review):,}")
        if self.orphans != reference.orphans:
            parts.append(f"goldens without xrefs {self.orphans} vs {reference.orphans}")
        return "; ".join(parts)


def _plain(value: Any) -> Any:
    from policies.envelope import is_sealed

    if is_sealed(value):
        return "<sealed>"  # ciphertext is bound to the golden id: compare presence only
    if isinstance(value, str) and value.startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            value = json.loads(value)  # SQLite returns JSON columns as text
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value if value is None or isinstance(value, bool | int | float) else str(value)


def snapshot(folder: Path, url: str | None, entity: str = "customer") -> Snapshot:
    """Read the store of the deployment in ``folder`` (or at ``url``) in canonical form."""
    from sqlalchemy import text

    from hub.store.db import make_engine

    engine = make_engine(url or f"sqlite:///{folder / 'kontor.db'}")
    try:
        with engine.connect() as conn:
            members: dict[str, set[Member]] = defaultdict(set)
            for system, key, golden in conn.execute(text(
                    "SELECT system, source_key, golden_id FROM xref WHERE entity = :e"),
                    {"e": entity}):
                members[golden].add((system, key))
            rows = [dict(r._mapping) for r in conn.execute(
                text(f"SELECT * FROM golden_{entity}"))]
            pairs = conn.execute(text("SELECT golden_a, golden_b, status FROM review_pair "
                                      "WHERE entity = :e"), {"e": entity}).all()
    finally:
        engine.dispose()
    group = {g: frozenset(m) for g, m in members.items()}
    values: dict[Group, tuple[tuple[str, Any], ...]] = {}
    orphans = 0
    for row in rows:
        if row["id"] not in group:
            orphans += 1
            continue
        provenance = row["provenance"]
        if isinstance(provenance, str):
            provenance = json.loads(provenance)
        content = [(k, _plain(v)) for k, v in row.items() if k not in BOOKKEEPING]
        content += [(f"from:{f}", p.get("system")) for f, p in (provenance or {}).items()]
        values[group[row["id"]]] = tuple(sorted(content, key=lambda kv: kv[0]))
    empty: Group = frozenset()
    review = frozenset(
        (*sorted((group.get(a, empty), group.get(b, empty)), key=sorted), status)
        for a, b, status in pairs)
    return Snapshot(goldens=len(rows), partition=frozenset(group.values()), orphans=orphans,
                    values=values, review=review)  # type: ignore[arg-type]


# -- one whole experiment ---------------------------------------------------------------


def interleaving(folder: Path, url: str | None, entity: str = "customer") -> float:
    """Seconds during which both systems' batches were being written: the overlap of the
    spans of their xrefs' batch times (negative: the second began after the first ended).
    Shows that a race really interleaved, on this machine, with this much data."""
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.db import make_engine
    from hub.store.tables import Xref

    t = bulk.table_of(Xref)
    engine = make_engine(url or f"sqlite:///{folder / 'kontor.db'}")
    try:
        with engine.connect() as conn:
            spans: dict[str, list[Any]] = defaultdict(list)
            for system, at in conn.execute(select(t.c.system, t.c.updated_at)
                                           .where(t.c.entity == entity)):
                spans[system].append(at)
    finally:
        engine.dispose()
    if len(spans) < 2:
        return float("-inf")
    start = max(min(v) for v in spans.values())
    end = min(max(v) for v in spans.values())
    return float((end - start).total_seconds())


def run_seconds(folder: Path, url: str | None) -> float:
    """How long the store's last run took by its own record (sync_run started to finished):
    the sync itself, without interpreter start, configuration and migration check."""
    from sqlalchemy import select

    from hub.store import bulk
    from hub.store.db import make_engine
    from hub.store.tables import SyncRun

    t = bulk.table_of(SyncRun)
    engine = make_engine(url or f"sqlite:///{folder / 'kontor.db'}")
    try:
        with engine.connect() as conn:
            started, finished = conn.execute(select(t.c.started_at, t.c.finished_at)
                                             .order_by(t.c.id.desc()).limit(1)).one()
    finally:
        engine.dispose()
    return float((finished - started).total_seconds())


@dataclasses.dataclass
class Outcome:
    snapshot: Snapshot
    syncs: list[Sync]
    seconds: float
    interleaved: float  # see interleaving()

    def problems(self) -> list[str]:
        return [p for s in self.syncs for p in s.problems()]


def run_once(template: Path, workdir: Path, new_store: NewStore, *, systems: Sequence[str],
             concurrent: bool, guard: bool = True) -> Outcome:
    """A fresh copy and a fresh store; the syncs of ``systems``, at once or in that order."""
    folder = copy_deployment(template, workdir / f"run-{uuid.uuid4().hex[:8]}")
    try:
        with new_store() as url:
            migrate(folder, url)
            start = time.perf_counter()
            syncs = (race(folder, url, systems, guard=guard) if concurrent
                     else sequential(folder, url, systems))
            seconds = time.perf_counter() - start
            return Outcome(snapshot(folder, url), syncs, seconds, interleaving(folder, url))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def references(template: Path, workdir: Path, new_store: NewStore,
               systems: Sequence[str]) -> dict[str, Outcome]:
    """The sequential runs: in the given order and in the reverse one."""
    orders = [list(systems), list(reversed(systems))]
    return {" then ".join(o): run_once(template, workdir, new_store, systems=o,
                                       concurrent=False) for o in orders}


def matching_reference(got: Snapshot, refs: dict[str, Outcome]) -> str | None:
    """The name of the sequential order whose store ``got`` equals, if any."""
    return next((name for name, ref in refs.items() if got.same_as(ref.snapshot)), None)


# -- the command line -------------------------------------------------------------------


def race_main(args: argparse.Namespace, workdir: Path) -> int:
    systems = ["crm", "billing"]
    args.batch_size = args.batch_size or 200
    template = make_demo(workdir / "template", customers=args.customers,
                         employees=args.employees, batch_size=args.batch_size)

    def new_store() -> contextlib.AbstractContextManager[str | None]:
        return store(args.db)

    refs = references(template, workdir, new_store, systems)
    names = list(refs)
    first, second = (refs[n].snapshot for n in names)
    print(f"crm || billing race on {args.db}: {args.customers:,} customers, "
          f"batch_size {args.batch_size}, guard {'on' if not args.no_guard else 'OFF'}")
    for name, ref in refs.items():
        problems = ref.problems()
        print(f"sequential {name:<18} goldens {ref.snapshot.goldens:>7,}  xrefs "
              f"{ref.snapshot.xrefs:>7,}  review pairs {len(ref.snapshot.review):>4}  "
              f"{ref.seconds:6.1f} s" + (f"  PROBLEMS: {problems}" if problems else ""))
    print("the two sequential orders: " + ("identical" if first.same_as(second)
                                            else second.differences(first)))
    same = 0
    for i in range(1, args.repeat + 1):
        got = run_once(template, workdir, new_store, systems=systems, concurrent=True,
                       guard=not args.no_guard)
        match = matching_reference(got.snapshot, refs)
        problems = got.problems()
        ok = match is not None and not problems
        same += ok
        verdict = (f"identical to {match}" if match
                   else got.snapshot.differences(refs[names[0]].snapshot))
        print(f"race {i:>3}: goldens {got.snapshot.goldens:>7,} vs sequential "
              f"{refs[names[0]].snapshot.goldens:>7,}  {got.seconds:5.1f} s, batches "
              f"interleaved {max(got.interleaved, 0):4.1f} s  {verdict}"
              + (f"  PROBLEMS: {problems}" if problems else ""), flush=True)
    print(f"identical in {same} of {args.repeat}")
    return 0 if same == args.repeat else 1


def _guard_template(args: argparse.Namespace, workdir: Path) -> Path:
    if args.workload == "sync-bench":
        from bench.sync_bench import setup

        setup(workdir / "template", args.rows)
        return workdir / "template"
    return make_demo(workdir / "template", customers=args.customers,
                     employees=args.employees, batch_size=args.batch_size or 1000)


def guard_main(args: argparse.Namespace, workdir: Path) -> int:
    template = _guard_template(args, workdir)
    process: dict[bool, list[float]] = {True: [], False: []}
    run: dict[bool, list[float]] = {True: [], False: []}
    records = 0
    for i in range(args.warmup + args.repeat):
        for guard in (True, False):  # A B A B ...: pairs see the same machine
            folder = copy_deployment(template, workdir / f"full-{i}-{guard}")
            with store(args.db) as url:
                migrate(folder, url)
                done = Sync(folder, [], url, guard=guard).start().wait()
                inside = run_seconds(folder, url)
            shutil.rmtree(folder, ignore_errors=True)
            if done.problems():
                print("\n".join(done.problems()))
                return 1
            records = done.records_read()
            if i >= args.warmup:
                process[guard].append(done.seconds)
                run[guard].append(inside)
    what = (f"sync_bench deployment, {args.rows:,} rows" if args.workload == "sync-bench"
            else f"demo, {args.customers:,} customers, {args.employees:,} employees")
    print(f"full kontor sync ({what}: {records:,} inbound records, every stream) on "
          f"{args.db}, {args.repeat} runs each after {args.warmup} warm-up, A B A B")
    print(f"{'':<31}{'whole process':^39}{'the run itself (sync_run)':^39}")
    print(f"{'guard':<31}" + f"{'median':>9}{'min':>9}{'max':>9}{'records/s':>12}" * 2)
    for label, guard in (("on (entity lock)", True), ("off (KONTOR_NO_ENTITY_LOCK=1)", False)):
        cells = ""
        for secs in (process[guard], run[guard]):
            cells += (f"{statistics.median(secs):>9.2f}{min(secs):>9.2f}{max(secs):>9.2f}"
                      f"{records / statistics.median(secs):>12,.0f}")
        print(f"{label:<31}{cells}")
    for name, times in (("whole process", process), ("run itself", run)):
        ratios = [a / b for a, b in zip(times[True], times[False], strict=True)]
        print(f"on / off, {name}, median of {len(ratios)} pairs: "
              f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, "
              f"max {max(ratios):.3f})")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--employees", type=int, default=600)
    parser.add_argument("--batch-size", type=int,
                        help="race: 200 (batches interleave); guard cost: the demo's 1000")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--no-guard", action="store_true",
                        help="race with KONTOR_NO_ENTITY_LOCK=1 (shows what the guard stops)")
    parser.add_argument("--guard-cost", action="store_true",
                        help="time a full sync with the guard on and off instead")
    parser.add_argument("--workload", choices=["demo", "sync-bench"], default="demo")
    parser.add_argument("--rows", type=int, default=100_000, help="sync-bench rows")
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kontor-race-") as tmp:
        code = (guard_main if args.guard_cost else race_main)(args, Path(tmp))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
