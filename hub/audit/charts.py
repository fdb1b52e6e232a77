"""Small inline-SVG charts for the reports (matplotlib, no network, no JavaScript)."""

from __future__ import annotations

import io

import pandas as pd


def _svg(figure) -> str:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog: the SVG sits inside HTML


def bar(series: pd.Series, title: str, *, horizontal: bool = True, colour: str = "#3b6ea5"
        ) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, max(1.6, 0.32 * len(series) + 0.8)))
    if series.empty:
        ax.text(0.5, 0.5, "no data in this period", ha="center", va="center")
        ax.set_axis_off()
    elif horizontal:
        series.sort_values().plot.barh(ax=ax, color=colour)
    else:
        series.plot.bar(ax=ax, color=colour)
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_ylabel("")
    fig.tight_layout()
    svg = _svg(fig)
    plt.close(fig)
    return svg


def stacked_over_time(frame: pd.DataFrame, title: str) -> str:
    """``frame``: index = day, columns = series (e.g. systems), values = counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    if frame.empty:
        ax.text(0.5, 0.5, "no data in this period", ha="center", va="center")
        ax.set_axis_off()
    else:
        frame.plot.bar(stacked=True, ax=ax, width=0.8)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
        ax.set_xlabel("")
    ax.set_title(title, loc="left", fontsize=11)
    fig.tight_layout()
    svg = _svg(fig)
    plt.close(fig)
    return svg
