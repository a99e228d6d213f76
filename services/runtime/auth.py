"""API keys and roles: ``Authorization: Bearer <key>``; keys are stored as SHA-256 hashes.

Keys are 256-bit random tokens, so a fast hash is enough: unlike passwords they cannot be
guessed from a dictionary, and a per-request lookup must stay cheap. A subject may hold several
keys (to rotate without a gap); each has a short id — the first characters of its hash, safe to
print — by which it is listed and revoked, and may expire.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import HTTPException, Request
from fastapi.security import HTTPBearer
from pydantic import TypeAdapter, ValidationError

from services.runtime.roles import Role
from services.runtime.signal import PgSignal

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

KEY_PREFIX = "sk_"
# NOTIFY channel (plus "_<schema of the key store>") on which a revocation reaches every service.
KEYS_CHANNEL = "schakel_keys"
# How long a service trusts a key it looked up, at most; a revocation ends it at once (``KeyCache``).
KEY_CACHE_SECONDS = 10.0
KEY_CACHE_SIZE = 10_000
KEY_ID_LENGTH = 12  # hex digits of the hash; the migration derives the same id in SQL
_NL = ZoneInfo("Europe/Amsterdam")


# What a key's subject must look like, per role (ARCHITECTURE §4).
_SUBJECT_FORMS: dict[Role, tuple[re.Pattern[str], str]] = {
    Role.PROVIDER: (re.compile(r"^\d{8}$"), "an AGB code of 8 digits"),
    Role.GEMEENTE: (re.compile(r"^\d{4}$"), "a CBS municipality code of 4 digits"),
    Role.REFERRER: (re.compile(r"^(0[1-6]|08):\d{8}$"), "referrer type (COD327) and AGB, e.g. 02:12345678"),
    # The network of a pool: its handle starts with the pool's name, so a key says whose network it is.
    Role.EXPERTISENETWERK: (
        re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*(\.[\w-]{1,40})?$"),
        "the pool's name, optionally with a team handle, e.g. midden-nederland or midden-nederland.jzp",
    ),
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


def key_id(key: str) -> str:
    """The printable id of a key: not secret, and its holder can compute it to name the key."""
    return hash_key(key)[:KEY_ID_LENGTH]


def key_expiry(now: datetime, in_days: int | None = None, at: str | None = None) -> datetime | None:
    """When a new key stops working: ``in_days`` from ``now``, or ``at`` (ISO date or date-time;
    without a zone it is Dutch time, a bare date its midnight), or never. Must lie in the future."""
    if in_days is not None and at is not None:
        raise ValueError("give an expiry in days or a moment, not both")
    if in_days is not None:
        if in_days < 1:
            raise ValueError(f"expires-in-days must be at least 1, not {in_days}")
        return now + timedelta(days=in_days)
    if at is None:
        return None
    try:
        moment = TypeAdapter(datetime).validate_python(at)  # a bare date reads as its midnight
    except ValidationError:
        raise ValueError(f"expires-at {at!r} is not an ISO date or date-time, e.g. 2027-01-31") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_NL)
    moment = moment.astimezone(UTC)
    if moment <= now:
        raise ValueError(f"expires-at {at} lies in the past")
    return moment


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str
    # Which key authenticated: lets a limit or an audit name one key without its secret.
    key_id: str | None = field(default=None, compare=False)

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


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never the key or its hash."""

    id: str
    role: Role
    subject: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


async def create_key(
    pool: asyncpg.Pool, role: Role, subject: str, label: str = "", expires_at: datetime | None = None
) -> str:
    check_subject(role, subject)
    key = new_key()
    await pool.execute(
        "INSERT INTO api_key (key_hash, role, subject, label, expires_at) VALUES ($1, $2, $3, $4, $5)",
        hash_key(key),
        role.value,
        subject,
        label,
        expires_at,
    )
    return key


async def revoke_keys(pool: asyncpg.Pool, role: Role, subject: str) -> int:
    """Revoke every active key of a role and subject (a leaked subject, an ended contract)."""
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.execute(
            "UPDATE api_key SET revoked_at = now() WHERE role = $1 AND subject = $2 AND revoked_at IS NULL",
            role.value,
            subject,
        )
        await _announce_revocation(conn)
    return int(status.split()[-1])


