"""The line chart of the one chart helper: named for screen readers, points to scale, gaps
where nothing was measured, series told apart without colour, the same bytes each time."""

from __future__ import annotations

import math

import pytest

from hub.web.charts import line_chart
from tests.web.test_charts import HOSTILE, NS, parse, texts

SVG = "{http://www.w3.org/2000/svg}"
XS = ["0.80", "0.85", "0.90", "0.95"]


def _chart(**kw: object) -> str:
    return str(line_chart("Auto-merge", XS, [("precision", [60.0, 75.0, 100.0, None]),
                                             ("recall", [100.0, 100.0, 66.7, 0.0])],
                          unit="%", maximum=100, decimals=1, x_title="threshold", **kw))


def _points(svg: str) -> list[tuple[str, float, float]]:
    """(title, x, y) of every data point: the marks that carry their own <title>."""
    found = []
    for el in parse(svg).iter():
        title = el.find("svg:title", NS)
        if el.tag in (SVG + "circle", SVG + "rect", SVG + "path") and title is not None:
            if el.tag == SVG + "circle":
                x, y = float(el.get("cx", "")), float(el.get("cy", ""))
            elif el.tag == SVG + "rect":
                x, y = float(el.get("x", "")) + 3, float(el.get("y", "")) + 3
            else:
                start = (el.get("d") or "")[1:].split("L")[0].split()
                x, y = float(start[0]), float(start[1]) + 4
            found.append((title.text or "", x, y))
    return found


def test_a_line_chart_names_itself_and_lists_every_figure() -> None:
    root = parse(_chart())
    assert root.get("role") == "img" and root[0].text == "Auto-merge"
    assert root[1].text == ("threshold 0.80: precision 60.0%, recall 100.0%; "
                            "threshold 0.85: precision 75.0%, recall 100.0%; "
                            "threshold 0.90: precision 100.0%, recall 66.7%; "
                            "threshold 0.95: precision no value, recall 0.0%.")
    assert {"precision", "recall", "threshold", "0.80", "0.95", "100%", "0%"} <= \
        set(texts(root))


def test_points_to_scale_and_a_gap_where_nothing_was_measured() -> None:
    svg = _chart()
    points = _points(svg)
    assert [t for t, _, _ in points] == [
        "threshold 0.80 · precision: 60.0%", "threshold 0.85 · precision: 75.0%",
        "threshold 0.90 · precision: 100.0%",
        "threshold 0.80 · recall: 100.0%", "threshold 0.85 · recall: 100.0%",
        "threshold 0.90 · recall: 66.7%", "threshold 0.95 · recall: 0.0%"]
    ys = {t: y for t, _, y in points}
    zero, full = ys["threshold 0.95 · recall: 0.0%"], ys["threshold 0.80 · recall: 100.0%"]
    for title, y in ys.items():
        value = float(title.rsplit(": ", 1)[1].rstrip("%"))
        assert (zero - y) / (zero - full) == pytest.approx(value / 100, abs=0.002)
    xs = sorted({round(x, 1) for _, x, _ in points})
    assert len(xs) == 4 and xs[1] - xs[0] == pytest.approx(xs[3] - xs[2], abs=0.2)
    # the lines: precision stops at 0.90 (no M after its start), recall runs through
    lines = [el for el in parse(svg).iter(SVG + "path") if el.get("fill") == "none"]
    assert [(el.get("d") or "").count("M") for el in lines] == [1, 1]
    assert [(el.get("d") or "").count("L") for el in lines] == [2, 3]
    # told apart without colour: one solid, one dashed
    assert [el.get("stroke-dasharray") for el in lines] == [None, "7 4"]


def test_a_marker_an_escaped_label_and_the_same_bytes() -> None:
    svg = _chart(markers=[(2, "suggested 0.90")])
    assert "suggested 0.90" in texts(parse(svg))
    assert svg == _chart(markers=[(2, "suggested 0.90")])
    assert parse(svg)[0].get("id") != parse(_chart())[0].get("id")
    hostile = str(line_chart(HOSTILE, [HOSTILE], [(HOSTILE, [1.0])]))
    assert "<script" not in hostile and HOSTILE in texts(parse(hostile))
    assert "href" not in svg and "<script" not in svg and "style=" not in svg


def test_empty_and_bad_input() -> None:
    assert "no decided pairs" in texts(parse(line_chart(
        "Nothing", XS, [("p", [None] * 4)], empty="no decided pairs")))
    assert "no data yet" in texts(parse(line_chart("Nothing", [], [])))
    with pytest.raises(ValueError, match="one value per x"):
        line_chart("Short", XS, [("p", [1.0])])
    with pytest.raises(ValueError, match=r"chart 'Bad', series 'p', value 3: .*finite"):
        line_chart("Bad", XS, [("p", [1.0, None, math.nan, 2.0])])
