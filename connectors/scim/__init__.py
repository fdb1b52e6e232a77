"""SCIM 2.0 client connector package; the hub loads :class:`ScimConnector` by entry point."""

from connectors.scim.connector import ScimConnector
from connectors.scim.settings import ScimSettings

__all__ = ["ScimConnector", "ScimSettings"]
