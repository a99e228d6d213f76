"""Floor (a): the least a referral endpoint can do — FastAPI + uvicorn + asyncpg, one row per request.

Served as its own process (``python -m uvicorn tests.perf.floor_api:app``) with
``FLOOR_DATABASE_URL`` and ``FLOOR_DB_SCHEMA``; it stores the request body as one jsonb row and
answers 201, nothing else: no validation, no authentication, no outbox. Schakel's
``POST /v1/referrals`` is measured beside it in the same run (tests/perf/test_intake_floor.py), and
the other write routes beside its catch-all route (tests/perf/test_write_routes.py).

``POST /v1/referrals/transactional`` is the same with what a transactional outbox cannot do
without: the row and an outbox row written in one transaction. It shows how much of Schakel's
distance to the floor is the pattern itself (a transaction: BEGIN, two statements, COMMIT), and
how much is Schakel's own code.

``POST /v1/referrals/rows`` writes, in one transaction, every row intake writes for a referral,
with intake's own statement (``PostgresIntakeStore.register_referral``) into intake's own tables
(made by its migrations and the runtime's, in a schema of their own) through a pool like intake's:
the youth, the referral, its first history step, a verblijf place of the day, and the outbox row.
It leaves out everything else Schakel does: validation, authentication, pseudonymisation, sealing,
the event's envelope, the relay. It shows what intake's rows cost PostgreSQL and asyncpg when the
Python around them is bare. (The two routes above use asyncpg's default pool, which resets each
connection it takes back with one more round trip; intake's pool does not, and nor does this one.)
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.app import MIGRATIONS as INTAKE_MIGRATIONS
from services.intake.store import PostgresIntakeStore, VerblijfPlace
from services.runtime import db
from services.runtime.service import RUNTIME_MIGRATIONS


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    schema = os.environ["FLOOR_DB_SCHEMA"]
    url = os.environ["FLOOR_DATABASE_URL"]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".referrals (id uuid PRIMARY KEY, body jsonb NOT NULL)'
        )
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".writes (id uuid PRIMARY KEY, path text NOT NULL, body jsonb NOT NULL)'
        )
        await conn.execute(
            f'''CREATE TABLE IF NOT EXISTS "{schema}".outbox (
                   seq bigserial PRIMARY KEY, event_id uuid NOT NULL, topic text NOT NULL, key text NOT NULL,
                   payload bytea NOT NULL)'''
        )
    finally:
        await conn.close()
    app.state.pool = await asyncpg.create_pool(url, min_size=1, max_size=10, server_settings={"search_path": schema})
    app.state.rows = await _intake_tables(url, f"{schema}_rows")
    # The intake benchmark's daily cap: a random place of so many seldom collides, and the
    # statement checks the cap as intake's does.
    app.state.places = int(os.environ["FLOOR_VERBLIJF_PLACES"])
    try:
        yield
    finally:
        await app.state.pool.close()
        await app.state.rows.close()


async def _intake_tables(url: str, schema: str) -> asyncpg.Pool:
    """Intake's tables as a running intake has them, in ``schema``, and a pool like intake's on them
    (no reset round trip when a connection goes back, unlike the pool of the routes above)."""
    pool = await db.create_pool(url, schema)
    await db.migrate(pool, "runtime", RUNTIME_MIGRATIONS)
    await db.migrate(pool, "intake", INTAKE_MIGRATIONS)
    return pool


app = FastAPI(lifespan=lifespan)


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/referrals", status_code=201)
async def create_referral(body: dict[str, Any], request: Request) -> JSONResponse:
    referral_id = uuid.uuid4()
    await request.app.state.pool.execute(
        "INSERT INTO referrals (id, body) VALUES ($1, $2::jsonb)", referral_id, json.dumps(body)
    )
    return JSONResponse({"referral_id": str(referral_id)}, status_code=201)


@app.post("/v1/referrals/transactional", status_code=201)
async def create_referral_with_event(body: dict[str, Any], request: Request) -> JSONResponse:
    """The row and an event announcing it, in one transaction: a transactional outbox's least."""
    referral_id = uuid.uuid4()
    row = json.dumps(body)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO referrals (id, body) VALUES ($1, $2::jsonb)", referral_id, row)
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, payload) VALUES ($1, 'referrals', $2, $3)",
            uuid.uuid4(),
            str(referral_id),
            row.encode(),
        )
    return JSONResponse({"referral_id": str(referral_id)}, status_code=201)


@app.post("/v1/referrals/rows", status_code=201)
async def create_referral_rows(body: dict[str, Any], request: Request) -> JSONResponse:
    """Intake's rows for a referral, by intake's statement, and its outbox row, in one transaction."""
    referral_id, now = uuid.uuid4(), datetime.now(UTC)
    client, referrer = body.get("client", {}), body.get("referrer", {})
    client_ref = hashlib.sha256(str(client.get("bsn")).encode()).hexdigest()
    values = {
        "id": referral_id,
        "client_ref": client_ref,
        "age": 15,
        "municipality_code": client.get("municipality_code", ""),
        "referrer_type": referrer.get("type", ""),
        "referrer_agb": referrer.get("agb"),
        "veilig_thuis": False,
        "provider_agb": None,
        "contracted_provider": None,
        "product_category": body.get("product_category", ""),
        "settings": body.get("settings", []),
        "urgency": body.get("urgency", ""),
        "ambulant_tried": bool(body.get("ambulant_tried")),
        "needs_gemeente_decision": False,
        "referral_date": now.date(),
        "received_at": now,
        "submitted_by": "floor",
        "status": "received",
    }
    row = json.dumps(body)
    async with request.app.state.rows.acquire() as conn, conn.transaction():
        await PostgresIntakeStore(conn).register_referral(
            json.dumps(client).encode(),
            values,
            "",
            VerblijfPlace("floor", now.date(), random.randint(1, request.app.state.places), request.app.state.places),
        )
        await conn.execute(
            """INSERT INTO outbox (event_id, topic, event_type, key, payload, headers)
               VALUES ($1, 'referrals', 'ReferralReceived', $2, $3, '{}'::jsonb)""",
            uuid.uuid4(),
            str(referral_id),
            row.encode(),
        )
    return JSONResponse({"referral_id": str(referral_id)}, status_code=201)


@app.api_route("/{path:path}", methods=["POST", "PUT"], status_code=200)
async def write(path: str, body: dict[str, Any], request: Request) -> JSONResponse:
    """The floor of every other write route (tests/perf/test_write_routes.py): the body stored as one row."""
    await request.app.state.pool.execute(
        "INSERT INTO writes (id, path, body) VALUES ($1, $2, $3::jsonb)", uuid.uuid4(), path, json.dumps(body)
    )
    return JSONResponse({"stored": True}, status_code=201 if request.method == "POST" else 200)
