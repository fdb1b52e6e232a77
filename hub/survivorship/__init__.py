"""Survivorship: which source value a golden record keeps; merges, unmerges, overrides."""
