"""``kontor plan`` for people: counts first, then the field changes, target by target.

Works on the plan as ``Plan.as_dict()`` gives it (and ``kontor plan --out`` writes it):
a line per source and per target with what would change there, a total, then each target's
changes, one page of ``limit`` at a time. Restricted values arrive masked already.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: Per source: (count, words), in the order shown; "read" only in --json.
SOURCE_FACTS = (("created", "to create"), ("updated", "to update"),
                ("merged", "to merge into existing records"), ("reviews", "new review pairs"),
                ("deleted", "gone from the source"), ("retired", "to retire"),
                ("held_deletes", "missing but held back from deletion"),
                ("failed", "refused"))
TARGET_FACTS = (("create", "to create"), ("update", "to update"),
                ("deactivate", "to deactivate"), ("delete", "to delete"),
                ("kept", "kept although gone from the hub"), ("failed", "refused"))
SIGN = {"create": "+", "update": "~", "deactivate": "~", "delete": "-"}
#: How the plan shows a restricted value (``hub.sync.plan.RESTRICTED``).
RESTRICTED = "‹restricted value›"
COLOUR = {"create": "green", "update": "yellow", "deactivate": "yellow", "delete": "red"}


def _facts(counts: Mapping[str, int], kinds: Sequence[tuple[str, str]]) -> str:
    parts = [f"{counts.get(name, 0):,} {words}" for name, words in kinds
             if counts.get(name, 0)]
    return ", ".join(parts) or "no changes"


def selected(plan: Mapping[str, Any], targets: Sequence[str]) -> list[str]:
    """The targets ``--target`` names ("payroll.employees", or "payroll" for every stream
    of that system); all when none is named."""
    known = list(plan["outbound"])
    if not targets:
        return known
    return [t for t in known if t in targets or t.split(".", 1)[0] in targets]


def print_counts(console: Console, plan: Mapping[str, Any]) -> None:
    """A line per source and per target, then the total."""
    errors: Mapping[str, str] = plan.get("errors", {})
    rows: list[tuple[str, str]] = []
    for label, counts in plan["inbound"].items():
        rows.append((f"← {label}", _with_error(_facts(counts, SOURCE_FACTS), errors, label)))
    for label, counts in plan["outbound"].items():
        rows.append((f"→ {label}", _with_error(_facts(counts, TARGET_FACTS), errors, label)))
    if rows:
        table = Table(box=None, show_header=False, pad_edge=True, padding=(0, 1, 0, 1))
        table.add_column(no_wrap=True)
        table.add_column(overflow="fold")
        for head, text in rows:
            table.add_row(escape(head), text)
        console.print(table, highlight=False)
    console.print(total_line(plan), highlight=False)


def _with_error(text: str, errors: Mapping[str, str], label: str) -> str:
    if label not in errors:
        return escape(text)
    return f"{escape(text)}\n[red]✗ cannot plan it:[/] {escape(errors[label])}"


def total_line(plan: Mapping[str, Any]) -> str:
    """"Total: 12 changes at 3 targets (...); 40 records into the store (...), 1 refused"."""
    out = {a: sum(c.get(a, 0) for c in plan["outbound"].values())
           for a, _ in TARGET_FACTS}
    into = {k: sum(c.get(k, 0) for c in plan["inbound"].values())
            for k in ("created", "updated", "deleted", "retired", "merged", "failed")}
    changes = sum(out[a] for a in ("create", "update", "deactivate", "delete"))
    stored = sum(into[k] for k in ("created", "updated", "deleted", "retired"))
    failed = len(plan.get("errors", {}))
    if not changes and not stored:
        if failed:
            return (f"[bold]Total:[/] no changes found, but [red]{failed} stream(s) could not "
                    "be planned[/]")
        return "[bold]Total:[/] no changes: every system is in sync"
    text = (f"[bold]Total:[/] {changes:,} change{'' if changes == 1 else 's'} at "
            f"{sum(1 for c in plan['outbound'].values() if _changes(c))} target(s)")
    if changes:
        text += f" ({_facts(out, TARGET_FACTS[:4])})"
    text += f"; {stored:,} record{'' if stored == 1 else 's'} into the store"
    if stored:
        text += f" ({_facts(into, SOURCE_FACTS[:2] + SOURCE_FACTS[4:6])})"
    if into["failed"] or out["failed"]:
        text += f"; {into['failed'] + out['failed']:,} refused"
    if failed:
        text += f"; [red]{failed} stream(s) could not be planned[/]"
    return text


def _changes(counts: Mapping[str, int]) -> int:
    return sum(counts.get(a, 0) for a in ("create", "update", "deactivate", "delete"))


def _value(value: Any) -> str:
    """A value as the plan shows it: text quoted (so "" shows), none as ‹none›."""
    if value is None:
        return "‹none›"
    if isinstance(value, str) and value != RESTRICTED:
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def print_changes(console: Console, plan: Mapping[str, Any], targets: Sequence[str], *,
                  limit: int, page: int) -> None:
    """Each selected target's changes, ``limit`` a page (0: all), page ``page``."""
    by_target: dict[str, list[Mapping[str, Any]]] = {t: [] for t in targets}
    for change in plan["changes"]:
        if change["target"] in by_target:
            by_target[change["target"]].append(change)
    for target, changes in by_target.items():
        if not changes:
            continue
        size = limit or len(changes)
        pages = (len(changes) + size - 1) // size
        first = (page - 1) * size
        shown = changes[first:first + size]
        head = f"[bold]{escape(target)}[/]: {_facts(plan['outbound'][target], TARGET_FACTS)}"
        if pages > 1:
            head += (f" [dim](page {page:,} of {pages:,}: {first + 1 if shown else 0}–"
                     f"{first + len(shown)} of {len(changes):,})[/]")
        console.print()
        console.print(head, highlight=False)
        for change in shown:
            _print_change(console, change)
        if page < pages:
            rest = len(changes) - first - len(shown)
            console.print(f"  [dim]… {rest:,} more: kontor plan --target {escape(target)} "
                          f"--page {page + 1}{'' if limit == 10 else f' --limit {limit}'}[/]",
                          highlight=False)


def _print_change(console: Console, change: Mapping[str, Any]) -> None:
    action = change["action"]
    who = f" ({change['golden_id']})" if change.get("golden_id") else ""
    verb = {"deactivate": " deactivate"}.get(action, "")
    console.print(f"  [{COLOUR[action]}]{SIGN[action]}[/] {escape(change['key'])}"
                  f"[dim]{escape(who)}[/]{verb}", highlight=False)
    fields: Mapping[str, Any] = change.get("fields") or {}
    if not fields:
        return
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    if action == "create":  # a new record: every field, as one paragraph
        table.add_row("    ", escape(", ".join(f"{name}: {_value(new)}"
                                                for name, (_old, new) in fields.items())))
    else:  # a change: a field a line, old → new
        for name, (old, new) in fields.items():
            shown = f"{RESTRICTED} changes" if old == new == RESTRICTED \
                else f"{_value(old)} → {_value(new)}"
            table.add_row(f"      {escape(name)}:", escape(shown))
    console.print(table, highlight=False)
