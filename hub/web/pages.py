"""Dashboard pages for operators: systems and runs, quarantine, reports."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from hub.api.deps import ConnDep, HubDep
from hub.api.services import open_quarantine, recent_runs, systems_overview
from hub.canonical import MODELS
from hub.store import bulk
from hub.web import reports
from hub.web.render import page
from hub.web.session import OperationsPage, QuarantinePage, ReportsPage

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/overview")
def overview(request: Request, caller: OperationsPage, hub: HubDep, conn: ConnDep
             ) -> HTMLResponse:
    counts = {e: conn.execute(select(func.count()).select_from(bulk.table_of(m))).scalar_one()
              for e, m in MODELS.items()}
    return page(request, "overview.html", caller, counts=counts,
                systems=systems_overview(conn, hub.deployment), runs=recent_runs(conn, 10))


@router.get("/quarantine")
def quarantine(request: Request, caller: QuarantinePage, conn: ConnDep) -> HTMLResponse:
    return page(request, "quarantine.html", caller, entries=open_quarantine(conn, 500))


@router.get("/reports")
def report_page(request: Request, caller: ReportsPage, conn: ConnDep) -> HTMLResponse:
    gate = request.app.state.gate
    return page(request, "reports.html", caller, policy_version=gate.version,
                charts=reports.charts(conn, request.app.state.hub, gate, caller))
