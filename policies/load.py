"""Load a deployment's policy files: validated, every problem at once, and versioned."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from hub import taxonomy
from hub.errors import ConfigError, ConfigProblem
from hub.yamlfile import YamlDocument, load_yaml
from policies.spec import Action, DestinationSpec, PolicyFile, Rule


@dataclass(frozen=True)
class PolicySet:
    """All rules of a deployment, with a version (content hash) every decision records."""

    rules: list[Rule] = field(default_factory=list)
    destinations: dict[str, DestinationSpec] = field(default_factory=dict)
    version: str = "sha256:none"
    files: tuple[str, ...] = ()


def _check_rule(doc: YamlDocument, i: int, rule: Rule, fields: Mapping[str, Collection[str]],
                destinations: Collection[str], seen: dict[str, str]) -> list[ConfigProblem]:
    at = f"rules.{i}"
    problems = []
    if rule.id in seen:
        problems.append(doc.problem(f"{at}.id", f"rule id {rule.id!r} is used twice "
                                    f"(also in {seen[rule.id]})"))
    seen[rule.id] = doc.where(at)
    if rule.entity is not None and rule.entity not in fields:
        problems.append(doc.problem(f"{at}.entity", f"unknown entity {rule.entity!r}"))
    if rule.field is not None:
        entities = [rule.entity] if rule.entity is not None and rule.entity in fields \
            else list(fields)
        if not any(rule.field in fields[e] for e in entities):
            problems.append(doc.problem(f"{at}.field", f"unknown field {rule.field!r}"))
    if rule.category is not None and rule.category not in taxonomy.known_keys():
        hint = taxonomy.suggest(rule.category)
        problems.append(doc.problem(f"{at}.category", f"unknown data category {rule.category!r}"
                                    + (f"; did you mean {', '.join(hint)}?" if hint else "")))
    for j, pattern in enumerate(rule.to):
        if not _known_destination(pattern, destinations):
            problems.append(doc.problem(f"{at}.to.{j}", f"unknown destination {pattern!r} "
                                        "(a system, system.stream, api:<role>, export:<name>, "
                                        "api:*, export:* or *)"))
    if rule.purpose is not None and rule.purpose not in taxonomy.data_uses():
        problems.append(doc.problem(f"{at}.purpose", f"unknown data use {rule.purpose!r}"))
    for name in rule.when:
        if not any(name in f for f in fields.values()):
            problems.append(doc.problem(f"{at}.when.{name}", f"unknown field {name!r}"))
    problems += _check_params(doc, at, rule)
    return problems


def _check_params(doc: YamlDocument, at: str, rule: Rule) -> list[ConfigProblem]:
    p = rule.params
    if rule.action is Action.MASK:
        bad = [k for k in ("keep_first", "keep_last") if k in p and not isinstance(p[k], int)]
        if bad or set(p) - {"keep_first", "keep_last", "char"}:
            return [doc.problem(f"{at}.params", "mask takes keep_first, keep_last (whole "
                                "numbers) and char")]
    if rule.action is Action.GENERALISE:
        bands = p.get("bands")
        if bands is not None and not (isinstance(bands, list) and bands and
                                      all(isinstance(b, (int, float)) for b in bands)):
            return [doc.problem(f"{at}.params.bands", "bands must be a list of numbers")]
    return []


def _known_destination(pattern: str, destinations: Collection[str]) -> bool:
    if pattern in ("*", "api:*", "export:*") or pattern.startswith(("api:", "export:")):
        return True
    return pattern in destinations


def load_policies(directory: Path, fields: Mapping[str, Collection[str]],
                  destinations: Collection[str]) -> PolicySet:
    """Every ``*.yaml`` in ``directory`` (name order). ``destinations``: systems and
    ``system.stream`` names of the deployment; ``fields``: entity -> field names."""
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    problems: list[ConfigProblem] = []
    rules: list[Rule] = []
    declared: dict[str, DestinationSpec] = {}
    seen: dict[str, str] = {}
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        doc = load_yaml(path)
        try:
            policy = PolicyFile.model_validate(doc.data)
        except ValidationError as exc:
            problems += doc.validation_problems(exc)
            continue
        for i, rule in enumerate(policy.rules):
            problems += _check_rule(doc, i, rule, fields, destinations, seen)
        for name in policy.destinations:
            if not _known_destination(name, destinations):
                problems.append(doc.problem(f"destinations.{name}",
                                            f"unknown destination {name!r}"))
        rules += policy.rules
        declared.update(policy.destinations)
    if problems:
        raise ConfigError(problems)
    return PolicySet(rules, declared, "sha256:" + digest.hexdigest()[:16],
                     tuple(str(f) for f in files))
