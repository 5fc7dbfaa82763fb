"""The ASGI application: REST API under /api, OpenAPI at /docs, the console under /console."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from indunet import __version__
from indunet.apps.indices.rollup import roll_up_recent
from indunet.apps.phm.monitor import PhmMonitor
from indunet.apps.phm.prognostics import Sessions
from indunet.apps.safety.monitor import SafetyMonitor
from indunet.platform.rules import RuleEngine
from indunet.platform.runtime import Platform
from indunet.platform.telemetry import apply_retention
from indunet.web import problems
from indunet.web.deps import refuse_nul
from indunet.web.limits import RequestGuard
from indunet.web.responses import FastJSONResponse
from indunet.web.routes import (
    admin,
    alarms,
    auth,
    device_http,
    devices,
    gateway_http,
    identifiers,
    indices,
    models,
    phm,
    prog,
    rpc,
    safety,
    telemetry,
    work_orders,
)

log = logging.getLogger(__name__)

PRESENCE_FLUSH_S = 5.0
RETENTION_EVERY_S = 3600.0
INDICES_EVERY_S = 300.0


async def _every(period_s: float, job: Any, name: str) -> None:
    while True:
        await asyncio.sleep(period_s)
        try:
            await run_in_threadpool(job)
        except Exception:
            # A failed housekeeping round is retried next period; it must never stop the server.
            log.exception("%s failed", name)


def create_app(platform: Platform) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_every(PRESENCE_FLUSH_S, platform.flush_presence, "presence flush")),
            asyncio.create_task(_every(RETENTION_EVERY_S, lambda: apply_retention(platform), "retention")),
            asyncio.create_task(_every(INDICES_EVERY_S, lambda: roll_up_recent(platform), "indices roll-up")),
            asyncio.create_task(
                _every(
                    RETENTION_EVERY_S,
                    lambda: roll_up_recent(platform, days_back=1),
                    "indices roll-up (yesterday)",
                )
            ),
        ]
        # With a NATS bus the rule workers (BusWorkers) run the engine, each for its partitions.
        rule_engine = None if platform.settings.bus_url else RuleEngine(platform)
        if rule_engine is not None:
            rule_engine.start()
        _app.state.rule_engine = rule_engine
        # Scores committed telemetry in this process; with a NATS bus the rule workers see the
        # batches instead, and PHM scoring there is not built yet (docs/phm.md).
        phm_monitor = None if platform.settings.bus_url else PhmMonitor(platform)
        if phm_monitor is not None:
            phm_monitor.start()
        _app.state.phm_monitor = phm_monitor
        # Safety warnings follow the same committed batches; with a NATS bus, not built yet (docs/safety.md).
        safety_monitor = None if platform.settings.bus_url else SafetyMonitor(platform)
        if safety_monitor is not None:
            safety_monitor.start()
        _app.state.safety_monitor = safety_monitor
        try:
            yield
        finally:
            if safety_monitor is not None:
                await run_in_threadpool(safety_monitor.stop)
            if phm_monitor is not None:
                await run_in_threadpool(phm_monitor.stop)
            if rule_engine is not None:
                await run_in_threadpool(rule_engine.stop)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await run_in_threadpool(platform.flush_presence)

    app = FastAPI(
        title="indunet",
        version=__version__,
        description="Industrial internet platform API: devices, models, twins, telemetry, audit.",
        default_response_class=FastJSONResponse,
        responses=problems.RESPONSES,
        dependencies=[Depends(refuse_nul)],
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.platform = platform
    app.state.prog_sessions = Sessions()
    problems.install(app)
    for router in (
        auth.router,
        devices.router,
        models.router,
        telemetry.router,
        admin.router,
        device_http.router,
        gateway_http.router,
        rpc.router,
        alarms.router,
        indices.router,
        phm.router,
        work_orders.router,
        safety.router,
        prog.router,
    ):
        app.include_router(router)
    identifiers.mount(app, platform.identifiers)

    @app.get("/api/health", tags=["health"], summary="Liveness: the process answers and its database too")
    def health() -> dict[str, str]:
        with platform.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok", "version": __version__}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        # Swagger UI from the console's vendored copy: FastAPI's default page loads it from a CDN,
        # which a plant network without internet access cannot reach.
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="indunet API",
            swagger_js_url="/console/vendor/swagger-ui-bundle.js",
            swagger_css_url="/console/vendor/swagger-ui.css",
            swagger_favicon_url="/console/favicon.svg",
        )

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    static = resources.files("indunet.web") / "static"
    app.mount("/console", StaticFiles(directory=str(static), html=True), name="console")
    app.add_middleware(RequestGuard, max_body=platform.settings.max_body_bytes)
    return app
