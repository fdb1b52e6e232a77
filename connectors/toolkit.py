"""Helpers for connector authors: the stable, public names (see docs/connectors.md).

The bundled connectors use the same helpers. Everything a plugin needs comes from
``connectors.base`` (the interface), this module and ``hub.errors``; modules whose name
starts with ``_`` are private and may change.

- Keys: ``key_text`` names a record by its key values joined by ``|`` (``#n`` when a value
  is missing), as ``WriteResult.rejected`` wants; ``key_values`` turns a key given to
  ``delete`` (a tuple or its key text) into a tuple of strings.
- Cursors: ``later_cursor`` keeps the later of two cursor values (ISO timestamps compare
  as instants whatever their offset, numbers as numbers).
- JSON: ``flatten`` / ``unflatten`` between nested objects and flat records with dotted
  field names, ``get_path`` for a dotted path, ``json_type`` for ``discover``,
  ``json_dumps`` for request bodies (dates as ISO text, decimals as exact text).
- Secrets: ``scrub_secrets`` takes the settings' secret values out of a driver's message.
- Spreadsheets: ``neutralise_formula`` for files meant for spreadsheets (CSV injection).
"""

from __future__ import annotations

from pydantic import SecretStr

from connectors._cursor import later as later_cursor
from connectors._json import dumps as json_dumps
from connectors._json import flatten, get_path, json_type, unflatten
from connectors.base import ConnectorSettings, key_text, key_values, neutralise_formula

__all__ = ["flatten", "get_path", "json_dumps", "json_type", "key_text", "key_values",
           "later_cursor", "neutralise_formula", "scrub_secrets", "unflatten"]

#: What ``scrub_secrets`` puts where a secret was.
HIDDEN = "***"


def scrub_secrets(text: str, settings: ConnectorSettings) -> str:
    """``text`` (a driver's or server's message) with every secret of ``settings`` hidden.

    Drivers like to quote a connection string or a failed login back, password included;
    pass their messages through this before putting them into an error.
    """
    for name in settings.secret_fields():
        secret = getattr(settings, name, None)
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else ""
        if value:
            text = text.replace(value, HIDDEN)
    return text
