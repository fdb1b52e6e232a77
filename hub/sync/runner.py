"""One sync run: every inbound stream, then every outbound stream, recorded as a run.

A stream whose system cannot be reached fails alone; the others go on. A run ends with one
status, the most severe that applies (and `kontor sync` exits with its code):

=========  ====  ==========================================================================
status     exit  when
=========  ====  ==========================================================================
failed     1     every stream failed (or the run itself was interrupted or crashed)
partial    1     a stream failed: a source that cannot be read (or whose read ended early,
                 ``incomplete``), a target that failed while nothing of it waits in the
                 outbox
partial    2     no stream failed, but records were refused (quarantined, or refused by a
                 target and dead-lettered), or stored without a field whose invalid value
                 the mapping dropped (``on_invalid: drop_field``; in the quarantine too)
pending    3     nothing failed or was refused, but deliveries wait in the outbox of this
                 run's targets: for a retry with backoff (the target failed in this run, or
                 an earlier one and the backoff has not run out) or as dead letters
success    0     everything read was stored and everything due was delivered
=========  ====  ==========================================================================

Only the outbound streams of the run's selection count: changes waiting for a target the
run did not sync do not make it pending. A run that cannot start (another instance holds a
system's lease, a bad configuration) exits 1 before it is recorded.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select, update

from connectors.base import Connector, ReadSize
from hub import faults, logs
from hub.audit import signing
from hub.audit.record import AuditLog
from hub.config import Deployment, Stream
from hub.errors import ConnectorError, HubError
from hub.golden import rekey
from hub.golden.writer import matcher_for
from hub.store import bulk
from hub.store.sealing import Sealer
from hub.store.tables import JobLease, Outbox, SyncRun
from hub.sync import auto_model, lease
from hub.sync.counts import StreamCounts
from hub.sync.inbound import InboundSync
from hub.sync.outbound import OutboundSync

log = logging.getLogger(__name__)


class RunObserver:
    """Receives progress; the CLI shows it as Rich progress bars.

    ``total`` is an outbound stream's deliveries due; a source's size comes after its
    connector is open, by ``stream_sized``, and only to an observer that ``wants_sizes``
    (asking costs a COUNT on a database, so a scheduled run does not ask).
    """

    wants_sizes = False

    def stream_started(self, stream: Stream, direction: str, total: int | None) -> None: ...
    def stream_sized(self, stream: Stream, size: ReadSize) -> None:
        """How much the source's read goes through (``Connector.estimate``)."""
    def advance(self, stream: Stream, count: int) -> None:
        """``count`` more records read (or refused) or deliveries done."""
    def reached(self, stream: Stream, position: int) -> None:
        """How far the read has come, in the unit of its size when that is not records
        (bytes of a file)."""
    def stream_finished(self, stream: Stream, counts: StreamCounts) -> None: ...


EXIT_SUCCESS = 0  # everything read was stored, everything due was delivered
EXIT_ERROR = 1  # a stream failed, or the run could not run (lease busy, bad configuration)
EXIT_REFUSED = 2  # records refused (quarantined or dead-lettered), nothing else wrong
EXIT_PENDING = 3  # deliveries wait in the outbox (retry with backoff, or dead letters)


def _waits(s: StreamCounts) -> int:
    return s.pending + s.dead


def _stream_failed(s: StreamCounts) -> bool:
    """A stream error that is more than a delivery put off: an outbound stream whose records
    wait in the outbox only has to be retried (its target is down, the circuit opened)."""
    return s.error is not None and not (s.direction == "outbound" and _waits(s))


def _stream_broken(s: StreamCounts) -> bool:
    """The stream failed, or its read ended early (the rest of the source was never read)."""
    return _stream_failed(s) or s.incomplete is not None


@dataclass
class RunResult:
    run_id: int
    status: str
    streams: list[StreamCounts] = field(default_factory=list)
    #: models the sync trained by itself this run (hub/sync/auto_model.py)
    trained: list[auto_model.Trained] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.streams)

    @property
    def changed(self) -> int:
        return sum(s.created + s.updated + s.deleted + s.retired + s.deactivated
                   for s in self.streams)

    @property
    def pending(self) -> int:
        """Records waiting in the outbox of this run's targets for a retry."""
        return sum(s.pending for s in self.streams)

    @property
    def dead(self) -> int:
        """Dead letters of this run's targets (`kontor outbox list --dead`)."""
        return sum(s.dead for s in self.streams)

    @property
    def exit_code(self) -> int:
        """The most severe that applies: 1 error > 2 records refused > 3 deliveries wait."""
        if self.status == "success":
            return EXIT_SUCCESS
        if self.status == "pending":
            return EXIT_PENDING
        if self.status == "partial" and not any(_stream_broken(s) for s in self.streams):
            return EXIT_REFUSED
        return EXIT_ERROR


