"""The ``kontor`` command line."""
