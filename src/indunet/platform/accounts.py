"""Users, password login and API keys; resolving any credential to a ``Principal``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from indunet.core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from indunet.core.timeutil import now_us
from indunet.platform import audit
from indunet.platform.naming import check_email, check_password
from indunet.platform.runtime import Platform
from indunet.security import (
    Permission,
    Principal,
    Role,
    hash_secret,
    new_secret_token,
    parse_secret_token,
    verify_secret,
)
from indunet.security.rbac import HUMAN_ROLES
from indunet.store.metadata import api_keys, device_tokens, devices, tenants, users

# A hash of a random password, so a login for an unknown user costs as much as one for a known user
# and response times do not reveal which e-mail addresses exist.
_DUMMY_HASH = hash_secret(uuid.uuid4().hex)


def _role(value: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        role = Role.DEVICE
    if role not in HUMAN_ROLES:
        raise InvalidInput(
            f"role must be one of {', '.join(r.value for r in HUMAN_ROLES)}", key="error.bad_role", role=value
        )
    return role


def _public_user(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "email": row["email"], "role": row["role"], "disabled": row["disabled"]}


def add_user(
    platform: Platform, principal: Principal, email: str, password: str, role: str
) -> dict[str, Any]:
    principal.require(Permission.MANAGE_TENANT)
    user_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": user_id,
        "tenant_id": principal.tenant_id,
        "email": check_email(email),
        "password_hash": hash_secret(check_password(password)),
        "role": _role(role).value,
        "disabled": False,
        "created_at": now_us(),
    }
    with platform.engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.email == values["email"])).first():
            raise Conflict(f"user {values['email']} exists already", key="error.user_exists")
        conn.execute(users.insert().values(**values))
        audit.record(conn, principal, "create", "user", user_id, None, _public_user(values))
    return _public_user(values)


def list_users(platform: Platform, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Permission.MANAGE_TENANT)
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(users).where(users.c.tenant_id == principal.tenant_id).order_by(users.c.email)
        ).mappings()
        return [_public_user(r) for r in rows]


def update_user(
    platform: Platform, principal: Principal, user_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    principal.require(Permission.MANAGE_TENANT)
    values: dict[str, Any] = {}
    if "role" in changes and changes["role"] is not None:
        values["role"] = _role(changes["role"]).value
    if "disabled" in changes and changes["disabled"] is not None:
        values["disabled"] = bool(changes["disabled"])
    if "password" in changes and changes["password"] is not None:
        values["password_hash"] = hash_secret(check_password(changes["password"]))
    with platform.engine.begin() as conn:
        scope = (users.c.id == user_id) & (users.c.tenant_id == principal.tenant_id)
        row = conn.execute(select(users).where(scope)).mappings().first()
        if row is None:
            raise NotFound("no such user", key="error.not_found")
        if values:
            conn.execute(update(users).where(scope).values(**values))
        after = {**row, **values}
        image = _public_user(after)
        if "password_hash" in values:
            # The hash never enters the log, but the fact that the password changed must.
            image["password_changed"] = True
        audit.record(conn, principal, "update", "user", user_id, _public_user(row), image)
    return _public_user(after)


def login(platform: Platform, email: str, password: str) -> tuple[str, dict[str, Any]]:
    """An access token for valid credentials; the same error for every kind of failure."""
    with platform.engine.connect() as conn:
        row = (
            conn.execute(select(users).where(users.c.email == email.strip().lower()[:254])).mappings().first()
        )
    ok = verify_secret(row["password_hash"] if row else _DUMMY_HASH, password)
    if row is None or not ok or row["disabled"]:
        if row is not None:
            # Failed attempts against a real account are evidence of guessing: keep them.
            with platform.engine.begin() as conn:
                user = Principal(row["tenant_id"], Role(row["role"]), row["id"], f"user:{row['email']}")
                audit.record(conn, user, "login_failed", "user", row["id"])
        raise AuthenticationFailed("wrong e-mail or password", key="error.bad_login")
    token = platform.tokens.issue(row["id"], row["tenant_id"], row["role"])
    return token, _public_user(row)


def principal_from_access_token(platform: Platform, token: str) -> Principal:
    claims = platform.tokens.verify(token)
    with platform.engine.connect() as conn:
        row = conn.execute(
            select(users.c.email, users.c.role, users.c.disabled, users.c.tenant_id).where(
                users.c.id == claims.subject
            )
        ).first()
    # A deleted, disabled or moved user, or a role changed since the token was issued, ends the session.
    if row is None or row.disabled or row.tenant_id != claims.tenant_id or row.role != claims.role:
        raise AuthenticationFailed("access token no longer valid", key="error.token_invalid")
    return Principal(claims.tenant_id, Role(row.role), claims.subject, f"user:{row.email}")


def create_api_key(platform: Platform, principal: Principal, name: str, role: str) -> dict[str, Any]:
    principal.require(Permission.MANAGE_TENANT)
    if not name or len(name) > 64:
        raise InvalidInput("API key name must be 1-64 characters", key="error.bad_name")
    token = new_secret_token("ink")
    values = {
        "id": token.id,
        "tenant_id": principal.tenant_id,
        "name": name,
        "secret_hash": hash_secret(token.secret, machine=True),
        "role": _role(role).value,
        "revoked": False,
        "created_at": now_us(),
    }
    public = {"id": token.id, "name": name, "role": values["role"]}
    with platform.engine.begin() as conn:
        exists = conn.execute(
            select(api_keys.c.id).where(api_keys.c.tenant_id == principal.tenant_id, api_keys.c.name == name)
        ).first()
        if exists:
            raise Conflict(f"API key {name!r} exists already", key="error.exists")
        conn.execute(api_keys.insert().values(**values))
        audit.record(conn, principal, "create", "api_key", token.id, None, public)
    return {**public, "key": str(token)}


def list_api_keys(platform: Platform, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Permission.MANAGE_TENANT)
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(api_keys.c.id, api_keys.c.name, api_keys.c.role, api_keys.c.revoked).where(
                api_keys.c.tenant_id == principal.tenant_id
            )
        ).mappings()
        return [dict(r) for r in rows]


def revoke_api_key(platform: Platform, principal: Principal, key_id: str) -> None:
    principal.require(Permission.MANAGE_TENANT)
    with platform.engine.begin() as conn:
        scope = (api_keys.c.id == key_id) & (api_keys.c.tenant_id == principal.tenant_id)
        row = conn.execute(select(api_keys.c.revoked).where(scope)).first()
        if row is None:
            raise NotFound("no such API key", key="error.not_found")
        # Revoking twice changes nothing, so it leaves no second audit row.
        if not row.revoked:
            conn.execute(update(api_keys).where(scope).values(revoked=True))
            audit.record(conn, principal, "revoke", "api_key", key_id, {"revoked": False}, {"revoked": True})
    platform.forget_credential(key_id)


def principal_from_secret(platform: Platform, text: str) -> Principal:
    """An API key or device access token to its principal; AuthenticationFailed for anything else."""
    token = parse_secret_token(text)
    if token is None:
        raise AuthenticationFailed("unknown credential", key="error.token_invalid")
    cached = platform.cached_credential(token.id, text)
    if cached is not None:
        return cached
    with platform.engine.connect() as conn:
        if token.kind == "ink":
            key = conn.execute(select(api_keys).where(api_keys.c.id == token.id)).mappings().first()
            if key is None or key["revoked"] or not verify_secret(key["secret_hash"], token.secret):
                raise AuthenticationFailed("unknown credential", key="error.token_invalid")
            principal = Principal(key["tenant_id"], Role(key["role"]), key["id"], f"apikey:{key['name']}")
        else:
            row = conn.execute(
                select(
                    device_tokens.c.secret_hash,
                    device_tokens.c.revoked,
                    devices.c.id,
                    devices.c.name,
                    devices.c.tenant_id,
                )
                .join(devices, devices.c.id == device_tokens.c.device_id)
                .where(device_tokens.c.id == token.id)
            ).first()
            if row is None or row.revoked or not verify_secret(row.secret_hash, token.secret):
                raise AuthenticationFailed("unknown credential", key="error.token_invalid")
            principal = Principal(row.tenant_id, Role.DEVICE, row.id, f"device:{row.name}", device_id=row.id)
        tenant_ok = conn.execute(select(tenants.c.id).where(tenants.c.id == principal.tenant_id)).first()
    if tenant_ok is None:
        raise AuthenticationFailed("unknown credential", key="error.token_invalid")
    platform.remember_credential(token.id, text, principal)
    return principal
