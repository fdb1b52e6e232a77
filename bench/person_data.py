"""Person records with known truth, corrupted the way back-office data is.

Two shapes, both seeded and deterministic (same seed and size: the same bytes):

- ``linkage(n, seed)``: two systems' exports A and B (about ``n`` records together); a
  person is in A, in B or in both, each system holding a person at most once. The truth
  is the person id per record; the true links are the A-B pairs of one person.
- ``dedupe(n, seed)``: one source of ``n`` records holding duplicates (clusters of 1-5
  records of one person), shuffled.

The population is made of households: a family shares its surname, address and landline,
twins share their birth date too (the hard non-matches). Copies of a person carry typos
and OCR errors, nicknames, initials, swapped first/last names, missing fields, moved
addresses, other house numbers, invalid dates, day/month swaps, dates off by one, new
e-mail addresses; some people have neither e-mail nor phone. The nickname list here is
not the matcher's (``hub/matching/nicknames.py``): only partly the same pairs.

    python bench/person_data.py --shape dedupe --rows 10000 --out /tmp/people
"""

from __future__ import annotations

import argparse
import csv
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

FIELDS = ["first_name", "last_name", "date_of_birth", "street", "postal_code", "city",
          "phone", "email"]
LOCALES = ("de_DE", "de_AT", "de_CH", "en_US", "en_GB", "fr_FR", "it_IT", "pl_PL", "tr_TR",
           "nl_NL")
# full name -> nicknames seen in the wild; some are in the matcher's list, some are not
NICK = {"Johannes": ["Hans", "Jo"], "Josef": ["Sepp"], "Friedrich": ["Fritz", "Friedel"],
        "Wilhelm": ["Willi", "Wim"], "Katharina": ["Kathi", "Katrin"], "Elisabeth": ["Lisa",
        "Elsbeth"], "Michael": ["Micha", "Michi"], "Thomas": ["Tom", "Thommy"],
        "Alexander": ["Alex", "Sascha"], "Andreas": ["Andi"], "Stefanie": ["Steffi"],
        "Susanne": ["Susi"], "Gabriele": ["Gabi"], "Robert": ["Bob", "Robby"],
        "William": ["Bill", "Will"], "Margarete": ["Grete"], "Christian": ["Chris"],
        "Daniel": ["Dani"], "Nicholas": ["Nick"], "Benjamin": ["Ben"], "James": ["Jim"],
        "Elizabeth": ["Liz", "Beth"], "Maximilian": ["Max"], "Tobias": ["Tobi"],
        "Giuseppe": ["Peppe"], "Francesco": ["Franco"], "Katarzyna": ["Kasia"],
        "Małgorzata": ["Gosia"], "Aleksander": ["Olek"], "Mehmet": ["Memo"]}
OCR = [("rn", "m"), ("m", "rn"), ("l", "1"), ("O", "0"), ("o", "0"), ("e", "c"), ("cl", "d"),
       ("h", "b"), ("i", "l"), ("u", "ii"), ("S", "5"), ("B", "8")]
# German numbers as phonenumbers accepts them: (prefix, subscriber digits)
LANDLINE = [("030", 8), ("040", 8), ("089", 8), ("0221", 7), ("069", 8), ("0711", 7)]
MOBILE = [("0151", 8), ("0160", 7), ("0170", 7), ("0176", 8), ("0157", 8), ("0172", 7)]
PROVIDERS = ["web.de", "gmx.de", "gmail.com", "t-online.de", "outlook.com", "posteo.de",
             "yahoo.fr", "libero.it", "wp.pl"]


@dataclass
class Pools:
    first: list[str]
    last: list[str]
    street: list[str]
    places: list[tuple[str, str]]  # (postal code, city)


#: A Kontor mapping for the files ``write`` makes (the benchmark and its tests use it).
MAPPING = """entity: customer
fields:
  first_name: first_name
  last_name: last_name
  email: {column: email, normalise: [email]}
  phone: {column: phone, normalise: [phone]}
  street: street
  postal_code: postal_code
  city: city
  date_of_birth: date_of_birth
"""


#: Locales whose city() depends on the process's string hashing (a set inside Faker), so
#: the same seed would give other data in another run.
UNSTABLE_CITIES = frozenset({"it_IT"})


@lru_cache(maxsize=4)
def pools(seed: int) -> Pools:
    """Name, street and place pools from Faker's locales (cached: Faker is slow)."""
    from faker import Faker
    first: set[str] = set()
    last: set[str] = set()
    street: set[str] = set()
    cities: set[str] = set()
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        for _ in range(1500):
            first.add(fake.first_name())
            last.add(fake.last_name())
        for _ in range(400):
            street.add(fake.street_name())
            if locale not in UNSTABLE_CITIES:
                cities.add(fake.city())
    first.update(NICK)
    rng = random.Random(seed)
    out = [sorted(s) for s in (first, last, street, cities)]
    for items in out:
        rng.shuffle(items)
    postals = rng.sample(range(1067, 99999), 4000)
    places = [(f"{p:05d}", rng.choice(out[3])) for p in postals]
    return Pools(out[0], out[1], out[2], places)


