"""Stray quotes in CSV files: refused with their line range, never merging rows (#15).

A quote opened where it should not be (``1004,"Eve,...``) made the csv module read the
following lines into one value: good rows vanished, or (with a second stray quote) one
customer's first name held two other customers' whole lines. Now such a record is
refused, naming its lines, and the lines after its first are read again as rows. Every
file here is a real file read through the connector (and the rewrite path).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.base import ReadBatch, StreamSpec
from connectors.csv.connector import CsvConnector, CsvSettings
from connectors.csv.rows import iter_rows
from connectors.files.text import Lines, text_lines
from hub.cli.main import app
from hub.context import open_hub
from hub.store import bulk
from hub.store.matching_tables import GoldenRetired
from hub.store.tables import Quarantine, Xref
from hub.sync.runner import run_sync
from tests.matching.deploy import PERSON, person, system, write_deployment, write_rows

SPEC = StreamSpec("people.csv", ("id",))
HEADER = "id,first_name,last_name,email,phone,birth_date,street,city,country,tier\n"


def row(number: int, first: str = "Ann") -> str:
    """A ten-column customer row; ``first`` is put in as it is (a stray quote, say)."""
    return (f"{number},{first},Smith,p{number}@example.org,+4930{number},1980-01-02,"
            f"Main St {number},Berlin,de,gold\n")


def connector(tmp_path: Path, **settings: Any) -> CsvConnector:
    return CsvConnector(CsvSettings(**settings), system="crm", base_dir=tmp_path)


def read(tmp_path: Path, text: str, **settings: Any) -> list[ReadBatch]:
    (tmp_path / "people.csv").write_text(text, encoding="utf-8")
    return list(connector(tmp_path, **settings).read(SPEC))


def ids(batches: list[ReadBatch]) -> list[tuple[str, str]]:
    return [(r.location or "", r.data["id"]) for b in batches for r in b.records]


def problems(batches: list[ReadBatch]) -> list[tuple[str | None, str | None, str]]:
    return [(p.location, p.source_key, p.reason) for b in batches for p in b.problems]


def incomplete(batches: list[ReadBatch]) -> str | None:
    return batches[-1].incomplete


TWO_STRAY = (HEADER + row(1001) + row(1002) + row(1003) + row(1004, '"Eve') + row(1005)
             + row(1006, 'Lee"') + row(1007))


def test_two_stray_quotes_refuse_one_record_and_the_rows_after_it_arrive(
        tmp_path: Path) -> None:
    batches = read(tmp_path, TWO_STRAY)
    assert ids(batches) == [("people.csv:2", "1001"), ("people.csv:3", "1002"),
                            ("people.csv:4", "1003"), ("people.csv:6", "1005"),
                            ("people.csv:7", "1006"), ("people.csv:8", "1007")]
    assert problems(batches) == [(
        "people.csv:5-7", "1004",
        ("a quoted field opened at line 5 column 2 (first_name) runs over 2 line breaks into "
        "what look like further records (is a quote not closed?); lines 6-7 are read as "
        "records of their own"))]
    [problem] = [p for b in batches for p in b.problems]
    assert problem.field == "first_name"
    records = {r.data["id"]: r.data for b in batches for r in b.records}
    # nobody's value holds another customer's line; the closing quote is a plain character
    assert records["1005"]["first_name"] == "Ann"
    assert records["1006"]["first_name"] == 'Lee"'
    assert all("\n" not in v and "example.org" not in v for r in records.values()
               for k, v in r.items() if k != "email")
    assert incomplete(batches) is None  # every line was read: one record refused


def test_stray_quotes_on_neighbouring_lines(tmp_path: Path) -> None:
    batches = read(tmp_path, HEADER + row(1001) + row(1004, '"Eve') + row(1005, 'Lee"')
                   + row(1007))
    assert [i for _, i in ids(batches)] == ["1001", "1005", "1007"]
    assert problems(batches) == [(
        "people.csv:3-4", "1004",
        ("a quoted field opened at line 3 column 2 (first_name) runs over 1 line break into "
        "what look like further records (is a quote not closed?); line 4 is read as a record "
        "of its own"))]


def test_a_quote_never_closed_keeps_the_rows_after_it(tmp_path: Path) -> None:
    batches = read(tmp_path, HEADER + row(1001) + row(1004, '"Eve') + row(1005) + row(1006))
    assert [i for _, i in ids(batches)] == ["1001", "1005", "1006"]
    assert problems(batches) == [(
        "people.csv:3-5", "1004",
        ("a quoted field opened at line 3 column 2 (first_name) is never closed: it runs "
        "over 2 line breaks to the end of the file, into what look like further records; "
        "lines 4-5 are read as records of their own"))]
    assert incomplete(batches) is None


def test_a_stray_quote_closed_by_a_wrong_row_and_a_second_one_never_closed(
        tmp_path: Path) -> None:
    # line 3 opens, line 5 closes it (a record of the wrong width) and opens one at its
    # third column that the file never closes: both are refused, lines 4 and 6 arrive
    text = HEADER + row(1001) + row(1004, '"Eve') + row(1005) + '1006,Bo,"Li,x\n' + row(1007)
    batches = read(tmp_path, text)
    assert [i for _, i in ids(batches)] == ["1001", "1005", "1007"]
    assert [(where, key) for where, key, _ in problems(batches)] == \
        [("people.csv:3-5", "1004"), ("people.csv:5-6", "1006")]
    assert "column 3 (last_name) is never closed" in problems(batches)[1][2]


def test_a_stray_quote_running_past_the_field_limit_keeps_every_row_after_it(
        tmp_path: Path) -> None:
    many = "".join(row(n) for n in range(2000, 17000))  # over 1 MiB without a quote
    batches = read(tmp_path, HEADER + row(1004, '"Eve') + many)
    got = [i for _, i in ids(batches)]
    assert got[0] == "2000" and got[-1] == "16999" and len(got) == 15000
    [(where, key, reason)] = problems(batches)
    assert key == "1004" and str(where).startswith("people.csv:2-")
    assert "past the field limit" in reason and "what look like further records" in reason
    assert incomplete(batches) is None


def test_genuine_multiline_values_still_read(tmp_path: Path) -> None:
    address = "c/o Acme\r\nHinterhaus, 2. OG\r\nHauptstr. 1"
    note = "Dear team,\nplease call, before noon"
    text = (HEADER + row(1001)
            + f'1002,Bob,Smith,b@example.org,,1980-01-02,"{address}",Berlin,de,"{note}"\n'
            + '"Multi\nline first",Ann,x,a@example.org,,,,,,\n'  # opened in column 1
            + row(1003))
    for strict in (False, True):
        batches = read(tmp_path, text, strict_quotes=strict)
        assert problems(batches) == []
        records = {r.data["id"]: r for b in batches for r in b.records}
        assert list(records) == ["1001", "1002", "Multi\nline first", "1003"]
        assert records["1002"].data["street"] == address
        assert records["1002"].data["tier"] == note
        assert records["1002"].location == "people.csv:3"
        assert records["1003"].location == "people.csv:9"


def test_a_value_line_like_a_row_but_of_another_kind_stays_a_value(tmp_path: Path) -> None:
    # The inner line has ten fields, but its first one is no id like the record's own.
    street = "Acme Ltd\nUnit 5, Block B, Dock Rd, London, E1, UK, x, y, z"
    text = (HEADER + f'1002,Bob,Smith,b@example.org,,1980-01-02,"{street}",Berlin,de,gold\n'
            + row(1003))
    batches = read(tmp_path, text)
    assert problems(batches) == []
    assert next(r.data["street"] for b in batches for r in b.records) == street


def test_max_field_lines_limits_a_value(tmp_path: Path) -> None:
    value = "line\n" * 3 + "end"
    text = HEADER + f'1002,Bob,Smith,b@example.org,,,"{value}",Berlin,de,gold\n' + row(1003)
    assert problems(read(tmp_path, text, max_field_lines=3)) == []
    batches = read(tmp_path, text, max_field_lines=2)
    assert [i for _, i in ids(batches)] == ["1003"]
    assert problems(batches) == [(
        "people.csv:2-5", "1002",
        ("the quoted value at column 7 (street) runs over 3 line breaks, more than "
        "max_field_lines (2); is a quote not closed?"))]


def test_strict_quotes_refuses_misplaced_quotes(tmp_path: Path) -> None:
    text = (HEADER + row(1001, 'Lee"') + row(1002, '"Bo"b') + row(1003, '"Quoted, fine"')
            + row(1004, '"Say ""hi"""') + row(1005))
    lenient = read(tmp_path, text)
    assert [i for _, i in ids(lenient)] == ["1001", "1002", "1003", "1004", "1005"]
    strict = read(tmp_path, text, strict_quotes=True)
    assert [i for _, i in ids(strict)] == ["1003", "1004", "1005"]
    assert problems(strict) == [
        ("people.csv:2", "1001", ("column 2 (first_name): a quote inside an unquoted value "
                               "(strict_quotes: a quote may only open a value)")),
        ("people.csv:3", "1002", ("column 2 (first_name): text follows the closing quote "
                               "(strict_quotes)"))]


