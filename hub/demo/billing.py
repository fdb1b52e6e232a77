"""The billing system: an SQLite ``customers`` table with its own ids and ISO timestamps.

About 40% of its rows are CRM customers under billing's own id: same person, same email
(but typed with other case or stray spaces), sometimes a newer address. The rest are
customers the CRM never saw, including names in Greek, Cyrillic, Chinese and Japanese.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hub.demo.crm import CrmCustomer
from hub.demo.people import REFERENCE, Person, PersonFactory, random_datetime

COLUMNS = ("id", "company", "first_name", "last_name", "email", "phone", "street",
           "postal_code", "city", "country", "vat_id", "status", "updated_at")
DDL = """CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    company     TEXT,
    first_name  TEXT,
    last_name   TEXT,
    email       TEXT,
    phone       TEXT,
    street      TEXT,
    postal_code TEXT,
    city        TEXT,
    country     TEXT NOT NULL,
    vat_id      TEXT,
    status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
    updated_at  TEXT NOT NULL
);
CREATE INDEX ix_customers_updated_at ON customers (updated_at);
CREATE INDEX ix_customers_email ON customers (email);
"""
LOCALE_WEIGHTS = {"de_DE": 0.60, "de_AT": 0.04, "fr_FR": 0.05, "pl_PL": 0.05,
                  "tr_TR": 0.06, "zh_CN": 0.05, "el_GR": 0.05, "ru_RU": 0.05, "ja_JP": 0.05}
STATUS_WEIGHTS = {"active": 0.88, "suspended": 0.04, "closed": 0.08}
SHARE = 0.6  # billing rows per CRM row
OVERLAP = 0.4  # share of billing rows that are CRM customers
BAD_EMAIL_VALUE = "buchhaltung@schreinerei-vogt"  # no top-level domain


@dataclass(frozen=True)
class BillingRow:
    values: dict[str, str | None]
    crm_number: str | None  # the CRM customer this row is, if any
    moved: bool = False
    dirty: bool = False


def _email_variant(factory: PersonFactory, email: str) -> str:
    """The same address as someone typed it into billing."""
    roll = factory.rng.random()
    if roll < 0.45:
        return email
    local, _, domain = email.partition("@")
    shouted = ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
    return shouted if roll < 0.75 else f" {shouted} "


def _status(factory: PersonFactory) -> str:
    return factory.rng.choices(list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values()))[0]


def _row(person: Person, company: str, vat_id: str, email: str, status: str,
         updated: dt.datetime) -> dict[str, str | None]:
    return {"company": company or None, "first_name": person.first_name,
            "last_name": person.last_name, "email": email, "phone": person.phone or None,
            "street": person.street, "postal_code": person.postal_code,
            "city": person.city, "country": person.country, "vat_id": vat_id or None,
            "status": status, "updated_at": updated.isoformat(timespec="seconds")}


def make_rows(factory: PersonFactory, crm: list[CrmCustomer]) -> list[BillingRow]:
    rng = factory.rng
    total = round(len(crm) * SHARE)
    clean = [c for c in crm if c.dirty is None]
    shared = rng.sample(clean, min(round(total * OVERLAP), len(clean)))
    rows: list[BillingRow] = []
    for c in shared:
        moved = rng.random() < 0.2
        person = factory.moved(c.person) if moved else c.person
        # A newer address must carry a newer business time, or survivorship keeps the old.
        start = c.changed_at + dt.timedelta(hours=1) if moved else dt.datetime(2020, 1, 1)
        updated = random_datetime(rng, start, REFERENCE)
        rows.append(BillingRow(_row(person, c.company, c.vat_id,
                                    _email_variant(factory, person.email), _status(factory), updated),
                               crm_number=c.number, moved=moved))
    for _ in range(total - len(shared)):
        person = factory.person(factory.pick_locale(LOCALE_WEIGHTS))
        updated = random_datetime(rng, dt.datetime(2020, 1, 1), REFERENCE)
        rows.append(BillingRow(_row(person, "", "", person.email, _status(factory), updated),
                               None))
    if rows:  # the dirty one: a new customer whose email lost its top-level domain
        i = rng.randrange(len(shared), len(rows)) if len(rows) > len(shared) else 0
        values = dict(rows[i].values, company="Schreinerei Vogt", email=BAD_EMAIL_VALUE)
        rows[i] = BillingRow(values, None, dirty=True)
    rng.shuffle(rows)
    number = 100_000
    for row in rows:  # ids in table order, with gaps like any long-lived sequence
        number += rng.randint(1, 40)
        row.values["id"] = f"B-{number}"
    return rows
