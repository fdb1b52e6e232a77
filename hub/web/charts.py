"""Charts as inline SVG, drawn on the server: no script, no CDN, no plotting library.

The one chart helper of Kontor: the dashboard's reports and review pages, the compliance
report, the data-quality report and the auto-merge threshold report all draw with it.
Every chart

- names itself: a ``<title>`` and a ``<desc>`` that lists every figure, so a screen reader
  reads the data (``role="img"`` hides the drawing's own text from it);
- reads without colour: each bar carries its label and its number as text;
- is self-contained (font and colours are SVG attributes, no stylesheet is needed) and
  escapes every label;
- is deterministic: the same data gives the same bytes (ids are derived from the content),
  so tests and diffs of exported reports stay stable.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from markupsafe import Markup, escape

FONT = 12                   # px, labels and numbers
CHAR = 6.8                  # px, a generous average character width at FONT
MAX_LABEL = 48              # characters shown before the label is cut (the <title> has it all)
_BAR_HEIGHT = 18
_GAP = 6
_BAR_WIDTH = 320            # the longest horizontal bar
_TOP = 28                   # room for the chart's heading
_PLOT_HEIGHT = 160          # the tallest column
INK = "#1d2430"
TONES = {"info": "#3a5f9f", "ok": "#2f7d4f", "warn": "#9a5d00", "bad": "#b3261e",
         "special": "#6b3fa0"}
# Okabe-Ito: told apart by most colour-blind readers; the legend names them anyway.
SERIES = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
          "#000000")


def _text(value: object) -> str:
    return str(escape(str(value)))


def _cut(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def _width(text: str) -> float:
    return len(text) * CHAR


def _heading_width(title: str) -> float:
    return len(title) * CHAR * 1.15 + 8  # the heading is bold and a size larger


def _number(value: float, unit: str) -> str:
    if unit == "%" or float(value).is_integer():
        return f"{value:.0f}{unit}"
    return f"{value:.1f}{unit}"


def _checked(title: str, values: Sequence[float], where: str) -> list[float]:
    """Values as floats; NaN, infinity and negatives are refused, named by position."""
    out = []
    for i, raw in enumerate(values, start=1):
        value = float(raw)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"chart {title!r}, {where} {i}: a chart value must be a finite "
                             "number of at least 0")
        out.append(value)
    return out


def _ident(*parts: object) -> str:
    return "chart-" + hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def _open(ident: str, width: float, height: float, title: str, desc: str) -> list[str]:
    size = f"{width:.0f} {height:.0f}"
    return [(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {size}" '
             f'aria-labelledby="{ident}-t {ident}-d" font-family="system-ui, sans-serif" '
             f'font-size="{FONT}" fill="{INK}">'),
            f'<title id="{ident}-t">{_text(title)}</title>',
            f'<desc id="{ident}-d">{_text(desc)}</desc>',
            (f'<text x="0" y="16" font-size="13" font-weight="bold" class="chart-title">'
             f"{_text(title)}</text>")]


def _empty(title: str, empty: str) -> Markup:
    parts = _open(_ident("empty", title, empty), max(400, _heading_width(title)), 52, title,
                  f"{empty}.")
    parts += [f'<text x="0" y="42" fill="#5b6474">{_text(empty)}</text>', "</svg>"]
    return Markup("".join(parts))


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, unit: str = "",
              maximum: float | None = None, tone: str = "info",
              empty: str = "no data yet") -> Markup:
    """Horizontal bars, one per (label, value), in the order given, each with its number.

    ``maximum`` fixes the scale (100 for percentages); a value above it draws a full bar
    and still shows its own number. ``tone`` is one of ``TONES``.
    """
    values = _checked(title, [v for _, v in bars], "bar")
    labels = [str(label) for label, _ in bars]
    if not bars:
        return _empty(title, empty)
    top = maximum if maximum is not None and maximum > 0 else max(values) or 1.0
    shown = [_number(v, unit) for v in values]
    label_w = max(60.0, max(_width(_cut(label)) for label in labels) + 12)
    width = max(label_w + _BAR_WIDTH + max(_width(s) for s in shown) + 14,
                _heading_width(title))
    height = _TOP + len(bars) * (_BAR_HEIGHT + _GAP) + 4
    desc = "; ".join(f"{label}: {s}" for label, s in zip(labels, shown, strict=True)) + "."
    ident = _ident("bar", title, labels, values, unit, maximum)
    parts = _open(ident, width, height, title, desc)
    colour = TONES.get(tone, TONES["info"])
    for i, (label, value, text) in enumerate(zip(labels, values, shown, strict=True)):
        y = _TOP + i * (_BAR_HEIGHT + _GAP)
        length = min(1.0, value / top) * _BAR_WIDTH
        parts += [
            (f'<text x="{label_w - 8:.1f}" y="{y + 13}" text-anchor="end">'
             f"{_text(_cut(label))}</text>"),
            (f'<rect x="{label_w:.1f}" y="{y}" width="{length:.1f}" height="{_BAR_HEIGHT}" '
             f'fill="{colour}"><title>{_text(label)}: {_text(text)}</title></rect>'),
            f'<text x="{label_w + length + 6:.1f}" y="{y + 13}">{_text(text)}</text>',
        ]
    parts.append("</svg>")
    return Markup("".join(parts))


def _ink_on(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (WCAG relative luminance)."""
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(fill[i:i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"


def stacked_columns(title: str, columns: Sequence[str],
                    series: Sequence[tuple[str, Sequence[float]]], *,
                    empty: str = "no data yet") -> Markup:
    """Vertical columns (e.g. one per day), each a stack of ``series`` (e.g. destinations).

    ``series`` is (name, one value per column). Segments carry their number where it fits
    and a ``<title>`` always; the total stands above each column; a legend names the
    series from the bottom of the stack up.
    """
    names = [str(name) for name, _ in series]
    stacks = [_checked(title, values, f"series {name!r}, column") for name, values in series]
    if any(len(values) != len(columns) for values in stacks):
        raise ValueError(f"chart {title!r}: every series needs one value per column "
                         f"({len(columns)})")
    totals = [sum(col) for col in zip(*stacks, strict=True)] if stacks else []
    if not columns or not series or not any(totals):
        return _empty(title, empty)
    top = max(totals)
    slot = max(28.0, min(72.0, 480 / len(columns)))
    bar = slot * 0.7
    heads = [_cut(str(c)) for c in columns]
    rotate = any(_width(h) > slot - 4 for h in heads)  # long names under narrow columns
    longest = max(_width(h) for h in heads)
    below = longest * 0.72 + 16 if rotate else 20
    # a turned name reaches left of its column: the first one must not leave the drawing
    left = max(0.0, longest * 0.72 - slot / 2 + 4) if rotate else 0.0
    plot_top = _TOP + 16                                    # room for the totals
    plot_w = slot * len(columns)
    legend_x = left + plot_w + 24
    legend = legend_x + 18 + max(_width(_cut(n)) for n in names) + 8 if len(names) > 1 \
        else left + plot_w + 8
    width = max(legend, _heading_width(title))
    height = max(plot_top + _PLOT_HEIGHT + below, plot_top + 18 * len(names)) + 4
    desc = "; ".join(
        f"{c}: " + ", ".join(f"{n} {_number(v[i], '')}" for n, v in zip(names, stacks,
                                                                       strict=True))
        + f" (total {_number(totals[i], '')})" for i, c in enumerate(columns)) + "."
    ident = _ident("stack", title, list(columns), names, stacks)
    parts = _open(ident, width, height, title, desc)
    base = plot_top + _PLOT_HEIGHT
    parts.append(f'<line x1="{left:.1f}" y1="{base}" x2="{left + plot_w:.1f}" y2="{base}" '
                 'stroke="#8a93a3"/>')
    for i, column in enumerate(columns):
        x = left + i * slot + (slot - bar) / 2
        y = float(base)
        for s, (name, values) in enumerate(zip(names, stacks, strict=True)):
            value = values[i]
            h = value / top * _PLOT_HEIGHT
            y -= h
            fill = SERIES[s % len(SERIES)]
            number = _number(value, "")
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{fill}"><title>{_text(column)} · {_text(name)}: '
                         f"{number}</title></rect>")
            if h >= FONT + 1 and _width(number) + 4 <= bar:
                parts.append(f'<text x="{x + bar / 2:.1f}" y="{y + h / 2 + 4:.1f}" '
                             f'text-anchor="middle" fill="{_ink_on(fill)}">{number}</text>')
        total = _number(totals[i], "")
        if _width(total) <= slot:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                         f"{total}</text>")
        cx = x + bar / 2
        if rotate:
            parts.append(f'<text x="{cx:.1f}" y="{base + 14}" text-anchor="end" '
                         f'transform="rotate(-45 {cx:.1f} {base + 14})">'
                         f"{_text(heads[i])}</text>")
        else:
            parts.append(f'<text x="{cx:.1f}" y="{base + 15}" text-anchor="middle">'
                         f"{_text(heads[i])}</text>")
    if len(names) > 1:
        for s, name in enumerate(names):
            y = plot_top + 18 * (len(names) - 1 - s)  # top of the legend = top of the stack
            parts += [(f'<rect x="{legend_x:.1f}" y="{y}" width="12" height="12" '
                       f'fill="{SERIES[s % len(SERIES)]}"/>'),
                      f'<text x="{legend_x + 18:.1f}" y="{y + 11}">{_text(_cut(name))}</text>']
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(title: str, bars: Sequence[tuple[str, float]], *,
                 empty: str = "no data yet") -> Markup:
    """Vertical bars, one per (label, value): a stack of one series."""
    return stacked_columns(title, [label for label, _ in bars],
                           [(title, [value for _, value in bars])], empty=empty)


