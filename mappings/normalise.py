"""Normalisers: one canonical spelling per value, so equal things compare equal.

Each normaliser takes a non-empty text and returns its normal form, or raises
``MappingError`` naming what is wrong (never the value). ``build`` turns the names listed
in a mapping into one function; the phone and postal-code normalisers use the default
region (ISO 3166 alpha-2) of the field, the mapping or the system.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from hub.errors import MappingError
from mappings.countries import to_alpha2

Step = Callable[[str], str]

# Plain ASCII addresses (the vast majority) are accepted by this strict pattern without the
# full RFC validator, which costs ~23 µs a call (a quarter of an import's time); anything
# the pattern does not accept goes through email-validator.
_SIMPLE_EMAIL = re.compile(
    r"^[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+"
    r"[a-z]{2,24}$")


def email(text: str) -> str:
    """Syntax check (no DNS look-up), lower-cased: the form matching relies on."""
    lowered = text.lower()
    if _SIMPLE_EMAIL.match(lowered):
        return lowered
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise MappingError("not an email address") from None
    return result.normalized.lower()


@lru_cache(maxsize=65_536)
def phone(text: str, region: str | None) -> str:
    """E.164 (``+4930123456``); numbers without a country code take ``region``."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise MappingError("not a phone number" + ("" if region else
                           " (no country code and no default_region)")) from None
    if not phonenumbers.is_valid_number(number):
        raise MappingError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def country(text: str) -> str:
    """ISO 3166-1 alpha-2 from a code or a name in English, German, French and more."""
    code = to_alpha2(text)
    if code is None:
        raise MappingError("not a known country name or code")
    return code


# Postal codes: the formats of the countries our users' records mostly hold. Others are
# only cleaned (upper case, single spaces), not checked.
_POSTAL = {
    "DE": r"\d{5}", "AT": r"\d{4}", "CH": r"\d{4}", "LI": r"\d{4}", "FR": r"\d{5}",
    "IT": r"\d{5}", "ES": r"\d{5}", "BE": r"\d{4}", "LU": r"\d{4}", "DK": r"\d{4}",
    "NL": r"\d{4} [A-Z]{2}", "PL": r"\d{2}-\d{3}", "US": r"\d{5}(?:-\d{4})?",
    "GB": r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", "SE": r"\d{3} \d{2}", "CZ": r"\d{3} \d{2}",
}
_PREFIX = re.compile(r"^(?:D|A|CH|F|I|L|B|NL|PL|DE|AT|FR)\s*-\s*(?=\d)")


def postal_code(text: str) -> str:
    """Country-independent cleaning: upper case, single spaces, no "D-" style prefix."""
    return _PREFIX.sub("", " ".join(text.upper().split()))


def postal_code_for(value: str, country_code: str | None) -> str:
    """Check and format a cleaned postal code for its country (when the format is known).

    Spreadsheets drop leading zeros (Dresden's 01067 becomes 1067): a code one digit short
    of its country's all-digit format gets its zero back.
    """
    pattern = _POSTAL.get((country_code or "").upper())
    if pattern is None:
        return value
    if re.fullmatch(pattern, value):
        return value
    compact = value.replace(" ", "")
    digits = {r"\d{5}": 5, r"\d{4}": 4}.get(pattern)
    if digits and compact.isdigit() and len(compact) == digits - 1:
        return "0" + compact
    if country_code in ("NL", "GB", "SE", "CZ") and len(compact) > 3:
        spaced = f"{compact[:-3]} {compact[-3:]}" if country_code == "GB" else (
            f"{compact[:4]} {compact[4:]}" if country_code == "NL" else
            f"{compact[:3]} {compact[3:]}")
        if re.fullmatch(pattern, spaced):
            return spaced
    raise MappingError(f"not a valid postal code for {country_code}")


def collapse_spaces(text: str) -> str:
    return " ".join(text.split())


def nfkc(text: str) -> str:
    """Compatibility forms folded: full-width letters, ligatures, non-breaking spaces."""
    return unicodedata.normalize("NFKC", text)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed
                                                if not unicodedata.combining(c)))


_SIMPLE: dict[str, Step] = {
    "lower": str.lower, "upper": str.upper, "title": str.title,
    "collapse_spaces": collapse_spaces, "whitespace": collapse_spaces,
    "nfkc": nfkc, "strip_accents": strip_accents,
    "email": email, "country": country, "postal_code": postal_code,
}
#: Every normaliser a mapping may name.
NORMALISERS: tuple[str, ...] = (*_SIMPLE, "phone")


def _phone_in(region: str | None) -> Step:
    def normalise_phone(text: str) -> str:
        return phone(text, region)
    return normalise_phone


def build(names: list[str], region: str | None) -> Step | None:
    """One function applying ``names`` in order, or None when there are none."""
    steps: list[Step] = []
    for name in names:
        if name == "phone":
            steps.append(_phone_in(region))
        elif name in _SIMPLE:
            steps.append(_SIMPLE[name])
        else:  # validated when the mapping loads; kept as a guard
            raise ValueError(f"unknown normaliser {name!r}")
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]

    def apply(text: str) -> str:
        for step in steps:
            text = step(text)
        return text

    return apply