def _start_run(engine: Engine, trigger: str) -> int:
    with engine.begin() as conn:
        result = conn.execute(bulk.table_of(SyncRun).insert().values(
            started_at=dt.datetime.now(dt.UTC), status="running", trigger=trigger,
            counts={}, errors=[]))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def _finish_run(engine: Engine, run_id: int, result: RunResult) -> None:
    t = bulk.table_of(SyncRun)
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == run_id).values(
            finished_at=dt.datetime.now(dt.UTC), status=result.status,
            counts={f"{s.system}.{s.stream}": s.as_dict() for s in result.streams},
            errors=[f"{s.system}.{s.stream}: {s.error}" for s in result.streams if s.error]))


def _status(streams: list[StreamCounts]) -> str:
    """failed > partial (a stream failed, or records refused) > pending > success."""
    if streams and all(_stream_failed(s) for s in streams):
        return "failed"
    if any(_stream_broken(s) or s.failed or s.dropped_fields for s in streams):
        return "partial"
    if any(_waits(s) for s in streams):
        return "pending"
    return "success"


def _count_waiting(engine: Engine, streams: list[StreamCounts]) -> None:
    """Fill in what still waits in the outbox of each outbound stream of this run."""
    mine = {(s.system, s.stream): s for s in streams if s.direction == "outbound"}
    if not mine:
        return
    t = bulk.table_of(Outbox)
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.system, t.c.stream, t.c.status, func.count())
                            .where(t.c.system.in_({k[0] for k in mine}))
                            .group_by(t.c.system, t.c.stream, t.c.status)).all()
    for system, stream, status, n in rows:
        counts = mine.get((system, stream))
        if counts is None:
            continue
        if status == "dead":
            counts.dead = int(n)
        elif status == "pending":
            counts.pending = int(n)


