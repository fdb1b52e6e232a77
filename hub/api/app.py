"""Build the FastAPI application for an opened hub."""

from __future__ import annotations

from fastapi import FastAPI

import hub
from hub.api import operations, problems, records
from hub.context import Hub


def create_app(opened: Hub) -> FastAPI:
    app = FastAPI(title="Kontor", version=hub.__version__,
                  description="Master data of customers and employees, synced across "
                              "back-office systems. Restricted fields never leave through "
                              "this API unless a policy allows it.")
    app.state.hub = opened
    app.state.gate = opened.deployment.gate()
    problems.install(app)

    @app.get("/health", tags=["health"], summary="Liveness and store reachability")
    def health() -> dict[str, str]:
        with opened.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    app.include_router(records.router)
    app.include_router(operations.router)
    return app
