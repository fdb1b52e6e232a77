"""Country names and codes to ISO 3166-1 alpha-2.

Built from pycountry rather than a hand-made table: it carries all 249 ISO 3166-1 entries
with alpha-2/alpha-3/numeric codes, official and common English names, and the Debian
iso-codes translations, so "Deutschland", "Allemagne", "Österreich", "Autriche",
"Schweiz", "Suisse", "DEU" and "276" all resolve without us maintaining a list. The table
is built once (~5 ms) and looked up by a folded key (case, accents, punctuation ignored).
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import lru_cache

import pycountry

#: Languages whose country names are recognised, besides English.
LANGUAGES = ("de", "fr", "it", "es", "nl", "pl")

# Everyday names no standard lists (or lists differently).
_ALIASES = {
    "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "grossbritannien": "GB", "usa": "US", "us": "US", "america": "US", "holland": "NL",
    "bundesrepublik deutschland": "DE", "brd": "DE", "russland": "RU", "russia": "RU",
    "south korea": "KR", "north korea": "KP", "turkey": "TR", "turkei": "TR",
    "tschechien": "CZ", "czech republic": "CZ", "vatican": "VA",
}


def fold(text: str) -> str:
    """Casefold, drop accents and punctuation: "Österreich" and "osterreich" meet."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", text.replace("ß", "ss")).split())


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    table: dict[str, str] = {}
    translations = []
    for lang in LANGUAGES:
        try:
            translations.append(gettext.translation("iso3166-1", pycountry.LOCALES_DIR,
                                                    languages=[lang]))
        except OSError:  # a pycountry build without that language: English still works
            continue
    for c in pycountry.countries:
        code = c.alpha_2
        names = [c.name, getattr(c, "official_name", None), getattr(c, "common_name", None)]
        for t in translations:
            names += [t.gettext(n) for n in names[:3] if n]
        for name in names:
            if name:
                table.setdefault(fold(name), code)
                # "Korea, Republic of" -> also "Republic of Korea"
                if "," in name:
                    head, _, tail = name.partition(",")
                    table.setdefault(fold(f"{tail} {head}"), code)
        table[code.casefold()] = code
        table[c.alpha_3.casefold()] = code
        table[str(int(c.numeric))] = code
    table.update(_ALIASES)
    return table


def to_alpha2(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code for a country name or code, or None if unknown."""
    key = fold(text)
    table = _table()
    return table.get(key) or (table.get(key.lstrip("0")) if key.isdigit() else None)
