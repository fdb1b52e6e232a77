"""The HR system: employees with their reporting line and the legally restricted fields.

Health, disability, criminal-record and disciplinary values are deliberately present so
the privacy gate has something to keep from payroll; most employees have none of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hub.demo.ids import id_card_number, social_security_number
from hub.demo.people import REFERENCE, Person, PersonFactory, random_date, random_datetime

COMPANY_DOMAIN = "brandt-haustechnik.de"
LOCALE_WEIGHTS = {"de_DE": 0.78, "pl_PL": 0.05, "tr_TR": 0.07, "fr_FR": 0.02,
                  "ru_RU": 0.03, "el_GR": 0.03, "zh_CN": 0.01, "ja_JP": 0.01}
# department: (share of staff, head's title, staff titles, monthly salary range in EUR)
DEPARTMENTS: dict[str, tuple[float, str, tuple[str, ...], tuple[int, int]]] = {
    "Vertrieb": (0.14, "Vertriebsleiter/in", ("Vertriebsmitarbeiter/in Innendienst",
                 "Außendienstmitarbeiter/in", "Key Account Manager/in"), (3400, 5600)),
    "Buchhaltung": (0.07, "Leiter/in Finanzen", ("Finanzbuchhalter/in",
                    "Kreditorenbuchhalter/in", "Lohnbuchhalter/in"), (3300, 4900)),
    "Personal": (0.04, "Personalleiter/in", ("Personalreferent/in",
                 "Sachbearbeiter/in Personal"), (3200, 4800)),
    "IT": (0.06, "IT-Leiter/in", ("Systemadministrator/in", "Softwareentwickler/in",
           "IT-Support"), (3600, 6200)),
    "Kundendienst": (0.12, "Leiter/in Kundenservice", ("Kundenberater/in",
                     "Servicetechniker/in"), (2900, 4200)),
    "Lager & Logistik": (0.12, "Leiter/in Logistik", ("Lagerist/in",
                         "Fachkraft für Lagerlogistik", "Disponent/in"), (2600, 3800)),
    "Einkauf": (0.05, "Einkaufsleiter/in", ("Einkäufer/in", "Sachbearbeiter/in Einkauf"),
                (3200, 4700)),
    "Marketing": (0.05, "Marketingleiter/in", ("Online-Marketing-Manager/in",
                  "Grafikdesigner/in"), (3200, 5000)),
    "Montage": (0.35, "Montageleiter/in", ("Anlagenmechaniker/in SHK", "Elektroniker/in",
                "Monteur/in", "Meister/in SHK"), (2800, 4600)),
}
BOARD = "Geschäftsführung"
SICK_LEAVE = ("Bandscheibenvorfall", "Burnout", "Grippaler Infekt", "Depression",
              "Knie-OP (Kreuzband)", "Long COVID", "Migräne", "Gürtelrose",
              "Armbruch nach Fahrradunfall")
DISABILITY = ("GdB 30 (gleichgestellt)", "GdB 50", "GdB 60", "GdB 80", "GdB 100")
DISCIPLINARY = ("Abmahnung {d}: unentschuldigtes Fehlen",
                "Ermahnung {d}: wiederholte Verspätung",
                "Abmahnung {d}: Verstoß gegen Arbeitsschutzvorschriften",
                "Abmahnung {d}: private Nutzung des Firmenwagens")
BAD_BIRTH_DATE = "1987-02-31"


@dataclass
class Employee:
    person: Person
    department: str
    job_title: str
    head: bool
    hire_date: dt.date
    salary: str
    work_email: str
    private_email: str
    number: str = ""
    manager: str = ""
    termination_date: dt.date | None = None
    dirty: bool = False


def _gendered(title: str, gender: str) -> str:
    return title.replace("/in", "in" if gender == "f" else "")


def _salary(factory: PersonFactory, low: int, high: int) -> str:
    amount = factory.rng.randrange(low, high, 50)
    cents = factory.rng.choice((0, 0, 0, factory.rng.randint(1, 99)))  # tariff odd cents
    return f"{amount}.{cents:02d}"


def _employee(factory: PersonFactory, department: str, head: bool) -> Employee:
    rng = factory.rng
    person = factory.person(factory.pick_locale(LOCALE_WEIGHTS), abroad=False,
                            oldest=66, youngest=19)
    if department == BOARD:
        title, pay = "Geschäftsführer/in", (9500, 12500)
    else:
        _, head_title, titles, pay = DEPARTMENTS[department]
        title = head_title if head else rng.choice(titles)
        pay = (int(pay[1] * 1.1), int(pay[1] * 1.5)) if head else pay
    first = person.ascii_first.split("-")[0]
    work = factory.unique_email(f"{first}.{person.ascii_last}", COMPANY_DOMAIN)
    hired_from = dt.date(1998, 1, 1) if head or department == BOARD else dt.date(2003, 1, 1)
    hired_from = max(hired_from, person.date_of_birth.replace(day=1) + dt.timedelta(days=6575))
    return Employee(person, department, _gendered(title, person.gender), head,
                    random_date(rng, hired_from, REFERENCE.date() - dt.timedelta(days=14)),
                    _salary(factory, *pay), work,
                    person.email if rng.random() < 0.75 else "")


def make_employees(factory: PersonFactory, count: int) -> list[Employee]:
    """Managing director, one head per department (as far as ``count`` goes), then staff."""
    rng = factory.rng
    heads = [BOARD, *DEPARTMENTS][:count]
    staff = rng.choices(list(DEPARTMENTS), [d[0] for d in DEPARTMENTS.values()],
                        k=count - len(heads))
    people = [_employee(factory, d, head=True) for d in heads]
    people += [_employee(factory, d, head=False) for d in staff]
    people.sort(key=lambda e: e.hire_date)  # personnel numbers follow the hiring order
    number = 10_000
    for e in people:
        number += rng.randint(1, 4)
        e.number = str(number)
    head_of = {e.department: e.number for e in people if e.head}
    for e in people:
        if e.department != BOARD:
            e.manager = head_of[BOARD] if e.head else head_of.get(e.department, head_of[BOARD])
        earliest = e.hire_date + dt.timedelta(days=180)
        latest = REFERENCE.date() + dt.timedelta(days=92)  # notice given, leaving soon
        if not e.head and earliest < latest and rng.random() < 0.09:
            e.termination_date = random_date(rng, earliest, latest)
    candidates = [e for e in people if e.department != BOARD]
    if candidates:
        rng.choice(candidates).dirty = True
    return people


def record(factory: PersonFactory, e: Employee) -> dict[str, str]:
    """The employee as the HR export writes it: one XML child element per key."""
    rng, p = factory.rng, e.person
    recent = (REFERENCE.date() - e.hire_date).days < 60
    check = "pending" if recent else ("record found" if rng.random() < 0.015 else "clear")
    warning = ""
    if rng.random() < 0.03:
        day = random_date(rng, max(e.hire_date, dt.date(2018, 1, 1)), REFERENCE.date())
        warning = rng.choice(DISCIPLINARY).format(d=day.strftime("%d.%m.%Y"))
    changed = random_datetime(rng, dt.datetime.combine(e.hire_date, dt.time(8)), REFERENCE)
    return {
        "personalnummer": e.number, "vorname": p.first_name, "nachname": p.last_name,
        "email_dienstlich": e.work_email, "email_privat": e.private_email,
        "telefon": p.phone, "strasse": p.street, "plz": p.postal_code, "ort": p.city,
        "land": p.country,
        "geburtsdatum": BAD_BIRTH_DATE if e.dirty else p.date_of_birth.isoformat(),
        "abteilung": e.department, "position": e.job_title, "vorgesetzter": e.manager,
        "eintrittsdatum": e.hire_date.isoformat(),
        "austrittsdatum": e.termination_date.isoformat() if e.termination_date else "",
        "gehalt": e.salary, "iban": factory.faker("de_DE").iban(),
        "ausweisnummer": id_card_number(rng),
        "sozialversicherungsnummer": social_security_number(rng, p),
        "krankheitsgrund": rng.choice(SICK_LEAVE) if rng.random() < 0.08 else "",
        "schwerbehinderung": rng.choice(DISABILITY) if rng.random() < 0.06 else "",
        "fuehrungszeugnis": check, "abmahnungen": warning,
        "geaendert_am": changed.isoformat(timespec="seconds"),
    }
