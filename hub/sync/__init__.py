"""The sync engine: inbound (system -> master store) and outbound (store -> system)."""
