"""Roles and what they may do inside their own tenant.

admin     everything, including users, API keys and tenant settings
engineer  devices, device types, telemetry, twins; no user management
viewer    read only
device    a device's own access token: write its own telemetry, read its own twin
"""

from __future__ import annotations

from enum import StrEnum

from indunet.core.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    ENGINEER = "engineer"
    VIEWER = "viewer"
    DEVICE = "device"


class Permission(StrEnum):
    READ = "read"
    WRITE_DEVICES = "write:devices"
    WRITE_TELEMETRY = "write:telemetry"
    MANAGE_TENANT = "manage:tenant"
    READ_AUDIT = "read:audit"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ENGINEER: frozenset(
        {Permission.READ, Permission.WRITE_DEVICES, Permission.WRITE_TELEMETRY, Permission.READ_AUDIT}
    ),
    Role.VIEWER: frozenset({Permission.READ}),
    Role.DEVICE: frozenset({Permission.WRITE_TELEMETRY}),
}

HUMAN_ROLES = (Role.ADMIN, Role.ENGINEER, Role.VIEWER)


def allowed(role: Role, permission: Permission) -> bool:
    return permission in _GRANTS[role]


def require(role: Role, permission: Permission) -> None:
    if not allowed(role, permission):
        raise PermissionDenied(
            f"role {role.value} may not {permission.value}",
            key="error.permission_denied",
            role=role.value,
            permission=permission.value,
        )
