"""API keys and roles: ``Authorization: Bearer <key>``; keys are stored as SHA-256 hashes.

Keys are 256-bit random tokens, so a fast hash is enough: unlike passwords they cannot be
guessed from a dictionary, and a per-request lookup must stay cheap.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

KEY_PREFIX = "sk_"


class Role(StrEnum):
    REFERRER = "referrer"
    GEMEENTE = "gemeente"
    PROVIDER = "provider"
    SCHAKELFUNCTIONARIS = "schakelfunctionaris"
    EXPERTTEAM = "expertteam"
    OPERATOR = "operator"
    ADMIN = "admin"


# What a key's subject must look like, per role (ARCHITECTURE §4).
_SUBJECT_FORMS: dict[Role, tuple[re.Pattern[str], str]] = {
    Role.PROVIDER: (re.compile(r"^\d{8}$"), "an AGB code of 8 digits"),
    Role.GEMEENTE: (re.compile(r"^\d{4}$"), "a CBS municipality code of 4 digits"),
    Role.REFERRER: (re.compile(r"^(0[1-6]|08):\d{8}$"), "referrer type (COD327) and AGB, e.g. 02:12345678"),
}
# A team or role handle ("sf.gooi"), never a person's e-mail address: handles end up in events.
_FREE_SUBJECT = (re.compile(r"^[\w.-]{1,64}$"), "a team handle of letters, digits, '.' or '-' (no e-mail address)")


def check_subject(role: Role, subject: str) -> None:
    pattern, form = _SUBJECT_FORMS.get(role, _FREE_SUBJECT)
    if not pattern.match(subject):
        raise ValueError(f"subject {subject!r} for role {role} must be {form}")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str

    @property
    def actor(self) -> str:
        """How a record names who did something: role and subject, never a person's name."""
        return f"{self.role}:{self.subject}"

    @property
    def agb(self) -> str | None:
        """The AGB code a provider or referrer key acts for."""
        if self.role is Role.PROVIDER:
            return self.subject
        if self.role is Role.REFERRER:
            return self.subject.split(":", 1)[1]
        return None


async def create_key(pool: asyncpg.Pool, role: Role, subject: str, label: str = "") -> str:
    check_subject(role, subject)
    key = new_key()
    await pool.execute(
        "INSERT INTO api_key (key_hash, role, subject, label) VALUES ($1, $2, $3, $4)",
        hash_key(key), role.value, subject, label,
    )
    return key


async def revoke_keys(pool: asyncpg.Pool, role: Role, subject: str) -> int:
    status = await pool.execute(
        "UPDATE api_key SET revoked_at = now() WHERE role = $1 AND subject = $2 AND revoked_at IS NULL",
        role.value, subject,
    )
    return int(status.split()[-1])


async def principal_for(pool: asyncpg.Pool, key: str) -> Principal | None:
    row = await pool.fetchrow(
        "SELECT role, subject FROM api_key WHERE key_hash = $1 AND revoked_at IS NULL", hash_key(key)
    )
    return Principal(Role(row["role"]), row["subject"]) if row else None


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sk_...`")


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if credentials is None:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = await principal_for(request.app.state.runtime.auth_pool, credentials.credentials)
    if principal is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require(*roles: Role):
    """A FastAPI dependency that admits only ``roles`` and returns the caller's ``Principal``."""

    async def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(403, f"role {principal.role} may not do this; allowed: {allowed}")
        return principal

    return dependency
