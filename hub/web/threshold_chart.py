"""The steward's decisions as a chart: precision and recall of auto-merging at each
threshold (``hub.matching.thresholds`` computes them; this module only draws)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection

from hub.canonical import ENTITIES
from hub.matching import thresholds
from hub.matching.thresholds import TARGET, Curve
from hub.web.charts import line_chart

NO_DECISIONS = "no decided review pairs yet"


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


def chart(found: Curve, *, target: float = TARGET) -> Markup:
    """Precision and recall (in %) per hundredth of threshold; the suggested threshold,
    or the one that would reach ``target`` on too few decisions, marked."""
    points = found.points()
    xs = [f"{p.threshold:.2f}" for p in points]
    hint = found.suggestion(target)
    markers: list[tuple[int, str]] = []
    if hint.threshold is not None:
        at = f"{hint.threshold:.2f}"
        label = f"suggested {at}" if hint.status == "suggested" else \
            f"{at}: too few decisions"
        markers.append((xs.index(at), label))
    return line_chart(
        f"Auto-merge at each threshold: {found.entity} ({found.decisions} decisions)", xs,
        [("precision", [_percent(p.precision) for p in points]),
         ("recall", [_percent(p.recall) for p in points])],
        unit="%", maximum=100, decimals=1, x_title="threshold", markers=markers,
        empty=NO_DECISIONS)


def review_charts(conn: Connection) -> list[dict[str, Any]]:
    """For the review page: per entity with decisions, its chart and suggestion."""
    shown = []
    for entity in ENTITIES:
        found = thresholds.curve(conn, entity)
        if found.decisions:
            shown.append({"entity": entity, "chart": chart(found),
                          "suggestion": found.suggestion().text()})
    return shown
