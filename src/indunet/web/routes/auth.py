"""Password login (OAuth2 password grant) and who-am-I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from indunet.platform import accounts, tenants
from indunet.web.deps import PlatformDep, PrincipalDep
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=StrictJSONRoute)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


@router.post("/token", response_model=TokenResponse, summary="Log in with e-mail and password")
async def issue_token(
    platform: PlatformDep,
    username: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenResponse:
    token, _user = await run_in_threadpool(accounts.login, platform, username, password)
    return TokenResponse(access_token=token, expires_in=platform.settings.access_token_ttl_s)


@router.get("/me", summary="The authenticated principal, its role and tenant")
def me(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    tenant = tenants.get_tenant(platform, principal)
    return {
        "user": {
            "id": principal.subject,
            "email": principal.label.split(":", 1)[1],
            "role": principal.role.value,
            "kind": principal.label.split(":", 1)[0],
        },
        "tenant": {"id": tenant["id"], "name": tenant["name"], "display_name": tenant["display_name"]},
    }
