"""The steward's review queue in the dashboard: compare two records, merge or keep apart."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from hub.api.deps import HubDep, disclosure
from hub.api.disclosure import business_values
from hub.api.services import decide
from hub.records import jsonable
from hub.store import bulk, goldens
from hub.store.matching_tables import ReviewPair
from hub.survivorship import review
from hub.web.render import page
from hub.web.session import ReviewPage, check_session_form
from hub.web.threshold_chart import review_charts

router = APIRouter(prefix="/ui", include_in_schema=False)


def _compare(request: Request, caller: Any, hub: Any, pair: dict[str, Any]
             ) -> list[dict[str, Any]]:
    """Both records side by side, each value as the caller may see it."""
    entity = pair["entity"]
    with hub.engine.connect() as conn:
        rows = goldens.read(conn, hub.sealer, entity, [pair["golden_a"], pair["golden_b"]])
    if len(rows) < 2:
        return []
    view = disclosure(request, caller, "web")
    (a, _), (b, _) = view.values(entity, [(gid, business_values(rows[gid]))
                                          for gid in (pair["golden_a"], pair["golden_b"])])
    a, b = jsonable(a), jsonable(b)
    return [{"name": f, "a": a.get(f), "b": b.get(f), "differs": a.get(f) != b.get(f)}
            for f in a if f in b and (a.get(f) is not None or b.get(f) is not None)]


@router.get("/review")
def review_queue(request: Request, caller: ReviewPage, hub: HubDep,
                 done: Annotated[int | None, Query(ge=1, le=2**53)] = None) -> HTMLResponse:
    pairs = [{**p, "fields": _compare(request, caller, hub, p)}
             for p in review.pairs(hub, status="open", limit=50)]
    decided = None
    if done is not None:
        t = bulk.table_of(ReviewPair)
        with hub.engine.connect() as conn:
            found = conn.execute(select(t.c.id, t.c.status, t.c.decided_by)
                                 .where(t.c.id == done)).first()
        decided = dict(found._mapping) if found else None
    with hub.engine.connect() as conn:
        charts = review_charts(conn)  # how auto-merging would have done on these decisions
    return page(request, "review.html", caller, pairs=pairs, decided=decided, charts=charts)


@router.post("/review/{pair_id}")
def review_decide(request: Request, pair_id: Annotated[int, Path(ge=1, le=2**53)],
                  caller: ReviewPage, hub: HubDep,
                  decision: Annotated[Literal["merge", "keep_apart"], Form()],
                  csrf: Annotated[str, Form(max_length=200)]) -> Response:
    check_session_form(request, csrf)
    decide(hub, pair_id, decision, caller)
    return RedirectResponse(f"/ui/review?done={pair_id}", status_code=303)