def test_two_column_files_are_checked_with_strict_quotes(tmp_path: Path) -> None:
    # Two columns: a line with one comma is no evidence by default (prose has them)...
    text = "id,note\n1,\"Dear team,\nthanks, Bob\"\n2,\"x\n3,y\n4,z\"\n5,ok\n"
    lenient = read(tmp_path, text)
    assert [i for _, i in ids(lenient)] == ["1", "2", "5"]
    # ... with strict_quotes a swallowed line that reads as a row is enough
    strict = read(tmp_path, text, strict_quotes=True)
    assert [i for _, i in ids(strict)] == ["1", "3", "5"]
    assert [(where, key) for where, key, _ in problems(strict)] == [("people.csv:4-6", "2"),
                                                                      ("people.csv:6", "4")]


def test_a_refused_record_without_a_readable_key_makes_the_read_no_snapshot(
        tmp_path: Path) -> None:
    # The quote opens in the key column: which record was refused cannot be told, so a
    # full snapshot would take it for deleted; the read says it is none.
    batches = read(tmp_path, HEADER + row(1001) + '"1004,Eve,Smith\n' + row(1005) + row(1006))
    assert [i for _, i in ids(batches)] == ["1001", "1005", "1006"]
    assert [(where, key) for where, key, _ in problems(batches)] == [("people.csv:3-5", None)]
    assert incomplete(batches) == (
        "people.csv: a record refused for its quotes has no key that could be read (lines "
        "3-5), so this read is no full snapshot")


