"""The quality report as one self-contained HTML page: inline SVG bar charts, no scripts,
no fonts or styles fetched from anywhere (it is opened on machines without internet, and
must not tell a CDN who reads it)."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """body{font:14px system-ui,sans-serif;margin:2em;color:#222;max-width:70em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}table{border-collapse:collapse}
td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}
.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#777}"""


def bar_chart(title: str, bars: list[tuple[str, float]], *, maximum: float | None = None,
              percent: bool = False, colour: str = "#3b7dd8") -> str:
    """A horizontal bar chart as inline SVG; ``bars`` are (label, value)."""
    if not bars:
        return f'<p class="muted">{escape(title)}: nothing to show</p>'
    top = maximum if maximum is not None else max(v for _, v in bars) or 1.0
    row, label_w, bar_w = 22, 170, 360
    height = row * len(bars) + 30
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
              f'height="{height}" role="img" aria-label="{escape(title)}">'),
             f'<text x="0" y="14" font-weight="bold" font-size="13">{escape(title)}</text>']
    for i, (label, value) in enumerate(bars):
        y = 24 + i * row
        width = 0 if top == 0 else bar_w * value / top
        text = f"{value * 100:.0f} %" if percent else f"{value:g}"
        parts += [(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
                   f'{escape(label)}</text>'),
                  (f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{row - 6}" '
                   f'fill="{colour}"><title>{escape(label)}: {text}</title></rect>'),
                  f'<text x="{label_w + width + 6:.1f}" y="{y + 13}" font-size="12">{text}</text>']
    parts.append("</svg>")
    return "".join(parts)


def render(report: dict[str, Any]) -> str:
    """The page for a report from ``hub.quality.report.quality``."""
    scope = report["system"] or "all systems"
    out = [(f"<!doctype html><html lang='en'><meta charset='utf-8'>"
            f"<title>Kontor data quality: {escape(scope)}</title><style>{_STYLE}</style>"
            f"<h1>Data quality: {escape(scope)}</h1>")]
    for system, entities in report["systems"].items():
        for entity, data in entities.items():
            out.append(f"<h2>{escape(system)} · {escape(entity)} "
                       f"<span class='muted'>({data['records']} records)</span></h2>")
            fields = data["fields"]
            out.append(bar_chart("Completeness", [(f, v["completeness"] or 0.0)
                                                  for f, v in fields.items()],
                                 maximum=1.0, percent=True))
            invalid = [(f, float(v["invalid"])) for f, v in fields.items() if v["invalid"]]
            if data["invalid_other"]:
                invalid.append(("(whole record)", float(data["invalid_other"])))
            out.append(bar_chart("Invalid values (open quarantine)", invalid,
                                 colour="#d8573b"))
    conflicts = report["conflicts"]
    out.append("<h2>Conflicts between systems</h2>")
    out.append(bar_chart("Golden records whose systems disagree, by field",
                         [(f"{c['entity']}.{c['field']}", float(c["records"]))
                          for c in conflicts], colour="#b8860b"))
    if conflicts:
        out.append("<table><tr><th>field</th><th>systems</th><th class='num'>records</th>"
                   "<th>for example</th></tr>")
        for c in conflicts:
            out.append(f"<tr><td>{escape(c['entity'])}.{escape(c['field'])}</td>"
                       f"<td>{escape(', '.join(c['systems']))}</td>"
                       f"<td class='num'>{c['records']}</td>"
                       f"<td>{escape(', '.join(c['examples'][:5]))}</td></tr>")
        out.append("</table>")
    clusters = report["duplicate_clusters"]
    out.append(f"<h2>Possible duplicates <span class='muted'>({len(clusters)} clusters "
               "waiting for a data steward: kontor steward review)</span></h2>")
    if clusters:
        out.append("<table><tr><th>entity</th><th>golden records</th></tr>")
        for c in clusters[:200]:
            out.append(f"<tr><td>{escape(c['entity'])}</td>"
                       f"<td>{escape(', '.join(c['golden_ids']))}</td></tr>")
        out.append("</table>")
    out.append("<p class='muted'>Values are never shown: records are named by id.</p></html>")
    return "\n".join(out)
