"""A run's outcome in plain words, per stream, that fits an 80-column terminal.

Shared by ``kontor sync`` (the run just made) and ``kontor runs show`` (a run recorded
earlier): both hand in the per-stream counts as ``StreamCounts.as_dict()`` gives them (and
``sync_run.counts`` keeps them). Only facts that are not zero are shown; a stream's failure
is shown on the stream itself. Names are never cut: a narrow terminal stacks the facts
under the stream's name instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: exit code -> what it means, as `kontor sync` ends with it
EXIT_MEANINGS = {1: "error (a system could not be read or written)",
                 2: "records refused or fields dropped (see the quarantine)",
                 3: "deliveries pending (they wait in the outbox)"}
STATUS_COLOUR = {"success": "green", "partial": "yellow", "pending": "yellow",
                 "running": "cyan"}
#: Facts per direction, in the order shown: (count name, words after the number).
INBOUND = (("read", "read"), ("created", "created"), ("updated", "updated"),
           ("unchanged", "unchanged"), ("merged", "merged into existing records"),
           ("reviews", "new review pairs"), ("deleted", "deleted at the source"),
           ("retired", "retired"), ("held_deletes", "deletes held back"),
           ("failed", "refused"), ("dropped_fields", "fields dropped"))
OUTBOUND = (("read", "due"), ("created", "created"), ("updated", "updated"),
            ("unchanged", "unchanged"), ("deleted", "deleted"),
            ("deactivated", "deactivated"), ("kept", "kept although gone from the hub"),
            ("skipped", "not for this target"), ("failed", "refused"),
            ("pending", "wait for delivery"), ("dead", "dead letters"))
ALERT = {"failed", "dead", "pending", "held_deletes", "dropped_fields"}
#: Below this many columns for the facts, they go under the stream's name.
MIN_FACTS_WIDTH = 36


def counted(stream: Mapping[str, Any], name: str, reviews: Mapping[str, int]) -> int:
    """One count of a stream's counts dict; ``merged`` and ``reviews`` are derived unless
    given (as in summed counts)."""
    if name in stream:
        return int(stream[name] or 0)
    if name == "merged":
        return int((stream.get("situations") or {}).get("unlinked", 0))
    if name == "reviews":
        return int(reviews.get(label(stream), 0))
    return 0


def label(stream: Mapping[str, Any]) -> str:
    return f"{stream['system']}.{stream['stream']}"


def facts(stream: Mapping[str, Any], reviews: Mapping[str, int] | None = None) -> str:
    """"2,000 read, 1,996 created, 4 refused": the stream's counts that are not zero (the
    first, read or due, always), as Rich markup."""
    kinds = INBOUND if stream.get("direction") == "inbound" else OUTBOUND
    parts = []
    for n, (name, words) in enumerate(kinds):
        value = counted(stream, name, reviews or {})
        if value or n == 0:
            text = f"{value:,} {words}"
            parts.append(f"[red]{text}[/]" if name in ALERT else text)
    return ", ".join(parts)


def problems(stream: Mapping[str, Any]) -> list[str]:
    """What went wrong with the stream as a whole, one markup line each."""
    lines = []
    error, waits = stream.get("error"), stream.get("pending") or stream.get("dead")
    if error and stream.get("direction") == "outbound" and waits:
        lines.append(f"[yellow]⧗ unavailable:[/] {escape(error)}")
    elif error:
        lines.append(f"[red]✗ failed:[/] {escape(error)}")
    if stream.get("held_deletes") and not error:  # the other reason the sync holds them
        lines.append(f"[yellow]! {stream['held_deletes']:,} records missing from this read "
                     "were not deleted: a refused record had no key that could be read and "
                     "may be one of them (see the quarantine)[/]")
    if stream.get("incomplete"):
        lines.append("[red]✗ the read ended early (no deletes were inferred):[/] "
                     f"{escape(stream['incomplete'])}")
    if stream.get("unknown_columns"):
        lines.append("[yellow]! columns not in the mapping were dropped:[/] "
                     f"{escape(', '.join(stream['unknown_columns']))}")
    return lines


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f}s" if value < 120 else f"{int(value) // 60}m{int(value) % 60:02d}s"


def print_streams(console: Console, streams: Sequence[Mapping[str, Any]],
                  reviews: Mapping[str, int] | None = None, *, timings: bool = True) -> None:
    """One entry per stream: arrow and name, then its facts, problems and time."""
    rows = []
    for s in streams:
        arrow = "←" if s.get("direction") == "inbound" else "→"
        text = facts(s, reviews)
        if timings and s.get("seconds") is not None:
            text += f" [dim]({seconds(s['seconds'])})[/]"
        rows.append((f"{arrow} {label(s)}", "\n".join([text, *problems(s)])))
    if not rows:
        console.print("  no streams")
        return
    name_width = max(len(name) for name, _ in rows)
    if console.width - name_width - 4 < MIN_FACTS_WIDTH:  # stack: name, then its facts
        for name, text in rows:
            console.print(f"  {escape(name)}", highlight=False, overflow="fold")
            for line in text.splitlines():
                console.print(f"      {line}", highlight=False, overflow="fold")
        return
    table = Table(box=None, show_header=False, pad_edge=True, padding=(0, 1, 0, 1))
    table.add_column(no_wrap=True, min_width=name_width)
    table.add_column(overflow="fold")
    for name, text in rows:
        table.add_row(escape(name), text)
    console.print(table, highlight=False)


def totals(streams: Iterable[Mapping[str, Any]], reviews: Mapping[str, int] | None = None
           ) -> dict[str, dict[str, int]]:
    """The counts summed per direction: {"inbound": {...}, "outbound": {...}}."""
    out: dict[str, dict[str, int]] = {"inbound": {}, "outbound": {}}
    for s in streams:
        direction = "inbound" if s.get("direction") == "inbound" else "outbound"
        kinds = INBOUND if direction == "inbound" else OUTBOUND
        for name, _ in kinds:
            out[direction][name] = out[direction].get(name, 0) + counted(s, name, reviews or {})
    return out


def print_totals(console: Console, streams: Sequence[Mapping[str, Any]],
                 reviews: Mapping[str, int] | None = None) -> None:
    summed = totals(streams, reviews)
    present = {"inbound" if s.get("direction") == "inbound" else "outbound" for s in streams}
    _hanging(console, [(f"[bold]{words}:[/]", facts({"direction": direction, **summed[direction]}))
                       for direction, words in (("inbound", "Into the store"),
                                                ("outbound", "To the targets"))
                       if direction in present], indent=0)


def _hanging(console: Console, rows: Sequence[tuple[str, str]], *, indent: int = 2) -> None:
    """Rows of a head and its text; a long text wraps under itself, not under the head."""
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for head, text in rows:
        table.add_row(" " * indent + head, text)
    console.print(table, highlight=False)


def headline(run_id: int, status: str, exit_code: int | None = None) -> str:
    colour = STATUS_COLOUR.get(status, "red")
    text = f"[bold]Run {run_id}:[/] [{colour}]{status}[/]"
    if exit_code:
        text += f" — exit {exit_code}: {EXIT_MEANINGS.get(exit_code, '')}"
    return text


def quarantine_line(p: Mapping[str, Any]) -> str:
    """Where a refused record came from, its key, the field and the reason (plain text)."""
    where = p.get("location") or f"{p['system']}.{p['stream']}"
    if p.get("source_key"):
        where += f" (key {p['source_key']})"
    field = f" field {p['field']}:" if p.get("field") else ""
    return f"✗ {where}{field} {p['reason']}"


def print_quarantine(console: Console, rows: Sequence[Mapping[str, Any]], *,
                     shown: int = 50) -> None:
    if not rows:
        return
    fields = sum(1 for p in rows if p.get("kind") == "field")  # stored without the field
    records = len(rows) - fields
    heads = [f"{records} record{'' if records == 1 else 's'} quarantined"] if records else []
    if fields:
        heads.append(f"{fields} field{'' if fields == 1 else 's'} dropped (records kept)")
    console.print(f"[red]{', '.join(heads)}:[/]", highlight=False)
    _hanging(console, [("✗", escape(quarantine_line(p)[2:])) for p in rows[:shown]])
    if len(rows) > shown:
        console.print(f"  … and {len(rows) - shown} more: kontor quarantine list",
                      highlight=False)
