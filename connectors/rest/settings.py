"""Settings of the REST/JSON connector: where, how to authenticate, how to page.

Secrets are top-level ``SecretStr`` fields so the hub refuses literal values for them
and resolves their ``${env:...}`` references. Per-resource options (records path,
pagination, write method) have defaults for the whole system that each resource may
override.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from connectors.base import ConnectorSettings

AuthKind = Literal["none", "basic", "bearer", "api_key", "oauth2"]

# Which settings each auth scheme needs; checked all at once.
_AUTH_NEEDS: dict[str, tuple[str, ...]] = {
    "none": (), "basic": ("username", "password"), "bearer": ("token",),
    "api_key": ("api_key",), "oauth2": ("token_url", "client_id", "client_secret"),
}


#: An HTTP header name (RFC 9110 token).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")


def _blank(value: Any) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is None or value == ""


class Retry(BaseModel):
    """Bounded retries with exponential backoff and full jitter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Tries per request, the first included.
    attempts: int = Field(default=5, ge=1, le=20)
    #: Seconds before the second try; doubles with each further try (with jitter).
    backoff: float = Field(default=0.5, ge=0)
    max_backoff: float = Field(default=30, ge=0)
    #: A Retry-After longer than this is not waited for: the run gives up (retriable).
    max_retry_after: float = Field(default=120, ge=0)


class Pagination(BaseModel):
    """How a resource spreads its records over pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    style: Literal["none", "page", "offset", "cursor", "link"] = "none"
    page_size: int = Field(default=100, ge=1)
    page_param: str = "page"
    size_param: str = "per_page"
    first_page: int = 1
    offset_param: str = "offset"
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    #: Dotted path of the next cursor in the response body; empty/missing ends the read.
    cursor_path: str = "next_cursor"
    #: page/offset: dotted path of the total record count in the body (e.g. ``total``),
    #: if the API reports one; the read then ends once that many records have arrived.
    #: Without it the read ends at the first empty page (never at a merely short one:
    #: an API may cap the page size below what was asked for).
    total_path: str | None = None


class ResourceOptions(BaseModel):
    """How one resource (an endpoint path such as ``/api/customers``) is read and written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Dotted path of the record list in the response body; "" = the body is the list.
    records_path: str = ""
    pagination: Pagination = Pagination()
    #: Query parameter for incremental reads, e.g. ``updated_since`` (gets the cursor).
    since_param: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    write_method: Literal["PUT", "POST", "PATCH"] = "PUT"
    #: Path of one record for PUT/PATCH/DELETE; ``{key}`` or ``{<key field>}`` placeholders.
    item_path: str = "{resource}/{key}"
    #: Nested objects become dotted field names (``address.city``) and back on write.
    flatten: bool = True


class RestSettings(ConnectorSettings):
    """A JSON API over HTTP(S)."""

    # Validation errors must not echo input: it may hold a secret.
    model_config = ConfigDict(hide_input_in_errors=True)

    base_url: str
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    api_key: SecretStr | None = None
    api_key_header: str = "X-API-Key"
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str | None = None
    #: How the client proves itself to the token endpoint (RFC 6749 §2.3.1).
    client_auth: Literal["basic", "body"] = "basic"
    connect_timeout: float = Field(default=10, gt=0)
    read_timeout: float = Field(default=60, gt=0)
    retry: Retry = Retry()
    headers: dict[str, str] = Field(default_factory=dict)
    verify_tls: bool = True
    #: Set only for an API documented to deduplicate by this header (Stripe style,
    #: draft-ietf-httpapi-idempotency-key-header): each POST/PATCH then carries a fresh
    #: UUID, the same on its every try, and is repeated after a timeout or 5xx like a PUT.
    #: Off by default: a server that ignores the header would act on every repeat.
    idempotency_key_header: str | None = None
    defaults: ResourceOptions = ResourceOptions()
    resources: dict[str, ResourceOptions] = Field(default_factory=dict)
    #: Declared last on purpose: its check sees the other fields, and its error is then
    #: reported together with theirs (all problems at once).
    auth: AuthKind = "none"

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if "@" in value.split("/")[2]:
            raise ValueError("must not contain credentials; use username/password settings")
        return value.rstrip("/")

    @field_validator("idempotency_key_header", "api_key_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and not _TOKEN.fullmatch(value):
            raise ValueError("must be an HTTP header name (letters, digits, '-')")
        return value

    @field_validator("auth")
    @classmethod
    def _auth_complete(cls, value: str, info: ValidationInfo) -> str:
        missing = [n for n in _AUTH_NEEDS[value] if _blank(info.data.get(n))]
        if missing:
            raise ValueError(f"auth {value!r} needs {', '.join(missing)}")
        return value

    def options(self, resource: str) -> ResourceOptions:
        """The options of ``resource``: its own settings over the system's defaults."""
        own = self.resources.get(resource)
        if own is None:
            return self.defaults
        return self.defaults.model_copy(update={n: getattr(own, n) for n in own.model_fields_set})