_DASHES = ("", "7 4", "2 3", "10 3 2 3")  # series differ by dash as well as colour


def _mark(shape: int, x: float, y: float, fill: str, label: str | None) -> str:
    """A point of series ``shape``: circle, square or diamond, with its ``<title>``
    (none on the legend's sample)."""
    title = "" if label is None else f"<title>{_text(label)}</title>"
    if shape % 3 == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}">{title}</circle>'
    if shape % 3 == 1:
        return (f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="{fill}">'
                f"{title}</rect>")
    return (f'<path d="M{x:.1f} {y - 4:.1f}L{x + 4:.1f} {y:.1f}L{x:.1f} {y + 4:.1f}'
            f'L{x - 4:.1f} {y:.1f}Z" fill="{fill}">{title}</path>')


def line_chart(title: str, xs: Sequence[str],
               series: Sequence[tuple[str, Sequence[float | None]]], *, unit: str = "",
               maximum: float | None = None, decimals: int | None = None,
               x_title: str = "", markers: Sequence[tuple[int, str]] = (),
               empty: str = "no data yet") -> Markup:
    """Lines over one x axis (thresholds, days), one per ``series`` of (name, one value
    per x); ``None`` leaves a gap where there is nothing to measure.

    Series differ by colour, dash and point shape, and a legend names them; every point
    carries a ``<title>`` and the ``<desc>`` lists every figure. ``maximum`` fixes the top
    of the scale (100 for percentages); ``decimals`` how numbers are written (default: as
    the bar charts do). ``markers``: (index into ``xs``, label), a dashed upright line
    with its label, e.g. a suggested threshold.
    """
    names = [str(name) for name, _ in series]
    lines: list[list[float | None]] = []
    for name, values in series:
        if len(values) != len(xs):
            raise ValueError(f"chart {title!r}: every series needs one value per x "
                             f"({len(xs)})")
        checked = _checked(title, [0.0 if v is None else v for v in values],
                           f"series {name!r}, value")
        lines.append([None if v is None else c for v, c in zip(values, checked, strict=True)])
    present = [v for line in lines for v in line if v is not None]
    if not xs or not present:
        return _empty(title, empty)

    def shown(value: float | None) -> str:
        if value is None:
            return "no value"
        return _number(value, unit) if decimals is None else f"{value:.{decimals}f}{unit}"

    top = maximum if maximum is not None and maximum > 0 else max(present) or 1.0
    ticks = [top * i / 4 for i in range(5)]
    left = max(_width(_number(t, unit)) for t in ticks) * 1.2 + 10  # digits run wide
    plot_top = _TOP + (22 if markers else 8)
    plot_w = float(min(520, max(240, 14 * len(xs))))
    step = plot_w / (len(xs) - 1) if len(xs) > 1 else 0.0
    heads = [_cut(str(x)) for x in xs]
    every = max(1, math.ceil((max(_width(h) for h in heads) + 8) / step)) if step else 1
    base = plot_top + _PLOT_HEIGHT
    legend_x = left + plot_w + 24
    width = max(legend_x + 30 + max(_width(_cut(n)) for n in names) + 8,
                _heading_width(title))
    height = max(base + 20 + (18 if x_title else 0), plot_top + 18 * len(names)) + 6
    desc = "; ".join(f"{x_title + ' ' if x_title else ''}{x}: " + ", ".join(
        f"{n} {shown(line[i])}" for n, line in zip(names, lines, strict=True))
        for i, x in enumerate(xs)) + "."
    ident = _ident("line", title, list(xs), names, lines, unit, maximum, decimals,
                   list(markers), x_title)
    parts = _open(ident, width, height, title, desc)

    def px(i: int) -> float:
        return left + (i * step if len(xs) > 1 else plot_w / 2)

    def py(value: float) -> float:
        return base - min(1.0, value / top) * _PLOT_HEIGHT

    for t in ticks:
        y = py(t)
        parts += [(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + plot_w:.1f}" '
                   f'y2="{y:.1f}" stroke="{"#8a93a3" if t == 0 else "#d9dee7"}"/>'),
                  (f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">'
                   f"{_text(_number(t, unit))}</text>")]
    for i, head in enumerate(heads):
        if i % every == 0:
            parts.append(f'<text x="{px(i):.1f}" y="{base + 15}" text-anchor="middle">'
                         f"{_text(head)}</text>")
    if x_title:
        parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{base + 33}" '
                     f'text-anchor="middle" fill="#5b6474">{_text(x_title)}</text>')
    for index, label in markers:
        if 0 <= index < len(xs):
            x = px(index)
            anchor = "start" if x < left + 40 else "end" if x > left + plot_w - 40 \
                else "middle"
            parts += [(f'<line x1="{x:.1f}" y1="{plot_top - 4}" x2="{x:.1f}" y2="{base}" '
                       f'stroke="{INK}" stroke-dasharray="4 3"/>'),
                      (f'<text x="{x:.1f}" y="{plot_top - 8}" text-anchor="{anchor}">'
                       f"{_text(_cut(label))}</text>")]
    for s, (name, line) in enumerate(zip(names, lines, strict=True)):
        colour, dash = SERIES[s % len(SERIES)], _DASHES[s % len(_DASHES)]
        path, pen_down = [], False
        for i, value in enumerate(line):
            if value is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{px(i):.1f} {py(value):.1f}")
            pen_down = True
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" '
                     f'stroke-width="2"{dashing}/>')
        parts += [_mark(s, px(i), py(value), colour,
                        f"{x_title + ' ' if x_title else ''}{xs[i]} · {name}: {shown(value)}")
                  for i, value in enumerate(line) if value is not None]
        y = plot_top + 18 * s
        parts += [(f'<line x1="{legend_x:.1f}" y1="{y + 6}" x2="{legend_x + 24:.1f}" '
                   f'y2="{y + 6}" stroke="{colour}" stroke-width="2"{dashing}/>'),
                  _mark(s, legend_x + 12, y + 6, colour, None),
                  f'<text x="{legend_x + 30:.1f}" y="{y + 10}">{_text(_cut(name))}</text>']
    parts.append("</svg>")
    return Markup("".join(parts))
