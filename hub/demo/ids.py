"""German identity numbers that pass their check-digit tests (made up, never real ones).

Validators in payroll and HR software check these digits, so a demo with random digits
would be refused by exactly the systems it is meant to show.
"""

from __future__ import annotations

import random

from hub.demo.people import Person

# Letters used in German identity-card serial numbers (no vowels, no look-alikes).
_ID_CARD_ALPHABET = "CFGHJKLMNPRTVWXYZ"
# Pension-insurance area numbers (Bereichsnummern) of the Deutsche Rentenversicherung.
_SV_AREAS = ("02", "03", "04", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17",
             "18", "19", "20", "21", "23", "24", "25", "26", "28", "29", "38", "39", "40",
             "42", "43", "44", "45", "46", "47", "48", "49", "50", "51", "52", "53", "54",
             "55", "56", "57", "58", "59", "60", "61", "62", "63", "64", "65", "66")


def _icao_digit(text: str) -> int:
    """ICAO 9303 check digit (weights 7, 3, 1), as printed on German ID cards."""
    total = 0
    for i, ch in enumerate(text):
        value = int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10
        total += value * (7, 3, 1)[i % 3]
    return total % 10


def id_card_number(rng: random.Random) -> str:
    """A Personalausweis number: letter, eight letters/digits, check digit."""
    alphabet = _ID_CARD_ALPHABET + "0123456789"
    serial = rng.choice(_ID_CARD_ALPHABET) + "".join(rng.choice(alphabet) for _ in range(8))
    return f"{serial}{_icao_digit(serial)}"


def social_security_number(rng: random.Random, person: Person) -> str:
    """A Sozialversicherungsnummer: area, birth date, surname initial, serial, check digit."""
    initial = next((c for c in person.ascii_last.upper() if "A" <= c <= "Z"), "X")
    serial = rng.randint(0, 49) + (50 if person.gender == "f" else 0)
    body = f"{rng.choice(_SV_AREAS)}{person.date_of_birth:%d%m%y}"
    digits = body + f"{ord(initial) - ord('A') + 1:02d}" + f"{serial:02d}"
    weights = (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1)
    check = sum(sum(map(int, str(int(d) * w))) for d, w in zip(digits, weights, strict=True))
    return f"{body}{initial}{serial:02d}{check % 10}"
