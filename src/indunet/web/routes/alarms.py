"""Alarm rules (CRUD) and alarms (list, acknowledge, clear, comment)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from indunet.platform import alarms, rules
from indunet.web.deps import PagingDep, PlatformDep, PrincipalDep
from indunet.web.routing import StrictJSONRoute

router = APIRouter(tags=["alarms"], route_class=StrictJSONRoute)

StatusFilter = Literal[
    "active", "acknowledged", "cleared_unacknowledged", "cleared", "open", "unacknowledged"
]


class CommentBody(BaseModel):
    model_config = {"extra": "forbid"}
    text: str = Field(min_length=1, max_length=alarms.MAX_COMMENT)


@router.get("/api/rules", summary="List alarm rules")
def list_rules(
    platform: PlatformDep,
    principal: PrincipalDep,
    paging: PagingDep,
    type: Annotated[str | None, Query(max_length=64, description="device type")] = None,
) -> dict[str, Any]:
    items, total = rules.list_rules(platform, principal, paging.limit, paging.offset, type)
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.post("/api/rules", status_code=201, summary="Create a rule, checked against its device type")
def create_rule(platform: PlatformDep, principal: PrincipalDep, body: rules.RuleSpec) -> dict[str, Any]:
    return rules.create_rule(platform, principal, body)


@router.get("/api/rules/{rule_id}", summary="One rule")
def get_rule(platform: PlatformDep, principal: PrincipalDep, rule_id: str) -> dict[str, Any]:
    return rules.get_rule(platform, principal, rule_id)


@router.put("/api/rules/{rule_id}", summary="Replace a rule")
def replace_rule(
    platform: PlatformDep, principal: PrincipalDep, rule_id: str, body: rules.RuleSpec
) -> dict[str, Any]:
    return rules.replace_rule(platform, principal, rule_id, body)


@router.delete("/api/rules/{rule_id}", status_code=204, summary="Remove a rule and its alarms")
def delete_rule(platform: PlatformDep, principal: PrincipalDep, rule_id: str) -> Response:
    rules.delete_rule(platform, principal, rule_id)
    return Response(status_code=204)


@router.get("/api/alarms", summary="List alarms, newest first")
def list_alarms(
    platform: PlatformDep,
    principal: PrincipalDep,
    paging: PagingDep,
    status: StatusFilter | None = None,
    severity: rules.Severity | None = None,
    device: Annotated[str | None, Query(max_length=128, description="device id or name")] = None,
    rule: Annotated[str | None, Query(max_length=36, description="rule id")] = None,
) -> dict[str, Any]:
    query = alarms.AlarmQuery(
        paging.limit, paging.offset, status, severity.value if severity else None, device, rule
    )
    items, total = alarms.list_alarms(platform, principal, query)
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.get("/api/alarms/{alarm_id}", summary="One alarm with its comments")
def get_alarm(platform: PlatformDep, principal: PrincipalDep, alarm_id: str) -> dict[str, Any]:
    return alarms.get_alarm(platform, principal, alarm_id)


@router.post("/api/alarms/{alarm_id}/ack", summary="Acknowledge an alarm")
def acknowledge(platform: PlatformDep, principal: PrincipalDep, alarm_id: str) -> dict[str, Any]:
    return alarms.acknowledge(platform, principal, alarm_id)


@router.post("/api/alarms/{alarm_id}/clear", summary="Clear an alarm")
def clear(platform: PlatformDep, principal: PrincipalDep, alarm_id: str) -> dict[str, Any]:
    return alarms.clear(platform, principal, alarm_id)


@router.get("/api/alarms/{alarm_id}/comments", summary="An alarm's comments, oldest first")
def list_comments(platform: PlatformDep, principal: PrincipalDep, alarm_id: str) -> dict[str, Any]:
    return {"items": alarms.list_comments(platform, principal, alarm_id)}


@router.post("/api/alarms/{alarm_id}/comments", status_code=201, summary="Comment on an alarm")
def add_comment(
    platform: PlatformDep, principal: PrincipalDep, alarm_id: str, body: CommentBody
) -> dict[str, Any]:
    return alarms.add_comment(platform, principal, alarm_id, body.text)
