"""The master store: golden records, xrefs, history, runs, quarantine, stream state."""
