"""Data categories: Fides taxonomy keys, plus the few Kontor adds where Fides has none.

Every canonical and custom field names one category. Categories decide what the privacy
gate does; *special* ones (GDPR Art. 9 and 10) are denied unless a policy with a legal
basis allows them, and *restricted* ones (special, plus government ids, bank details and
legal files) are never sent by default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Category:
    key: str
    description: str
    special: bool = False
    restricted: bool = False
    own: bool = False  # a Kontor key, not one of the Fides default taxonomy


# Kontor's own keys: each hangs under a Fides parent so tools that understand the
# taxonomy still see the right branch.
OWN_CATEGORIES: dict[str, str] = {
    "user.legal_proceedings": "Legal files: disciplinary notes, lawsuits, warnings (Kontor)",
    "user.financial.salary": "Salary and pay components (Kontor)",
    "user.government_id.tax_identification_number": "Personal tax id (Kontor)",
    "user.demographic.trade_union_membership": "Trade-union membership, GDPR Art. 9 (Kontor)",
    "user.workplace.employment_status": "Employment status and dates (Kontor)",
    "user.workplace.department": "Department and reporting line (Kontor)",
}

# GDPR Art. 9 (special categories) and Art. 10 (criminal convictions): prefixes.
SPECIAL_PREFIXES = (
    "user.health_and_medical",
    "user.biometric",
    "user.criminal_history",
    "user.demographic.race_ethnicity",
    "user.demographic.political_opinion",
    "user.demographic.religious_belief",
    "user.demographic.sexual_orientation",
    "user.demographic.trade_union_membership",
    "user.legal_proceedings",
    "user.authorization.biometric",
)

# Not special in law, but restricted by default: ids that open accounts, money, legal files.
RESTRICTED_PREFIXES = SPECIAL_PREFIXES + (
    "user.government_id",
    "user.financial.bank_account",
    "user.financial.credit_card",
    "user.authorization",
)


def _has_prefix(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


# The Fides default taxonomy, vendored from fideslang 3.1.4 (CC BY 4.0, Ethyca, Inc.; see
# fides_taxonomy/NOTICE): the package itself pins pydantic below 2.13.
FIDES_TAXONOMY = Path(__file__).resolve().parent / "fides_taxonomy" / "default_taxonomy.json"


@lru_cache(maxsize=1)
def _fides_taxonomy() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIDES_TAXONOMY.read_text("utf-8"))
    return data


@lru_cache(maxsize=1)
def _fides_keys() -> dict[str, str]:
    return {c["fides_key"]: (c.get("description") or c.get("name") or c["fides_key"])
            for c in _fides_taxonomy()["data_categories"]}


@lru_cache(maxsize=1)
def data_uses() -> frozenset[str]:
    """The Fides data uses: what a policy rule's ``purpose`` may name."""
    return frozenset(u["fides_key"] for u in _fides_taxonomy()["data_uses"])


def known_keys() -> set[str]:
    return set(_fides_keys()) | set(OWN_CATEGORIES)


def lookup(key: str) -> Category:
    """The category for ``key``; ``KeyError`` if neither Fides nor Kontor defines it."""
    fides = _fides_keys()
    if key in fides:
        description, own = fides[key], False
    elif key in OWN_CATEGORIES:
        description, own = OWN_CATEGORIES[key], True
    else:
        raise KeyError(key)
    return Category(
        key=key,
        description=description,
        special=_has_prefix(key, SPECIAL_PREFIXES),
        restricted=_has_prefix(key, RESTRICTED_PREFIXES),
        own=own,
    )


def suggest(key: str) -> list[str]:
    """Close known keys, for an error message about an unknown one."""
    import difflib

    return difflib.get_close_matches(key, sorted(known_keys()), n=3, cutoff=0.6)
