"""kontor.yaml sections for match & merge: ``matching``, ``survivorship``, ``deletes``.

```yaml
matching:
  customer:
    rules: [[tax_id], [email]]        # deterministic, in order: equal values = same person
    fuzzy:
      auto_merge: 0.97                # match probability at or above: merge automatically
      review: 0.80                    # between: a data steward decides (kontor steward)
      weights: {phone: 0.5}           # scale a comparison's evidence; 0 switches it off
      blocking: [name_dob, name_postal, phone]
    on_unmatched: create              # create | quarantine, or per system {directory: quarantine}
    on_disputed: review               # review (new golden + review pair) | link | create
survivorship:
  employee:
    default: most_recent              # most_recent | source_priority | most_complete
    priority: [hr, directory]         # systems, first wins (source_priority)
    fields:
      iban: {rule: source_priority, priority: [payroll]}
      street: most_complete
deletes:
  on_delete: unlink                   # unlink (xref marked deleted) | retire | ignore
  max_delete_percent: 20              # a run deleting more stops that stream, deletes nothing
  max_change_percent: null            # a run changing more stops that stream
```
Every section is optional; the defaults are what the comments say.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import ConfigProblem

Rule = Literal["most_recent", "source_priority", "most_complete"]
COMPARISONS = ("name", "date_of_birth", "address", "phone", "email")
BLOCKING_KEYS = ("name_dob", "name_postal", "phone", "email_local", "dob_postal")
DEFAULT_RULES = {"customer": [["tax_id"], ["email"]], "employee": [["employee_number"]]}


BlockingKind = Literal["name_dob", "name_postal", "phone", "email_local", "dob_postal"]
DEFAULT_BLOCKING: tuple[BlockingKind, ...] = ("name_dob", "name_postal", "phone")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FuzzySettings(_Strict):
    enabled: bool = True
    auto_merge: float = Field(default=0.97, gt=0, le=1)
    review: float = Field(default=0.80, gt=0, le=1)
    weights: dict[Literal["name", "date_of_birth", "address", "phone", "email"], float] = \
        Field(default_factory=dict)
    blocking: list[BlockingKind] = Field(default_factory=lambda: list(DEFAULT_BLOCKING))
    #: A blocking key shared by more golden records than this is too common to use.
    max_block: int = Field(default=50, ge=2, le=10_000)
    #: Score at most this many candidates per record (those sharing the rarest keys).
    max_candidates: int = Field(default=5, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> FuzzySettings:
        if self.review > self.auto_merge:
            raise ValueError("review must not be above auto_merge")
        return self


Reaction = Literal["create", "quarantine"]


class EntityMatching(_Strict):
    rules: list[list[str]] | None = None  # None: the entity's default rules
    fuzzy: FuzzySettings = Field(default_factory=FuzzySettings)
    #: create | quarantine, for every system or per system ({directory: quarantine}): a
    #: system that may only link to people other systems created.
    on_unmatched: Reaction | dict[str, Reaction] = "create"
    #: review: a new golden record and a pair for the steward; link: take the best candidate;
    #: create: a new golden record, nobody asked.
    on_disputed: Literal["review", "link", "create"] = "review"

    def unmatched_reaction(self, system: str) -> str:
        if isinstance(self.on_unmatched, str):
            return self.on_unmatched
        return self.on_unmatched.get(system, "create")


class FieldRule(_Strict):
    rule: Rule
    priority: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"rule": data} if isinstance(data, str) else data


class EntitySurvivorship(_Strict):
    default: Rule = "most_recent"
    priority: list[str] = Field(default_factory=list)
    fields: dict[str, FieldRule] = Field(default_factory=dict)

    def rule_for(self, field: str) -> tuple[str, list[str]]:
        """(rule, system priority) for ``field``."""
        fr = self.fields.get(field)
        if fr is None:
            return self.default, self.priority
        return fr.rule, fr.priority or self.priority


class DeletePolicy(_Strict):
    #: Full-snapshot streams (no cursor_field): a record missing from a read is deleted there.
    detect: bool = True
    on_delete: Literal["unlink", "retire", "ignore"] = "unlink"
    max_delete_percent: float | None = Field(default=20, ge=0, le=100)
    max_change_percent: float | None = Field(default=None, ge=0, le=100)


class MatchMergeConfig(_Strict):
    """The three sections together, as KontorConfig holds them."""

    matching: dict[Literal["customer", "employee"], EntityMatching] = Field(default_factory=dict)
    survivorship: dict[Literal["customer", "employee"], EntitySurvivorship] = Field(
        default_factory=dict)
    deletes: DeletePolicy = Field(default_factory=DeletePolicy)


def matching_for(config: Any, entity: str) -> EntityMatching:
    return config.matching.get(entity) or EntityMatching()  # type: ignore[no-any-return]


def rules_for(config: Any, entity: str) -> list[list[str]]:
    rules = matching_for(config, entity).rules
    return DEFAULT_RULES[entity] if rules is None else rules


def survivorship_for(config: Any, entity: str) -> EntitySurvivorship:
    return config.survivorship.get(entity) or EntitySurvivorship()  # type: ignore[no-any-return]


def check(config: Any, fields: dict[str, Any], systems: set[str], doc: Any
          ) -> list[ConfigProblem]:
    """Field and system names in the sections must exist; each problem with file:line."""
    problems: list[ConfigProblem] = []
    for entity, m in config.matching.items():
        for i, rule in enumerate(m.rules or []):
            for name in rule:
                if name not in fields[entity]:
                    problems.append(doc.problem(f"matching.{entity}.rules.{i}",
                                                f"unknown field {name!r} of {entity}"))
    for entity, s in config.survivorship.items():
        unknown = [n for n in [*s.priority, *(p for f in s.fields.values() for p in f.priority)]
                   if n not in systems]
        if unknown:
            problems.append(doc.problem(f"survivorship.{entity}",
                                        f"unknown system {unknown[0]!r} in priority"))
        for name, fr in s.fields.items():
            if name not in fields[entity]:
                problems.append(doc.problem(f"survivorship.{entity}.fields.{name}",
                                            f"unknown field {name!r} of {entity}"))
            elif fr.rule == "source_priority" and not (fr.priority or s.priority):
                problems.append(doc.problem(f"survivorship.{entity}.fields.{name}",
                                            "source_priority needs a priority list"))
    return problems
