"""The steward's review queue: pairs of golden records that may be one person.

Pairs carry ids, a score and the evidence (which comparisons agreed, at what level), never
values; read the two records themselves through the records endpoints (and the gate).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy import select

from hub.api.deps import HubDep
from hub.api.problems import Conflict, NotFound
from hub.api.security import Reviewer
from hub.auth.tokens import Caller
from hub.records import jsonable
from hub.store import bulk
from hub.store.matching_tables import ReviewPair
from hub.survivorship import review

router = APIRouter(prefix="/api/v1", tags=["review"])
PairPath = Annotated[int, Path(ge=1, le=2**53)]


class Decision(BaseModel):
    decision: Literal["merge", "keep_apart"]


def actor(caller: Caller) -> str:
    """How a decision by this caller is signed in the merge log and the pair."""
    return f"{caller.name} (token {caller.token_id})"


def decide(hub: Any, pair_id: int, decision: str, caller: Caller) -> dict[str, Any]:
    """Apply a decision to an open pair; 404 for an unknown pair, 409 for a decided one."""
    t = bulk.table_of(ReviewPair)
    with hub.engine.connect() as conn:
        status = conn.execute(select(t.c.status).where(t.c.id == pair_id)).scalar()
    if status is None:
        raise NotFound(f"review pair {pair_id}")
    if status != "open":
        raise Conflict(f"review pair {pair_id} is {status} already")
    return review.decide(hub, pair_id, decision, actor=actor(caller))


@router.get("/review", summary="Pairs waiting for a steward (or decided ones)")
def pairs(hub: HubDep, caller: Reviewer,
          status: Annotated[Literal["open", "merged", "kept_apart", "obsolete", "all"],
                            Query()] = "open",
          entity: Annotated[Literal["customer", "employee"] | None, Query()] = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    rows = review.pairs(hub, status=None if status == "all" else status, entity=entity,
                        limit=limit)
    return [jsonable(r) for r in rows]


@router.post("/review/{pair_id}", summary="Merge a pair, or keep the two records apart")
def decide_pair(pair_id: PairPath, body: Decision, hub: HubDep,
                caller: Reviewer) -> dict[str, Any]:
    return decide(hub, pair_id, body.decision, caller)
