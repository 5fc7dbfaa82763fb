"""Request dependencies: the platform handle, the authenticated principal, paging parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from indunet.core.errors import AuthenticationFailed, InvalidInput
from indunet.platform.accounts import principal_from_access_token, principal_from_secret
from indunet.platform.runtime import Platform
from indunet.security import Principal

_bearer = HTTPBearer(auto_error=False, description="JWT access token, API key or device access token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key for services")


def refuse_nul(request: Request) -> None:
    """No path or query parameter may hold NUL: it names nothing, and PostgreSQL cannot even compare
    text holding one, so without this check the same request would be a 404 on SQLite and a 422 there."""
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if "\x00" in value:
            raise InvalidInput(f"parameter {name!r} contains a NUL character", key="error.nul_character")


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_principal(
    platform: PlatformDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    return await authenticate(platform, api_key or (bearer.credentials if bearer else None))


async def authenticate(platform: Platform, credential: str | None) -> Principal:
    """The principal of an API key, a device token or an access token."""
    if not credential:
        raise AuthenticationFailed("authentication required", key="error.auth_required")
    if credential.startswith(("ink_", "dev_")):
        return await run_in_threadpool(principal_from_secret, platform, credential)
    return await run_in_threadpool(principal_from_access_token, platform, credential)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


class Paging:
    def __init__(
        self,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")] = 0,
    ) -> None:
        self.limit = min(limit, request.app.state.platform.settings.max_page_size)
        self.offset = offset


PagingDep = Annotated[Paging, Depends()]
