"""The HTTP face of a stand-alone identifier node: the Handle.Net-compatible REST API and the
enterprise API (templates, batch registration, search), authenticated the Handle way (HTTP Basic as
``INDEX:HANDLE`` with the secret key)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from indunet.idr import http_native
from indunet.idr.enterprise_api import create_enterprise_router
from indunet.idr.records import Caller
from indunet.idr.rest import MAX_BODY_BYTES, QuickReads, caller_of_request, create_router
from indunet.idr.store import HandleStore
from indunet.web import problems


def create_node_app(
    store: HandleStore,
    *,
    handler: Any = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    ledger: Any = None,
    carriers: Any = None,
) -> FastAPI:
    """The node's HTTP interface; with ``handler`` (the node's protocol service) also the Handle
    protocol itself over HTTP (``POST /``); with ``ledger`` its allocation ledger (``/api/v1/ledger``);
    with ``carriers`` its carrier registry (``/api/v1/idr/carriers``)."""
    app = FastAPI(title="indunet identifier node", docs_url=None, redoc_url=None)
    problems.install(app)
    if handler is not None:
        app.router.routes.append(http_native.route(handler))

    async def caller_of(request: Request) -> Caller:
        return await caller_of_request(request, store)

    app.include_router(create_router(store, max_body_bytes=max_body_bytes))
    app.include_router(create_enterprise_router(store, caller_of))
    if carriers is not None:
        from indunet.idr.carriers_api import create_carrier_routers

        for carrier_router in create_carrier_routers(carriers, caller_of):
            app.include_router(carrier_router)
    if ledger is not None:
        from indunet.ledger.api import create_ledger_router

        app.include_router(create_ledger_router(ledger))
    app.add_middleware(QuickReads, store=store)
    return app
