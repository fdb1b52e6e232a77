"""One SCIM query, from URL parameters or from a SearchRequest body (RFC 7644 §3.4.3).

A body's problems are 400 ``invalidValue`` errors naming the parameter, never its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.api.scim.render import ScimProblem

_INT = 2**31
# Parameter names as RFC 7644 spells them, by their lower case (names are case-insensitive).
_NAMES = {n.lower(): n for n in ("filter", "sortBy", "sortOrder", "startIndex", "count",
                                 "attributes", "excludedAttributes")}


@dataclass(frozen=True)
class Search:
    filter: str | None = None
    sort_by: str | None = None
    descending: bool = False
    start: int = 1
    count: int = 100
    attributes: str | None = None  # comma-separated, as the URL parameter
    excluded: str | None = None


def _bad(key: str, what: str) -> ScimProblem:
    return ScimProblem(f"{_NAMES[key]} must be {what}", scim_type="invalidValue")


def from_body(body: dict[str, Any]) -> Search:
    """The query a SearchRequest body states; other members (``schemas``) are ignored."""
    got = {str(k).lower(): v for k, v in body.items()}

    def text(key: str, limit: int) -> str | None:
        value = got.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise _bad(key, f"a string of at most {limit} characters")
        return value

    def names(key: str) -> str | None:
        value = got.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) \
                or sum(len(v) + 1 for v in value) > 1000:
            raise _bad(key, "a list of attribute names, 1000 characters in all")
        return ",".join(value)

    def number(key: str, default: int) -> int:
        value = got.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not -_INT <= value <= _INT:
            raise _bad(key, "an integer")
        return value

    order = got.get("sortorder") or "ascending"
    if order not in ("ascending", "descending"):
        raise _bad("sortorder", "ascending or descending")
    return Search(text("filter", 4000), text("sortby", 200), order == "descending",
                  number("startindex", 1), number("count", 100), names("attributes"),
                  names("excludedattributes"))
