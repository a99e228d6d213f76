"""The real Kafka broker and PostgreSQL the integration and e2e tests run against.

Started once per session by ``deploy/local/up.sh`` (idempotent), unless
``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` point at running ones. Each test gets its own
PostgreSQL schema and topic namespace, so tests never see each other's data.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL_DATABASE_URL = "postgresql://schakel:schakel@127.0.0.1:5432/schakel_test?sslmode=disable"


@dataclass(frozen=True)
class Infrastructure:
    kafka: str
    database_url: str


def ensure_infrastructure() -> Infrastructure:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = os.environ.get("DATABASE_URL")
    if not (kafka and database_url):
        # A missing broker or database is an error, never a reason to skip.
        subprocess.run([str(REPO / "deploy/local/up.sh")], check=True, stdin=subprocess.DEVNULL)
    return Infrastructure(kafka or "127.0.0.1:9092", database_url or LOCAL_DATABASE_URL)


@dataclass(frozen=True)
class Isolation:
    """A test's own schema and topic namespace."""

    schema: str
    namespace: str

    @classmethod
    def new(cls) -> Isolation:
        tag = uuid.uuid4().hex[:12]
        return cls(schema=f"t_{tag}", namespace=f"t{tag}")

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def env(self, infra: Infrastructure) -> dict[str, str]:
        """Environment variables that put a service process into this isolation."""
        return {
            "SCHAKEL_KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
            "SCHAKEL_DATABASE_URL": infra.database_url,
            "SCHAKEL_DB_SCHEMA": self.schema,
            "SCHAKEL_AUTH_DATABASE_URL": infra.database_url,
            "SCHAKEL_AUTH_DB_SCHEMA": self.schema,
            "SCHAKEL_TOPIC_NAMESPACE": self.namespace,
            "SCHAKEL_KAFKA_PARTITIONS": "1",
            # Intake's public development secrets; the refusal without them has its own test.
            "SCHAKEL_DEV_MODE": "true",
        }

    def settings(self, cls, infra: Infrastructure, **overrides):  # type: ignore[no-untyped-def]
        return cls(
            kafka_bootstrap_servers=infra.kafka,
            database_url=infra.database_url,
            db_schema=self.schema,
            auth_database_url=infra.database_url,
            auth_db_schema=self.schema,
            topic_namespace=self.namespace,
            kafka_partitions=1,
            **overrides,
        )


class ThrowawayKafka:
    """A second, private broker a test may stop and start (the session's broker stays untouched)."""

    def __init__(self, state_dir: Path, port: int, controller_port: int) -> None:
        self.bootstrap = f"127.0.0.1:{port}"
        self._env = {
            **os.environ,
            "KAFKA_PORT": str(port),
            "KAFKA_CONTROLLER_PORT": str(controller_port),
            "KAFKA_STATE_DIR": str(state_dir),
        }

    def _run(self, action: str) -> None:
        subprocess.run(
            [str(REPO / "deploy/local/kafka.sh"), action],
            env=self._env,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")


async def drop_schemas(database_url: str, isolation: Isolation) -> None:
    """Drop the test's schema and the per-service schemas derived from it."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        names = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $1 || '\\_%'", isolation.schema
        )
        for row in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
    finally:
        await conn.close()
