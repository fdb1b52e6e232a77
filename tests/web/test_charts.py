"""The inline SVG bar chart: scaled bars, escaped labels, no external references."""

from __future__ import annotations

import re

from hub.web.charts import bar_chart


def _widths(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]


def test_bars_scale_to_the_largest_value_or_a_fixed_maximum() -> None:
    svg = str(bar_chart("Counts", [("a", 10), ("b", 5), ("c", 0)]))
    assert _widths(svg) == [320.0, 160.0, 0.0]
    percent = str(bar_chart("Filled", [("x", 50), ("y", 150)], unit="%", maximum=100))
    assert _widths(percent) == [160.0, 320.0]  # clipped at the maximum
    assert ">50%<" in percent


def test_labels_are_escaped_and_nothing_is_loaded_from_elsewhere() -> None:
    svg = str(bar_chart("<b>title</b>", [('<script>alert("x")</script>', 1)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "&lt;b&gt;title" in svg
    assert "href" not in svg and "http://www.w3.org/2000/svg" in svg
    assert svg.count("http") == 1  # only the SVG namespace


def test_empty_chart_says_so() -> None:
    assert "no data yet" in str(bar_chart("Nothing", []))
