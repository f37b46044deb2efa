"""OpenAPI helpers (every problem+json error a route can answer, with its codes) and the offline
Swagger UI and ReDoc pages."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.errors import PROBLEM_SCHEMA
from app.routes import problems as problem_pages
from app.routes.openapi_doc import document_openapi


def problems(spec: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """``{409: "`duplicate_bill`: …"}`` → FastAPI ``responses=`` entries (problem+json)."""
    return {
        status: {
            "description": description,
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        for status, description in spec.items()
    }


AUTH_PROBLEMS = {
    401: "`unauthorized`: missing, unknown, expired or disabled API key.",
    429: "`rate_limited`: too many failed authentications from this address (see Retry-After).",
}


# ---------------------------------------------------------------------------- offline docs pages

DOCS_ASSETS = "/docs-assets"
# The pages load only what paybridge serves. ReDoc's sidebar always shows a Redocly logo from a CDN
# (the image hides itself when it fails): this policy stops that request in the browser, so nothing
# leaves an air-gapped network and nothing waits for a timeout. Swagger UI needs its inline start
# script; both need inline styles; ReDoc's search runs in a blob: worker.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}


def _assets_dir() -> str:
    """Swagger UI and ReDoc as the ``fastapi-offline`` package installs them (no CDN at run time)."""
    return str(resources.files("fastapi_offline") / "static")


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from files installed with paybridge, so
    the docs work on an air-gapped network."""
    app.include_router(problem_pages.router)
    document_openapi(app)
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(DOCS_ASSETS, StaticFiles(directory=_assets_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} — API reference",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            # validatorUrl None: Swagger UI would otherwise fetch a badge from validator.swagger.io.
            swagger_ui_parameters={"defaultModelsExpandDepth": 0, "validatorUrl": None},
        )
        page.headers.update(DOCS_HEADERS)
        return page

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} — API reference (ReDoc)",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(DOCS_HEADERS)
        return page
