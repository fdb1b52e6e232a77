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
    model:                            # the trained model's settings (docs/matching.md)
      compare: {national_id: {}}      # further fields; kind from the data category
      blocking: [dob_initials, [soundex(last_name), year(date_of_birth)]]
      term_frequencies: [first_name, last_name, date_of_birth]
survivorship:                         # docs/survivorship.md
  employee:
    trust: [hr, payroll, directory]   # systems, most trusted first (api, scim: the hub's own)
    default: most_frequent            # for every field; unset: by data category
    fields:                           # most_frequent | trusted_source | most_recent | most_complete
      iban: {rule: trusted_source, trust: [payroll]}
      address: most_recent            # street, postal code, city: chosen together
deletes:
  on_delete: unlink                   # unlink (xref marked deleted) | retire | ignore
  max_delete_percent: 20              # a run deleting more stops that stream, deletes nothing
  max_change_percent: null            # a run changing more stops that stream
```
Every section is optional; the defaults are what the comments say (survivorship: the
table in ``hub/survivorship/defaults.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.errors import ConfigProblem

Rule = Literal["most_frequent", "trusted_source", "most_recent", "most_complete"]
#: Former name of trusted_source, still read.
_RULE_ALIASES = {"source_priority": "trusted_source"}
#: Writes through the hub's own API and SCIM: sources a trust list may name too.
HUB_CHANNELS = ("api", "scim")
#: The fields of this category (and under it) survive together, as one address, from one
#: source record; the country apart (a nation, often a system's default, not a place).
ADDRESS_CATEGORY = "user.contact.address"
ADDRESS_APART = ("user.contact.address.country",)
#: The name kontor.yaml gives the address under ``survivorship.<entity>.fields``.
ADDRESS = "address"
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
    #: No longer used: a cap on candidates made the pairs depend on what arrived first
    #: (``max_block`` bounds the work). Still accepted, so old files load; `kontor check`
    #: warns where it is set.
    max_candidates: int | None = Field(default=None, ge=1, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> FuzzySettings:
        if self.review > self.auto_merge:
            raise ValueError("review must not be above auto_merge")
        return self


Reaction = Literal["create", "quarantine"]


# -- the trained model: matching.<entity>.model (hub/matching/fs_*.py) -----------------------

#: comparisons whose exact agreement is adjusted by the value's frequency, by default
DEFAULT_TF = ("first_name", "last_name", "date_of_birth")
#: a value is listed in a frequency table (as a digest) only if this many records hold it
TF_MIN_COUNT = 10
#: source records in the store before the sync trains a model by itself: EM needs enough
#: pairs to tell matches from non-matches
AUTO_TRAIN = 1000
#: the model's built-in comparisons (hub/matching/fs_compare.py)
MODEL_COMPARISONS = ("first_name", "last_name", "date_of_birth", "address", "phone", "email")
CompareKind = Literal["exact", "name", "jaro_winkler", "date", "numeric"]
#: the model's built-in blocking rules and the fields each reads (hub/matching/fs_blocking.py)
BLOCKING_RULES: dict[str, tuple[str, ...]] = {
    "dob": ("date_of_birth",),
    "dob_initials": ("date_of_birth", "first_name", "last_name"),
    "soundex_last_first_year": ("last_name", "first_name", "date_of_birth"),
    "name_prefixes_year": ("last_name", "first_name", "date_of_birth"),
    "postal_soundex_last": ("postal_code", "last_name"),
    "email": ("email",),
    "phone": ("phone",),
}
KEY_FUNCTIONS = ("first", "last", "initial", "soundex", "year", "digits")
_PART = re.compile(r"^\s*(?:(?P<fn>[a-z_]+)\(\s*(?P<field>[A-Za-z_]\w*)\s*"
                   r"(?:,\s*(?P<n>\d+)\s*)?\)|(?P<bare>[A-Za-z_]\w*))\s*$")


def parse_part(text: str) -> tuple[str, str, int]:
    """(function, field, n) of one blocking key part; ValueError naming what is wrong."""
    m = _PART.match(text)
    if m is None and "(" in text and ")" not in text:
        raise ValueError(f"{text!r} is not a key part: in a YAML [...] list, quote a part "
                         "with a comma (\"first(last_name, 3)\"): the comma splits it")
    if m is None:
        raise ValueError(f"{text!r} is not a key part (field, or function(field[, n]) with "
                         f"a function of {', '.join(KEY_FUNCTIONS)})")
    if m["bare"]:
        return "value", m["bare"], 0
    fn, n = m["fn"], int(m["n"] or 0)
    if fn not in KEY_FUNCTIONS:
        raise ValueError(f"{text!r}: unknown function {fn!r} (one of "
                         f"{', '.join(KEY_FUNCTIONS)})")
    if fn in ("first", "last") and n < 1:
        raise ValueError(f"{text!r}: {fn}() needs a length: {fn}({m['field']}, 3)")
    if fn not in ("first", "last") and m["n"]:
        raise ValueError(f"{text!r}: {fn}() takes the field only")
    return fn, m["field"], n


def rule_fields(rule: str | Sequence[str]) -> tuple[str, ...]:
    """The fields a blocking rule (a built-in name or key parts) reads; ValueError."""
    if isinstance(rule, str):
        if rule not in BLOCKING_RULES:
            raise ValueError(f"unknown blocking rule {rule!r} (built in: "
                             f"{', '.join(BLOCKING_RULES)}; or a list of key parts)")
        return BLOCKING_RULES[rule]
    if not rule:
        raise ValueError("a blocking rule needs at least one key part")
    return tuple(parse_part(str(p))[1] for p in rule)


class CompareSettings(_Strict):
    kind: CompareKind | None = None  # None: the default of the field's data category
    thresholds: list[float] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data is None:
            return {}
        return {"kind": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _thresholds(self) -> CompareSettings:
        ts = self.thresholds
        if ts and self.kind in ("exact", "date"):
            raise ValueError(f"kind {self.kind} takes no thresholds")
        if self.kind != "numeric" and any(not 0 < t < 1 for t in ts):
            raise ValueError("similarity thresholds lie between 0 and 1")
        if ts != sorted(ts, reverse=self.kind != "numeric"):
            raise ValueError("thresholds from the strictest to the loosest")
        return self


class ModelSettings(_Strict):
    """What ``kontor matching train`` builds (docs/matching.md): comparisons of further
    fields, blocking rules, term frequencies. Written into the model file, which alone
    decides how the sync scores: a change takes effect with the next training."""

    compare: dict[str, CompareSettings] = Field(default_factory=dict)
    blocking: list[str | list[str]] | None = None  # None: the built-in rules
    max_block: int = Field(default=200, ge=2, le=10_000)
    term_frequencies: list[str] = Field(default_factory=lambda: list(DEFAULT_TF))
    tf_min_count: int = Field(default=TF_MIN_COUNT, ge=2)
    #: With no model file, the sync trains one by itself once the store holds this many
    #: source records of the entity, and matches the store again with it (0: never).
    auto_train: int = Field(default=AUTO_TRAIN, ge=0)

    @field_validator("blocking")
    @classmethod
    def _rules(cls, rules: list[str | list[str]] | None) -> list[str | list[str]] | None:
        for n, r in enumerate(rules or []):
            try:
                rule_fields(r)
            except ValueError as exc:
                raise ValueError(f"rule {n}: {exc}") from None
        return rules

    @field_validator("compare")
    @classmethod
    def _not_built_in(cls, compare: dict[str, CompareSettings]) -> dict[str, CompareSettings]:
        for name in compare:
            if name in MODEL_COMPARISONS:
                raise ValueError(f"{name!r} is compared already (built in)")
        return compare


def _model_problems(entity: str, s: ModelSettings, specs: Mapping[str, Any], doc: Any
                    ) -> list[ConfigProblem]:
    """Fields named in the model settings must exist; each problem with file:line."""
    where = f"matching.{entity}.model"
    problems = [doc.problem(f"{where}.compare.{name}", f"unknown field {name!r} of {entity}")
                for name in s.compare if name not in specs]
    for n, r in enumerate(s.blocking or []):
        problems += [doc.problem(f"{where}.blocking.{n}", f"unknown field {f!r} of {entity}")
                     for f in rule_fields(r) if f not in specs]
    known = set(MODEL_COMPARISONS) | set(s.compare)
    for n, name in enumerate(s.term_frequencies):
        if name not in known:
            problems.append(doc.problem(f"{where}.term_frequencies.{n}",
                                        f"{name!r} is not a comparison of the model"))
        elif getattr(specs.get(name), "restricted", False):
            problems.append(doc.problem(
                f"{where}.term_frequencies.{n}", f"{name!r} is a restricted field: its "
                "values' frequencies are not kept (compare it, but without them)"))
    return problems



class EntityMatching(_Strict):
    rules: list[list[str]] | None = None  # None: the entity's default rules
    fuzzy: FuzzySettings = Field(default_factory=FuzzySettings)
    #: create | quarantine, for every system or per system ({directory: quarantine}): a
    #: system that may only link to people other systems created.
    on_unmatched: Reaction | dict[str, Reaction] = "create"
    #: review: a new golden record and a pair for the steward; link: take the best candidate;
    #: create: a new golden record, nobody asked.
    on_disputed: Literal["review", "link", "create"] = "review"
    #: The trained model's comparisons, blocking and term frequencies (ModelSettings).
    model: ModelSettings = Field(default_factory=ModelSettings)

    def unmatched_reaction(self, system: str) -> str:
        if isinstance(self.on_unmatched, str):
            return self.on_unmatched
        return self.on_unmatched.get(system, "create")


def address_parts(specs: Mapping[str, Any]) -> list[str]:
    """The fields of an entity (name -> FieldSpec) that survive together as its address."""
    return [name for name, spec in specs.items()
            if (spec.category.key == ADDRESS_CATEGORY
                or spec.category.key.startswith(ADDRESS_CATEGORY + "."))
            and spec.category.key not in ADDRESS_APART]


def _old_names(data: Any) -> Any:
    """``priority`` and ``source_priority``: the former names of ``trust``, trusted_source."""
    if isinstance(data, dict):
        data = dict(data)
        if "priority" in data and "trust" not in data:
            data["trust"] = data.pop("priority")
        for key in ("rule", "default"):
            if isinstance(data.get(key), str):
                data[key] = _RULE_ALIASES.get(data[key], data[key])
    return data


class FieldRule(_Strict):
    rule: Rule
    trust: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _old_names({"rule": data} if isinstance(data, str) else data)


class EntitySurvivorship(_Strict):
    #: None: each field's rule by its data category (hub/survivorship/defaults.py).
    default: Rule | None = None
    #: Systems, most trusted first; systems not listed come after them, all equal.
    trust: list[str] = Field(default_factory=list)
    fields: dict[str, FieldRule] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return _old_names(data)

    def rule_for(self, field: str) -> tuple[str | None, list[str]]:
        """(rule, trust ranking) for ``field`` (or ``address``); rule None: kontor.yaml
        names none, the field's data category decides."""
        fr = self.fields.get(field)
        if fr is None:
            return self.default, self.trust
        return fr.rule, fr.trust or self.trust


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
        problems += _model_problems(entity, m.model, fields[entity], doc)
    for entity, s in config.survivorship.items():
        problems += _survivorship_problems(entity, s, fields[entity], systems, doc)
    return problems


def _survivorship_problems(entity: str, s: EntitySurvivorship, specs: Mapping[str, Any],
                           systems: set[str], doc: Any) -> list[ConfigProblem]:
    where = f"survivorship.{entity}"
    known = systems | set(HUB_CHANNELS)
    problems: list[ConfigProblem] = []
    unknown = [n for n in [*s.trust, *(p for f in s.fields.values() for p in f.trust)]
               if n not in known]
    if unknown:
        problems.append(doc.problem(where, f"unknown system {unknown[0]!r} in trust"))
    if s.default == "trusted_source" and not s.trust:
        problems.append(doc.problem(where, "default trusted_source needs a trust list"))
    parts = address_parts(specs)
    for name, fr in s.fields.items():
        at = f"{where}.fields.{name}"
        if name in parts:
            problems.append(doc.problem(at, f"{name} is part of the address "
                                            f"({', '.join(parts)}), which survives as one: "
                                            f"set {where}.fields.{ADDRESS} instead"))
        elif name not in specs and name != ADDRESS:
            problems.append(doc.problem(at, f"unknown field {name!r} of {entity}"))
        elif fr.rule == "trusted_source" and not (fr.trust or s.trust):
            problems.append(doc.problem(at, "trusted_source needs a trust list"))
        elif fr.rule == "most_frequent" and name in specs and specs[name].restricted:
            problems.append(doc.problem(at, f"most_frequent needs every source's value, and "
                                            f"Kontor keeps no source's {name} apart (restricted"
                                            "): use trusted_source or most_recent"))
    return problems
