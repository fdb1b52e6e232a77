"""The privacy gate: every value that leaves the hub passes ``PrivacyGate.release``.

This first gate has one built-in rule: restricted categories (special categories of
GDPR Art. 9/10, government ids, bank details, legal files) are denied to every
destination; everything else is allowed. Policy files replace the rule later; callers
(connectors' outbound path, API, exports) already go through this one door.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.taxonomy import Category


class Action(str, enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True)
class Destination:
    """Where values go: a system's stream, an API caller, an export."""

    name: str
    kind: str = "system"  # system | api | export
    purpose: str | None = None


@dataclass(frozen=True)
class FieldDecision:
    field: str
    category: str
    action: Action
    rule: str


BUILTIN_RULE = "builtin:deny-restricted"
DEFAULT_ALLOW_RULE = "builtin:allow-unrestricted"


class PrivacyGate:
    """Decide per field what a destination receives."""

    def __init__(self, categories: Mapping[str, Mapping[str, Category]]):
        """``categories``: entity -> field -> data category."""
        self._categories = categories

    def decide(self, entity: str, field: str, destination: Destination) -> FieldDecision:
        category = self._categories[entity].get(field)
        if category is None:  # a field nobody classified never leaves (default deny)
            return FieldDecision(field, "unclassified", Action.DENY, "builtin:unclassified")
        if category.restricted:
            return FieldDecision(field, category.key, Action.DENY, BUILTIN_RULE)
        return FieldDecision(field, category.key, Action.ALLOW, DEFAULT_ALLOW_RULE)

    def release(self, entity: str, values: Mapping[str, Any], destination: Destination
                ) -> tuple[dict[str, Any], list[FieldDecision]]:
        """The values ``destination`` may receive, and the decision for every field."""
        released: dict[str, Any] = {}
        decisions = []
        for field, value in values.items():
            decision = self.decide(entity, field, destination)
            decisions.append(decision)
            if decision.action is Action.ALLOW:
                released[field] = value
        return released, decisions

    def allowed_fields(self, entity: str, fields: list[str], destination: Destination
                       ) -> list[str]:
        return [f for f in fields
                if self.decide(entity, f, destination).action is Action.ALLOW]