async def revoke_key(pool: asyncpg.Pool, id: str) -> KeyInfo | None:
    """Revoke one key by its id; None when no unrevoked key has that id."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE api_key SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING {_INFO_COLUMNS}",
            id,
        )
        await _announce_revocation(conn)
    return _info(row) if row else None


async def _announce_revocation(conn: PoolConnectionProxy[asyncpg.Record]) -> None:
    # Delivered at commit to every running service's ``KeyCache``, which forgets what it knew.
    await conn.execute("SELECT pg_notify($1 || '_' || current_schema(), '')", KEYS_CHANNEL)


async def list_keys(pool: asyncpg.Pool, role: Role | None = None, subject: str | None = None) -> list[KeyInfo]:
    rows = await pool.fetch(
        f"""SELECT {_INFO_COLUMNS} FROM api_key
            WHERE ($1::text IS NULL OR role = $1) AND ($2::text IS NULL OR subject = $2)
            ORDER BY role, subject, created_at""",
        role.value if role else None,
        subject,
    )
    return [_info(r) for r in rows]


_INFO_COLUMNS = "id, role, subject, label, created_at, expires_at, revoked_at"


def _info(row: asyncpg.Record) -> KeyInfo:
    return KeyInfo(
        row["id"],
        Role(row["role"]),
        row["subject"],
        row["label"],
        row["created_at"],
        row["expires_at"],
        row["revoked_at"],
    )


async def principal_for(pool: asyncpg.Pool, key: str) -> Principal | None:
    """Who a key acts for; None for an unknown, revoked or expired key."""
    row = await pool.fetchrow(
        """SELECT role, subject, id FROM api_key
           WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())""",
        hash_key(key),
    )
    return Principal(Role(row["role"]), row["subject"], row["id"]) if row else None


class KeyCache:
    """Who each recently seen key acts for, so a request spends no round trip on its key.

    Safe against revocation: ``revoke_key``/``revoke_keys`` NOTIFY ``KEYS_CHANNEL`` in their
    transaction, and ``signal`` (a ``PgSignal`` listening on it) hands out a new event on every
    notification and on every (re)connection of its listener, after which nothing cached before
    is used. Nothing is cached while the listener is not connected (a notification could be lost),
    a lookup that a notification overtook is not kept, and an entry lives at most
    ``ttl_seconds`` and never past the key's expiry. Unknown keys are never cached: a new key
    works at once.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        signal: PgSignal,
        *,
        ttl_seconds: float = KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._signal = signal
        self._ttl = ttl_seconds
        self._clock = clock
        self._generation = signal.current()
        self._known: dict[str, tuple[Principal, datetime | None, float]] = {}

    async def principal(self, key: str) -> Principal | None:
        """Who ``key`` acts for; None for an unknown, revoked or expired key."""
        digest = hash_key(key)
        if self._signal.current() is not self._generation:
            self._known.clear()
            self._generation = self._signal.current()
        cached = self._known.get(digest)
        if cached is not None:
            principal, expires_at, cached_at = cached
            if self._clock() - cached_at < self._ttl and (expires_at is None or expires_at > datetime.now(UTC)):
                return principal
            del self._known[digest]
        generation, listening = self._signal.current(), self._signal.listening.is_set()
        found = await _principal_and_expiry(self._pool, digest)
        if found is None:
            return None
        if listening and self._signal.current() is generation:
            if len(self._known) >= KEY_CACHE_SIZE:
                self._known.clear()
            self._known[digest] = (*found, self._clock())
        return found[0]


async def _principal_and_expiry(pool: asyncpg.Pool, digest: str) -> tuple[Principal, datetime | None] | None:
    row = await pool.fetchrow(
        """SELECT role, subject, id, expires_at FROM api_key
           WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())""",
        digest,
    )
    return (Principal(Role(row["role"]), row["subject"], row["id"]), row["expires_at"]) if row else None


async def authenticate(request: Request) -> Principal:
    """Who the request's API key acts for; raises 401 without a known key."""
    from services.runtime.edge import admission_of  # the edge imports this module

    admission = admission_of(request.scope)
    if admission is not None:
        # The edge looked the key up (and counted it against the rate limit) before the body was
        # read, or does so now for a route that reads no body: once per request either way.
        return await admission.admit()
    key = bearer_key(request.headers.get("authorization"))
    if key is None:
        raise HTTPException(
            401, "missing API key: send 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"}
        )
    principal = await principal_for(request.app.state.runtime.auth_pool, key)
    if principal is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return principal


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header; None when there is none."""
    scheme, _, key = (authorization or "").partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


class Require(HTTPBearer):
    """The route dependency that admits only ``roles`` and returns the caller's ``Principal``.

    One dependency, where a chain of three (the role check on the key lookup on FastAPI's bearer
    header parser) had FastAPI resolve a dependency three times on every request (issue 13). As an
    ``HTTPBearer`` it still declares the bearer scheme in the OpenAPI document, under its usual name.
    """

    def __init__(self, *roles: Role) -> None:
        super().__init__(
            auto_error=False, scheme_name="HTTPBearer", description="An API key: `Authorization: Bearer sk_...`"
        )
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await authenticate(request)
        if principal.role not in self.roles:
            allowed = ", ".join(r.value for r in self.roles)
            raise HTTPException(403, f"role {principal.role} may not do this; allowed: {allowed}")
        return principal


def require(*roles: Role) -> Require:
    """A FastAPI dependency that admits only ``roles`` and returns the caller's ``Principal``."""
    return Require(*roles)
