"""The CRM: a German Windows CRM's nightly ``kunden.csv`` (cp1252, ``;``, CRLF).

Rows are built from people, then rendered to bytes by hand so that four dirty rows can be
exactly as broken as real exports get (see ``generate.py`` for the list).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, replace

from hub.demo.people import REFERENCE, Person, PersonFactory, random_datetime
from hub.demo.scripts import to_cp1252

COLUMNS = ("KundenNr", "Anrede", "Vorname", "Nachname", "Firma", "E-Mail", "Telefon",
           "Strasse", "PLZ", "Ort", "Land", "Geburtsdatum", "USt-IdNr", "Status",
           "Newsletter", "GeaendertAm")
COUNTRY_NAMES = {"DE": "Deutschland", "AT": "Österreich", "CH": "Schweiz",
                 "FR": "Frankreich", "PL": "Polen"}
# Only Latin-script locales: cp1252 cannot hold Cyrillic, Greek or CJK names.
LOCALE_WEIGHTS = {"de_DE": 0.74, "de_AT": 0.06, "de_CH": 0.04, "fr_FR": 0.06,
                  "pl_PL": 0.05, "tr_TR": 0.05}
STATUS_WEIGHTS = {"A": 0.86, "I": 0.11, "G": 0.03}

# The dirty rows, by kind; ``generate.py`` documents them and ``DemoSummary`` lists them.
WRONG_COLUMNS, BAD_BYTE, BAD_DATE, BAD_EMAIL = ("wrong_columns", "bad_byte", "bad_date",
                                                "bad_email")
DIRTY_KINDS = (WRONG_COLUMNS, BAD_BYTE, BAD_DATE, BAD_EMAIL)
BAD_EMAIL_VALUE = "anna.schmidt(at)example.de"
BAD_DATE_VALUE = "31.02.1985"


@dataclass(frozen=True)
class CrmCustomer:
    number: str
    person: Person  # in its original spelling; the file gets the cp1252 folding
    salutation: str
    company: str
    vat_id: str
    status: str
    newsletter: bool
    changed_at: dt.datetime
    birth_known: bool
    dirty: str | None = None  # one of DIRTY_KINDS


def _vat_id(factory: PersonFactory, country: str) -> str:
    digits = "".join(str(factory.rng.randint(0, 9)) for _ in range(9))
    if country == "AT":
        return f"ATU{digits[:8]}"
    if country == "CH":
        return f"CHE-{digits[:3]}.{digits[3:6]}.{digits[6:]} MWST"
    return f"DE{digits}"


def make_customers(factory: PersonFactory, count: int) -> list[CrmCustomer]:
    rng = factory.rng
    number = 10_000
    customers = []
    for _ in range(count):
        person = factory.person(factory.pick_locale(LOCALE_WEIGHTS))
        number += rng.randint(1, 3)  # gaps: deleted customers leave holes
        is_company = person.country in ("DE", "AT", "CH") and rng.random() < 0.15
        salutation = "" if rng.random() < 0.02 else ("Frau" if person.gender == "f" else "Herr")
        customers.append(CrmCustomer(
            number=str(number), person=person, salutation=salutation,
            company=factory.faker("de_DE").company() if is_company else "",
            vat_id=_vat_id(factory, person.country) if is_company else "",
            status=rng.choices(list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values()))[0],
            newsletter=rng.random() < 0.35,
            changed_at=random_datetime(rng, dt.datetime(2019, 1, 1),
                                       REFERENCE - dt.timedelta(days=1)),
            birth_known=not is_company and rng.random() > 0.1))
    return customers


def make_dirty(factory: PersonFactory, customers: list[CrmCustomer]) -> list[CrmCustomer]:
    """Turn four rows, spread through the file, into the promised dirty ones."""
    indices = sorted(factory.rng.sample(range(1, len(customers)), len(DIRTY_KINDS)))
    factory.reserve("anna.schmidt@example.de")  # nobody else may own Anna's address
    out = list(customers)
    for kind, i in zip(DIRTY_KINDS, indices, strict=True):
        c = replace(out[i], dirty=kind)
        if kind == BAD_BYTE:  # "Krüger" typed on a DOS terminal: cp850's ü is 0x81
            domain = c.person.email.partition("@")[2]
            email = factory.unique_email(f"{c.person.ascii_first}.krueger", domain)
            c = replace(c, company="", vat_id="", person=replace(
                c.person, last_name="Krüger", ascii_last="krueger", email=email))
        elif kind == BAD_DATE:
            c = replace(c, company="", vat_id="", birth_known=True)
        elif kind == BAD_EMAIL:
            c = replace(c, salutation="Frau", company="", vat_id="", person=replace(
                c.person, first_name="Anna", last_name="Schmidt", gender="f"))
        elif kind == WRONG_COLUMNS:  # a ';' inside Firma that the export did not quote
            c = replace(c, company="Bäckerei Schulz; Filiale Nord", vat_id="")
        out[i] = c
    return out


def _fields(c: CrmCustomer) -> list[str]:
    p = c.person
    birth = p.date_of_birth.strftime("%d.%m.%Y") if c.birth_known else ""
    values = [c.number, c.salutation, p.first_name, p.last_name, c.company, p.email,
              p.phone, p.street, p.postal_code, p.city, COUNTRY_NAMES[p.country], birth,
              c.vat_id, c.status, "ja" if c.newsletter else "nein",
              c.changed_at.strftime("%d.%m.%Y %H:%M")]
    if c.dirty == BAD_DATE:
        values[COLUMNS.index("Geburtsdatum")] = BAD_DATE_VALUE
    elif c.dirty == BAD_EMAIL:
        values[COLUMNS.index("E-Mail")] = BAD_EMAIL_VALUE
    return [to_cp1252(v) for v in values]


def render(customers: list[CrmCustomer]) -> bytes:
    """The file's bytes: header, one CRLF line per customer, dirty rows as promised."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", quotechar='"', lineterminator="\r\n")
    writer.writerow(COLUMNS)
    out = bytearray(text.getvalue().encode("cp1252"))
    for c in customers:
        values = _fields(c)
        if c.dirty == WRONG_COLUMNS:  # joined by hand: the ';' must stay unquoted
            out += (";".join(values) + "\r\n").encode("cp1252")
            continue
        text = io.StringIO()
        csv.writer(text, delimiter=";", quotechar='"', lineterminator="\r\n").writerow(values)
        line = text.getvalue().encode("cp1252")  # strict: proves every name fits cp1252
        if c.dirty == BAD_BYTE:
            line = line.replace("Krüger".encode("cp1252"), b"Kr\x81ger", 1)
        out += line
    return bytes(out)
