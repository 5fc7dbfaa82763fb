"""API routes whose JSON request bodies are parsed by orjson instead of the standard library.

``json.loads`` lets through what nothing downstream can handle: lone surrogates (``"\\ud800"``),
which neither the databases nor the orjson renderer can encode, ``NaN`` and ``Infinity``, and
integers beyond 64 bits, which are stored and then fail every response that echoes them. orjson
refuses the first two as invalid JSON (FastAPI answers 422) and reads big integers as floats, which
the model checks then treat as numbers like any other. Ingest already parses with orjson.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if b"\\u0000" in body:
                # NUL is valid JSON but no valid name, label or text; PostgreSQL cannot even store it.
                # Refused here, before it can reach either database, so both answer alike.
                raise json.JSONDecodeError(
                    "text holds a NUL character (\\u0000)",
                    body.decode(errors="replace"),
                    body.index(b"\\u0000"),
                )
            # orjson.JSONDecodeError subclasses json.JSONDecodeError, which FastAPI turns into a 422.
            self._json = orjson.loads(body)
        return self._json


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict
