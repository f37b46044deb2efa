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


def include_routes(app: FastAPI, settings: Settings) -> None:
    # The hot routes first: a request is matched against the routers in order (the docs' order
    # comes from the tags, not from here).
    app.include_router(payments.router)
    app.include_router(callbacks.router)
    app.include_router(health.router)
    app.include_router(gateways.client_router)
    app.include_router(gateways.admin_router)
    app.include_router(admin_credits.router)
    app.include_router(checkout.router)
    app.mount("/static", StaticFiles(packages=[("app", "static")]), name="static")
    if settings.sandbox:
        sandbox.mount_simulators(app, settings.public_base_url)
    app.include_router(events.router)
    app.include_router(admin_webhooks.router)
    app.include_router(catalog.router)
    app.include_router(admin.router)
    app.include_router(reports.router)
    app.include_router(dashboard.router)
    app.include_router(refunds.client_router)
    app.include_router(refunds.admin_router)
    app.include_router(admin_reconciliation.router)
    app.include_router(admin_jobs.router)
