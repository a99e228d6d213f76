"""API keys over time, on the real key store: several keys per subject, one revoked by id, expiry,
and the operator's `keys` CLI (which never shows a key or its hash)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import httpx
import pytest
from fastapi import Depends, FastAPI

from services.runtime.auth import Principal, create_key, hash_key, key_id, principal_for, require
from services.runtime.db import migrate
from services.runtime.roles import Role
from services.runtime.service import AUTH_MIGRATIONS
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.polling import eventually

AGB = "12345678"


def keys_cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.runtime.keys", *args],
        cwd=REPO,
        env={**os.environ, **env},
        check=check,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def env(infra: Infrastructure, isolation: Isolation) -> dict[str, str]:
    return isolation.env(infra)


@pytest.fixture
async def store(db: asyncpg.Pool) -> asyncpg.Pool:
    await migrate(db, "auth", AUTH_MIGRATIONS)
    return db


@pytest.fixture
async def api(store: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """A route behind the one auth dependency, reading keys from the test's store."""
    app = FastAPI()
    app.state.runtime = SimpleNamespace(auth_pool=store)

    @app.get("/whoami")
    async def whoami(by: Principal = Depends(require(Role.PROVIDER))) -> dict[str, str]:
        return {"actor": by.actor}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def status(api: httpx.AsyncClient, key: str) -> int:
    return (await api.get("/whoami", headers={"Authorization": f"Bearer {key}"})).status_code


async def test_revoking_one_key_by_id_leaves_the_other_key_of_the_subject_working(
    env: dict[str, str], store: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    old = keys_cli(env, "create", "--role", "provider", "--subject", AGB, "--label", "old").stdout.strip()
    new = keys_cli(env, "create", "--role", "provider", "--subject", AGB, "--label", "new").stdout.strip()
    assert old.startswith("sk_") and "\n" not in old  # stdout holds only the key
    assert (await status(api, old), await status(api, new)) == (200, 200)

    listing = keys_cli(env, "list", "--subject", AGB).stdout
    assert key_id(old) in listing and key_id(new) in listing
    assert old not in listing and hash_key(old) not in listing and new not in listing

    revoked = keys_cli(env, "revoke", key_id(old))
    assert f"revoked key {key_id(old)} of provider:{AGB}" in revoked.stdout
    assert (await status(api, old), await status(api, new)) == (401, 200)
    states = {line.split()[0]: line.split()[3] for line in keys_cli(env, "list").stdout.splitlines()[1:]}
    assert states == {key_id(old): "revoked", key_id(new): "active"}
    assert keys_cli(env, "revoke", key_id(old), check=False).returncode == 1  # already revoked


async def test_revoking_every_key_of_a_subject_must_be_asked_for_with_all(
    env: dict[str, str], store: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    first, second = await create_key(store, Role.PROVIDER, AGB), await create_key(store, Role.PROVIDER, AGB)
    other = await create_key(store, Role.PROVIDER, "87654321")
    refused = keys_cli(env, "revoke", "--role", "provider", "--subject", AGB, check=False)
    assert refused.returncode != 0 and "--all" in refused.stderr
    assert await status(api, first) == 200

    done = keys_cli(env, "revoke", "--all", "--role", "provider", "--subject", AGB)
    assert done.stdout.strip() == "revoked 2 key(s)"
    assert (await status(api, first), await status(api, second), await status(api, other)) == (401, 401, 200)


async def test_an_expired_key_authenticates_as_unknown(store: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    lasting = await create_key(store, Role.PROVIDER, AGB)
    brief = await create_key(store, Role.PROVIDER, AGB, expires_at=datetime.now(UTC) + timedelta(seconds=2))
    assert await status(api, brief) == 200
    assert (await principal_for(store, brief)) == Principal(Role.PROVIDER, AGB)

    async def refused() -> bool:
        return await status(api, brief) == 401

    await eventually(refused, timeout=10, what="the key to expire")
    assert await principal_for(store, brief) is None
    assert await status(api, lasting) == 200


async def test_the_cli_sets_an_expiry_and_lists_it(env: dict[str, str], store: asyncpg.Pool) -> None:
    key = keys_cli(env, "create", "--role", "gemeente", "--subject", "0402", "--expires-in-days", "30").stdout.strip()
    expires = await store.fetchval("SELECT expires_at FROM api_key WHERE id = $1", key_id(key))
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    [row] = keys_cli(env, "list", "--role", "gemeente", "--active").stdout.splitlines()[1:]
    assert row.split()[:4] == [key_id(key), "gemeente", "0402", "active"]
    assert row.split()[5] == expires.strftime("%Y-%m-%dT%H:%MZ")
    past = keys_cli(env, "create", "--role", "gemeente", "--subject", "0402", "--expires-at", "2020-01-01", check=False)
    assert past.returncode != 0 and "lies in the past" in past.stderr
    assert await store.fetchval("SELECT count(*) FROM api_key") == 1


async def test_keys_made_before_ids_existed_get_an_id_from_their_hash(store: asyncpg.Pool) -> None:
    # What rows written by the previous code (no id, no expiry) look like after the migration.
    await store.execute(
        "INSERT INTO api_key (key_hash, role, subject) VALUES ($1, 'operator', 'operator')", hash_key("sk_legacy")
    )
    assert await store.fetchval("SELECT id FROM api_key") == key_id("sk_legacy")
    principal = await principal_for(store, "sk_legacy")
    assert principal == Principal(Role.OPERATOR, "operator") and principal.key_id == key_id("sk_legacy")
