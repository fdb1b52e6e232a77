"""REST/JSON connector package; the hub loads :class:`RestConnector` by entry point."""

from connectors.rest.connector import RestConnector
from connectors.rest.settings import RestSettings

__all__ = ["RestConnector", "RestSettings"]
