"""Decide, per field, destination and record, which rule applies and what it does.

Most specific rule wins: a rule naming the field beats one naming its category, a deeper
category beats a broader one, then the more precise destination, then a rule with
conditions or a purpose. At equal specificity the more restrictive action wins (deny beats
allow). No rule means deny. A special category (GDPR Art. 9/10) leaves only under a rule,
or a destination, that records a legal basis for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.taxonomy import Category
from policies.spec import RESTRICTIVENESS, Action, DestinationSpec, Rule

DEFAULT_DENY = "builtin:default-deny"
NEEDS_LEGAL_BASIS = "builtin:special-category-needs-legal-basis"


@dataclass(frozen=True)
class Destination:
    """Where values go: ``payroll.employees`` (a stream), ``api:auditor``, ``export:csv``."""

    name: str
    kind: str = "system"  # system | api | export
    purpose: str | None = None

    @property
    def system(self) -> str:
        return self.name.split(".", 1)[0] if self.kind == "system" else self.name


@dataclass(frozen=True)
class FieldDecision:
    field: str
    category: str
    action: Action
    rule: str
    legal_basis: str | None
    policy_version: str


def destination_specificity(pattern: str, dest: Destination) -> int | None:
    """How precisely ``pattern`` names ``dest``; None when it does not match at all."""
    if pattern == "*":
        return 0
    if pattern.endswith(":*") and dest.name.startswith(pattern[:-1]):
        return 1
    if dest.kind == "system" and pattern == dest.system:
        return 2
    if pattern == dest.name:
        return 3
    return None


def _purpose_matches(rule_purpose: str | None, dest_purposes: list[str]) -> bool:
    if rule_purpose is None:
        return True
    return any(p == rule_purpose or p.startswith(rule_purpose + ".") for p in dest_purposes)


def _selector_specificity(rule: Rule, entity: str, field: str, category: str) -> int | None:
    if rule.entity is not None and rule.entity != entity:
        return None
    if rule.field is not None:
        return 1000 + (1 if rule.entity else 0) if rule.field == field else None
    assert rule.category is not None
    if category == rule.category or category.startswith(rule.category + "."):
        return 100 + rule.category.count(".")
    return None


@dataclass(frozen=True)
class _Level:
    specificity: tuple[int, ...]
    rules: tuple[Rule, ...]


class FieldPlan:
    """The candidate rules for one field and destination, most specific first."""

    def __init__(self, field: str, category: Category, levels: list[_Level],
                 legal_bases: Mapping[str, str], version: str):
        self.field = field
        self.category = category
        self.levels = levels
        self.version = version
        self._legal = legal_bases
        self.condition_fields = tuple(sorted({f for lv in levels for r in lv.rules
                                               for f in r.when}))
        self.constant = self._decide({}) if not self.condition_fields else None
        # Conditions read a few low-cardinality fields (consent, status): remember the
        # decision per combination of their values instead of re-walking the rules.
        self._memo: dict[tuple[Any, ...], tuple[FieldDecision, Rule | None]] = {}

    def decide(self, record: Mapping[str, Any]) -> tuple[FieldDecision, Rule | None]:
        if self.constant is not None:
            return self.constant
        key = tuple(record.get(f) for f in self.condition_fields)
        try:
            return self._memo[key]
        except KeyError:
            decision = self._decide(record)
            if len(self._memo) < 4096:
                self._memo[key] = decision
            return decision
        except TypeError:  # an unhashable value: decide without the memo
            return self._decide(record)

    def _decide(self, record: Mapping[str, Any]) -> tuple[FieldDecision, Rule | None]:
        for level in self.levels:
            hits = [r for r in level.rules
                    if all(c.holds(record.get(f)) for f, c in r.when.items())]
            if hits:
                rule = max(hits, key=lambda r: RESTRICTIVENESS[r.action])
                return self._checked(rule), rule
        return self._decision(Action.DENY, DEFAULT_DENY, None), None

    def _checked(self, rule: Rule) -> FieldDecision:
        basis = rule.legal_basis or self._legal_basis()
        if self.category.special and rule.action not in (Action.DENY, Action.NULL) and not basis:
            return self._decision(Action.DENY, NEEDS_LEGAL_BASIS, None)
        return self._decision(rule.action, rule.id, basis)

    def _legal_basis(self) -> str | None:
        key = self.category.key
        while key:
            if key in self._legal:
                return self._legal[key]
            key = key.rpartition(".")[0]
        return None

    def _decision(self, action: Action, rule: str, basis: str | None) -> FieldDecision:
        return FieldDecision(self.field, self.category.key, action, rule, basis, self.version)


def plan_field(rules: list[Rule], destinations: Mapping[str, DestinationSpec], version: str,
               entity: str, field: str, category: Category, dest: Destination) -> FieldPlan:
    """Pre-compute the candidate rules once per (entity, field, destination)."""
    spec = _destination_spec(destinations, dest)
    purposes = list(spec.purposes) + ([dest.purpose] if dest.purpose else [])
    by_level: dict[tuple[int, ...], list[Rule]] = {}
    for rule in rules:
        selector = _selector_specificity(rule, entity, field, category.key)
        if selector is None or not _purpose_matches(rule.purpose, purposes):
            continue
        where = [s for s in (destination_specificity(p, dest) for p in rule.to) if s is not None]
        if not where:
            continue
        key = (selector, max(where), 1 if rule.when else 0, 1 if rule.purpose else 0)
        by_level.setdefault(key, []).append(rule)
    levels = [_Level(k, tuple(v)) for k, v in sorted(by_level.items(), reverse=True)]
    return FieldPlan(field, category, levels, spec.legal_basis, version)


def _destination_spec(destinations: Mapping[str, DestinationSpec], dest: Destination
                      ) -> DestinationSpec:
    """Merge the declarations that name this destination (system, stream, role)."""
    purposes: list[str] = []
    legal: dict[str, str] = {}
    for pattern, spec in destinations.items():
        if destination_specificity(pattern, dest) is not None:
            purposes += spec.purposes
            legal.update(spec.legal_basis)
    return DestinationSpec(purposes=purposes, legal_basis=legal)
