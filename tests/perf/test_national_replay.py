"""Benchmark: a national year of events (≈5 M, ``services.sim.national``) replayed into a fresh monitoring schema.

Issue 13 asks for the replay in under 5 minutes with every process under 500 MB RSS. The replay is
the operator's command, ``python -m services.monitoring.rebuild``, as a process; every 0.2 s the
test reads the resident set of it, of its reader processes and of the PostgreSQL backend serving it
from ``/proc``, and reports the wall time and each one's peak (``VmHWM``). Kafka, shared by everything, is not counted.

- ``SCHAKEL_NATIONAL_NAMESPACE``: replay topics written before (``python -m services.sim.national
  --namespace N``); without it the test writes ``SCHAKEL_NATIONAL_EVENTS`` (5,000,000) into its own
  namespace first (about 6 minutes on 2 cores) and deletes those topics afterwards.

Asserts that every event was replayed and that each process stayed under 500 MB; the time is reported.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.perf import report
from tests.support.infra import REPO, Infrastructure, Isolation

# Writing and replaying a national year takes minutes; the suite's 300 s limit is for ordinary tests.
pytestmark = [pytest.mark.perf, pytest.mark.timeout(3 * 3600)]

EVENTS = int(os.environ.get("SCHAKEL_NATIONAL_EVENTS", "5000000"))
GIVEN_NAMESPACE = os.environ.get("SCHAKEL_NATIONAL_NAMESPACE", "")
RSS_LIMIT_MB = 500
REPLAYED = re.compile(r"replayed (\d+) messages: (\d+) applied, (\d+) skipped")


def kilobytes(pid: int, field: str) -> int:
    """``VmRSS`` or ``VmHWM`` of a process in kB; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else 0


def readers(pid: int) -> list[int]:
    """The rebuild's reader processes (``services.monitoring.replay_reader``), its children."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(c) for c in children if b"replay_reader" in Path(f"/proc/{c}/cmdline").read_bytes()]
    except (FileNotFoundError, ProcessLookupError):
        return []


class Peaks:
    """The highest resident set seen of each process, by name."""

    def __init__(self) -> None:
        self.kb: dict[str, int] = {}

    def sample(self, name: str, pid: int | None) -> None:
        if pid:
            self.kb[name] = max(self.kb.get(name, 0), kilobytes(pid, "VmHWM"), kilobytes(pid, "VmRSS"))

    def mb(self) -> dict[str, float]:
        return {name: kb / 1024 for name, kb in self.kb.items()}


def generate(infra: Infrastructure, namespace: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "services.sim.national", "--events", str(EVENTS), "--every", "500000"],
        cwd=REPO,
        env={**os.environ, "SCHAKEL_TOPIC_NAMESPACE": namespace, "SCHAKEL_KAFKA_BOOTSTRAP_SERVERS": infra.kafka},
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=3600,
    )


async def backend_pid(database_url: str, schema: str) -> int | None:
    """The PostgreSQL backend of the rebuild's transaction: the one holding the lock on the schema's inbox."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(
            """SELECT l.pid FROM pg_locks l
               JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = $1 AND c.relname = 'inbox' AND l.mode = 'ExclusiveLock' AND l.granted""",
            schema,
        )
    finally:
        await conn.close()


async def replay(infra: Infrastructure, isolation: Isolation, namespace: str) -> tuple[float, str, Peaks]:
    env = {
        **os.environ,
        **isolation.env(infra),
        "SCHAKEL_TOPIC_NAMESPACE": namespace,
        "SCHAKEL_KAFKA_PARTITIONS": "3",
    }
    peaks = Peaks()
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.monitoring.rebuild",
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output = asyncio.create_task(process.communicate())
    backend: int | None = None
    while not output.done():
        peaks.sample("rebuild", process.pid)
        for n, reader in enumerate(readers(process.pid), 1):
            peaks.sample(f"reader {n}", reader)
        backend = backend or await backend_pid(infra.database_url, isolation.schema)
        peaks.sample("postgres backend", backend)
        await asyncio.wait([output], timeout=0.2)
    seconds = time.perf_counter() - start
    stdout, stderr = output.result()
    assert process.returncode == 0, stderr.decode()[-3000:]
    return seconds, stdout.decode(), peaks


async def test_a_national_year_replays_into_monitoring(infra: Infrastructure, isolation: Isolation) -> None:
    namespace = GIVEN_NAMESPACE or isolation.namespace
    try:
        if not GIVEN_NAMESPACE:
            await asyncio.to_thread(generate, infra, namespace)
        seconds, stdout, peaks = await replay(infra, isolation, namespace)
    finally:
        if not GIVEN_NAMESPACE:
            admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
            await admin.start()
            await admin.delete_topics([n for n in await admin.list_topics() if n.startswith(f"{namespace}.")])
            await admin.close()

    found = REPLAYED.search(stdout)
    assert found, stdout[-2000:]
    messages, applied, skipped = map(int, found.groups())
    mb = peaks.mb()
    print(
        f"\nnational year: {messages:,} messages ({applied:,} applied, {skipped:,} skipped) in {seconds:.1f} s "
        f"= {messages / seconds:,.0f}/s; peak RSS " + ", ".join(f"{name} {value:.0f} MB" for name, value in mb.items())
    )
    report.ROWS.append(
        report.Row(
            what=f"national year replayed into a fresh monitoring schema, {messages:,} events",
            unit="events/s",
            floor=None,
            schakel=messages / seconds,
            note=f"{seconds / 60:.1f} min (target < 5); peak RSS "
            + ", ".join(f"{name} {value:.0f} MB" for name, value in mb.items()),
        )
    )
    assert messages >= EVENTS if not GIVEN_NAMESPACE else messages > 0
    assert skipped == 0
    assert {"rebuild", "reader 1", "reader 2", "postgres backend"} <= mb.keys(), mb  # every process was sampled
    assert all(value < RSS_LIMIT_MB for value in mb.values()), mb