def test_a_file_cut_off_inside_a_value_still_ends_early(tmp_path: Path) -> None:
    batches = read(tmp_path, HEADER + row(1001)
                   + '1002,Bob,Smith,b@example.org,,,"Main St\nBack house\n')
    assert [i for _, i in ids(batches)] == ["1001"]
    assert problems(batches) == [
        ("people.csv:3-4", "1002", "a quoted field is never closed (the file ends inside it)")]
    assert incomplete(batches) == (
        "people.csv: a quoted field opened at line 3 is never closed (the file ends inside "
        "it), so lines 3-4 could not be read as records")


def test_without_a_header_the_configured_columns_are_the_shape(tmp_path: Path) -> None:
    body = TWO_STRAY.split("\n", 1)[1]
    batches = read(tmp_path, body, header=False, columns=HEADER.strip().split(","))
    assert [i for _, i in ids(batches)] == ["1001", "1002", "1003", "1005", "1006", "1007"]
    assert [where for where, _, _ in problems(batches)] == ["people.csv:4-6"]


def test_reasons_never_hold_a_value(tmp_path: Path) -> None:
    batches = read(tmp_path, TWO_STRAY, strict_quotes=True)
    for problem in (p for b in batches for p in b.problems):
        text = problem.describe()
        assert not any(v in text for v in ("Eve", "Lee", "Smith", "example.org", "Berlin"))


# -- the rewrite path reads the same rows ------------------------------------------------

SAMPLES = [TWO_STRAY, HEADER + row(1001) + row(1004, '"Eve') + row(1005) + row(1006),
           HEADER + '1002,Bob,S,b@x.org,,,"a\r\nb",Berlin,de,gold\r\n' + row(1003)]


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize("strict", [False, True])
def test_reading_and_rewriting_split_a_file_into_the_same_rows(text: str, strict: bool) -> None:
    settings = CsvSettings(strict_quotes=strict)
    data = text.encode("utf-8")

    def shape(lines: Any) -> list[tuple[int, int, list[str], str | None]]:
        return [(r.line, r.last, r.fields, r.refused.reason if r.refused else None)
                for r in iter_rows(lines, settings)]

    rewriting = Lines(io.BytesIO(data), "utf-8", keep=False)
    assert shape(text_lines(io.BytesIO(data), "utf-8")) == shape(rewriting)
    # and the raw text of the rows the rewrite copies is the file, byte for byte
    raws = "".join(r.raw for r in iter_rows(Lines(io.BytesIO(data), "utf-8", keep=False),
                                            settings))
    assert raws == text


