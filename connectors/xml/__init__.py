"""XML exports, read as a stream of records from a file or an HTTP download; XML files
written as a target."""

from connectors.xml.connector import XmlConnector

__all__ = ["XmlConnector"]
