"""Build the FastAPI application for an opened hub: REST API, SCIM, and the dashboard (/ui/)."""

from __future__ import annotations

import os

from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

import hub
from hub.api import (
    audit,
    metrics,
    openapi,
    operations,
    outbox,
    policy,
    problems,
    record_writes,
    records,
    reports,
    review,
)
from hub.api.scim import discovery, users, users_write
from hub.context import Hub, open_hub
from hub.web import login, pages, record_pages, review_page

# Reachable without a token: nothing here carries data. The login page is public too.
PUBLIC_PATHS = ("/health", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc",
                "/ui/login")


def create_app(opened: Hub) -> FastAPI:
    app = FastAPI(title="Kontor", version=hub.__version__,
                  description="Master data of customers and employees, synced across "
                              "back-office systems. Every endpoint but /health needs an API "
                              "token (`kontor tokens create`); restricted fields never leave "
                              "through this API unless a policy allows them for your role.")
    app.state.hub = opened
    app.state.gate = opened.deployment.gate()
    problems.install(app)
    openapi.install(app)

    @app.get("/health", tags=["health"], summary="Liveness and store reachability",
             responses=openapi.problems(503))
    def health() -> dict[str, str]:
        try:
            with opened.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except DBAPIError:
            raise problems.Unavailable("the store cannot be reached") from None
        return {"status": "ok"}

    app.include_router(records.router)
    app.include_router(record_writes.build_router(opened.deployment))
    app.include_router(operations.router)
    app.include_router(policy.router)
    for router in (review.router, outbox.router, audit.router, reports.router,
                   metrics.router):
        app.include_router(router)
    for router in (discovery.router, users.router, users_write.router,
                   login.router, pages.router, record_pages.router, review_page.router):
        app.include_router(router)
    return app


def create_app_from_env() -> FastAPI:
    """The app of one worker process of ``kontor serve --workers N``: the deployment named
    by ``KONTOR_CONFIG``, its store already migrated by the serving process."""
    return create_app(open_hub(os.environ["KONTOR_CONFIG"], migrate=False))
