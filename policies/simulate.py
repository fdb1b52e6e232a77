"""Explain and simulate decisions for the compliance officer, and run policy tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigError
from hub.yamlfile import load_yaml
from policies.engine import Destination
from policies.gate import PrivacyGate
from policies.spec import Action


def destination_for(name: str, purpose: str | None = None) -> Destination:
    """``api:reader`` -> an API role; ``export:x`` -> an export; else a system stream."""
    kind = name.split(":", 1)[0] if name.startswith(("api:", "export:")) else "system"
    return Destination(name, kind, purpose)


def preview(value: Any, action: Action, restricted: bool) -> str:
    """What may be shown of a released value on a screen: never a restricted one as is."""
    if action is Action.DENY:
        return "—"
    if value is None:
        return "null"
    if restricted and action is Action.ALLOW:
        return "‹restricted value, sent as is›"
    return str(value)


def simulate(gate: PrivacyGate, entity: str, record: Mapping[str, Any], fields: list[str],
             dest: Destination, record_id: str, restricted: set[str]) -> list[dict[str, Any]]:
    released, decisions = gate.release(entity, {f: record.get(f) for f in fields}, dest,
                                       record=record, record_id=record_id)
    return [{"field": d.field, "category": d.category, "action": d.action.value,
             "rule": d.rule, "legal_basis": d.legal_basis,
             "sent": preview(released.get(d.field), d.action, d.field in restricted)}
            for d in decisions]


def explain(gate: PrivacyGate, entity: str, field: str, dest: Destination) -> dict[str, Any]:
    """The candidate rules for a field and destination, most specific first."""
    plan = gate._plan(entity, field, dest)
    if plan is None:
        return {"field": field, "category": None, "candidates": [],
                "decision": gate.decide(entity, field, dest).rule}
    candidates = [{"rule": r.id, "action": r.action.value, "specificity": list(lv.specificity),
                   "when": {k: c.model_dump(exclude_none=True, by_alias=True)
                            for k, c in r.when.items()},
                   "legal_basis": r.legal_basis}
                  for lv in plan.levels for r in lv.rules]
    unconditional = plan.decide({})[0]
    return {"field": field, "category": plan.category.key, "special": plan.category.special,
            "candidates": candidates, "without_conditions": {
                "action": unconditional.action.value, "rule": unconditional.rule}}


class _Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action | None = None
    rule: str | None = None
    value: Any = None
    sent: bool | None = None


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    destination: str
    purpose: str | None = None
    entity: str
    record: dict[str, Any]
    expect: dict[str, _Expectation] = Field(min_length=1)


class _TestFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tests: list[_Case] = Field(min_length=1)


@dataclass
class CaseResult:
    file: str
    name: str
    failures: list[str]


def run_tests(gate: PrivacyGate, files: list[Path]) -> list[CaseResult]:
    """Policy unit tests in YAML: given a record and destination, expect these decisions."""
    results = []
    for path in files:
        doc = load_yaml(path)
        try:
            suite = _TestFile.model_validate(doc.data)
        except ValidationError as exc:
            raise ConfigError(doc.validation_problems(exc)) from None
        for case in suite.tests:
            dest = destination_for(case.destination, case.purpose)
            released, decisions = gate.release(case.entity, case.record, dest,
                                               record=case.record, record_id="T-1")
            by_field = {d.field: d for d in decisions}
            failures = []
            for field, want in case.expect.items():
                got = by_field.get(field)
                if got is None:
                    failures.append(f"{field}: not in the test record")
                    continue
                if want.action is not None and got.action is not want.action:
                    failures.append(f"{field}: action {got.action.value}, expected "
                                    f"{want.action.value} (rule {got.rule})")
                if want.rule is not None and got.rule != want.rule:
                    failures.append(f"{field}: decided by {got.rule}, expected {want.rule}")
                if want.sent is not None and (field in released) != want.sent:
                    failures.append(f"{field}: {'sent' if field in released else 'not sent'}")
                if "value" in want.model_fields_set and released.get(field) != want.value:
                    failures.append(f"{field}: sent a different value than expected")
            results.append(CaseResult(str(path), case.name, failures))
    return results