class _Zipf:
    """A skewed choice from a shuffled pool: a few names are common, most are rare."""

    def __init__(self, items: list[str], offset: int = 20):
        self.items = items
        total, self.cum = 0.0, []
        for rank in range(len(items)):
            total += 1.0 / (rank + offset)
            self.cum.append(total)

    def __call__(self, rng: random.Random) -> str:
        return rng.choices(self.items, cum_weights=self.cum)[0]


@dataclass
class Person:
    pid: int
    first: str
    last: str
    dob: tuple[int, int, int]
    street: str
    number: int
    postal: str
    city: str
    phone: str
    email: str


def _phone(rng: random.Random, kinds: list[tuple[str, int]]) -> str:
    prefix, digits = rng.choice(kinds)
    return f"{prefix} {rng.randrange(10 ** (digits - 1), 10 ** digits)}"


def _ascii(email: str) -> str:
    """Mail systems take ASCII: accents dropped, spaces and apostrophes gone."""
    folded = unicodedata.normalize("NFKD", email.lower().replace("ß", "ss").replace("ł", "l"))
    return "".join(c for c in folded if c.isascii() and (c.isalnum() or c in ".@-_"))


def _address(rng: random.Random, p: Pools) -> tuple[str, int, str, str]:
    postal, city = rng.choice(p.places)
    return rng.choice(p.street), rng.randrange(1, 180), postal, city


def _dob(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(1935, 2008), rng.randrange(1, 13), rng.randrange(1, 29)


def population(n: int, seed: int, p: Pools) -> list[Person]:
    """``n`` people in households: families share surname, address and landline."""
    rng = random.Random(seed)
    first, last = _Zipf(p.first), _Zipf(p.last)
    people: list[Person] = []
    while len(people) < n:
        surname = last(rng)
        street, number, postal, city = _address(rng, p)
        landline = _phone(rng, LANDLINE) if rng.random() < 0.5 else ""
        size = rng.choices((1, 2, 3, 4), weights=(55, 25, 12, 8))[0]
        twins = size >= 2 and rng.random() < 0.15
        base = _dob(rng)
        for member in range(size):
            pid = len(people)
            given = first(rng)
            dob = base if twins and member < 2 else _dob(rng)
            mobile = _phone(rng, MOBILE) if rng.random() < 0.6 else landline
            email = ""
            if rng.random() < 0.7:
                local = rng.choice((f"{given}.{surname}", f"{given[0]}{surname}",
                                    f"{given}{rng.randrange(1, 99)}"))
                email = _ascii(f"{local}.{pid}@{rng.choice(PROVIDERS)}")
            people.append(Person(pid, given, surname, dob, street, number, postal, city,
                                 mobile, email))
    return people[:n]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    if rng.random() < 0.35:  # OCR: a shape mistaken for another
        hits = [(a, b) for a, b in OCR if a in text]
        if hits:
            a, b = rng.choice(hits)
            return text.replace(a, b, 1)
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1:]
    if kind == 1:
        return text[:i] + rng.choice("aeinrstl") + text[i:]
    if kind == 2:
        return text[:i] + rng.choice("aeinrstl") + text[i + 1:]
    return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]


def _date(y: int, m: int, d: int) -> str:
    return f"{y:04d}-{m:02d}-{d:02d}"