def test_a_rewrite_keeps_the_stray_line_and_updates_the_rows_after_it(
        tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(TWO_STRAY, encoding="utf-8")
    conn = connector(tmp_path)
    assert conn.write(SPEC, [{"id": "1005", "first_name": "Bea"},
                             {"id": "1008", "first_name": "New"}]).written == 2
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    assert lines[4] == row(1004, '"Eve')  # the refused line is copied as it was
    assert lines[5].startswith("1005,Bea,Smith,") and lines[6] == row(1006, 'Lee"')
    assert lines[-1].startswith("1008,New,")
    assert [i for _, i in ids(list(conn.read(SPEC)))] == \
        ["1001", "1002", "1003", "1005", "1006", "1007", "1008"]


# -- through the hub: `kontor sync` on the starter deployment ----------------------------

SHOP_HEADER = "id,first_name,last_name,email,birthday,country,newsletter,tier,changed_at\n"


LAST_NAMES = ["Adams", "Baker", "Clark", "Davis", "Evans", "Fox", "Green"]


def shop_row(number: int, first: str, changed: str) -> str:
    last, day = LAST_NAMES[number - 1001], number - 1000
    return (f"{number},{first},{last},p{number}@example.org,1980-01-{day:02d},de,yes,gold,"
            f"{changed}T00:00:00\n")


def sync(starter: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["--config", str(starter), "sync", "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_a_sync_quarantines_the_stray_record_and_delivers_the_rows_after_it(
        starter: Path) -> None:
    source = starter.parent / "data" / "source" / "customers.csv"
    source.write_text(SHOP_HEADER + "".join(shop_row(n, "Ann", "2026-01-01")
                                            for n in range(1001, 1008)), encoding="utf-8")
    assert sync(starter)[0] == 0
    firsts = {1004: '"Eve', 1005: "Bea", 1006: 'Lee"'}  # two stray quotes, 1005 renamed
    source.write_text(SHOP_HEADER + "".join(shop_row(n, firsts.get(n, "Ann"), "2026-02-01")
                                            for n in range(1001, 1008)), encoding="utf-8")
    code, report = sync(starter)
    assert (code, report["status"]) == (2, "partial")  # refused, not a silent success
    [shop] = [s for s in report["streams"] if s["system"] == "shop"]
    assert (shop["failed"], shop["deleted"], shop["incomplete"]) == (1, 0, None)
    [entry] = report["quarantined"]
    assert (entry["location"], entry["source_key"], entry["field"]) == \
        ("customers.csv:5-7", "1004", "first_name")
    assert entry["reason"] == (
        "a quoted field opened at line 5 column 2 (first_name) runs over 2 line breaks into "
        "what look like further records (is a quote not closed?); lines 6-7 are read as "
        "records of their own")
    target = (starter.parent / "data" / "target" / "subscribers.csv").read_text("utf-8")
    names = {r["email"]: r["first_name"] for r in csv.DictReader(io.StringIO(target))}
    assert len(names) == 7  # 1004 is neither merged into nor taken for deleted
    assert names["p1004@example.org"] == "Ann"  # the refused record keeps what it had
    assert names["p1005@example.org"] == "Bea"  # the rows after the stray quote arrive
    assert names["p1006@example.org"] == 'Lee"'
    assert not any("\n" in n or "@" in n for n in names.values())


@pytest.mark.parametrize("broken, key, incomplete_read", [
    ('3,Vorname3,"Nachname3', "3", False),  # the key before the quote: named, and kept
    ('"3,Vorname3,Nachname3', None, True),  # the quote opens the key: no snapshot
])
def test_a_stray_quote_retires_nothing_even_with_every_delete_allowed(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, broken: str,
        key: str | None, incomplete_read: bool) -> None:
    """Retire on delete, no threshold: the refused record must not count as deleted."""
    monkeypatch.setenv("KONTOR_DATABASE_URL", database_url)
    write_deployment(tmp_path, system("crm"), "deletes:\n  detect: true\n  on_delete: "
                     "retire\n  max_delete_percent: 100\n", {"crm": PERSON})
    people = [person(str(i), f"Vorname{i}", f"Nachname{i}", email=f"p{i}@example.org")
              for i in range(8)]
    write_rows(tmp_path, "crm", people)
    hub = open_hub(tmp_path / "kontor.yaml")
    try:
        assert run_sync(hub.deployment, hub.engine).status == "success"
        path = tmp_path / "data" / "crm.csv"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("3,Vorname3,Nachname3", broken), encoding="utf-8")
        result = run_sync(hub.deployment, hub.engine)
        [counts] = result.streams
        assert result.status == "partial" and result.exit_code == (1 if incomplete_read else 2)
        assert (counts.read, counts.failed, counts.deleted, counts.retired) == (8, 1, 0, 0)
        assert (counts.incomplete is not None) == incomplete_read
        with hub.engine.connect() as conn:
            assert conn.execute(select(bulk.table_of(GoldenRetired))).all() == []
            x = bulk.table_of(Xref)
            assert conn.execute(select(x.c.source_key).where(x.c.deleted_at.is_not(None))
                                ).all() == []
            q = bulk.table_of(Quarantine)
            assert conn.execute(select(q.c.location, q.c.source_key)).all() == [
                ("crm.csv:5-9", key)]
    finally:
        hub.close()
