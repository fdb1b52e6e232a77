"""``kontor matching train`` and ``kontor matching evaluate`` on generated files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench import person_data
from hub.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("people")
    person_data.write(person_data.linkage(3000, seed=21), folder)
    return folder


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["matching", *args])
    return result.exit_code, result.output


def test_train_then_evaluate(files: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.json"
    code, out = _cli("train", str(files / "A.csv"), str(files / "B.csv"), "--link",
                     "--out", str(model), "--json")
    assert code == 0, out
    summary = json.loads(out)
    saved = json.loads(model.read_text(encoding="utf-8"))
    assert summary["version"] == saved["version"] and saved["format"] == "kontor-fs-model/1"
    assert {lv["level"] for lv in saved["comparisons"]["date_of_birth"]} >= {
        "exact", "day_month_swapped"}
    assert 0 < saved["prior"] < 0.01
    page = Path(summary["report"]).read_text(encoding="utf-8")
    assert summary["report"] == str(model.with_suffix(".html"))
    assert saved["version"] in page and "day_month_swapped" in page and "<svg" in page
    names = {row.split(",")[1] for row in (files / "A.csv").read_text(
        encoding="utf-8").splitlines()[1:200]}
    assert not any(f">{n}<" in page for n in names if n)  # no record value on the page
    code, out = _cli("evaluate", str(files / "A.csv"), str(files / "B.csv"), "--link",
                     "--model", str(model), "--truth", str(files / "truth.csv"), "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["model"] == saved["version"]
    assert result["f1"] > 0.95 and result["precision"] > 0.95
    for example in result["false_links"] + result["missed"]:
        assert set(example) == {"a", "b", "probability", "levels"}  # keys, never values
    # a higher bar links fewer pairs
    code, out = _cli("evaluate", str(files / "A.csv"), str(files / "B.csv"), "--link",
                     "--model", str(model), "--truth", str(files / "truth.csv"),
                     "--threshold", "0.999999", "--json")
    assert json.loads(out)["predicted_pairs"] < result["predicted_pairs"]
    code, out = _cli("evaluate", str(files / "A.csv"), str(files / "B.csv"), "--link",
                     "--model", str(model), "--truth", str(files / "truth.csv"))
    assert code == 0 and "precision" in out and "F1" in out


def test_bad_input_is_named_by_file_line_and_column(files: Path, tmp_path: Path) -> None:
    code, out = _cli("train", str(files / "A.csv"), "--key", "nr", "--out",
                     str(tmp_path / "m.json"))
    assert code == 1 and "A.csv: line 1: no key column 'nr'" in out
    twice = tmp_path / "twice.csv"
    twice.write_text("id,first_name\n7,Anna\n7,Berta\n", encoding="utf-8")
    code, out = _cli("train", str(twice), "--out", str(tmp_path / "m.json"))
    assert code == 1 and "twice.csv: line 3: column 'id': the same key as" in out
    assert "Anna" not in out and "Berta" not in out
    broken = tmp_path / "broken.json"
    broken.write_text("{\n  nope", encoding="utf-8")
    code, out = _cli("evaluate", str(files / "A.csv"), "--model", str(broken), "--truth",
                     str(files / "truth.csv"))
    assert code == 1 and "line 2, column" in out
    model = tmp_path / "m.json"
    assert _cli("train", str(files / "A.csv"), "--out", str(model))[0] == 0
    code, out = _cli("evaluate", str(files / "A.csv"), "--model", str(model), "--truth",
                     str(files / "truth.csv"))
    assert code == 1 and "truth.csv: line 2, column 2: a key that is in none" in out


def test_train_options_for_files(files: Path, tmp_path: Path) -> None:
    """--block replaces the rules, --compare adds a column, --no-tf drops the tables."""
    rows = (files / "A.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "A.csv").write_text("\n".join(
        [rows[0] + ",state"] + [r + ",BY" for r in rows[1:]]) + "\n", encoding="utf-8")
    model = tmp_path / "m.json"
    code, out = _cli("train", str(tmp_path / "A.csv"), str(files / "B.csv"), "--link",
                     "--block", "email", "--block", "soundex(last_name) + year(date_of_birth)",
                     "--compare", "state:exact", "--no-tf", "--out", str(model), "--json")
    assert code == 0, out
    saved = json.loads(model.read_text(encoding="utf-8"))
    assert saved["blocking"]["rules"] == ["email", ["soundex(last_name)",
                                                    "year(date_of_birth)"]]
    assert saved["custom_comparisons"]["state"]["kind"] == "exact"
    assert [lv["level"] for lv in saved["comparisons"]["state"]] == ["exact", "else"]
    assert "term_frequencies" not in saved
    code, out = _cli("train", str(files / "A.csv"), "--compare", "state:fuzzy", "--out",
                     str(model))
    assert code == 1 and "unknown kind 'fuzzy'" in out
