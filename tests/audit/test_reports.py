"""Trace, search, reports, exports and subject rights on a demo run."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring
from typer.testing import CliRunner

from hub.audit.export import neutralise
from hub.cli.main import app
from hub.demo import write_demo

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    summary = write_demo(tmp_path_factory.mktemp("audit"), customers=200, employees=30, seed=8)
    runner.invoke(app, ["--config", str(summary.config), "sync"])
    return summary


def kontor(demo, *args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["--config", str(demo.config), *args])
    return result


def test_trace_names_every_destination_and_form(demo) -> None:  # type: ignore[no-untyped-def]
    result = kontor(demo, "audit", "trace", "--employee", "E-1001", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    inbound = [r for r in rows if r["kind"] == "transfer.in"]
    outbound = [r for r in rows if r["kind"] == "transfer.out"]
    assert inbound and inbound[0]["source"] == "hr.mitarbeiter"
    (payroll,) = [r for r in outbound if r["destination"] == "payroll.employees"]
    forms = {f["field"]: f["action"] for f in payroll["fields"]}
    assert forms["iban"] == "allow" and forms["first_name"] == "allow"
    assert payroll["policy_version"].startswith("sha256:")
    assert len(payroll["value_hash"]) == 64


def test_search_by_category_action_rule_and_system(demo) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(kontor(demo, "audit", "search", "--action", "pseudonymise",
                             "--json").stdout)
    assert rows and {r["destination"] for r in rows} == {"analytics.customers"}
    rows = json.loads(kontor(demo, "audit", "search", "--rule", "payroll-bank-account",
                             "--json").stdout)
    assert rows and all(r["destination"] == "payroll.employees" for r in rows)
    rows = json.loads(kontor(demo, "audit", "search", "--system", "newsletter",
                             "--kind", "transfer.out", "--limit", "5", "--json").stdout)
    assert len(rows) == 5
    none = json.loads(kontor(demo, "audit", "search", "--until", "2000-01-01",
                             "--json").stdout)
    assert none == []
    bad = kontor(demo, "audit", "search", "--since", "yesterday")
    assert bad.exit_code == 1 and "not a date" in bad.output


def test_exports_neutralise_formulas(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert neutralise("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert neutralise("+49 30 123") == "'+49 30 123" and neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("-1") == "'-1" and neutralise("Müller") == "Müller"
    out = tmp_path / "search.csv"
    result = kontor(demo, "audit", "search", "--kind", "transfer.out", "--limit", "50",
                    "--csv", str(out))
    assert result.exit_code == 0
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 50
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())


def test_compliance_report_and_records_of_processing(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "report.html"
    assert kontor(demo, "audit", "report", str(page)).exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") == 4 and "payroll.employees" in text
    assert "Denials and pseudonymisations by rule" in text
    charts = [fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", text, re.DOTALL)]
    assert [c[0].text for c in charts] == [  # each well-formed, each with its <title>
        "Records sent per day and destination", "Field values sent, by category",
        "Field decisions by rule", "Special-category values sent, by destination"]
    assert "<img" not in text and "base64" not in text and "<script" not in text
    assert "Matplotlib" not in text
    ropa = tmp_path / "ropa.json"
    assert kontor(demo, "audit", "ropa", str(ropa)).exit_code == 0
    rows = json.loads(ropa.read_text(encoding="utf-8"))
    payroll = {r["category"]: r for r in rows if r["destination"] == "payroll.employees"}
    assert payroll["user.financial.bank_account"]["legal_basis"].startswith("GDPR Art. 6")
    assert "user.health_and_medical" not in payroll
    analytics = {r["category"]: r["form"] for r in rows
                 if r["destination"] == "analytics.customers"}
    assert analytics["user.contact.email"] == "pseudonymise"
    assert kontor(demo, "audit", "ropa", str(tmp_path / "ropa.html")).exit_code == 0
    html = (tmp_path / "ropa.html").read_text(encoding="utf-8")
    assert "<h1>Records of processing activities (GDPR Art. 30)</h1>" in html
    assert "<td>payroll.employees</td>" in html and "user.financial.bank_account" in html
    assert "<th scope=\"col\">legal basis</th>" in html and "GDPR Art. 6" in html
    assert "<td>nan</td>" not in html.lower()  # no basis: an empty cell, not pandas' NaN


def test_subject_access_report(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "access.json"
    result = kontor(demo, "audit", "access", str(out), "--employee", "E-1002")
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o077 == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["data"]["employee_number"]
    assert {s["to"] for s in report["sent_to"]} == {"payroll.employees"}
    assert report["held_by_systems"][0]["system"] == "hr"
    assert kontor(demo, "audit", "verify").exit_code == 0  # the access is in the chain


def test_erasure_deletes_everywhere_and_keeps_only_the_fact(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with sqlite3.connect(demo.target / "kontor.db") as store:
        number, sent = store.execute("SELECT source_key, data FROM xref WHERE golden_id = "
                                     "'E-1005' AND system = 'hr'").fetchone()
    # What HR sent that identifies her: it must leave the store file, not only the tables.
    planted = [json.loads(sent)[f] for f in ("first_name", "last_name", "work_email", "street")]
    with sqlite3.connect(demo.paths["payroll"]) as db:
        assert db.execute("SELECT 1 FROM employees WHERE personnel_no = ?",
                          (number,)).fetchone()
    trace = json.loads(kontor(demo, "audit", "trace", "--employee", "E-1005",
                              "--json").stdout)
    assert any(r["destination"] == "payroll.employees" for r in trace)
    result = kontor(demo, "audit", "erase", "--employee", "E-1005", "--yes")
    assert result.exit_code == 0, result.output
    assert "deleted in payroll.employees" in result.output
    with sqlite3.connect(demo.paths["payroll"]) as db:
        numbers = {r[0] for r in db.execute("SELECT personnel_no FROM employees")}
    assert number not in numbers and len(numbers) == demo.employees - 2
    access = kontor(demo, "audit", "access", str(tmp_path / "a.json"), "--employee", "E-1005")
    assert access.exit_code == 0
    report = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert all(v is None for k, v in report["data"].items())
    kinds = [r["kind"] for r in json.loads(kontor(demo, "audit", "trace", "--employee",
                                                  "E-1005", "--json").stdout)]
    assert "erasure" in kinds
    assert kontor(demo, "audit", "verify").exit_code == 0
    raw = b"".join(p.read_bytes() for p in demo.target.glob("kontor.db*"))
    assert not [v for v in planted if v.encode() in raw]
    with sqlite3.connect(demo.target / "kontor.db") as store:
        assert store.execute("SELECT count(*) FROM source_key k JOIN xref x ON x.id = "
                             "k.xref_id WHERE x.golden_id = 'E-1005'").fetchone() == (0,)
    again = kontor(demo, "sync")  # the source still holds the person: nothing comes back
    assert "E-1005" not in again.output
