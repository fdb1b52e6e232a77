"""Mappings: how one system's fields become canonical fields, and back."""
