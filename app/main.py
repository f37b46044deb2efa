"""The ASGI application.

``create_app(settings)`` builds an app from explicit settings (tests use it). ``app.main:app`` is
the app built from the environment; it is made on first access, so importing this module reads
no settings and opens nothing. Engines, HTTP clients and workers start in the lifespan.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from app import __version__
from app.bootstrap import close_container, default_http, make_container
from app.config import Settings
from app.errors import install_error_handlers
from app.logging import configure_logging
from app.metrics import Metrics
from app.middleware import RequestContextMiddleware
from app.routes import include_routes
from app.routes.docs import install_docs
from app.workers import start_in_process_workers

log = logging.getLogger("paybridge")

DESCRIPTION = """
**paybridge** collects administrative fees, charges and fines for Vietnam's public-service
portals through the national payment platform (DVCQG), PayGov, VNPay, MoMo, ZaloPay, OnePay and
VietQR bank transfers, and tells the portal every outcome exactly once.

* **Client API** (`/v1`) — for provincial one-stop systems: `Authorization: Bearer <api key>`.
  Creates take an `Idempotency-Key` header. Amounts are integer VND.
* **Operator API** (`/admin/v1`) — `Authorization: Bearer <PAYBRIDGE_ADMIN_TOKEN>`.
* **Gateway callbacks** (`/v1/callbacks/...`) — authenticated by each gateway's own signature.

Every error is an RFC 9457 `application/problem+json` document with a stable `code`.
"""

TAGS = [
    {
        "name": "payments",
        "description": "Bills for dossiers, their attempts at gateways, cancel and offline.",
    },
    {"name": "catalogue", "description": "Revenue-type codes, banks, agencies and usable gateways."},
    {"name": "events", "description": "The event feed for portals that cannot receive webhooks."},
    {"name": "callbacks", "description": "Where gateways and banks call us back, in their own formats."},
    {"name": "checkout", "description": "The hosted checkout page citizens pay on."},
    {"name": "reports", "description": "KPI reports: fee-bearing bills paid online, against targets."},
    {"name": "admin", "description": "Operator API: agencies, clients, gateway accounts, catalogue imports."},
    {"name": "sandbox", "description": "Built-in gateway simulators (only with PAYBRIDGE_SANDBOX=true)."},
    {"name": "operations", "description": "Health, readiness and Prometheus metrics."},
]

HttpFactory = Callable[[Settings], httpx.AsyncClient]

# Objects allocated minus freed before a young collection (CPython's default: 700; the older
# generations keep their default multipliers). Requests free nearly all they allocate by reference
# counting: in a 30 s create + GET load, 700 gave ~2800 young, ~260 middle and 22 full collections,
# each full one walking every module, route and ORM mapper (~75 ms of CPU, a latency spike); with
# startup frozen and 10,000 there were 5 young collections and no full one (bench/RESULTS.md, run 4).
GC_THRESHOLDS = (10_000, 10, 10)


def tune_gc_for_serving() -> None:
    """Move everything startup built (modules, routes, models, mappers) out of the collector's
    sight with :func:`gc.freeze` and collect the young generation less often. For a serving
    process only: frozen objects are never collected, so tests that build many apps don't do this."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(
    settings: Settings | None = None,
    *,
    http_factory: HttpFactory | None = None,
    clock: Callable[[], datetime] | None = None,
    start_workers: bool | None = None,
    tune_gc: bool = False,
) -> FastAPI:
    """Build the app. ``http_factory`` and ``clock`` let tests swap the network and the time.
    ``tune_gc`` (the served app only): see :func:`tune_gc_for_serving`."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        http = (http_factory or default_http)(settings)
        container = make_container(settings, http=http, metrics=metrics, clock=clock)
        app.state.container = container
        tasks: list[asyncio.Task[Any]] = []
        run_workers = settings.run_workers if start_workers is None else start_workers
        if run_workers:
            tasks = start_in_process_workers(container)
        if tune_gc:
            tune_gc_for_serving()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await close_container(container)

    app = FastAPI(
        title="paybridge",
        version=__version__,
        summary="Payment integration for Vietnam's public-service portals",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        # Served by app/routes/docs.py from installed files, not from a CDN.
        docs_url=None,
        redoc_url=None,
        # FastAPI's built-in OpenTelemetry bridge asks the OTel API for its providers on every
        # request (~5 µs, environment lookups included) although paybridge configures none; our
        # own middleware does the request metrics and access log.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    include_routes(app, settings)
    install_docs(app)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        upload_limits={"/admin/v1/reconciliations": settings.max_upload_bytes},
        public_base_url=settings.public_base_url,
    )
    return app


def __getattr__(name: str) -> Any:
    # `uvicorn app.main:app` asks for `app`: build it from the environment then, not at import.
    if name == "app":
        settings = Settings()
        configure_logging(settings.log_level, settings.log_format)
        application = create_app(settings, tune_gc=True)
        globals()["app"] = application
        return application
    raise AttributeError(name)
