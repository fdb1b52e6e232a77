"""The matching view of a record: names, birth date, address, phone and email, normalised.

Normalising once per record (not per compared pair) keeps scoring cheap: "Müller",
"Mueller" and "MULLER" all fold to forms that compare equal or nearly so, a nickname maps
to its full name ("Sepp" -> "josef"), phones keep their digits only.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hub.matching.nicknames import NICKNAMES
from mappings.splitjoin import split_street

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe",
                          "å": "aa", "œ": "oe"})
_NOT_LETTER = re.compile(r"[^a-z ]+")
_STREET_WORDS = ((re.compile(r"(strasse|str\.?)\b"), "str"), (re.compile(r"\bst\.?\b"), "st"))
EMAIL_FIELDS = {"customer": ("email",), "employee": ("work_email", "private_email")}
#: Every canonical field a profile reads.
FIELDS = ("first_name", "last_name", "date_of_birth", "street", "postal_code", "city", "phone",
          "email", "work_email", "private_email")


_NOT_DIGIT = re.compile(r"\D")
_NOT_STREET = re.compile(r"[^a-z0-9 ]+")


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Lower case, umlauts spelled out (ü -> ue), other accents dropped, letters only."""
    if text.isascii():  # no umlaut, accent or Unicode form to undo: the same, faster
        return " ".join(_NOT_LETTER.sub(" ", text.lower()).split())
    text = unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_NOT_LETTER.sub(" ", text).split())


def first_name_key(text: str) -> str:
    """The folded first given name, a nickname replaced by its full name."""
    folded = fold(text)
    head = folded.split(" ", 1)[0] if folded else ""
    return NICKNAMES.get(head, head)


def _street(text: str) -> str:
    folded = text.lower() if text.isascii() else \
        unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)
    for pattern, replacement in _STREET_WORDS:
        folded = pattern.sub(replacement, folded)
    return " ".join(_NOT_STREET.sub(" ", folded).split())


# Normalised once per distinct value, not per record: sources repeat streets, phones (a
# company's switchboard) and cities heavily. Bounded, like ``fold``'s cache.
@lru_cache(maxsize=100_000)
def _street_and_number(text: str) -> tuple[str, str]:
    street, number = split_street(text)
    return _street(street or ""), (number or "").lower()


@lru_cache(maxsize=100_000)
def _digits(text: str) -> str:
    return _NOT_DIGIT.sub("", text)


@dataclass(frozen=True)
class Profile:
    first: str  # folded given name(s)
    first_key: str  # first given name, nickname resolved
    last: str
    dob: dt.date | None
    street: str  # the street's name, without the house number
    number: str
    postal: str
    city: str
    phone: str  # digits only
    emails: tuple[str, ...]

    @property
    def email(self) -> str:
        return self.emails[0] if self.emails else ""

    @property
    def email_local(self) -> str:
        return self.emails[0].split("@", 1)[0] if self.emails else ""

    @property
    def has_name(self) -> bool:
        return bool(self.first or self.last)


def _text(values: Mapping[str, Any], field: str) -> str:
    value = values.get(field)
    return "" if value is None else str(value)


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def profile(entity: str, values: Mapping[str, Any]) -> Profile:
    """The matching view of canonical ``values`` (a golden row or a mapped record)."""
    get = values.get
    # the common case inline: a field absent, or text (``_text`` for any other type)
    texts = ["" if v is None else v if type(v) is str else str(v)
             for v in map(get, _TEXT_FIELDS)]
    first_name, last_name, street_text, postal, city, phone = texts
    first = fold(first_name)
    street, number = _street_and_number(street_text)
    emails = []
    for f in EMAIL_FIELDS[entity]:
        v = get(f)
        if v is not None and (e := str(v).strip().lower()):
            emails.append(e)
    return Profile(
        first=first,
        first_key=first_name_key(first),
        last=fold(last_name),
        dob=_date(get("date_of_birth")),
        street=street,
        number=number,
        postal=postal.replace(" ", "").upper(),
        city=fold(city),
        phone=_digits(phone),
        emails=tuple(emails),
    )


_TEXT_FIELDS = ("first_name", "last_name", "street", "postal_code", "city", "phone")


def blocking_texts(p: Profile, kinds: list[str]) -> list[str]:
    """The blocking keys of a profile, as "kind|text" (digested before storing).

    ``name_dob`` uses each of first and last name, so a swapped or mistyped name still
    meets the other record through the name that is right.
    """
    keys: list[str] = []
    names = {n[:4] for n in (p.first_key, p.last.replace(" ", "")) if len(n) >= 2}
    for kind in kinds:
        if kind == "name_dob" and p.dob is not None:
            keys += [f"name_dob|{n}|{p.dob.isoformat()}" for n in names]
        elif kind == "name_postal" and p.postal and p.last:
            keys.append(f"name_postal|{p.last.replace(' ', '')[:4]}|{p.postal}")
        elif kind == "phone" and len(p.phone) >= 7:
            keys.append(f"phone|{p.phone[-7:]}")
        elif kind == "email_local":
            keys += [f"email_local|{e.split('@')[0]}" for e in p.emails
                     if len(e.split("@")[0]) >= 5]
        elif kind == "dob_postal" and p.dob is not None and p.postal:
            keys.append(f"dob_postal|{p.dob.isoformat()}|{p.postal}")
    return keys


def rule_texts(values: Mapping[str, Any], rules: list[list[str]]) -> list[str | None]:
    """Per deterministic rule, its key ("rule<i>|v1|v2"), None where a field is empty."""
    keys: list[str | None] = []
    for i, fields in enumerate(rules):
        parts = []
        for f in fields:
            v = values.get(f)
            if v is None or (isinstance(v, str) and not v.strip()):
                break
            parts.append(v.isoformat() if isinstance(v, dt.date) else
                         " ".join(str(v).casefold().split()))
        else:
            keys.append(f"rule{i}|" + "|".join(parts))
            continue
        keys.append(None)
    return keys
