"""Any number of processes may start at once: on fresh databases, on a fresh Kafka."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg

from services.runtime.service import AUTH_MIGRATIONS, RUNTIME_MIGRATIONS
from tests.support.infra import REPO, Infrastructure, Isolation, ThrowawayKafka
from tests.support.polling import eventually
from tests.support.server import free_port

STARTS = 8
GATE = 7_345_001  # an advisory lock key the test holds until every process waits on it

# One service's start in a process of its own: its pool, then a wait at the gate, then the
# migrations of its schema and of the shared key database, as every service does first.
START_SCRIPT = """
import asyncio, sys
import asyncpg
from services.runtime.db import create_pool, migrate
from services.runtime.service import AUTH_MIGRATIONS, RUNTIME_MIGRATIONS

async def main(url, schema, gate):
    pool = await create_pool(url, schema, max_size=2)
    conn = await asyncpg.connect(url)
    await conn.execute("SELECT pg_advisory_lock_shared($1)", gate)
    await migrate(pool, "runtime", RUNTIME_MIGRATIONS)
    await migrate(pool, "auth", AUTH_MIGRATIONS)
    await conn.close()
    await pool.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_eight_processes_starting_together_on_a_fresh_schema_all_start_and_migrate_once(
    infra: Infrastructure,
    isolation: Isolation,
) -> None:
    gate = await asyncpg.connect(infra.database_url)
    try:
        await gate.execute("SELECT pg_advisory_lock($1)", GATE)
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                START_SCRIPT,
                infra.database_url,
                isolation.schema,
                str(GATE),
                cwd=REPO,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for _ in range(STARTS)
        ]
        await eventually(lambda: _waiting_at(gate, STARTS), timeout=180, what=f"{STARTS} processes at the gate")
        await gate.execute("SELECT pg_advisory_unlock($1)", GATE)
        outputs = [(await p.communicate())[0].decode() for p in processes]
        rows = await gate.fetch(
            f'SELECT component, version, count(*) AS n FROM "{isolation.schema}".schema_migration '
            "GROUP BY component, version"
        )
    finally:
        await gate.close()
    assert [p.returncode for p in processes] == [0] * STARTS, "\n".join(o[-2000:] for o in outputs)
    expected = {("runtime", v) for v in _versions(RUNTIME_MIGRATIONS)} | {
        ("auth", v) for v in _versions(AUTH_MIGRATIONS)
    }
    assert {(r["component"], r["version"]) for r in rows} == expected
    assert all(r["n"] == 1 for r in rows)


async def _waiting_at(conn: asyncpg.Connection, count: int) -> bool:
    waiting = await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted", GATE
    )
    return waiting >= count


def _versions(directory: Path) -> set[int]:
    return {int(p.name[:3]) for p in directory.glob("*.sql")}


def test_a_kept_cluster_id_that_starts_with_a_dash_no_longer_stops_kafka_from_formatting(tmp_path: Path) -> None:
    state = tmp_path / "kafka"
    state.mkdir()
    # The id an earlier kafka.sh once made and kept; StorageTool read it as an option.
    (state / "cluster.id").write_text("-y_L0scVQ3Wy6cV-ZSohpA\n")
    kafka = ThrowawayKafka(state, free_port(), free_port())
    kafka.start()
    try:
        assert (state / "data" / "meta.properties").is_file()
        assert not (state / "cluster.id").read_text().startswith("-")
    finally:
        kafka.stop()
