"""Settings of the SQL connector: a SQLAlchemy URL, and the password kept apart from it."""

from __future__ import annotations

from pydantic import ConfigDict, SecretStr, field_validator
from sqlalchemy.engine import make_url

from connectors.base import ConnectorSettings

_PASSWORD_PARAMS = {"password", "passwd", "pwd"}


class SqlSettings(ConnectorSettings):
    """Where the database is; the password only ever as a ``${env:...}`` secret."""

    # Validation errors must not echo the url: it may hold the very password we refuse.
    model_config = ConfigDict(hide_input_in_errors=True)

    #: SQLAlchemy URL without password, e.g. postgresql+psycopg://app@db.local/crm.
    url: str
    password: SecretStr | None = None
    schema_name: str | None = None

    @field_validator("url")
    @classmethod
    def _url_without_password(cls, value: str) -> str:
        try:
            url = make_url(value)
        except Exception:  # noqa: BLE001 - any parse failure is the same user mistake
            raise ValueError("not a valid SQLAlchemy URL (expected e.g. "
                             "postgresql+psycopg://user@host:5432/dbname)") from None
        if url.password is not None or _PASSWORD_PARAMS & {k.lower() for k in url.query}:
            shown = url.set(query={k: v for k, v in url.query.items()
                                   if k.lower() not in _PASSWORD_PARAMS})
            raise ValueError(
                "the url contains a password; remove it from the url "
                f"({shown.render_as_string(hide_password=True)}) and set "
                "`password: ${env:NAME}` instead")
        return value
