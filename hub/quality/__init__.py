"""Data-quality reports: completeness, invalid values, duplicates, conflicts."""
