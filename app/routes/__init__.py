"""HTTP routes: parse, authenticate, call one service function, shape the response."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.config import Settings
from app.routes import (
    admin,
    admin_credits,
    admin_jobs,
    admin_reconciliation,
    admin_webhooks,
    callbacks,
    catalog,
    checkout,
    dashboard,
    events,
    gateways,
    health,
    payments,
    refunds,
    reports,
    sandbox,
)

# The hot routes first: a request is matched against the routers in order (the docs' order comes
# from the tags, not from here).
ROUTERS = (
    payments.router,
    callbacks.router,
    health.router,
    gateways.client_router,
    gateways.admin_router,
    admin_credits.router,
    checkout.router,
    events.router,
    admin_webhooks.router,
    catalog.router,
    admin.router,
    reports.router,
    dashboard.router,
    refunds.client_router,
    refunds.admin_router,
    admin_reconciliation.router,
    admin_jobs.router,
)


def include_routes(app: FastAPI, settings: Settings) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("app", "static")]), name="static")
    if settings.sandbox:
        sandbox.mount_simulators(app, settings.public_base_url)
