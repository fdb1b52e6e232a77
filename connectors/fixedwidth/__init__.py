"""Fixed-width (mainframe-style) file drops, laid out by column positions."""

from connectors.fixedwidth.connector import FixedWidthConnector

__all__ = ["FixedWidthConnector"]
