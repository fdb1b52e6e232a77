"""The privacy gate: every value that leaves the hub passes ``PrivacyGate.release``.

Outbound connectors, API responses (per caller role), exports, reports and CLI output all
come through here; the decision for every field names its rule and the policy version, so
the audit trail can prove what left, in which form, and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.taxonomy import Category
from policies.actions import Context, Transformer
from policies.engine import DEFAULT_DENY, Destination, FieldDecision, FieldPlan, plan_field
from policies.keys import Keyring
from policies.load import PolicySet
from policies.spec import Action

__all__ = ["Action", "Destination", "FieldDecision", "PrivacyGate"]

UNCLASSIFIED = "builtin:unclassified-field"


class PrivacyGate:
    """Decide and apply, per field, what a destination receives."""

    def __init__(self, categories: Mapping[str, Mapping[str, Category]],
                 policies: PolicySet | None = None, keyring: Keyring | None = None):
        """``categories``: entity -> field -> data category (canonical and custom fields)."""
        self._categories = categories
        self.policies = policies or PolicySet()
        self.transformer = Transformer(keyring)
        self._plans: dict[tuple[str, Destination], dict[str, FieldPlan | None]] = {}

    @property
    def version(self) -> str:
        return self.policies.version

    def _plans_for(self, entity: str, dest: Destination) -> dict[str, FieldPlan | None]:
        """Plans per field for one destination (hashing the destination once per call)."""
        key = (entity, dest)
        plans = self._plans.get(key)
        if plans is None:
            plans = self._plans[key] = {}
        return plans

    def _plan(self, entity: str, field: str, dest: Destination,
              plans: dict[str, FieldPlan | None] | None = None) -> FieldPlan | None:
        plans = plans if plans is not None else self._plans_for(entity, dest)
        if field not in plans:
            category = self._categories.get(entity, {}).get(field)
            plans[field] = None if category is None else plan_field(
                self.policies.rules, self.policies.destinations, self.policies.version,
                entity, field, category, dest)
        return plans[field]

    def decide(self, entity: str, field: str, destination: Destination,
               record: Mapping[str, Any] | None = None) -> FieldDecision:
        plan = self._plan(entity, field, destination)
        if plan is None:  # a field nobody classified never leaves
            return FieldDecision(field, "unclassified", Action.DENY, UNCLASSIFIED, None,
                                 self.version)
        return plan.decide(record or {})[0]

    def release(self, entity: str, values: Mapping[str, Any], destination: Destination, *,
                record: Mapping[str, Any] | None = None, record_id: str = ""
                ) -> tuple[dict[str, Any], list[FieldDecision]]:
        """The values ``destination`` may receive, in the form it may receive them.

        ``values`` are the fields asked for; ``record`` is the whole golden record, which
        rule conditions read (defaults to ``values``). Denied fields are absent.
        """
        context = record if record is not None else values
        released: dict[str, Any] = {}
        decisions = []
        plans = self._plans_for(entity, destination)
        for field, value in values.items():
            plan = plans[field] if field in plans else self._plan(entity, field, destination, plans)
            if plan is None:
                decisions.append(FieldDecision(field, "unclassified", Action.DENY, UNCLASSIFIED,
                                               None, self.version))
                continue
            decision, rule = plan.decide(context)
            decisions.append(decision)
            if decision.action is Action.DENY:
                continue
            if decision.action is Action.ALLOW:
                released[field] = value
            else:
                released[field] = self.transformer.apply(
                    decision.action, value, rule.params if rule else {},
                    Context(destination.name, entity, record_id, field))
        return released, decisions

    def denied_everything(self, decisions: list[FieldDecision]) -> bool:
        return all(d.action is Action.DENY for d in decisions)


__all__ += ["DEFAULT_DENY"]
