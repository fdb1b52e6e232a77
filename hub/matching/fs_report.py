"""The model as a page: match weight per comparison level, as bars (one HTML file, no
scripts, no external resources). Holds the model's probabilities only, never a value."""

from __future__ import annotations

import math
from html import escape

from hub.matching.fs_model import Model

_BAR = 14  # pixels per level row
_SCALE = 12  # pixels per bit


def _bars(levels: tuple[str, ...], bits: list[float], m: list[float], u: list[float]) -> str:
    mid = 160 + 20 * _SCALE
    width = mid + 20 * _SCALE + 80
    rows = []
    for n, (name, b) in enumerate(zip(levels, bits)):
        y = n * (_BAR + 4)
        length = min(abs(b), 20) * _SCALE
        x = mid if b >= 0 else mid - length
        colour = "#2f7d32" if b >= 0 else "#b3261e"
        rows.append(
            f'<text x="0" y="{y + 11}">{escape(name)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{_BAR}" fill="{colour}">'
            f"<title>m {m[n]:.4g}, u {u[n]:.4g}</title></rect>"
            f'<text x="{mid + (length + 4 if b >= 0 else 4):.1f}" y="{y + 11}">{b:+.1f}</text>')
    height = len(levels) * (_BAR + 4)
    return (f'<svg width="{width}" height="{height}" font-size="11" font-family="sans-serif">'
            f'<line x1="{mid}" y1="0" x2="{mid}" y2="{height}" stroke="#888"/>'
            + "".join(rows) + "</svg>")


def render(model: Model) -> str:
    data = model.to_dict()
    parts = [f"<h1>Matching model {escape(data['version'])}</h1>",
             (f"<p>Prior (two random records are one person): {model.prior:.3g} "
             f"({math.log2(model.prior / (1 - model.prior)):+.1f} bits). "
             f"Auto-merge at probability {model.auto_merge}, review from {model.review}. "
             f"Trained on {model.trained.get('records', '?')} records.</p>"),
             ("<p>Bars: the match weight in bits a pair gets for each level (log2 m/u); "
             "hover for m and u. A field missing on either side adds nothing.</p>")]
    for c in model.comparisons:
        levels = data["comparisons"][c.name]
        kind = f" ({escape(str(c.spec['kind']))}, custom)" if c.spec else ""
        parts.append(f"<h2>{escape(c.name)}{kind}</h2>" + _bars(
            c.levels, [lv["bits"] for lv in levels], [lv["m"] for lv in levels],
            [lv["u"] for lv in levels]))
    if model.tf is not None:
        items = "".join(
            f"<li>{escape(name)} (level {escape(data['term_frequencies']['tables'][name]['level'])}): "
            f"{len(t.values)} common values listed as digests</li>"
            for name, t in model.tf.tables.items())
        parts.append("<h2>Term frequencies</h2><p>An exact agreement on a common value "
                     "counts less, on a rare one more: log2(mean / frequency) bits. Values "
                     f"held by fewer than {model.tf.min_count} records are not listed."
                     f"</p><ul>{items}</ul>")
    rules = "".join(f"<li>{escape(r if isinstance(r, str) else ' + '.join(r))}</li>"
                    for r in model.blocking)
    parts.append(f"<h2>Blocking</h2><p>Pairs sharing a key of any rule are scored (blocks "
                 f"up to {model.max_block} records).</p><ul>{rules}</ul>")
    sessions = "".join(f"<li>{escape(s['rule'])}: {s['pairs']} pairs, {s['match_share']:.1%} "
                       f"matches, {s['iterations']} iterations</li>"
                       for s in model.trained.get("sessions", []))
    parts.append(f"<h2>Training (EM sessions)</h2><ul>{sessions}</ul>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Matching model "
            f"{escape(data['version'])}</title></head><body>" + "".join(parts) +
            "</body></html>\n")
