"""Kontor's hub: canonical models, master store, match & merge, sync engine, API and CLI."""

__version__ = "0.1.0"
