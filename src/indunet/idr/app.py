"""The HTTP face of a stand-alone identifier node: the Handle.Net-compatible REST API and the
enterprise API (templates, batch registration, search), authenticated the Handle way (HTTP Basic as
``INDEX:HANDLE`` with the secret key)."""

from __future__ import annotations

from fastapi import FastAPI, Request

from indunet.idr.enterprise_api import create_enterprise_router
from indunet.idr.records import Caller
from indunet.idr.rest import MAX_BODY_BYTES, caller_of_request, create_router
from indunet.idr.store import HandleStore
from indunet.web import problems


def create_node_app(store: HandleStore, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    app = FastAPI(title="indunet identifier node", docs_url=None, redoc_url=None)
    problems.install(app)

    async def caller_of(request: Request) -> Caller:
        return await caller_of_request(request, store)

    app.include_router(create_router(store, max_body_bytes=max_body_bytes))
    app.include_router(create_enterprise_router(store, caller_of))
    return app
