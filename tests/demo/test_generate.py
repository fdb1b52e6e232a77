"""The demo deployment: loads, is deterministic, and is dirty exactly where it promises."""

from __future__ import annotations

import csv
import datetime as dt
import re
import sqlite3
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hub import registry
from hub.demo import DemoSummary, write_demo
from hub.demo import crm as crm_module
from hub.demo import hr as hr_module
from hub.demo.ids import _icao_digit
from hub.errors import MappingError

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
needs_connectors = pytest.mark.skipif(
    not {"csv", "xml", "sql"} <= set(registry.connectors()),
    reason="the csv/xml/sql connectors are not installed as entry points")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return write_demo(tmp_path_factory.mktemp("demo") / "deploy")


def _crm_rows(summary: DemoSummary) -> tuple[list[bytes], list[list[str]]]:
    """Physical lines (bytes) and csv-parsed rows; undecodable bytes kept as surrogates."""
    data = summary.paths["crm"].read_bytes()
    lines = data.split(b"\r\n")
    assert lines[-1] == b""  # the file ends with CRLF
    text = data.decode("cp1252", errors="surrogateescape")
    rows = list(csv.reader(text.splitlines(), delimiter=";", quotechar='"'))
    return lines[:-1], rows


def _table(path: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def _schema(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def _iban_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


# -- the deployment ---------------------------------------------------------------------


@needs_connectors
def test_deployment_loads_with_all_six_systems(demo: DemoSummary) -> None:
    from hub.config import load

    deployment = load(demo.config)
    assert set(deployment.systems) == {"crm", "hr", "billing", "payroll", "newsletter",
                                       "analytics"}
    inbound = {s.label: s for s in deployment.streams("inbound")}
    outbound = {s.label: s for s in deployment.streams("outbound")}
    assert set(inbound) == {"crm.kunden", "hr.mitarbeiter", "billing.customers"}
    assert set(outbound) == {"payroll.employees", "newsletter.subscribers",
                             "analytics.customers"}
    assert inbound["billing.customers"].spec.cursor_field == "updated_at"
    assert outbound["payroll.employees"].config.purpose == "employment"
    # consent is the policy's condition, not a stream filter
    newsletter_rules = [r for r in deployment.policy_set.rules if "newsletter" in r.to]
    assert newsletter_rules and all(r.when for r in newsletter_rules)
    assert deployment.database_url == f"sqlite:///{demo.target.resolve() / 'kontor.db'}"


@needs_connectors
@pytest.mark.parametrize("size", [(2000, 300), (40, 12)])
def test_exactly_the_dirty_records_fail(demo: DemoSummary, tmp_path: Path,
                                        size: tuple[int, int]) -> None:
    """Through the real connectors and mapping files: dirty records fail, nothing else."""
    from hub.config import load

    summary = demo if size == (2000, 300) else write_demo(
        tmp_path / "small", customers=size[0], employees=size[1], seed=7)
    deployment = load(summary.config)
    counts: dict[str, tuple[int, int]] = {}
    for stream in deployment.streams("inbound"):
        ok = failed = 0
        with deployment.systems[stream.system].connect(deployment.base_dir) as conn:
            for batch in conn.read(stream.spec, batch_size=333):
                failed += len(batch.problems)
                for record in batch.records:
                    try:
                        stream.mapping.inbound(record.data)
                        ok += 1
                    except MappingError:
                        failed += 1
        counts[stream.label] = (ok, failed)
    assert {label: f for label, (_, f) in counts.items()} == summary.failures
    assert counts["crm.kunden"][0] == size[0] - 4
    assert counts["hr.mitarbeiter"][0] == size[1] - 1
    assert counts["billing.customers"][0] == summary.billing_customers - 1
    assert len(summary.dirty) == 6


def test_writes_every_promised_file(demo: DemoSummary) -> None:
    names = {p.relative_to(demo.target).as_posix() for p in demo.target.rglob("*")
             if p.is_file()}
    assert names == {
        "kontor.yaml", "README.md", "data/crm/kunden.csv", "data/hr/mitarbeiter.xml",
        "data/billing/billing.db", "data/payroll/payroll.db",
        "data/newsletter/subscribers.csv", "mappings/crm_customer.yaml",
        "mappings/hr_employee.yaml", "mappings/billing_customer.yaml",
        "mappings/payroll_employee.yaml", "mappings/newsletter_customer.yaml",
        "mappings/analytics_customer.yaml", "policies/default.yaml", "policies/tests/default_test.yaml", ".gitignore",
        ".kontor/keyring.json"}
    assert (demo.target / ".kontor/keyring.json").stat().st_mode & 0o077 == 0  # owner only
    readme = (demo.target / "README.md").read_text(encoding="utf-8")
    assert all(f"kontor {cmd}" in readme for cmd in ("check", "sync", "status", "serve"))


def test_refuses_to_overwrite_a_deployment_unless_asked(demo: DemoSummary) -> None:
    with pytest.raises(FileExistsError):
        write_demo(demo.target)
    with pytest.raises(ValueError):
        write_demo(demo.target.parent / "tiny", customers=3)


# -- determinism ------------------------------------------------------------------------


def test_same_seed_writes_identical_files(tmp_path: Path) -> None:
    first = write_demo(tmp_path / "a", customers=300, employees=40, seed=99)
    second = write_demo(tmp_path / "b", customers=300, employees=40, seed=99)
    files_a = sorted(p.relative_to(first.target) for p in first.target.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(second.target) for p in second.target.rglob("*")
                     if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        a, b = first.target / rel, second.target / rel
        if rel.parts[0] == ".kontor":  # a fresh random master key each time, by design
            assert a.read_bytes() != b.read_bytes()
        elif rel.suffix == ".db":
            assert _schema(a) == _schema(b)
            table = "customers" if "billing" in rel.parts else "employees"
            assert _table(a, table) == _table(b, table)
        else:
            assert a.read_bytes() == b.read_bytes(), rel
    assert first.dirty == second.dirty


def test_another_seed_writes_other_people(tmp_path: Path) -> None:
    a = write_demo(tmp_path / "a", customers=50, employees=5, seed=1)
    b = write_demo(tmp_path / "b", customers=50, employees=5, seed=2)
    assert a.paths["crm"].read_bytes() != b.paths["crm"].read_bytes()
    assert _table(a.paths["billing"], "customers") != _table(b.paths["billing"], "customers")


def test_default_size_is_fast(tmp_path: Path) -> None:
    started = time.perf_counter()
    summary = write_demo(tmp_path / "timed")
    assert time.perf_counter() - started < 5
    assert (summary.customers, summary.billing_customers, summary.employees) == (2000, 1200, 300)


# -- the CRM export ---------------------------------------------------------------------


def test_crm_is_cp1252_with_crlf_and_german_formats(demo: DemoSummary) -> None:
    data = demo.paths["crm"].read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") == demo.customers + 1
    assert data.startswith(b"KundenNr;Anrede;Vorname;Nachname;Firma;E-Mail;Telefon;Strasse;"
                           b"PLZ;Ort;Land;Geburtsdatum;USt-IdNr;Status;Newsletter;GeaendertAm\r\n")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # umlauts are single cp1252 bytes, not UTF-8
    assert "Österreich".encode("cp1252") in data and "ß".encode("cp1252") in data
    _, rows = _crm_rows(demo)
    body = [r for r in rows[1:] if len(r) == 16]
    assert {r[13] for r in body} == {"A", "I", "G"}
    assert {r[14] for r in body} == {"ja", "nein"}
    for r in body:
        dt.datetime.strptime(r[15], "%d.%m.%Y %H:%M")
    numbers = [r[0] for r in rows[1:]]
    assert len(set(numbers)) == len(numbers) == demo.customers


def test_crm_has_exactly_the_promised_dirty_rows(demo: DemoSummary) -> None:
    lines, rows = _crm_rows(demo)
    undecodable: list[int] = []
    for number, line in enumerate(lines, start=1):
        try:
            line.decode("cp1252")
        except UnicodeDecodeError:
            undecodable.append(number)
    assert len(undecodable) == 1 and b"Kr\x81ger;" in lines[undecodable[0] - 1]

    header, body = rows[0], rows[1:]
    wrong_width = [i for i, r in enumerate(body, start=2) if len(r) != len(header)]
    assert len(wrong_width) == 1 and len(body[wrong_width[0] - 2]) == 17

    rows16 = [(i, dict(zip(header, r))) for i, r in enumerate(body, start=2)
              if len(r) == len(header)]
    bad_dates: list[tuple[int, str]] = []
    bad_emails: list[tuple[int, str]] = []
    emails: list[str] = []
    for lineno, r in rows16:
        if r["Geburtsdatum"]:
            try:
                dt.datetime.strptime(r["Geburtsdatum"], "%d.%m.%Y")
            except ValueError:
                bad_dates.append((lineno, r["Geburtsdatum"]))
        if EMAIL.match(r["E-Mail"]):
            emails.append(r["E-Mail"].strip().lower())
        else:
            bad_emails.append((lineno, r["E-Mail"]))
    assert [d for _, d in bad_dates] == ["31.02.1985"]
    assert [e for _, e in bad_emails] == ["anna.schmidt(at)example.de"]
    assert len(set(emails)) == len(emails)  # different people never share an address
    promised = sorted([wrong_width[0], undecodable[0], bad_dates[0][0], bad_emails[0][0]])
    described = sorted(int(re.search(r"line (\d+)", d).group(1))  # type: ignore[union-attr]
                       for d in demo.dirty if d.startswith("crm"))
    assert described == promised


# -- billing ----------------------------------------------------------------------------


def test_billing_overlaps_the_crm_by_normalised_email(demo: DemoSummary) -> None:
    _, rows = _crm_rows(demo)
    header = rows[0]
    crm = {r[header.index("E-Mail")].strip().lower(): dict(zip(header, r))
           for r in rows[1:] if len(r) == len(header)}
    billing = _table(demo.paths["billing"], "customers")
    assert len(billing) == round(0.6 * demo.customers)
    cols = [c[1] for c in sqlite3.connect(demo.paths["billing"]).execute(
        "PRAGMA table_info(customers)")]
    records = [dict(zip(cols, r)) for r in billing]
    shared = [r for r in records if r["email"].strip().lower() in crm]
    assert len(shared) == demo.billing_overlap
    assert 0.35 <= len(shared) / len(records) <= 0.45
    assert any(r["email"] != r["email"].strip() for r in shared)  # stray spaces
    assert any(r["email"].strip() != r["email"].strip().lower() for r in shared)  # case
    moved = [r for r in shared if r["street"] != crm[r["email"].strip().lower()]["Strasse"]]
    assert moved
    for r in moved:  # a newer address comes with a newer business time
        changed = dt.datetime.strptime(crm[r["email"].strip().lower()]["GeaendertAm"],
                                       "%d.%m.%Y %H:%M")
        assert dt.datetime.fromisoformat(r["updated_at"]) > changed
    assert all(re.fullmatch(r"B-\d{6}", r["id"]) for r in records)
    assert len({r["id"] for r in records}) == len(records)
    scripts = {"Cyrillic": (0x0400, 0x04FF), "Greek": (0x0370, 0x03FF),
               "CJK or kana": (0x3040, 0x9FFF)}
    for name, (low, high) in scripts.items():
        assert any(low <= ord(ch) <= high for r in records for ch in r["last_name"]), name


# -- HR and payroll ---------------------------------------------------------------------


def test_hr_export_has_the_restricted_fields_and_a_consistent_org_chart(
        demo: DemoSummary) -> None:
    root = ET.parse(demo.paths["hr"]).getroot()
    people = [{c.tag: (c.text or "") for c in e} for e in root.iter("employee")]
    assert len(people) == demo.employees
    assert set(people[0]) == {
        "personalnummer", "vorname", "nachname", "email_dienstlich", "email_privat", "telefon",
        "strasse", "plz", "ort", "land", "geburtsdatum", "abteilung", "position",
        "vorgesetzter", "eintrittsdatum", "austrittsdatum", "gehalt", "iban",
        "ausweisnummer", "sozialversicherungsnummer", "krankheitsgrund",
        "schwerbehinderung", "fuehrungszeugnis", "abmahnungen", "geaendert_am"}
    numbers = {p["personalnummer"] for p in people}
    assert len(numbers) == len(people)
    assert {p["vorgesetzter"] for p in people} - {""} <= numbers
    assert sum(1 for p in people if not p["vorgesetzter"]) == 1  # the managing director
    assert {p["fuehrungszeugnis"] for p in people} <= {"clear", "pending", "record found"}
    sick = sum(1 for p in people if p["krankheitsgrund"])
    assert 0 < sick < 0.25 * len(people)
    assert all(_iban_ok(p["iban"]) and p["iban"].startswith("DE") for p in people)
    assert all(_icao_digit(p["ausweisnummer"][:9]) == int(p["ausweisnummer"][9])
               for p in people)
    assert all(re.fullmatch(r"\d+\.\d{2}", p["gehalt"]) for p in people)
    bad = []
    for p in people:
        try:
            dt.date.fromisoformat(p["geburtsdatum"])
        except ValueError:
            bad.append(p["geburtsdatum"])
    assert bad == [hr_module.BAD_BIRTH_DATE]
    work = [p["email_dienstlich"].lower() for p in people]
    assert len(set(work)) == len(work)
    assert any("\u0370" <= ch <= "\u04ff" or "\u3040" <= ch <= "\u9fff"
               for p in people for ch in p["nachname"])  # Greek, Cyrillic, CJK names


def test_payroll_starts_empty_with_a_primary_key(demo: DemoSummary) -> None:
    with sqlite3.connect(demo.paths["payroll"]) as con:
        info = con.execute("PRAGMA table_info(employees)").fetchall()
        assert con.execute("SELECT count(*) FROM employees").fetchone() == (0,)
    assert [c[1] for c in info if c[5] == 1] == ["personnel_no"]
    assert {"first_name", "last_name", "salary", "iban", "hire_date"} <= {c[1] for c in info}


def test_dirty_list_names_every_dirty_record(demo: DemoSummary) -> None:
    assert len(demo.dirty) == 6
    assert sum(d.startswith("crm") for d in demo.dirty) == len(crm_module.DIRTY_KINDS)
    assert any("1987-02-31" in d for d in demo.dirty if d.startswith("hr"))
    assert any("schreinerei-vogt" in d for d in demo.dirty if d.startswith("billing"))
