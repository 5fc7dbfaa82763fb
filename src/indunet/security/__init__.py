"""Security primitives: password and secret hashing, access tokens, roles and principals.

Pure functions over values; the database-bound account and audit services live in the platform.
"""

from indunet.security.passwords import hash_secret, verify_secret
from indunet.security.principal import Principal
from indunet.security.rbac import Permission, Role, allowed, require
from indunet.security.secrets import SecretToken, new_secret_token, parse_secret_token
from indunet.security.tokens import AccessTokenCodec

__all__ = [
    "AccessTokenCodec",
    "Permission",
    "Principal",
    "Role",
    "SecretToken",
    "allowed",
    "hash_secret",
    "new_secret_token",
    "parse_secret_token",
    "require",
    "verify_secret",
]
