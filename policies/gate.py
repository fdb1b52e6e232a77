"""The privacy gate: every value that leaves the hub passes ``PrivacyGate.release``.

Outbound connectors, API responses (per caller role), exports, reports and CLI output all
come through here; the decision for every field names its rule and the policy version, so
the audit trail can prove what left, in which form, and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hub.taxonomy import Category
from policies.actions import Context, Transformer
from policies.engine import DEFAULT_DENY, Destination, FieldDecision, FieldPlan, plan_field
from policies.keys import Keyring
from policies.load import PolicySet
from policies.spec import Action

__all__ = ["Action", "Destination", "FieldDecision", "PrivacyGate", "Releaser"]

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

    def releaser(self, entity: str, fields: Sequence[str], destination: Destination
                 ) -> Releaser:
        """``release`` of ``fields`` to ``destination``, compiled for a stream of records
        (the bulk outbound path): the same decisions, the same values, far less work."""
        return Releaser(self, entity, fields, destination)

    def denied_everything(self, decisions: list[FieldDecision]) -> bool:
        return all(d.action is Action.DENY for d in decisions)


__all__ += ["DEFAULT_DENY"]


#: One field's step in a compiled release: (field, action, rule's params); denied fields
#: have none.
_Step = tuple[str, Action, dict[str, Any]]
#: A compiled release: the decisions, the steps, and the released fields when every one
#: is allowed as it is (None when some are transformed).
_Compiled = tuple[list[FieldDecision], list[_Step], tuple[str, ...] | None]


class Releaser:
    """``PrivacyGate.release`` for many records of one entity to one destination.

    A field's decision depends only on the values its rules' conditions read (consent,
    status: a few low-cardinality fields), so the decision list, and what to do with each
    field, is worked out once per distinct combination of those values and handed out as
    the same list object to every record that has it. Each value then costs a dictionary
    look-up (allowed), a transform (mask, hash, ...) or nothing (denied, never copied).
    """

    def __init__(self, gate: PrivacyGate, entity: str, fields: Sequence[str],
                 destination: Destination):
        self.gate, self.entity, self.destination = gate, entity, destination
        self.fields = list(dict.fromkeys(fields))
        plans = gate._plans_for(entity, destination)
        self._plans = [(f, gate._plan(entity, f, destination, plans)) for f in self.fields]
        #: Every field a decision reads: ``release`` needs these in ``record``.
        self.condition_fields = tuple(sorted({c for _f, p in self._plans if p is not None
                                              for c in p.condition_fields}))
        self._memo: dict[tuple[Any, ...], _Compiled] = {}

    def _compile(self, record: Mapping[str, Any]) -> _Compiled:
        decisions: list[FieldDecision] = []
        steps: list[_Step] = []
        for field, plan in self._plans:
            if plan is None:  # a field nobody classified never leaves
                decisions.append(FieldDecision(field, "unclassified", Action.DENY,
                                               UNCLASSIFIED, None, self.gate.version))
                continue
            decision, rule = plan.decide(record)
            decisions.append(decision)
            if decision.action is not Action.DENY:
                steps.append((field, decision.action, rule.params if rule else {}))
        plain = all(action is Action.ALLOW for _f, action, _p in steps)
        return decisions, steps, tuple(f for f, _a, _p in steps) if plain else None

    def release(self, values: Mapping[str, Any], record: Mapping[str, Any], record_id: str
                ) -> tuple[dict[str, Any], list[FieldDecision]]:
        """As ``PrivacyGate.release(entity, {f: values.get(f) for f in fields},
        destination, record=record, record_id=record_id)``; ``values`` may hold other keys
        (only this releaser's fields are read). The decision list returned is shared
        between records: do not change it."""
        key = tuple(record.get(f) for f in self.condition_fields)
        try:
            hit = self._memo.get(key)
            hashable = True
        except TypeError:  # an unhashable value: decide without the memo
            hit, hashable = None, False
        if hit is None:
            hit = self._compile(record)
            if hashable and len(self._memo) < 4096:
                self._memo[key] = hit
        decisions, steps, allowed = hit
        if allowed is not None:  # every released field as it is (the common case)
            return {f: values.get(f) for f in allowed}, decisions
        released: dict[str, Any] = {}
        apply = self.gate.transformer.apply
        for field, action, params in steps:
            value = values.get(field)
            released[field] = value if action is Action.ALLOW else apply(
                action, value, params, Context(self.destination.name, self.entity,
                                               record_id, field))
        return released, decisions