def run_sync(deployment: Deployment, engine: Engine, *, systems: list[str] | None = None,
             observer: RunObserver | None = None, trigger: str = "cli",
             actor: str | None = None, hold_leases: bool = True,
             inbound: bool = True) -> RunResult:
    """Inbound for every selected system, then outbound; returns the counts per stream.
    ``inbound=False``: deliver only (the delivery worker), nothing is read from sources.

    Holds a lease on every system it touches (``lease.Busy`` when another run has one);
    every record received or sent lands in the audit trail; the run ends with a signed
    checkpoint of the trail.
    """
    pulls = deployment.streams("inbound", systems) if inbound else []
    outbound = deployment.streams("outbound", systems)
    names = [f"sync:{s.system}" for s in pulls + outbound] if hold_leases else []
    with lease.held(engine, names) as holder, _fewer_collections():
        _close_interrupted_runs(engine, holder)
        return _run(deployment, engine, pulls, outbound, observer or RunObserver(),
                    trigger, actor)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """A run makes millions of short-lived objects (rows, dicts, values). At Python's
    default threshold the cycle collector ran thousands of times per run, each time also
    walking every long-lived object (modules, the configuration, caches): about a quarter
    of a full sync's CPU. For the run, what exists already is frozen out of its sight and
    it runs a seventieth as often; memory stays bounded by the batch, which holds no
    cycles worth collecting sooner."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _rekey_if_needed(deployment: Deployment, engine: Engine, sealer: Sealer,
                     inbound: list[Stream]) -> None:
    """Keys stored under another matching configuration never meet the keys made now:
    make them again before matching anything (hub/golden/rekey.py)."""
    for entity in sorted({s.entity for s in inbound}):
        done = rekey.ensure(engine, sealer, matcher_for(deployment, entity, sealer.keyring))
        if done is not None:
            log.info("matching keys of %s re-made for the changed matching configuration: "
                     "%s golden and %s source records", entity, *done)


def _close_interrupted_runs(engine: Engine, holder: str) -> None:
    """Runs still 'running' whose instance died: say so (their work is safe or redone)."""
    runs, leases = bulk.table_of(SyncRun), bulk.table_of(JobLease)
    with engine.begin() as conn:
        others = conn.execute(select(func.count()).select_from(leases).where(
            leases.c.expires_at > dt.datetime.now(dt.UTC),
            leases.c.holder != holder)).scalar_one()
        if not others:  # nothing else is running anywhere
            conn.execute(update(runs).where(runs.c.status == "running")
                         .values(status="interrupted"))


def _run(deployment: Deployment, engine: Engine, inbound: list[Stream],
         outbound: list[Stream], observer: RunObserver, trigger: str,
         actor: str | None, wrap: Callable[..., Connector] | None = None,
         learn: bool = True) -> RunResult:
    """The run itself; ``wrap(stream, push, connector)`` lets `kontor plan` put a recorder
    in front of every target; ``learn=False``: no model is trained (a plan writes
    nothing)."""
    run_id = _start_run(engine, trigger)
    logs.run_id.set(run_id)
    log.info("run %s started (%s)", run_id, trigger)
    started = dt.datetime.now(dt.UTC)
    result = RunResult(run_id, "running")
    keyring = deployment.keyring()
    gate = deployment.gate(keyring)
    sealer = Sealer(keyring, deployment.fields)
    audit = AuditLog(keyring, actor or trigger)
    trainer = auto_model.AutoTrainer(deployment, engine, sealer, audit, run_id)
    result.trained = trainer.trained
    try:
        _rekey_if_needed(deployment, engine, sealer, inbound)
        for stream in inbound:
            pull = InboundSync(deployment, stream, engine, run_id, started, sealer, audit)
            if learn:
                pull.after_batch = trainer.after_batch
            result.streams.append(_guarded(stream, pull.counts, observer, None,
                                           lambda c, p, s=pull: s.run(c, p), deployment,
                                           cursor=pull._load_cursor))
        if learn:
            trainer.after_inbound({s.entity for s in inbound})
        faults.point("run.before_outbound")
        for stream in outbound:
            push = OutboundSync(deployment, stream, engine, run_id, gate, sealer, audit)
            body: Callable[..., StreamCounts] = (
                (lambda c, p, s=push, st=stream: s.run(wrap(st, s, c), p)) if wrap
                else (lambda c, p, s=push: s.run(c, p)))
            result.streams.append(_guarded(stream, push.counts, observer,
                                           push.prepare_outbox(), body, deployment))
    except BaseException:
        # Interrupted or crashed: never leave the run looking successful.
        result.status = "failed"
        _finish_run(engine, run_id, result)
        raise
    _count_waiting(engine, result.streams)
    result.status = _status(result.streams)
    _finish_run(engine, run_id, result)
    log.info("run %s finished: %s%s", run_id, result.status,
             f" ({result.pending} records wait for delivery, {result.dead} dead letters)"
             if result.pending or result.dead else "")
    with engine.begin() as conn:
        audit.add("run", result.status, run_id=run_id,
                  detail={"streams": {f"{s.system}.{s.stream}": {
                      k: getattr(s, k) for k in ("read", "created", "updated", "unchanged",
                                                 "skipped", "failed", "pending", "dead")}
                      for s in result.streams}})
        audit.flush(conn)
        faults.point("run.before_checkpoint")
        signing.checkpoint(conn, keyring)
    return result


def _guarded(stream: Stream, counts: StreamCounts, observer: RunObserver, total: int | None,
             body: Callable[..., StreamCounts], deployment: Deployment,
             cursor: Callable[[], object] | None = None) -> StreamCounts:
    """Run one stream; a connector failure ends this stream only, with a plain message.
    ``cursor``: a source's stored cursor, for the estimate of what its read goes through."""
    observer.stream_started(stream, counts.direction, total)
    system = deployment.systems[stream.system]
    clock = time.monotonic()
    try:
        with system.connect(deployment.base_dir) as connector:
            body(connector, _progress(stream, connector, observer, cursor))
    except ConnectorError as exc:
        counts.error = str(exc)
        log.error("stream %s failed: %s", stream.label, exc)
    except HubError as exc:
        counts.error = str(exc)
        log.error("stream %s failed: %s", stream.label, exc)
    counts.seconds = round(time.monotonic() - clock, 3)
    observer.stream_finished(stream, counts)
    return counts


def _progress(stream: Stream, connector: Connector, observer: RunObserver,
              cursor: Callable[[], object] | None) -> Callable[[int], None]:
    """The stream's progress callback; a source's size told to the observer first."""
    size = _size(stream, connector, cursor) if cursor and observer.wants_sizes else None
    if size is not None:
        observer.stream_sized(stream, size)
    if size is None or size.unit == "records":  # the records counted are the progress
        return lambda n: observer.advance(stream, n)

    def advance(count: int) -> None:
        observer.advance(stream, count)
        position = connector.read_progress(stream.spec)
        if position is not None:
            observer.reached(stream, position)
    return advance


def _size(stream: Stream, connector: Connector, cursor: Callable[[], object]
          ) -> ReadSize | None:
    """What the connector can tell of the read's size; never a reason to fail a stream."""
    try:
        return connector.estimate(stream.spec, since=cursor())
    except Exception as exc:  # noqa: BLE001 - a progress bar is no reason to stop
        log.debug("no size for %s: %s", stream.label, type(exc).__name__)
        return None
