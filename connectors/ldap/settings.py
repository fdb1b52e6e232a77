"""Settings of the LDAP connector (a directory of people, e.g. inetOrgPerson entries)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from connectors.base import Capability, ConnectorSettings


class LdapSettings(ConnectorSettings):
    """Where the directory is, who binds, and which entries a stream covers.

    A stream's ``resource`` is a container relative to ``base_dn`` (``ou=people``), or
    ``""`` for ``base_dn`` itself; its single ``key`` field is the attribute that
    identifies an entry (``employeeNumber``, ``uid``). Entries found by that key are
    modified in place, wherever they sit below the container.
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    #: ``ldap://host:389`` or ``ldaps://host:636``.
    url: str
    bind_dn: str
    password: SecretStr
    base_dn: str
    #: Structural object class of the entries; new entries get it and its superiors.
    object_class: str = "inetOrgPerson"
    #: Attribute naming a new entry (its RDN); defaults to the stream's key attribute.
    rdn_attribute: str | None = None
    #: Extra LDAP filter ANDed to the object class filter, e.g. ``(ou=staff)``.
    filter: str | None = None
    scope: Literal["subtree", "level"] = "subtree"
    page_size: int = Field(default=500, ge=1, le=100_000)
    #: Attributes to read; None = every textual user attribute an entry has.
    attributes: list[str] | None = None
    #: Attributes read as lists (multi-valued). Any other attribute is one value, and an
    #: entry with several values for it is reported as a problem instead of cut short.
    lists: list[str] = Field(default_factory=list)
    start_tls: bool = False
    connect_timeout: float = Field(default=10, gt=0)
    timeout: float = Field(default=60, gt=0)

    @field_validator("url")
    @classmethod
    def _ldap_url(cls, value: str) -> str:
        if not value.startswith(("ldap://", "ldaps://")):
            raise ValueError("must start with ldap:// or ldaps://")
        return value

    @field_validator("filter")
    @classmethod
    def _parenthesised(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("(") and value.endswith(")")):
            raise ValueError("must be an LDAP filter in parentheses, e.g. (ou=staff)")
        return value


#: What an LDAP system can do (the real connector and its stand-in without ldap3 alike).
CAPABILITIES = frozenset({Capability.READ, Capability.INCREMENTAL, Capability.WRITE,
                          Capability.DELETE, Capability.DISCOVER})
