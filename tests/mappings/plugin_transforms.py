"""Plug-in transforms used by the mapping tests (loaded by dotted path and entry point)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def loyalty_tier(value: Any, record: Mapping[str, Any]) -> Any:
    """Points to a tier; refuses negative points."""
    if value in (None, ""):
        return None
    points = int(value)
    if points < 0:
        raise ValueError("negative points")
    return "gold" if points >= 1000 else "silver" if points >= 100 else "bronze"


def shout(value: Any, values: Mapping[str, Any]) -> Any:
    return None if value is None else f"{value}!"


NOT_A_FUNCTION = 42
