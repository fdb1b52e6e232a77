"""A fast generator of realistic-looking customer CSVs for benchmarks (no Faker: speed).

Deterministic for a seed; about 1M rows in a few seconds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

FIRST = ["Anna", "Jürgen", "Zoë", "Łukasz", "Ayşe", "Émile", "Mia", "Noah", "王", "Σοφία",
         "Иван", "Lena", "Paul", "Marie", "Jonas", "Fatma", "Luca", "Sara", "Tom", "Ida"]
LAST = ["Müller", "Schmidt", "Ødegård", "Nowak", "Yılmaz", "Dubois", "Rossi", "小明",
        "Παπαδόπουλος", "Иванов", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Richter"]
CITIES = [("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"), ("50667", "Köln"),
          ("60311", "Frankfurt am Main"), ("70173", "Stuttgart"), ("04109", "Leipzig")]
HEADER = ["KundenNr", "Vorname", "Nachname", "E-Mail", "Telefon", "Strasse", "PLZ", "Ort",
          "Land", "Geburtsdatum", "Status", "Newsletter", "GeaendertAm"]

MAPPING = """entity: customer
updated_at: {column: GeaendertAm, format: "%d.%m.%Y %H:%M"}
fields:
  customer_number: KundenNr
  first_name: Vorname
  last_name: Nachname
  email: {column: E-Mail, normalise: email}
  phone: Telefon
  street: Strasse
  postal_code: PLZ
  city: Ort
  country: Land
  date_of_birth: {column: Geburtsdatum, format: "%d.%m.%Y"}
  status: {column: Status, values: {A: active, I: inactive}}
  marketing_consent: {column: Newsletter, true_values: [ja], false_values: [nein]}
"""


def customer_rows(rows: int, seed: int = 7) -> Iterator[list[str]]:
    """``rows`` customers as lists of strings in ``HEADER`` order (deterministic)."""
    rng = random.Random(seed)
    for i in range(rows):
        plz, city = CITIES[i % len(CITIES)]
        yield [
            f"K{100000 + i}", rng.choice(FIRST), rng.choice(LAST), f"kunde{i}@example.org",
            f"+49 30 {rng.randrange(1000000, 9999999)}", f"Hauptstraße {i % 200 + 1}",
            plz, city, "DE",
            f"{rng.randrange(1, 29):02d}.{rng.randrange(1, 13):02d}.{rng.randrange(1940, 2005)}",
            "A" if i % 10 else "I", "ja" if i % 3 else "nein",
            f"{rng.randrange(1, 29):02d}.{rng.randrange(1, 13):02d}.2025 12:00"]


def write_customers(path: Path, rows: int, seed: int = 7) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(";".join(HEADER) + "\n")
        fh.writelines(";".join(row) + "\n" for row in customer_rows(rows, seed))


def write_deployment(folder: Path, rows: int) -> Path:
    """A one-system deployment importing ``rows`` customers from CSV; returns kontor.yaml."""
    write_customers(folder / "data" / "kunden.csv", rows)
    (folder / "mappings").mkdir(parents=True, exist_ok=True)
    (folder / "mappings" / "crm.yaml").write_text(MAPPING, encoding="utf-8")
    config = folder / "kontor.yaml"
    config.write_text("""database: kontor.db
batch_size: 5000
systems:
  crm:
    connector: csv
    settings: {directory: data, delimiter: ";"}
    streams:
      kunden: {entity: customer, direction: inbound, resource: kunden.csv,
               key: [KundenNr], mapping: mappings/crm.yaml}
""", encoding="utf-8")
    from policies import keys  # the store seals restricted fields: it needs a master key

    keyring = folder / ".kontor" / "keyring.json"
    if not keyring.exists():
        keys.create(keyring)
    return config
