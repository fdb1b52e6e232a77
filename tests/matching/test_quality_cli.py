"""``kontor quality``, ``kontor dedupe`` and ``kontor steward`` through the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring
from typer.testing import CliRunner

from hub.cli.main import app
from tests.matching.deploy import PERSON, person, system, write_deployment, write_rows

runner = CliRunner()
ANNA = {"email": "anna@example.org", "phone": "030 1234567", "street": "Hauptstraße 5",
        "zip": "10115", "city": "Berlin", "dob": "1980-03-04"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_deployment(tmp_path, system("crm") + system("shop"), "",
                            {"crm": PERSON, "shop": PERSON})
    write_rows(tmp_path, "crm", [
        person("1", "Anna", "Schmidt", **ANNA),
        person("2", "Schmidt", "Anna", **{**ANNA, "email": ""}),  # a duplicate in the CRM
        person("3", "Paul", "Weber", email="paul@example.org", city="Köln", dob="1970-01-01"),
        person("4", "Ida", "Richter", dob="31.12.2001"),  # refused: not an ISO date
    ])
    write_rows(tmp_path, "shop", [
        person("s1", "Paul", "Weber", email="paul@example.org", city="Bonn"),  # disagrees
        person("s2", "Anna", "Schmidt", dob="1980-03-04", zip="80331", city="München",
               street="Ringstraße 9")])  # maybe Anna, maybe not: for the steward
    return path


def _cli(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_dedupe_reports_clusters_inside_one_source_and_writes_nothing(config: Path) -> None:
    code, out = _cli(config, "dedupe", "crm", "--json")
    assert code == 0, out
    [report] = json.loads(out)
    assert report["stream"] == "crm.people" and report["records"] == 3
    assert report["unreadable"] == 1
    assert [c["keys"] for c in report["clusters"]] == [["1", "2"]]
    assert report["clusters"][0]["evidence"]["name_order"] == "swapped"
    assert "Schmidt" not in out and not (config.parent / "kontor.db").exists() or \
        _cli(config, "status", "--json")[1].count('"customer": 0') == 1
    code, out = _cli(config, "dedupe", "nosuch")
    assert code == 1 and "no inbound stream" in out


def test_quality_table_json_and_html(config: Path, tmp_path: Path) -> None:
    assert _cli(config, "sync")[0] == 2  # Ida's date is refused
    code, out = _cli(config, "quality", "--json")
    assert code == 0, out
    report = json.loads(out)
    crm = report["systems"]["crm"]["customer"]
    assert crm["records"] == 3
    assert crm["fields"]["email"]["completeness"] == pytest.approx(2 / 3, abs=1e-3)
    assert crm["fields"]["date_of_birth"]["invalid"] == 1
    conflicts = {c["field"]: c for c in report["conflicts"]}
    # Paul lives in Köln for the CRM and in Bonn for the shop (and each has its own number)
    assert set(conflicts) == {"city", "customer_number"}
    assert (conflicts["city"]["systems"], conflicts["city"]["records"]) == (["crm", "shop"], 1)
    [cluster] = report["duplicate_clusters"]
    assert len(cluster["golden_ids"]) == 2
    assert "Köln" not in out and "Bonn" not in out  # names records, never values

    page = tmp_path / "quality.html"
    code, out = _cli(config, "quality", "crm", "--html", str(page))
    assert code == 0 and "crm · customer" in out
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") >= 3 and "Completeness" in text
    titles = [fromstring(svg)[0].text for svg in re.findall(r"<svg.*?</svg>", text, re.DOTALL)]
    assert titles[:2] == ["Completeness: crm · customer",
                          "Invalid values (open quarantine): crm · customer"]
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in text and "Köln" not in text


def test_steward_commands_review_decide_merge_unmerge_override(config: Path) -> None:
    _cli(config, "sync")
    code, out = _cli(config, "steward", "review", "--json")
    [pair] = json.loads(out)
    code, out = _cli(config, "steward", "decide", str(pair["id"]), "merge", "--as", "alice",
                     "--json")
    assert code == 0, out
    done = json.loads(out)
    code, out = _cli(config, "steward", "merges", "--json")
    [merge] = json.loads(out)
    assert (merge["survivor_id"], merge["merged_id"]) == (done["survivor"], done["merged"])
    code, out = _cli(config, "steward", "unmerge", str(merge["id"]))
    assert code == 0 and "kept apart" in out, out
    code, out = _cli(config, "steward", "review", "--status", "kept_apart", "--json")
    assert len(json.loads(out)) == 1
    code, out = _cli(config, "steward", "override", done["survivor"], "city", "Potsdam")
    assert code == 0, out
    code, out = _cli(config, "steward", "override", done["survivor"], "tax_id", "X")
    assert code == 1 and "restricted" in out
    code, out = _cli(config, "steward", "decide", "999", "merge")
    assert code == 1 and "no review pair #999" in out
