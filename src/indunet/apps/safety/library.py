"""Risk feature libraries per tenant: imported versions, the one in use (the newest), the shipped default
when a tenant has imported none."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from indunet.apps.safety.features import Library, default_library, digest, parse_library
from indunet.core.errors import Conflict, NotFound
from indunet.core.signals import Signal
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import audit
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.safety import safety_feature_libraries as libraries

# Sent with the tenant id after an import, so running monitors take the new version at once.
_imports: Signal[[Platform, str]] = Signal()
on_import = _imports.connect


def _summary(
    library: Library, sha256: str, imported_at: int | None, imported_by: str | None
) -> dict[str, Any]:
    return {
        "version": library.version,
        "title": library.title,
        "features": len(library.features),
        "failure_modes": len(library.failure_modes),
        "sha256": sha256,
        "imported_at": None if imported_at is None else to_rfc3339(imported_at),
        "imported_by": imported_by,
    }


def import_library(platform: Platform, principal: Principal, content: bytes | str) -> dict[str, Any]:
    """Store a new version; importing the same version with the same content again is a no-op, with other
    content a conflict (a version names one content for good)."""
    principal.require(Permission.WRITE_DEVICES)
    library = parse_library(content)
    sha = digest(library)
    now = now_us()
    with platform.engine.begin() as conn:
        known = conn.execute(
            select(libraries.c.sha256, libraries.c.imported_at, libraries.c.imported_by).where(
                libraries.c.tenant_id == principal.tenant_id, libraries.c.version == library.version
            )
        ).first()
        if known is not None:
            if known.sha256 != sha:
                raise Conflict(
                    f"version {library.version} exists with other content; give the library a new version",
                    key="error.library_version_taken",
                    version=library.version,
                )
            return _summary(library, sha, known.imported_at, known.imported_by)
        conn.execute(
            libraries.insert().values(
                id=str(uuid.uuid4()),
                tenant_id=principal.tenant_id,
                version=library.version,
                document=library.model_dump(mode="json"),
                sha256=sha,
                imported_at=now,
                imported_by=principal.label,
            )
        )
        summary = _summary(library, sha, now, principal.label)
        audit.record(conn, principal, "import", "safety_features", library.version, None, summary)
    _imports.send(platform, principal.tenant_id)
    return summary


def active(platform: Platform, tenant_id: str) -> Library:
    with platform.engine.connect() as conn:
        document = conn.execute(
            select(libraries.c.document)
            .where(libraries.c.tenant_id == tenant_id)
            .order_by(libraries.c.imported_at.desc())
            .limit(1)
        ).scalar()
    return default_library() if document is None else Library.model_validate(document)


def versions(platform: Platform, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        rows = (
            conn.execute(
                select(libraries)
                .where(libraries.c.tenant_id == principal.tenant_id)
                .order_by(libraries.c.imported_at.desc())
            )
            .mappings()
            .all()
        )
    out = [
        _summary(Library.model_validate(r["document"]), r["sha256"], r["imported_at"], r["imported_by"])
        for r in rows
    ]
    if not out:
        shipped = default_library()
        out.append({**_summary(shipped, digest(shipped), None, None), "shipped": True})
    return out


def document(platform: Platform, principal: Principal, version: str | None = None) -> dict[str, Any]:
    """The library in use (or the given version) as a document."""
    principal.require(Permission.READ)
    if version is None:
        return active(platform, principal.tenant_id).model_dump(mode="json")
    with platform.engine.connect() as conn:
        found = conn.execute(
            select(libraries.c.document).where(
                libraries.c.tenant_id == principal.tenant_id, libraries.c.version == version
            )
        ).scalar()
    if found is None:
        if version == default_library().version:
            return default_library().model_dump(mode="json")
        raise NotFound(f"no feature library version {version!r}", key="error.no_library", version=version)
    return dict(found)
