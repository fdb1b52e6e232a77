"""The steward's review queue: pairs of golden records that may be one person.

Pairs carry ids, a score and the evidence (which comparisons agreed, at what level), never
values; read the two records themselves through the records endpoints (and the gate).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from hub.api.deps import HubDep
from hub.api.openapi import AUTHENTICATED, problems
from hub.api.security import Reviewer
from hub.api.services import decide
from hub.records import jsonable
from hub.survivorship import review

router = APIRouter(prefix="/api/v1", tags=["review"], responses=AUTHENTICATED)
PairPath = Annotated[int, Path(ge=1, le=2**53)]
_UNDECIDABLE = ("The pair is decided already, or one of its records changed so that it "
                "cannot be merged")


class Decision(BaseModel):
    decision: Literal["merge", "keep_apart"]


@router.get("/review", summary="Pairs waiting for a steward (or decided ones)")
def pairs(hub: HubDep, caller: Reviewer,
          status: Annotated[Literal["open", "merged", "kept_apart", "obsolete", "all"],
                            Query()] = "open",
          entity: Annotated[Literal["customer", "employee"] | None, Query()] = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    rows = review.pairs(hub, status=None if status == "all" else status, entity=entity,
                        limit=limit)
    return [jsonable(r) for r in rows]


@router.post("/review/{pair_id}", summary="Merge a pair, or keep the two records apart",
             responses=problems((404, "No such review pair"), (409, _UNDECIDABLE)))
def decide_pair(pair_id: PairPath, body: Decision, hub: HubDep,
                caller: Reviewer) -> dict[str, Any]:
    return decide(hub, pair_id, body.decision, caller)
