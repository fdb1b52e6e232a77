"""A sync tells its observer how big each source is and how far its read has come: a file
by bytes, a table by rows; each stream's time is kept with its counts."""

from __future__ import annotations

from pathlib import Path

from connectors.base import ReadSize
from hub.config import Stream
from hub.context import open_hub
from hub.demo import write_demo
from hub.sync.counts import StreamCounts
from hub.sync.runner import RunObserver, run_sync


class Recorder(RunObserver):
    wants_sizes = True

    def __init__(self) -> None:
        self.sizes: dict[str, ReadSize] = {}
        self.positions: dict[str, list[int]] = {}
        self.records: dict[str, int] = {}
        self.totals: dict[str, int | None] = {}

    def stream_started(self, stream: Stream, direction: str, total: int | None) -> None:
        self.totals[stream.label] = total

    def stream_sized(self, stream: Stream, size: ReadSize) -> None:
        self.sizes[stream.label] = size

    def advance(self, stream: Stream, count: int) -> None:
        self.records[stream.label] = self.records.get(stream.label, 0) + count

    def reached(self, stream: Stream, position: int) -> None:
        self.positions.setdefault(stream.label, []).append(position)


def test_sources_are_sized_and_followed_to_their_end(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=300, employees=30, seed=7)
    (demo.target / "kontor.yaml").write_text(demo.config.read_text(encoding="utf-8").replace(
        "batch_size: 1000", "batch_size: 50"), encoding="utf-8")
    hub = open_hub(demo.config)
    seen = Recorder()
    result = run_sync(hub.deployment, hub.engine, observer=seen)
    counts = {s.label: s for s in result.streams}
    crm = (demo.target / "data" / "crm" / "kunden.csv").stat().st_size
    assert seen.sizes["crm.kunden"] == ReadSize(crm, unit="bytes")
    positions = seen.positions["crm.kunden"]
    assert len(positions) > 3 and positions == sorted(positions) and positions[-1] == crm
    assert seen.records["crm.kunden"] == counts["crm.kunden"].read == 300
    billing = counts["billing.customers"].read
    assert seen.sizes["billing.customers"] == ReadSize(billing)  # rows, counted
    assert "billing.customers" not in seen.positions  # rows need no position: records count
    assert seen.totals["payroll.employees"] == counts["payroll.employees"].read  # what is due
    assert all(s.seconds is not None and s.seconds >= 0 for s in result.streams)

    # The next run: the table read from its cursor has nothing new; the unchanged file is
    # sized all the same (the read finds it unchanged and ends at once).
    again = Recorder()
    run_sync(hub.deployment, hub.engine, observer=again)
    assert again.sizes["billing.customers"] == ReadSize(0)
    assert again.sizes["crm.kunden"] == ReadSize(crm, unit="bytes")
    hub.close()


def test_an_observer_that_wants_no_sizes_costs_no_estimate(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "d", customers=60, employees=12, seed=7)
    hub = open_hub(demo.config)
    quiet = Recorder()
    quiet.wants_sizes = False  # a scheduled run: no COUNT on the source for a bar
    result = run_sync(hub.deployment, hub.engine, observer=quiet)
    hub.close()
    assert quiet.sizes == {} and quiet.positions == {}
    assert isinstance(result.streams[0], StreamCounts) and result.streams[0].read > 0
