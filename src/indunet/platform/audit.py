"""The audit trail: one append-only row per write, with who, what, when and the before/after images.

Rows are written inside the same transaction as the change they describe, so a change without its
audit row (or the reverse) cannot be committed. The database refuses UPDATE and DELETE on the table.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from indunet.core.timeutil import now_us, to_rfc3339
from indunet.security import Permission, Principal
from indunet.store.metadata import audit_log

# Set by the HTTP layer for each request, so rows can be matched to access logs.
request_context: ContextVar[tuple[str | None, str | None]] = ContextVar(
    "audit_request_context", default=(None, None)
)

_SECRET_FIELDS = frozenset({"password", "password_hash", "secret_hash", "token", "secret"})


def _scrub(image: dict[str, Any] | None) -> dict[str, Any] | None:
    if image is None:
        return None
    return {k: ("***" if k in _SECRET_FIELDS else v) for k, v in image.items()}


def record(
    conn: Connection,
    principal: Principal,
    action: str,
    entity: str,
    entity_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    tenant_id: str | None = None,
) -> None:
    request_id, client = request_context.get()
    conn.execute(
        audit_log.insert().values(
            tenant_id=tenant_id if tenant_id is not None else principal.tenant_id,
            at=now_us(),
            actor=principal.label,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=_scrub(before),
            after=_scrub(after),
            request_id=request_id,
            client=client,
        )
    )


@dataclass(frozen=True, slots=True)
class AuditQuery:
    limit: int = 50
    offset: int = 0
    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None


def list_entries(
    conn: Connection, principal: Principal, query: AuditQuery
) -> tuple[list[dict[str, Any]], int]:
    principal.require(Permission.READ_AUDIT)
    where = [audit_log.c.tenant_id == principal.tenant_id]
    if query.entity:
        where.append(audit_log.c.entity == query.entity)
    if query.entity_id:
        where.append(audit_log.c.entity_id == query.entity_id)
    if query.actor:
        where.append(audit_log.c.actor == query.actor)
    if query.action:
        where.append(audit_log.c.action == query.action)
    total = conn.execute(select(func.count()).select_from(audit_log).where(*where)).scalar_one()
    rows = conn.execute(
        select(audit_log)
        .where(*where)
        .order_by(audit_log.c.id.desc())
        .limit(query.limit)
        .offset(query.offset)
    ).mappings()
    items = [
        {
            "id": row["id"],
            "at": to_rfc3339(row["at"]),
            "actor": row["actor"],
            "action": row["action"],
            "entity": row["entity"],
            "entity_id": row["entity_id"],
            "before": row["before"],
            "after": row["after"],
            "request_id": row["request_id"],
            "client": row["client"],
        }
        for row in rows
    ]
    return items, int(total)
