"""One SCIM query, from URL parameters or from a SearchRequest body (RFC 7644 §3.4.3).

A body is a ``bodies.ScimSearchRequest``: its problems are 400 ``invalidValue`` errors
naming the member, never its value.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.api.scim.bodies import ScimSearchRequest


@dataclass(frozen=True)
class Search:
    filter: str | None = None
    sort_by: str | None = None
    descending: bool = False
    start: int = 1
    count: int = 100
    attributes: str | None = None  # comma-separated, as the URL parameter
    excluded: str | None = None


def from_model(body: ScimSearchRequest) -> Search:
    """The query a SearchRequest body states (validated by its model)."""
    def names(value: list[str] | None) -> str | None:
        return None if value is None else ",".join(value)

    return Search(body.filter, body.sortBy, body.sortOrder == "descending",
                  1 if body.startIndex is None else body.startIndex,
                  100 if body.count is None else body.count,
                  names(body.attributes), names(body.excludedAttributes))