def record(rng: random.Random, x: Person, p: Pools, noise: float) -> dict[str, str]:
    """One system's copy of ``x``; ``noise`` scales how often each corruption happens."""
    def chance(base: float) -> bool:
        return rng.random() < base * noise

    first, last = x.first, x.last
    y, m, d = x.dob
    street, number, postal, city = x.street, str(x.number), x.postal, x.city
    phone, email = x.phone, x.email
    dob = _date(y, m, d)
    if chance(0.06) and first in NICK:
        first = rng.choice(NICK[first])
    if chance(0.03):
        first = first[0] + "."
    if chance(0.12):
        first = _typo(rng, first)
    if chance(0.12):
        last = _typo(rng, last)
    if chance(0.03):
        last = last + "-" + rng.choice(p.last)  # a double name after marriage
    if chance(0.05):
        first, last = last, first
    if chance(0.04) and d <= 12 and d != m:
        dob = _date(y, d, m)
    elif chance(0.03):
        dob = rng.choice((_date(y + rng.choice((-1, 1)), m, d), _date(y, m, d % 28 + 1),
                          _date(y, m % 12 + 1, d)))
    elif chance(0.02):  # a date no calendar has: the record must still be matched
        dob = rng.choice((_date(y, 2, 30), _date(y, 13, d), _date(y, m, 32)))
    if chance(0.08):  # moved
        street, n, postal, city = _address(rng, p)
        number = str(n)
        phone = "" if rng.random() < 0.5 else phone
    elif chance(0.05):
        number = str(int(number) + rng.choice((-2, 1, 2, 10)))
    if chance(0.08):
        street = street.replace("straße", "str.").replace("Straße", "Str.") \
            .replace("Street", "St").replace("Road", "Rd")
    if chance(0.05):
        street = _typo(rng, street)
    if chance(0.08) and x.email:
        email = _ascii(f"{first[:1]}.{last}{rng.randrange(100)}@{rng.choice(PROVIDERS)}")
    if chance(0.03) and email:
        email = _typo(rng, email)
    if chance(0.04) and phone:
        digits = list(phone)
        i = rng.randrange(len(digits) - 4, len(digits))
        digits[i] = str(rng.randrange(10))
        phone = "".join(digits)
    if chance(0.1) and phone.startswith("0"):
        phone = "+49 " + phone[1:]
    if chance(0.05):
        first, last = first.upper(), last.upper()
    values = {"first_name": first, "last_name": last, "date_of_birth": dob,
              "street": f"{street} {number}", "postal_code": postal, "city": city,
              "phone": phone, "email": email}
    for field, base in (("email", 0.12), ("phone", 0.12), ("date_of_birth", 0.05),
                        ("street", 0.05), ("postal_code", 0.04), ("city", 0.04),
                        ("first_name", 0.01)):
        if chance(base):
            values[field] = ""
    return values


@dataclass
class Dataset:
    """Records (key, source, values) and the person behind each key."""

    records: list[tuple[str, str, dict[str, str]]]
    truth: dict[str, int]

    def links(self) -> Iterator[tuple[str, str]]:
        """Every pair of keys of one person (A key first in the linkage shape)."""
        by_person: dict[int, list[str]] = {}
        for key, _, _ in self.records:
            by_person.setdefault(self.truth[key], []).append(key)
        for keys in by_person.values():
            keys.sort()
            for i, a in enumerate(keys):
                for b in keys[i + 1:]:
                    yield a, b


def linkage(n: int, seed: int = 1) -> Dataset:
    """Two exports, about ``n`` records together: 60% of people in both, 20% each alone."""
    p = pools(seed)
    rng = random.Random(seed * 7919 + 1)
    people = population(int(n / 1.6) + 1, seed, p)
    a: list[tuple[str, str, dict[str, str]]] = []
    b: list[tuple[str, str, dict[str, str]]] = []
    truth: dict[str, int] = {}
    for x in people:
        where = rng.choices(("ab", "a", "b"), weights=(60, 20, 20))[0]
        if "a" in where:
            a.append((f"A{len(a) + 1}", "A", record(rng, x, p, 0.5)))
            truth[a[-1][0]] = x.pid
        if "b" in where:
            b.append((f"B{len(b) + 1}", "B", record(rng, x, p, 1.2)))
            truth[b[-1][0]] = x.pid
    rng.shuffle(b)
    return Dataset(a + b, truth)


def dedupe(n: int, seed: int = 1) -> Dataset:
    """One source of ``n`` records; a person appears 1-5 times."""
    p = pools(seed)
    rng = random.Random(seed * 7919 + 2)
    people = population(n, seed, p)
    out: list[tuple[str, str, dict[str, str]]] = []
    truth: dict[str, int] = {}
    for x in people:
        copies = rng.choices((1, 2, 3, 4, 5), weights=(45, 30, 13, 8, 4))[0]
        for c in range(copies):
            if len(out) >= n:
                break
            values = record(rng, x, p, 0.4 if c == 0 else 1.0)
            out.append(("", "S", values))
            truth[str(len(out))] = x.pid
        if len(out) >= n:
            break
    order = list(range(len(out)))
    rng.shuffle(order)
    keyed = [(f"R{k + 1}", "S", out[i][2]) for k, i in enumerate(order)]
    return Dataset(keyed, {f"R{k + 1}": truth[str(i + 1)] for k, i in enumerate(order)})


def write(data: Dataset, folder: Path) -> list[Path]:
    """One CSV per source (``id`` + canonical fields) and ``truth.csv`` (pairs)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for source in sorted({s for _, s, _ in data.records}):
        path = folder / f"{source}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", *FIELDS])
            for key, s, values in data.records:
                if s == source:
                    w.writerow([key, *(values[c] for c in FIELDS)])
        paths.append(path)
    with (folder / "truth.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["key_a", "key_b"])
        w.writerows(data.links())
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["linkage", "dedupe"], default="dedupe")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    make = linkage if args.shape == "linkage" else dedupe
    for path in write(make(args.rows, args.seed), args.out):
        print(path)
    print(args.out / "truth.csv")


if __name__ == "__main__":
    main()
