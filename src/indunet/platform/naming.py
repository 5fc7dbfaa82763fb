"""Rules for the names people give things (tenants, devices, API keys), checked in one place."""

from __future__ import annotations

import re

from indunet.core.errors import InvalidInput

_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DEVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")


def check_tenant_name(name: str) -> str:
    if not _TENANT.match(name):
        raise InvalidInput(
            f"tenant name {name!r}: use 1-64 lower-case letters, digits, '-' or '_'",
            key="error.bad_tenant_name",
            name=name,
        )
    return name


def check_device_name(name: str) -> str:
    if not _DEVICE.match(name):
        raise InvalidInput(
            f"device name {name!r}: use 1-128 letters, digits, '.', ':', '-' or '_'",
            key="error.bad_device_name",
            name=name,
        )
    return name


def check_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput(f"not an e-mail address: {email!r}", key="error.bad_email", email=email)
    return email


def check_password(password: str) -> str:
    if not 8 <= len(password) <= 1024:
        raise InvalidInput("password must be 8 to 1024 characters", key="error.bad_password")
    return password
