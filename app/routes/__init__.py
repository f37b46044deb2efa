"""HTTP routes: parse, authenticate, call one service function, shape the response."""

from __future__ import annotations

from fastapi import FastAPI

from app.config import Settings


def include_routes(app: FastAPI, settings: Settings) -> None:
    from app.routes import health

    app.include_router(health.router)
    from app.routes import admin, catalog

    app.include_router(catalog.router)
    app.include_router(admin.router)
