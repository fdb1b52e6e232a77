"""CSV file drops: read with a sniffed or configured dialect, written atomically."""

from connectors.csv.connector import CsvConnector

__all__ = ["CsvConnector"]
