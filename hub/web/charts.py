"""Bar charts as inline SVG, drawn on the server: no script, no CDN, no build step."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

_BAR_HEIGHT = 18
_GAP = 6
_LABEL_WIDTH = 190
_BAR_WIDTH = 320
_COLOURS = {"ok": "#2f7d4f", "warn": "#c07a12", "bad": "#b3261e", "info": "#3a5f9f"}


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, unit: str = "",
              maximum: float | None = None, tone: str = "info") -> Markup:
    """A horizontal bar chart; ``maximum`` fixes the scale (e.g. 100 for percentages)."""
    top = maximum if maximum is not None else max((v for _, v in bars), default=0) or 1
    height = len(bars) * (_BAR_HEIGHT + _GAP) + 30
    width = _LABEL_WIDTH + _BAR_WIDTH + 80
    # width 100% with a viewBox: the chart scales to its box and keeps its proportions
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" '
              f'viewBox="0 0 {width} {height}" class="chart">'),
             f"<title>{escape(title)}</title>",
             f'<text x="0" y="16" class="chart-title">{escape(title)}</text>']
    colour = _COLOURS.get(tone, _COLOURS["info"])
    for i, (label, value) in enumerate(bars):
        y = 28 + i * (_BAR_HEIGHT + _GAP)
        length = max(0.0, min(1.0, value / top)) * _BAR_WIDTH
        shown = f"{value:.0f}{unit}" if float(value).is_integer() or unit == "%" \
            else f"{value:.1f}{unit}"
        parts += [
            (f'<text x="{_LABEL_WIDTH - 8}" y="{y + 13}" text-anchor="end">'
            f"{escape(label)}</text>"),
            (f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{_BAR_HEIGHT}" '
            f'fill="{colour}"><title>{escape(label)}: {escape(shown)}</title></rect>'),
            f'<text x="{_LABEL_WIDTH + length + 6:.1f}" y="{y + 13}">{escape(shown)}</text>',
        ]
    if not bars:
        parts.append('<text x="0" y="44">no data yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
