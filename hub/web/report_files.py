"""Reports written to files: the compliance report, the records of processing and the
data-quality report, as self-contained HTML pages from the dashboard's templates.

A page is opened on machines without internet and must not tell a CDN who reads it: the
style is inline, the charts are inline SVG (``hub.web.charts``), there is no script. The
templates escape every value (autoescape on). The services compute the figures
(``hub.audit.reports``, ``hub.quality.report``); this module only draws them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from hub.web.charts import bar_chart, stacked_columns

if TYPE_CHECKING:
    import pandas as pd

    from hub.audit.reports import ComplianceReport
    from hub.config import Deployment

# Its own environment, without FastAPI: the CLI writes these pages and starts quickly.
_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(default=True), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)
NO_DATA = "no data in this period"


def _largest_first(bars: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    return sorted(bars, key=lambda bar: (-bar[1], bar[0]))


def _table(columns: Sequence[str], rows: Iterable[Sequence[Any]],
           numeric: Sequence[str] = ()) -> dict[str, Any]:
    """A table for the ``table`` macro: None shows as an empty cell."""
    return {"columns": list(columns), "numeric": [c in numeric for c in columns],
            "rows": [["" if v is None else v for v in row] for row in rows]}


def _now(generated: dt.datetime | None) -> str:
    return f"{generated or dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _per_day_chart(sent_per_day: list[tuple[str, str, int]]) -> Markup:
    days = sorted({day for day, _, _ in sent_per_day})
    destinations = sorted({dest for _, dest, _ in sent_per_day})
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for day, dest, n in sent_per_day:
        counts[(day, dest)] += n
    return stacked_columns("Records sent per day and destination", days,
                           [(d, [counts[(day, d)] for day in days]) for d in destinations],
                           empty=NO_DATA)


def compliance_page(report: ComplianceReport, *, generated: dt.datetime | None = None
                    ) -> str:
    """The compliance report (``kontor audit report``): four charts, each with its table."""
    special: dict[str, int] = defaultdict(int)
    for dest, _, _, n in report.special:
        special[dest] += n
    sections = [
        ("Transfers per system over time", _per_day_chart(report.sent_per_day),
         _table(["day", "destination", "records sent"], report.sent_per_day,
                ["records sent"])),
        ("Data categories sent",
         bar_chart("Field values sent, by category", _largest_first(report.by_category),
                   empty=NO_DATA),
         _table(["category", "field values sent"], report.by_category,
                ["field values sent"])),
        ("Denials and pseudonymisations by rule",
         bar_chart("Field decisions by rule", _largest_first(
             (f"{action}: {rule}", n) for action, rule, n in report.by_rule),
                   tone="bad", empty=NO_DATA),
         _table(["action", "rule", "field decisions"], report.by_rule, ["field decisions"])),
        ("Destinations of special-category data",
         bar_chart("Special-category values sent, by destination",
                   _largest_first(special.items()), tone="special", empty=NO_DATA),
         _table(["destination", "category", "legal basis", "field values sent"],
                report.special, ["field values sent"])),
    ]
    return _ENV.get_template("report_compliance.html").render(
        title="Kontor compliance report", generated=_now(generated),
        subtitle=(f"Deployment {report.deployment}, policy {report.policy_version}, "
                  f"period {report.period}"),
        sections=[{"heading": h, "chart": c, "table": t} for h, c, t in sections])


def ropa_page(frame: pd.DataFrame, deployment: Deployment, *,
              generated: dt.datetime | None = None) -> str:
    """Records of processing (GDPR Art. 30), from ``records_of_processing``."""
    columns = [str(c) for c in frame.columns]
    # pandas' missing values (NaN) become None, its booleans Python's, then words
    plain = frame.astype(object).where(frame.notna(), None).to_dict("records")
    rows = [["yes" if row[c] is True else "no" if row[c] is False else row[c]
             for c in columns] for row in plain]
    return _ENV.get_template("report_ropa.html").render(
        title="Records of processing activities (GDPR Art. 30)", generated=_now(generated),
        subtitle=(f"Generated from {deployment.path.name} and the audit trail, "
                  f"policy {deployment.policy_set.version}"),
        processing=_table([c.replace("_", " ") for c in columns], rows, ["records"]))


def quality_page(report: dict[str, Any], *, generated: dt.datetime | None = None) -> str:
    """The data-quality report (``kontor quality --html``), from ``hub.quality.report``."""
    scope = report["system"] or "all systems"
    parts = []
    for system, entities in report["systems"].items():
        for entity, data in entities.items():
            fields = data["fields"]
            invalid = [(f, float(v["invalid"])) for f, v in fields.items() if v["invalid"]]
            if data["invalid_other"]:
                invalid.append(("(whole record)", float(data["invalid_other"])))
            parts.append({
                "heading": f"{system} · {entity}", "records": data["records"],
                "charts": [
                    bar_chart(f"Completeness: {system} · {entity}",
                              [(f, 100 * (v["completeness"] or 0.0)) for f, v in fields.items()],
                              unit="%", maximum=100, tone="ok", empty="no fields mapped"),
                    bar_chart(f"Invalid values (open quarantine): {system} · {entity}", invalid,
                              tone="bad", empty="no invalid values"),
                ]})
    conflicts = report["conflicts"]
    clusters = report["duplicate_clusters"]
    return _ENV.get_template("report_quality.html").render(
        title=f"Data quality: {scope}", generated=_now(generated), subtitle="",
        parts=parts, conflicts_chart=bar_chart(
            "Golden records whose systems disagree, by field",
            [(f"{c['entity']}.{c['field']}", float(c["records"])) for c in conflicts],
            tone="warn", empty="no conflicts"),
        conflicts=_table(["field", "systems", "records", "for example"],
                         [(f"{c['entity']}.{c['field']}", ", ".join(c["systems"]),
                           c["records"], ", ".join(c["examples"][:5])) for c in conflicts],
                         ["records"]),
        clusters=len(clusters),
        duplicates=_table(["entity", "golden records"],
                          [(c["entity"], ", ".join(c["golden_ids"])) for c in clusters[:200]]))


def thresholds_page(parts: Sequence[tuple[dict[str, Any], Markup]], *, subtitle: str = "",
                    generated: dt.datetime | None = None) -> str:
    """Auto-merge precision and recall by threshold, from the steward's decisions
    (``kontor matching thresholds --html``): per entity (``hub.matching.thresholds.summary``
    with its chart), the chart, the suggestion and the table."""
    def share(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    return _ENV.get_template("report_thresholds.html").render(
        title="Auto-merge thresholds from the steward's decisions", generated=_now(generated),
        subtitle=subtitle, parts=[{
            **figures, "chart": chart,
            "table": _table(["threshold", "decided pairs at or above", "precision", "recall"],
                            [(f"{p['threshold']:.2f}", p["pairs_above"], share(p["precision"]),
                              share(p["recall"])) for p in figures["thresholds"]],
                            ["decided pairs at or above", "precision", "recall"])}
            for figures, chart in parts])
