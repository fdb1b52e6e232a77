"""Settings of the SCIM 2.0 client connector (RFC 7643/7644)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from connectors.base import ConnectorSettings
from connectors.rest.settings import Retry


class ScimSettings(ConnectorSettings):
    """A SCIM service provider: its base URL (``https://idp.example/scim/v2``) and token.

    A stream's ``resource`` is the resource endpoint (``Users``); its single ``key`` is
    the record field that identifies a resource for idempotent upserts, usually
    ``externalId``, ``userName`` or ``enterprise.employeeNumber``.
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    base_url: str
    token: SecretStr
    #: Resources per page (SCIM ``count``).
    page_size: int = Field(default=100, ge=1, le=10_000)
    #: Record fields to read (flattened names); each record then has exactly these plus
    #: key and cursor, None where absent. None = whatever each resource holds.
    attributes: list[str] | None = None
    #: An extra SCIM filter every read applies, e.g. ``active eq true``.
    filter: str | None = None
    #: ``put`` sends the whole merged resource (with If-Match when the server versions
    #: resources); ``patch`` sends only the changed attributes.
    write_mode: Literal["put", "patch"] = "put"
    connect_timeout: float = Field(default=10, gt=0)
    read_timeout: float = Field(default=60, gt=0)
    retry: Retry = Retry()
    verify_tls: bool = True

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")
