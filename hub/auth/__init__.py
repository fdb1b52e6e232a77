"""Who may call the hub: API tokens (stored only as hashes) and roles with their permissions."""
