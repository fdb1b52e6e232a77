"""Progress bars of ``kontor sync``: percent, throughput and time left per stream.

A target's total is what is due for it; a source's comes from its connector
(``Connector.estimate``): a file's size in bytes, with the bytes read so far, or a table's
row count. Without one the bar counts records and shows the throughput only.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.text import Text

from connectors.base import ReadSize
from hub.config import Stream
from hub.sync.counts import StreamCounts
from hub.sync.runner import RunObserver


class _Count(ProgressColumn):
    """Records so far, of how many when the total is a record count ("~" if estimated)."""

    def render(self, task: Task) -> Text:
        records = int(task.fields.get("records", 0))
        if task.total is None or task.fields.get("unit") != "records" or task.finished:
            return Text(f"{records:,}", style="progress.download")
        about = "" if task.fields.get("exact", True) else "~"
        return Text(f"{records:,}/{about}{int(task.total):,}", style="progress.download")


class _Percent(ProgressColumn):
    """Percent done, while there is a total to go by (100% once finished, also of nothing)."""

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text("100%", style="progress.percentage")
        if not task.total:
            return Text("")
        return Text(f"{min(task.percentage, 99.9):>3.0f}%", style="progress.percentage")


class _Rate(ProgressColumn):
    """Records per second."""

    def render(self, task: Task) -> Text:
        elapsed, records = task.finished_time or task.elapsed, task.fields.get("records", 0)
        if not elapsed or not records:
            return Text("")
        return Text(f"{records / elapsed:,.0f}/s", style="progress.data.speed")


class _Time(ProgressColumn):
    """Time left while there is a total to go by (at the average rate so far: a file's
    bytes come in steps of a batch); the time taken once finished."""

    def render(self, task: Task) -> Text:
        elapsed = (task.finished_time if task.finished else task.elapsed) or 0.0
        if task.finished or not task.total or not task.completed or not task.started:
            return Text(_clock(elapsed), style="progress.elapsed")
        left = elapsed * (task.total - task.completed) / task.completed
        return Text(f"ETA {_clock(left)}", style="progress.remaining")


def _clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 \
        else f"{minutes}:{secs:02d}"


def progress_bars(console: Console, *, disable: bool = False) -> Progress:
    """The bars; the bar itself gives way on a narrow terminal, the names never do."""
    width = max(6, min(30, console.width - 66))
    return Progress(SpinnerColumn(), TextColumn("{task.description}"),
                    BarColumn(bar_width=width), _Percent(), _Count(), _Rate(), _Time(),
                    console=console, disable=disable, transient=False)


class ProgressObserver(RunObserver):
    """Shows one Rich progress bar per stream."""

    wants_sizes = True

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.units: dict[str, str] = {}
        self.records: dict[str, int] = {}
        self.totals: dict[str, int | None] = {}

    def stream_started(self, stream: Stream, direction: str, total: int | None) -> None:
        arrow = "←" if direction == "inbound" else "→"
        self.units[stream.label], self.records[stream.label] = "records", 0
        self.totals[stream.label] = total
        self.tasks[stream.label] = self.progress.add_task(
            f"{arrow} {stream.label}", total=total, records=0, unit="records", exact=True)

    def stream_sized(self, stream: Stream, size: ReadSize) -> None:
        self.units[stream.label], self.totals[stream.label] = size.unit, size.total
        self.progress.update(self.tasks[stream.label], total=size.total, unit=size.unit,
                             exact=size.exact)

    def advance(self, stream: Stream, count: int) -> None:
        task = self.tasks[stream.label]
        records = self.records[stream.label] = self.records[stream.label] + count
        if self.units[stream.label] == "records":
            self.progress.update(task, advance=count, records=records)
        else:
            self.progress.update(task, records=records)

    def reached(self, stream: Stream, position: int) -> None:
        self.progress.update(self.tasks[stream.label], completed=position)

    def stream_finished(self, stream: Stream, counts: StreamCounts) -> None:
        task = self.tasks[stream.label]
        if counts.error or counts.incomplete:  # the bar stops where the stream stopped
            self.progress.update(task, records=counts.read)
            self.progress.stop_task(task)
        elif self.units[stream.label] == "records":
            self.progress.update(task, total=counts.read, completed=counts.read,
                                 records=counts.read)
        else:  # bytes: the whole file was read (or the stream failed: it ends here too)
            total = self.totals[stream.label] or 0
            self.progress.update(task, completed=total, records=counts.read)
