"""How the hub names a record by its key: the key values joined with ``|``.

The helpers live in ``connectors.base`` (public, for connector authors too); this module
keeps the older import path working for the bundled connectors.
"""

from __future__ import annotations

from connectors.base import key_text, key_values

__all__ = ["key_text", "key_values"]
