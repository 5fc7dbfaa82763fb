"""Who is calling: the result of authentication, handed to every platform service."""

from __future__ import annotations

from dataclasses import dataclass

from indunet.security.rbac import Permission, Role, require


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    role: Role
    subject: str
    """Stable id of the user, API key or device."""
    label: str
    """What the audit log shows: ``user:alice@example.com``, ``apikey:etl``, ``device:cnc-01``."""
    device_id: str | None = None

    def require(self, permission: Permission) -> None:
        require(self.role, permission)

    @classmethod
    def system(cls, tenant_id: str, label: str = "system:cli") -> Principal:
        return cls(tenant_id=tenant_id, role=Role.ADMIN, subject="system", label=label)
