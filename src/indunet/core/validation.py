"""Documents refused by their pydantic model, as one ``InvalidInput`` (a 422) listing every problem."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from indunet.core.errors import InvalidInput


def refused(exc: ValidationError, subject: str, key: str, **params: Any) -> InvalidInput:
    """``invalid <subject>: <field>: <problem>; ...``, with the problems also as ``errors`` and ``detail``."""
    errors = [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)
    ]
    detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or subject}: {e['msg']}" for e in errors)
    return InvalidInput(f"invalid {subject}: {detail}", key=key, errors=errors, detail=detail, **params)
