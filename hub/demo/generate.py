"""Write a complete demo deployment: kontor.yaml, mappings, and the systems' data.

Deterministic: the same seed writes byte-identical files (SQLite files: identical
contents). All randomness flows from one seeded ``random.Random`` and per-locale Faker
instances seeded from it; dates are relative to the fixed ``people.REFERENCE``.

Dirty records, on purpose (everything else is valid and imports cleanly):

- CRM ``kunden.csv``: one row with 17 instead of 16 columns (an unquoted ``;`` in
  Firma); one row with the byte 0x81 (undefined in cp1252: a DOS-typed "ü" in Krüger);
  one birth date 31.02.1985; one email ``anna.schmidt(at)example.de``.
- HR ``mitarbeiter.xml``: one employee with the birth date 1987-02-31.
- billing ``customers``: one row with the email ``buchhaltung@schreinerei-vogt``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from hub.demo import billing, crm, files, hr
from hub.demo.mapping_texts import MAPPINGS
from hub.demo.people import REFERENCE, PersonFactory
from hub.demo.texts import KONTOR_YAML, README
from policies import keys
from policies.packs import DEFAULT_PACK, DEFAULT_PACK_TESTS


@dataclass
class DemoSummary:
    target: Path
    seed: int
    customers: int  # CRM rows, dirty ones included
    billing_customers: int  # billing rows, dirty one included
    billing_overlap: int  # billing rows that are CRM customers (same normalised email)
    employees: int  # HR records, dirty one included
    newsletter_subscribers: int  # clean CRM customers with Newsletter = ja
    #: Expected failures per stream (``system.stream``) on the first sync.
    failures: dict[str, int] = field(default_factory=dict)
    dirty: list[str] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.paths["config"]


def _dirty_crm(c: crm.CrmCustomer, line: int) -> str:
    where = f"crm kunden.csv line {line} (KundenNr {c.number})"
    return where + {
        crm.WRONG_COLUMNS: ": 17 columns instead of 16 (unquoted ';' in Firma)",
        crm.BAD_BYTE: ": byte 0x81 in Nachname, undefined in cp1252",
        crm.BAD_DATE: f": invalid Geburtsdatum {crm.BAD_DATE_VALUE}",
        crm.BAD_EMAIL: f": invalid E-Mail {crm.BAD_EMAIL_VALUE}",
    }[c.dirty or ""]


def write_demo(target: Path, *, customers: int = 2000, employees: int = 300,
               seed: int = 1234, overwrite: bool = False) -> DemoSummary:
    """Write the demo deployment into ``target`` (created if missing).

    Refuses to touch an existing ``kontor.yaml`` unless ``overwrite`` is set, so it can
    never clobber a real deployment.
    """
    if customers < 10 or employees < 2:
        raise ValueError("the demo needs at least 10 customers and 2 employees")
    target = Path(target)
    if (target / "kontor.yaml").exists() and not overwrite:
        raise FileExistsError(f"{target / 'kontor.yaml'} exists; pass overwrite=True")
    rng = random.Random(seed)
    factory = PersonFactory(seed, rng)

    crm_rows = crm.make_dirty(factory, crm.make_customers(factory, customers))
    staff = hr.make_employees(factory, employees)
    bill = billing.make_rows(factory, crm_rows)

    paths = {"config": files.write_bytes(target / "kontor.yaml", KONTOR_YAML.encode()),
             "crm": files.write_bytes(target / "data/crm/kunden.csv", crm.render(crm_rows))}
    paths["hr"] = files.write_bytes(target / "data/hr/mitarbeiter.xml", files.render_xml(
        [hr.record(factory, e) for e in staff], root="mitarbeiterexport",
        record_tag="employee", comment="Personalwerk 7.2, Vollexport aller Mitarbeiter",
        attributes={"firma": "Brandt & Söhne Haustechnik GmbH",
                    "erstellt": REFERENCE.isoformat(timespec="seconds")}))
    paths["billing"] = target / "data/billing/billing.db"
    files.write_sqlite(paths["billing"], billing.DDL, "customers", billing.COLUMNS,
                       [[r.values[c] for c in billing.COLUMNS] for r in bill])
    paths["payroll"] = target / "data/payroll/payroll.db"
    files.write_sqlite(paths["payroll"], files.PAYROLL_DDL, "employees", (), [])
    # The upload template marketing handed us: fixes the column order, holds no one yet.
    paths["newsletter"] = files.write_bytes(
        target / "data/newsletter/subscribers.csv",
        (",".join(files.NEWSLETTER_COLUMNS) + "\n").encode())
    for name, text in MAPPINGS.items():
        paths[f"mappings/{name}"] = files.write_bytes(target / "mappings" / name, text.encode())
    paths["analytics"] = target / "data/analytics/customers.csv"
    paths["analytics"].parent.mkdir(parents=True, exist_ok=True)
    paths["policy"] = files.write_bytes(target / "policies" / "default.yaml",
                                        DEFAULT_PACK.read_bytes())
    paths["policy_tests"] = files.write_bytes(target / "policies" / "tests" / "default_test.yaml",
                                              DEFAULT_PACK_TESTS.read_bytes())
    paths["keyring"] = target / ".kontor" / "keyring.json"
    if not paths["keyring"].exists():  # a fresh random master key, never overwritten
        keys.create(paths["keyring"])
    paths["gitignore"] = files.write_bytes(target / ".gitignore",
                                           b"# never commit keys or the store\n.kontor/\nkontor.db*\n")

    overlap = sum(1 for r in bill if r.crm_number is not None)
    summary = DemoSummary(
        target=target, seed=seed, customers=len(crm_rows), billing_customers=len(bill),
        billing_overlap=overlap, employees=len(staff),
        newsletter_subscribers=sum(1 for c in crm_rows if c.newsletter and not c.dirty),
        failures={"crm.kunden": len(crm.DIRTY_KINDS), "hr.mitarbeiter": 1,
                  "billing.customers": 1},
        paths=paths)
    summary.dirty = [_dirty_crm(c, line) for line, c in enumerate(crm_rows, start=2) if c.dirty]
    bad_hr = next(e for e in staff if e.dirty)
    summary.dirty.append(f"hr mitarbeiter.xml personalnummer {bad_hr.number}: invalid "
                         f"geburtsdatum {hr.BAD_BIRTH_DATE}")
    bad_bill = next(r for r in bill if r.dirty)
    summary.dirty.append(f"billing customers id {bad_bill.values['id']}: invalid email "
                         f"{billing.BAD_EMAIL_VALUE}")
    paths["readme"] = files.write_bytes(target / "README.md", README.format(
        seed=seed, customers=len(crm_rows), employees=len(staff), billing=len(bill),
        overlap=overlap).encode())
    return summary
