"""Short-lived JWT access tokens for people.

The algorithm is pinned to HS256 on both sides, so a token claiming ``alg: none`` or an asymmetric
algorithm (the classic key-confusion attack) is refused before its signature is even considered.
Expiry, issuer and audience are required claims and checked on every request.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from indunet.core.errors import AuthenticationFailed

ALGORITHM = "HS256"
_LEEWAY_S = 5


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    tenant_id: str
    role: str
    expires_at: int


class AccessTokenCodec:
    def __init__(self, secret: str, issuer: str, audience: str, ttl_s: int) -> None:
        if len(secret) < 32:
            raise ValueError("JWT secret must be at least 32 characters")
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s

    def issue(self, subject: str, tenant_id: str, role: str, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "sub": subject,
            "tid": tenant_id,
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        if len(token) > 4096:
            raise AuthenticationFailed("access token too long", key="error.token_invalid")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=_LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "tid", "role"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationFailed("access token expired", key="error.token_expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthenticationFailed(f"access token invalid: {exc}", key="error.token_invalid") from exc
        return AccessClaims(
            subject=str(claims["sub"]),
            tenant_id=str(claims["tid"]),
            role=str(claims["role"]),
            expires_at=int(claims["exp"]),
        )
