"""The one chart helper: well-formed inline SVG, named for screen readers, bars to scale,
labels escaped, nothing loaded from elsewhere, the same bytes for the same data."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from defusedxml.ElementTree import fromstring

from hub.web.charts import MAX_LABEL, bar_chart, column_chart, stacked_columns

NS = {"svg": "http://www.w3.org/2000/svg"}
HOSTILE = '<script>alert("x")</script> & \'co\''


def parse(svg: object) -> ET.Element:
    root = fromstring(str(svg))  # raises on anything that is not well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    """The data marks: every rect that carries its own <title> (legend swatches don't)."""
    return [r for r in root.iter("{http://www.w3.org/2000/svg}rect")
            if r.find("svg:title", NS) is not None]


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_a_bar_chart_names_itself_for_screen_readers() -> None:
    root = parse(bar_chart("Open quarantine per system", [("crm", 4), ("hr", 1)]))
    assert root.get("role") == "img"
    title, desc = root[0], root[1]
    assert title.tag.endswith("title") and title.text == "Open quarantine per system"
    assert desc.tag.endswith("desc") and desc.text == "crm: 4; hr: 1."
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_one_bar_per_value_to_scale_with_its_number_as_text() -> None:
    root = parse(bar_chart("Counts", [("a", 10), ("b", 5), ("c", 0), ("d", 2.5)]))
    marks = bars(root)
    assert len(marks) == 4
    widths = [float(r.get("width", "")) for r in marks]
    assert widths[0] > 0 and [w / widths[0] for w in widths] == [1.0, 0.5, 0.0, 0.25]
    assert [r.find("svg:title", NS).text for r in marks] == ["a: 10", "b: 5", "c: 0",  # type: ignore[union-attr]
                                                             "d: 2.5"]
    shown = texts(root)
    assert ["a", "b", "c", "d"] == [t for t in shown if t in "abcd"]
    assert {"10", "5", "0", "2.5"} <= set(shown)  # readable without colour or hovering


def test_a_fixed_maximum_scales_and_clips_but_shows_the_real_number() -> None:
    root = parse(bar_chart("Filled", [("x", 50), ("y", 150)], unit="%", maximum=100))
    x, y = (float(r.get("width", "")) for r in bars(root))
    assert x == pytest.approx(y / 2)  # y is clipped at the maximum: a full bar
    assert "150%" in texts(root) and "50%" in texts(root)


def test_labels_are_escaped_and_come_back_intact() -> None:
    svg = str(bar_chart(f"<b>{HOSTILE}</b>", [(HOSTILE, 1)]))
    assert "<script" not in svg and "<b>" not in svg and "&lt;script&gt;" in svg
    root = parse(svg)
    assert root[0].text == f"<b>{HOSTILE}</b>"
    assert HOSTILE in texts(root)


def test_nothing_is_loaded_from_elsewhere() -> None:
    for svg in (bar_chart("a", [("b", 1)]), stacked_columns("a", ["d"], [("s", [1])])):
        text = str(svg)
        assert "href" not in text and "<script" not in text and "style=" not in text
        assert text.count("http") == 1  # only the SVG namespace


def test_long_labels_are_cut_on_the_drawing_but_whole_in_the_title() -> None:
    label = "destination." + "x" * 80
    root = parse(bar_chart("Long", [(label, 3)]))
    assert [t for t in texts(root) if t.startswith("destination.")] == [
        label[:MAX_LABEL - 1] + "…"]
    assert bars(root)[0].find("svg:title", NS).text == f"{label}: 3"  # type: ignore[union-attr]
    assert label in (root[1].text or "")


def test_the_same_data_gives_the_same_bytes() -> None:
    one = bar_chart("Counts", [("a", 1), ("b", 2)])
    assert one == bar_chart("Counts", [("a", 1), ("b", 2)])
    other = bar_chart("Counts", [("a", 1), ("b", 3)])
    assert parse(one)[0].get("id") != parse(other)[0].get("id")  # two charts, two ids


def test_an_empty_chart_says_so() -> None:
    root = parse(bar_chart("Nothing", [], empty="no data in this period"))
    assert root[0].text == "Nothing" and "no data in this period" in texts(root)
    assert not bars(root)
    assert "no data yet" in texts(parse(stacked_columns("Nothing", [], [])))


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0])
def test_a_value_that_is_no_count_is_refused_by_position(value: float) -> None:
    with pytest.raises(ValueError, match=r"chart 'Counts', bar 2: .*finite number") as err:
        bar_chart("Counts", [("a", 1), ("b", value)])
    assert str(value) not in str(err.value)


def test_stacked_columns_stack_each_series_to_scale_with_a_legend() -> None:
    root = parse(stacked_columns("Records sent per day", ["2026-01-01", "2026-01-02"],
                                 [("payroll", [30, 10]), ("newsletter", [10, 0])]))
    marks = bars(root)
    assert len(marks) == 4  # one per (day, destination)
    titles = [r.find("svg:title", NS).text for r in marks]  # type: ignore[union-attr]
    assert titles == ["2026-01-01 · payroll: 30", "2026-01-01 · newsletter: 10",
                      "2026-01-02 · payroll: 10", "2026-01-02 · newsletter: 0"]
    heights = [float(r.get("height", "")) for r in marks]
    assert [h / heights[0] for h in heights] == pytest.approx([1, 1 / 3, 1 / 3, 0])
    # the newsletter sits on top of payroll in the same column
    assert float(marks[1].get("y", "")) + heights[1] == pytest.approx(
        float(marks[0].get("y", "")))
    shown = texts(root)
    assert {"40", "30", "10", "payroll", "newsletter", "2026-01-01"} <= set(shown)
    assert (root[1].text or "").startswith("2026-01-01: payroll 30, newsletter 10 (total 40)")


def test_stacked_columns_need_one_value_per_column() -> None:
    with pytest.raises(ValueError, match="one value per column"):
        stacked_columns("Days", ["d1", "d2"], [("s", [1])])


def test_many_columns_turn_their_names() -> None:
    days = [f"2026-01-{d:02}" for d in range(1, 31)]
    root = parse(stacked_columns("A month", days, [("crm", list(range(30)))]))
    assert len(bars(root)) == 30
    assert sum(1 for t in root.iter("{http://www.w3.org/2000/svg}text")
               if (t.get("transform") or "").startswith("rotate")) == 30


def test_a_column_chart_is_a_stack_of_one() -> None:
    root = parse(column_chart("Runs", [("run 1", 2), ("run 2", 4)]))
    heights = [float(r.get("height", "")) for r in bars(root)]
    assert heights[1] == pytest.approx(2 * heights[0])
