"""The outbox: records waiting for delivery to a target, and dead letters to retry."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from hub.api.deps import HubDep
from hub.api.openapi import AUTHENTICATED
from hub.api.security import OperationsReader, OutboxManager
from hub.records import jsonable
from hub.store import outbox

router = APIRouter(prefix="/api/v1", tags=["operations"], responses=AUTHENTICATED)
Name = Annotated[str | None, Query(max_length=100)]


@router.get("/outbox", summary="Deliveries waiting per target, and the rows themselves")
def listing(hub: HubDep, caller: OperationsReader,
            status: Annotated[Literal["pending", "dead"] | None, Query()] = None,
            limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    with hub.engine.connect() as conn:
        rows = outbox.listing(conn, status, limit)
        depth = outbox.depth(conn)
    return {"depth": [{"system": s, "stream": st, "status": state, "count": n}
                      for (s, st, state), n in sorted(depth.items())],
            "rows": [jsonable(r) for r in rows]}


@router.post("/outbox/retry", summary="Put dead letters back in line for the next sync")
def retry(hub: HubDep, caller: OutboxManager, system: Name = None,
          stream: Name = None) -> dict[str, int]:
    with hub.engine.begin() as conn:  # wakes `kontor serve`'s delivery worker
        return {"retried": outbox.revive(conn, system, stream)}
