"""The fixed-width connector on real files: layouts, bad lines, atomic upserts and deletes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import StreamSpec
from connectors.fixedwidth import FixedWidthConnector
from connectors.fixedwidth.layout import FixedWidthSettings
from hub import registry
from hub.errors import FatalConnectorError

SPEC = StreamSpec("PERSONAL.DAT", ("PERSNR",))
LAYOUT: list[dict[str, Any]] = [
    {"name": "PERSNR", "width": 6},
    {"name": "NAME", "width": 20},
    {"name": "GEHALT", "start": 30, "width": 8, "align": "right", "pad": "0"},
]


def connector(tmp_path: Path, **settings: Any) -> FixedWidthConnector:
    options: dict[str, Any] = {"fields": LAYOUT, "encoding": "cp1252", **settings}
    return FixedWidthConnector(FixedWidthSettings(**options), system="payroll",
                               base_dir=tmp_path)


def read(conn: FixedWidthConnector) -> tuple[list[tuple[str, dict[str, str]]], list[Any]]:
    batches = list(conn.read(SPEC))
    return ([(r.location, r.data) for b in batches for r in b.records],
            [p for b in batches for p in b.problems])


def line(nr: str, name: str, salary: str = "") -> str:
    return f"{nr:<6}{name:<20}   {salary:>8}"


def test_registered_like_any_plugin() -> None:
    assert registry.get("fixedwidth") is FixedWidthConnector


def test_layout_from_fields_or_names_and_widths() -> None:
    settings = FixedWidthSettings(fields=LAYOUT)
    assert [(s.name, s.begin, s.end) for s in settings.slots] == \
        [("PERSNR", 0, 6), ("NAME", 6, 26), ("GEHALT", 29, 37)]
    short = FixedWidthSettings(names=["A", "B"], widths=[3, 4])
    assert [(s.begin, s.end) for s in short.slots] == [(0, 3), (3, 7)]
    with pytest.raises(ValidationError, match="NAME and X overlap"):
        FixedWidthSettings(fields=[*LAYOUT, {"name": "X", "start": 20, "width": 3}])
    with pytest.raises(ValidationError, match="duplicate field names: NAME"):
        FixedWidthSettings(fields=[*LAYOUT, {"name": "NAME", "start": 40, "width": 1}])
    with pytest.raises(ValidationError, match="equal length"):
        FixedWidthSettings(names=["A"], widths=[1, 2])


def test_reads_cp1252_with_problems_named_by_line(tmp_path: Path) -> None:
    lines = [
        "PERSONALSTAMM 2024".encode("cp1252"),                # line 1: a title
        line("000001", "Müller-Lüdenscheid", "00450000").encode("cp1252"),
        b"",                                                  # line 3: blank
        line("000002", "Bad", "1").encode("cp1252").replace(b"Bad", b"B\x81d"),
        line("000003", "Nul").encode("cp1252").replace(b"Nul", b"N\x00l"),
        "000004Zoë".encode("cp1252"),                         # line 6: trailing blanks cut
    ]
    (tmp_path / "PERSONAL.DAT").write_bytes(b"\r\n".join(lines) + b"\r\n")
    records, problems = read(connector(tmp_path, header_lines=1))
    assert records == [
        ("PERSONAL.DAT:2", {"PERSNR": "000001", "NAME": "Müller-Lüdenscheid",
                            "GEHALT": "00450000"}),
        ("PERSONAL.DAT:6", {"PERSNR": "000004", "NAME": "Zoë", "GEHALT": ""}),
    ]
    assert [(p.location, p.field) for p in problems] == \
        [("PERSONAL.DAT:4", "NAME"), ("PERSONAL.DAT:5", "NAME")]
    assert problems[0].reason == "cannot decode byte 0x81 in field NAME (columns 7-26) as cp1252"
    assert "Bad" not in problems[0].describe() and "Nul" not in problems[1].describe()


def test_strict_length_makes_a_short_line_a_problem(tmp_path: Path) -> None:
    (tmp_path / "PERSONAL.DAT").write_text(line("000001", "A", "1") + "\n000002B\n")
    records, problems = read(connector(tmp_path, strict_length=True))
    assert [d["PERSNR"] for _, d in records] == ["000001"]
    assert problems[0].reason == "line is 7 characters long, the layout needs 37"


def test_upsert_keeps_untouched_lines_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "PERSONAL.DAT"
    original = ("TITLE\r\n" + line("000001", "Alt") + "\r\n").encode("cp1252") + \
        b"000002B\x81d\r\n"  # an undecodable line: copied, never touched
    path.write_bytes(original)
    conn = connector(tmp_path, header_lines=1)
    batch = [{"PERSNR": "000001", "GEHALT": "4500"}, {"PERSNR": "000003", "NAME": "Ødegård"}]
    assert conn.write(SPEC, batch).written == 2
    expected = ("TITLE\r\n" + line("000001", "Alt", "00004500") + "\r\n").encode("cp1252") + \
        b"000002B\x81d\r\n" + (line("000003", "Ødegård") + "\r\n").encode("cp1252")
    assert path.read_bytes() == expected
    conn.write(SPEC, batch)
    assert path.read_bytes() == expected  # re-sending the batch changes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["PERSONAL.DAT"]  # no temp files


def test_values_that_do_not_fit_are_rejected_per_record(tmp_path: Path) -> None:
    conn = connector(tmp_path)
    result = conn.write(SPEC, [{"PERSNR": "000001", "NAME": "x" * 21},
                               {"PERSNR": "000002", "NAME": "王小明"},
                               {"PERSNR": "000003", "NAME": "two\nlines"},
                               {"PERSNR": "000004", "NAME": "fits"}])
    assert result.written == 1
    assert [(k, p.field) for k, p in result.rejected] == \
        [("000001", "NAME"), ("000002", "NAME"), ("000003", "NAME")]
    assert "holds 20" in result.rejected[0][1].reason
    assert "cp1252" in result.rejected[1][1].reason
    with pytest.raises(FatalConnectorError, match="no field.*EMAIL"):
        conn.write(SPEC, [{"PERSNR": "000005", "EMAIL": "a@example.org"}])


def test_delete(tmp_path: Path) -> None:
    path = tmp_path / "PERSONAL.DAT"
    path.write_text(line("000001", "A") + "\n" + line("000002", "B") + "\n")
    conn = connector(tmp_path)
    assert conn.delete(SPEC, ["000001", ("000009",)]).written == 2
    assert path.read_text() == line("000002", "B") + "\n"


def test_rewriting_a_large_file_keeps_memory_flat(tmp_path: Path) -> None:
    import tracemalloc

    with open(tmp_path / "PERSONAL.DAT", "w", encoding="cp1252") as fh:
        fh.writelines(line(f"{i:06d}", f"Name {i}", str(i)) + "\n" for i in range(40_000))
    conn = connector(tmp_path)
    tracemalloc.start()
    try:
        conn.write(SPEC, [{"PERSNR": "000005", "NAME": "changed"}])  # the full rewrite
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, f"{peak >> 20} MiB for a 1.5 MiB file"
