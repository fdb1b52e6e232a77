"""A seeded pool of realistic people: names, unique emails, addresses, birth dates.

All randomness comes from one ``random.Random`` plus one Faker instance per locale seeded
from the same seed, and every date is drawn relative to a fixed reference day, so the same
seed always yields the same people (no ``date.today()`` anywhere).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, replace

from faker import Faker

from hub.demo.scripts import ZH_GIVEN, ZH_SURNAMES, to_ascii

#: "Today" for the demo: every generated date is relative to this fixed moment.
REFERENCE = dt.datetime(2025, 6, 30, 17, 45)

# Fixed order: a locale's Faker seed is derived from its position, never from hash().
LOCALES = ("de_DE", "de_AT", "de_CH", "fr_FR", "pl_PL", "tr_TR",
           "zh_CN", "el_GR", "ru_RU", "ja_JP")
NON_LATIN = ("zh_CN", "el_GR", "ru_RU", "ja_JP")
# Where a locale's people live when they do not live in Germany.
_HOME = {"de_DE": "DE", "de_AT": "AT", "de_CH": "CH", "fr_FR": "FR", "pl_PL": "PL",
         "el_GR": "GR", "ru_RU": "RU"}
_ABROAD_SHARE = {"de_AT": 1.0, "de_CH": 1.0, "fr_FR": 0.5, "pl_PL": 0.4,
                 "el_GR": 0.3, "ru_RU": 0.2}
# (pattern, weight); {y} is the two-digit birth year, a classic of free-mail addresses.
_EMAIL_PATTERNS = (("{f}.{l}", 40), ("{f0}.{l}", 15), ("{f}{l}", 10), ("{l}.{f}", 5),
                   ("{f}.{l}{y}", 15), ("{f}_{l}", 5), ("{l}{y}", 10))


@dataclass(frozen=True)
class Person:
    locale: str
    gender: str  # "f" or "m"
    first_name: str
    last_name: str
    email: str
    phone: str
    street: str
    postal_code: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    date_of_birth: dt.date
    ascii_first: str  # romanised, for email addresses and id numbers
    ascii_last: str


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def random_datetime(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A minute-precision moment in office hours, as people actually edit records."""
    day = random_date(rng, start.date(), end.date())
    moment = dt.datetime.combine(day, dt.time(rng.randint(7, 18), rng.randint(0, 59)))
    return min(max(moment, start), end)


class PersonFactory:
    """Makes people; emails are unique (case-insensitively) across everything it made."""

    def __init__(self, seed: int, rng: random.Random):
        self.rng = rng
        self._seed = seed
        self._fakers: dict[str, Faker] = {}
        self._emails: set[str] = set()

    def faker(self, locale: str) -> Faker:
        if locale not in self._fakers:
            fake = Faker(locale)
            fake.seed_instance(self._seed * 100 + LOCALES.index(locale))
            self._fakers[locale] = fake
        return self._fakers[locale]

    def reserve(self, email: str) -> None:
        """Keep a hand-written address from ever being generated for someone else."""
        self._emails.add(email.strip().lower())

    def unique_email(self, local: str, domain: str) -> str:
        # "H. Binner" must not become "h..binner": keep what RFC 5321 allows, no empty atoms
        local = re.sub(r"\.{2,}", ".", re.sub(r"[^a-z0-9._-]", "", local.lower()))
        local = local.strip(".-_") or "kontakt"
        candidate = f"{local}@{domain}"
        while candidate.lower() in self._emails:  # Faker names collide: add digits
            candidate = f"{local}{self.rng.randint(1, 999)}@{domain}"
        self._emails.add(candidate.lower())
        return candidate

    def names(self, locale: str, gender: str) -> tuple[str, str, str, str]:
        """(first, last, first in ASCII, last in ASCII)."""
        fake = self.faker(locale)
        if locale == "ja_JP":  # Faker pairs kanji with the romanised reading
            given_ja = (fake.first_name_female_pair() if gender == "f"
                        else fake.first_name_male_pair())
            family_ja = fake.last_name_pair()
            return given_ja[0], family_ja[0], given_ja[2].lower(), family_ja[2].lower()
        if locale == "zh_CN":
            given, family = self.rng.choice(ZH_GIVEN[gender]), self.rng.choice(ZH_SURNAMES)
            return given[0], family[0], given[1].lower(), family[1].lower()
        first = fake.first_name_female() if gender == "f" else fake.first_name_male()
        last = fake.last_name_female() if gender == "f" else fake.last_name_male()
        return first, last, to_ascii(first), to_ascii(last)

    def address(self, locale: str, country: str) -> tuple[str, str, str, str]:
        """(street, postal code, city, phone) in ``country``'s own conventions."""
        fake = self.faker(locale if _HOME.get(locale) == country else "de_DE")
        return fake.street_address(), fake.postcode(), fake.city(), fake.phone_number()

    def email_for(self, locale: str, first: str, last: str, born: dt.date) -> str:
        if locale == "zh_CN" and self.rng.random() < 0.5:  # QQ numbers: common in China
            number = str(self.rng.randint(10_000_000, 2_999_999_999))
            return self.unique_email(number, self.rng.choice(("qq.com", "163.com")))
        patterns, weights = zip(*_EMAIL_PATTERNS, strict=True)
        pattern = self.rng.choices(patterns, weights)[0]
        first = first.split("-")[0] or "info"
        local = pattern.format(f=first, l=last, f0=first[:1], y=f"{born.year % 100:02d}")
        return self.unique_email(local, self.faker(locale).free_email_domain())

    def person(self, locale: str, *, abroad: bool = True, oldest: int = 88, youngest: int = 18
               ) -> Person:
        """Someone of ``locale``; ``abroad=False`` means they live in Germany."""
        rng = self.rng
        gender = rng.choice("fm")
        first, last, first_a, last_a = self.names(locale, gender)
        share = _ABROAD_SHARE.get(locale, 0.0) if abroad else 0.0
        country = _HOME[locale] if rng.random() < share else "DE"
        street, postcode, city, phone = self.address(locale, country)
        born = random_date(rng, dt.date(REFERENCE.year - oldest, 1, 1),
                           dt.date(REFERENCE.year - youngest, 6, 1))
        email = self.email_for(locale, first_a, last_a, born)
        return Person(locale, gender, first, last, email, phone, street, postcode, city,
                      country, born, first_a, last_a)

    def moved(self, person: Person) -> Person:
        """The same person at a new address (in the same country)."""
        street, postcode, city, _ = self.address(person.locale, person.country)
        return replace(person, street=street, postal_code=postcode, city=city)

    def pick_locale(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), list(weights.values()))[0]
