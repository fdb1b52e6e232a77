"""The golden record: the single write path every change to a golden record goes through."""
