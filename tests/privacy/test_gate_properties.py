"""Property tests (Hypothesis): over random policies and records, the gate agrees with a
brute-force reference of the documented rules, and no denied field ever leaves."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import canonical
from policies import keys
from policies.engine import Destination
from policies.gate import PrivacyGate
from policies.load import PolicySet
from policies.spec import RESTRICTIVENESS, Action, Condition, Rule

ENTITY = "employee"
SPECS = canonical.builtin_fields(ENTITY)
FIELDS = sorted(SPECS)
CATEGORIES = sorted({s.category.key for s in SPECS.values()} |
                    {"user", "user.contact", "user.financial", "user.government_id"})
DESTS = [Destination("payroll.employees", "system", "employment"),
         Destination("newsletter.subscribers", "system"), Destination("api:reader", "api")]
PATTERNS = ["*", "payroll", "payroll.employees", "newsletter", "api:*", "api:reader"]
SAFE_ACTIONS = [Action.ALLOW, Action.DENY, Action.NULL, Action.MASK, Action.PSEUDONYMISE,
                Action.TOKENISE, Action.ENCRYPT]
KEYRING = keys.Keyring("k1", {"k1": b"\x01" * 32}, "test")


@st.composite
def rules(draw: st.DrawFn) -> list[Rule]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        by_field = draw(st.booleans())
        out.append(Rule(
            id=f"r{i}", to=draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2)),
            field=draw(st.sampled_from(FIELDS)) if by_field else None,
            category=None if by_field else draw(st.sampled_from(CATEGORIES)),
            action=draw(st.sampled_from(SAFE_ACTIONS)),
            when={"department": Condition.model_validate(draw(st.sampled_from(["IT", "HR"])))}
            if draw(st.booleans()) else {},
            legal_basis="contract" if draw(st.booleans()) else None))
    return out


records = st.fixed_dictionaries(
    {f: st.text(min_size=1, max_size=8) for f in FIELDS if SPECS[f].type == "str"},
).map(lambda r: {**r, "department": r.get("department", "IT")})


def reference(rules: list[Rule], field: str, dest: Destination, record: dict[str, Any]
              ) -> Action:
    """The documented semantics, spelled out naively (no planning, no caching)."""
    category = SPECS[field].category
    best: tuple[tuple[int, ...], Rule] | None = None
    for rule in rules:
        if rule.field is not None:
            if rule.field != field:
                continue
            selector = 1000
        else:
            assert rule.category is not None
            if not (category.key == rule.category or category.key.startswith(rule.category + ".")):
                continue
            selector = 100 + rule.category.count(".")
        where = []
        for p in rule.to:
            if p == "*":
                where.append(0)
            elif p.endswith(":*") and dest.name.startswith(p[:-1]):
                where.append(1)
            elif dest.kind == "system" and p == dest.name.split(".")[0]:
                where.append(2)
            elif p == dest.name:
                where.append(3)
        if not where or not all(c.holds(record.get(f)) for f, c in rule.when.items()):
            continue
        key = (selector, max(where), 1 if rule.when else 0, 0)
        if best is None or key > best[0] or (
                key == best[0] and RESTRICTIVENESS[rule.action] > RESTRICTIVENESS[best[1].action]):
            best = (key, rule)
    if best is None:
        return Action.DENY
    rule = best[1]
    if category.special and rule.action not in (Action.DENY, Action.NULL) and not rule.legal_basis:
        return Action.DENY
    return rule.action


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rules(), record=records, dest=st.sampled_from(DESTS))
def test_gate_matches_the_reference_and_denied_fields_never_leave(
        rules: list[Rule], record: dict[str, Any], dest: Destination) -> None:
    gate = PrivacyGate({ENTITY: {n: s.category for n, s in SPECS.items()}},
                       PolicySet(rules, {}, "sha256:test"), KEYRING)
    released, decisions = gate.release(ENTITY, record, dest, record=record, record_id="E-1")
    for d in decisions:
        assert d.action is reference(rules, d.field, dest, record), d
        if d.action is Action.DENY:
            assert d.field not in released
        else:
            assert d.field in released
        # a keyed transform never hands over the original value
        if d.action in (Action.PSEUDONYMISE, Action.TOKENISE, Action.ENCRYPT) and \
                d.field in released and record[d.field]:
            assert released[d.field] != record[d.field]
    assert set(released) <= set(record)
