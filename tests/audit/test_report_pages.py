"""The report pages written to files: the compliance and the data-quality report from their
figures, through the templates: every chart and table there, every name escaped."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from defusedxml.ElementTree import fromstring

from hub.audit.reports import ComplianceReport
from hub.web.report_files import compliance_page, quality_page

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>'
AT = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)


def charts(page: str) -> list[ET.Element]:
    return [fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page, re.DOTALL)]


def marks(chart: ET.Element) -> list[ET.Element]:
    return [r for r in chart.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


def figures(**changes: object) -> ComplianceReport:
    base: dict[str, object] = {
        "deployment": "acme", "policy_version": "sha256:abc", "since": None, "until": None,
        "sent_per_day": [("2026-02-27", "payroll.employees", 30),
                         ("2026-02-28", HOSTILE, 10), ("2026-02-28", "payroll.employees", 20)],
        "by_category": [("user.contact.email", 5), ("user.financial.bank_account", 50)],
        "by_rule": [("deny", "no-health", 7), ("pseudonymise", "analytics-email", 70)],
        "special": [("payroll.employees", "user.financial.bank_account", "GDPR Art. 6(1)(b)", 4),
                    ("payroll.employees", "user.health_and_medical", None, 2)]}
    base.update(changes)
    return ComplianceReport(**base)  # type: ignore[arg-type]


def test_the_compliance_page_draws_every_figure() -> None:
    page = compliance_page(figures(), generated=AT)
    assert "generated 2026-03-01 12:30 UTC" in page and "period all time" in page
    per_day, categories, rules, special = charts(page)
    assert len(marks(per_day)) == 4  # 2 days × 2 destinations (a missing one is 0)
    heights = {m.find(f"{SVG}title").text: float(m.get("height", "")) for m in marks(per_day)}  # type: ignore[union-attr]
    assert heights["2026-02-27 · payroll.employees: 30"] == pytest.approx(1.5 * heights[
        "2026-02-28 · payroll.employees: 20"], abs=0.2)  # drawn to a tenth of a pixel
    # horizontal charts: largest first, lengths to scale
    assert [m.find(f"{SVG}title").text for m in marks(categories)] == [  # type: ignore[union-attr]
        "user.financial.bank_account: 50", "user.contact.email: 5"]
    long, short = (float(m.get("width", "")) for m in marks(categories))
    assert long == 10 * short
    assert [m.find(f"{SVG}title").text for m in marks(rules)] == [  # type: ignore[union-attr]
        "pseudonymise: analytics-email: 70", "deny: no-health: 7"]
    assert [m.find(f"{SVG}title").text for m in marks(special)] == [  # type: ignore[union-attr]
        "payroll.employees: 6"]  # summed over categories
    # the tables beside the charts: legal basis shown, a missing one left empty
    assert "<td>GDPR Art. 6(1)(b)</td>" in page
    assert re.search(r"<td>user.health_and_medical</td><td></td>", page)


def test_the_compliance_page_escapes_names_and_is_stable() -> None:
    page = compliance_page(figures(), generated=AT)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert any(HOSTILE in (t.text or "") for c in charts(page) for t in c.iter(f"{SVG}text"))
    assert page == compliance_page(figures(), generated=AT)


def test_an_empty_period_says_so_in_every_section() -> None:
    page = compliance_page(figures(sent_per_day=[], by_category=[], by_rule=[], special=[],
                                   since=dt.datetime(2000, 1, 1), until=dt.datetime(2000, 2, 1)),
                           generated=AT)
    assert "period 2000-01-01 – 2000-02-01" in page
    drawn = charts(page)
    assert len(drawn) == 4 and not any(marks(c) for c in drawn)
    assert all("no data in this period" in [t.text for t in c.iter(f"{SVG}text")]
               for c in drawn)
    assert page.count("None in this period.") == 4


def quality_report(system: str) -> dict[str, object]:
    return {"system": None, "systems": {system: {"customer": {
        "records": 4, "invalid_other": 1,
        "fields": {"email": {"completeness": 0.75, "invalid": 2},
                   "city": {"completeness": 1.0, "invalid": 0},
                   "phone": {"completeness": None, "invalid": 0}}}}},
        "conflicts": [{"entity": "customer", "field": "city", "records": 3,
                       "systems": ["crm", system], "examples": ["C-1", "C-2"]}],
        "duplicate_clusters": [{"entity": "customer", "golden_ids": ["C-1", "C-9"]}]}


def test_the_quality_page_draws_completeness_invalid_values_and_conflicts() -> None:
    page = quality_page(quality_report("shop"), generated=AT)
    assert "<title>Data quality: all systems</title>" in page
    complete, invalid, conflicts = charts(page)
    assert complete[0].text == "Completeness: shop · customer"
    assert [m.find(f"{SVG}title").text for m in marks(complete)] == [  # type: ignore[union-attr]
        "email: 75%", "city: 100%", "phone: 0%"]
    email, city, phone = (float(m.get("width", "")) for m in marks(complete))
    assert email == 0.75 * city and phone == 0
    assert [m.find(f"{SVG}title").text for m in marks(invalid)] == [  # type: ignore[union-attr]
        "email: 2", "(whole record): 1"]
    assert [m.find(f"{SVG}title").text for m in marks(conflicts)] == [  # type: ignore[union-attr]
        "customer.city: 3"]
    assert "<td>crm, shop</td>" in page and "<td>C-1, C-9</td>" in page
    assert "(1 clusters waiting for a data steward" in page


def test_the_quality_page_escapes_system_names() -> None:
    page = quality_page(quality_report(HOSTILE), generated=AT)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert charts(page)[0][0].text == f"Completeness: {HOSTILE} · customer"
