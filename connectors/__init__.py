"""Connectors: one module per kind of system, each a plugin behind `connectors.base.Connector`."""
