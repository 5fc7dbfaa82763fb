"""One exception tree for all of indunet.

    IndunetError                 base; never raised itself
    ├── InvalidInput             the caller sent something malformed or out of bounds (HTTP 422, CLI 2)
    │   └── PayloadTooLarge      a body, file or batch exceeds a configured limit (HTTP 413)
    ├── AuthenticationFailed     no, bad or expired credentials (HTTP 401)
    ├── PermissionDenied         authenticated, but the role does not allow it (HTTP 403)
    ├── NotFound                 no such object visible to this tenant (HTTP 404)
    ├── Conflict                 the object exists already or changed meanwhile (HTTP 409)
    ├── StorageError             the database refused or failed (HTTP 503)
    └── ConfigurationError       settings are inconsistent; raised at start-up (CLI 2)

Foreign exceptions (SQLAlchemy, psycopg, pydantic, PyJWT) are translated once, where they are caught
at a boundary, into the most specific subclass; the HTTP mapping lives in ``indunet.web.problems`` and
the CLI mapping in ``indunet.cli``. Each error carries a message key from the catalog in
``indunet.core.i18n`` plus parameters, so the same error reads in English and in Chinese.
"""

from __future__ import annotations

from typing import Any, ClassVar


class IndunetError(Exception):
    """Base of every error indunet raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, key: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.params = params

    def __str__(self) -> str:
        return self.message


class InvalidInput(IndunetError):
    status = 422
    code = "invalid-input"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message, key=key, **params)
        self.errors = errors or []


class PayloadTooLarge(InvalidInput):
    status = 413
    code = "payload-too-large"


class AuthenticationFailed(IndunetError):
    status = 401
    code = "authentication-failed"
    exit_code = 2


class PermissionDenied(IndunetError):
    status = 403
    code = "permission-denied"
    exit_code = 2


class NotFound(IndunetError):
    status = 404
    code = "not-found"
    exit_code = 2


class Conflict(IndunetError):
    status = 409
    code = "conflict"
    exit_code = 2


class StorageError(IndunetError):
    status = 503
    code = "storage-unavailable"
    exit_code = 1


class ConfigurationError(IndunetError):
    status = 500
    code = "configuration"
    exit_code = 2
