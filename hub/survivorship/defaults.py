"""Which survivorship rule a field follows when kontor.yaml names none: one table.

The table goes by data category: the longest category in it that is the field's own or a
parent of it decides. Custom fields follow it too, by the category kontor.yaml gives them.
``survivorship.<entity>.default`` in kontor.yaml replaces the table for every field, and
``survivorship.<entity>.fields.<name>`` replaces it for one field (``address`` for the
address, whose parts survive together: ``hub.matching.settings.address_parts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.matching.settings import ADDRESS, EntitySurvivorship

MOST_FREQUENT = "most_frequent"
TRUSTED_SOURCE = "trusted_source"
MOST_RECENT = "most_recent"
MOST_COMPLETE = "most_complete"
RULES = (MOST_FREQUENT, TRUSTED_SOURCE, MOST_RECENT, MOST_COMPLETE)

#: category (and every category under it) -> (rule, why)
DEFAULTS: dict[str, tuple[str, str]] = {
    "user": (MOST_FREQUENT,
             "what most of the person's source records say: one corrupted copy cannot win"),
    "user.account": (MOST_RECENT, "a status is a business event: the latest one counts"),
    "user.account.username": (MOST_FREQUENT, "a login name is an identifier, not a status"),
    "user.privacy_preferences": (MOST_RECENT,
                                 "consent and objections: the person's latest word counts"),
    "user.workplace": (MOST_RECENT,
                       "department, manager, hire and leaving dates change with the job"),
    "user.job_title": (MOST_RECENT, "changes with the job"),
    "user.financial.salary": (MOST_RECENT, "pay changes; the latest change counts"),
    "user.financial": (TRUSTED_SOURCE, "bank details: the system that pays (trust list)"),
    "user.government_id": (TRUSTED_SOURCE,
                           "ids an authority issued: the system that checks them (trust list)"),
    "user.health_and_medical": (MOST_RECENT, "sick leave, disability: a current state"),
    "user.criminal_history": (MOST_RECENT, "the latest check counts"),
    "user.legal_proceedings": (MOST_RECENT, "the latest note counts"),
}

#: Kontor keeps no source's restricted values apart (they exist only sealed, in the golden
#: record), so most_frequent cannot count them: such a field follows trusted_source.
RESTRICTED_FALLBACK = TRUSTED_SOURCE


def by_category(key: str) -> tuple[str, str]:
    """(rule, why) of the table for category ``key``."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        found = DEFAULTS.get(".".join(parts[:n]))
        if found is not None:
            return found
    return DEFAULTS["user"]


def rule_of(settings: EntitySurvivorship, name: str, spec: Any | None
            ) -> tuple[str, list[str]]:
    """(rule, trust ranking) of field ``name`` (FieldSpec ``spec``; None: a field known by
    name only, which follows the table's root). ``name`` may be ``address``."""
    rule, trust = settings.rule_for(name)
    if rule is None:
        rule = by_category(spec.category.key)[0] if spec is not None else DEFAULTS["user"][0]
    if rule == MOST_FREQUENT and spec is not None and spec.restricted:
        rule = RESTRICTED_FALLBACK
    return rule, trust


def address_rule(settings: EntitySurvivorship, parts: Mapping[str, Any]
                 ) -> tuple[str, list[str]]:
    """(rule, trust ranking) of the address (``parts``: its fields' specs)."""
    return rule_of(settings, ADDRESS, next(iter(parts.values()), None))
