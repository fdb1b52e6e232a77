"""The policy file format (policies/*.yaml in a deployment), validated with pydantic.

```yaml
destinations:                      # what each destination is for, and on which legal basis
  payroll:
    purposes: [employment]
    legal_basis: {user.financial.bank_account: "GDPR Art. 6(1)(b): employment contract"}
rules:
  - id: payroll-gets-bank-details
    to: [payroll]                  # system, system.stream, api:<role>, export:<name>, *, api:*
    category: user.financial.bank_account    # or field: iban (optionally entity: employee)
    action: allow                  # allow|deny|mask|pseudonymise|tokenise|encrypt|generalise|null
  - id: newsletter-only-with-consent
    to: [newsletter]
    category: user.contact
    when: {marketing_consent: true}
    action: allow
```
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Action(str, enum.Enum):
    ALLOW = "allow"
    GENERALISE = "generalise"
    MASK = "mask"
    ENCRYPT = "encrypt"
    TOKENISE = "tokenise"
    PSEUDONYMISE = "pseudonymise"
    NULL = "null"
    DENY = "deny"


#: At equal specificity the more restrictive action wins (deny beats allow).
RESTRICTIVENESS = {a: i for i, a in enumerate(Action)}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DestinationSpec(_Strict):
    purposes: list[str] = Field(default_factory=list)
    #: category key -> legal basis text (needed for special categories, GDPR Art. 9/10)
    legal_basis: dict[str, str] = Field(default_factory=dict)


class Condition(_Strict):
    """A test on the golden record: equals, one of, or present."""

    equals: Any = None
    one_of: list[Any] | None = Field(default=None, alias="in")
    present: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `marketing_consent: true` means equals true
        if isinstance(data, dict) and set(data) <= {"equals", "in", "present"}:
            return data
        return {"equals": data}

    def holds(self, value: Any) -> bool:
        if self.present is not None:
            return (value not in (None, "")) == self.present
        if self.one_of is not None:
            return value in self.one_of
        return bool(value == self.equals)


class Rule(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    to: list[str] = Field(min_length=1)
    purpose: str | None = None
    entity: str | None = None
    field: str | None = None
    category: str | None = None
    when: dict[str, Condition] = Field(default_factory=dict)
    action: Action
    params: dict[str, Any] = Field(default_factory=dict)
    legal_basis: str | None = None

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _selects_something(self) -> Rule:
        if self.field is None and self.category is None:
            raise ValueError("a rule needs `field` or `category`")
        if self.field is not None and self.category is not None:
            raise ValueError("a rule takes `field` or `category`, not both")
        return self


class PolicyFile(_Strict):
    destinations: dict[str, DestinationSpec] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
