"""Benchmark: intake's ``POST /v1/referrals`` beside floor (a), under ``wrk``, in the same run.

Floor (a) is tests/perf/floor_api.py: FastAPI + uvicorn + asyncpg storing the same body as one
jsonb row. Both run as processes and get the same load from Debian's ``wrk`` (``make perf``
installs it): 32 connections for ``SCHAKEL_PERF_SECONDS`` (15) seconds each, every request with
a fresh valid BSN (tests/perf/referrals.lua). Reports req/s, p50 and p99, and the CPU each
server and PostgreSQL spent per request (``tests/perf/cpu.py``); asserts only that every request
was answered 2xx, so a benchmark of refusals cannot pass as one of referrals.

Two more rows measure Schakel against other routes of the floor process (tests/perf/floor_api.py):
- the transactional route, the same row and an outbox row in one transaction, the least a
  transactional outbox costs;
- the rows route, the five rows intake writes for this body by intake's own statement and pool,
  with none of Schakel's other work: what intake's data alone costs.
They run after floor (a), in this order, on the same process and cluster: warmer, with fuller
tables, and after the writes before them, whose checkpoints and vacuum may still run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.perf import cpu, report
from tests.perf import wrk as load
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.processes import ARTIFACTS, bearer, service_process
from tests.support.server import free_port

pytestmark = pytest.mark.perf

SECONDS = int(os.environ.get("SCHAKEL_PERF_SECONDS", "15"))
CONNECTIONS = 32
# Intake's daily cap of verblijf referrals per submitter, high enough that the load never meets it;
# the floor's rows route holds its places under the same cap.
VERBLIJF_PLACES = "100000000"
SCRIPT = Path(__file__).with_name("referrals.lua")


@contextmanager
def floor_process(env: dict[str, str], schema: str) -> Iterator[str]:
    port = free_port()
    log_path = ARTIFACTS / "perf-floor-api.log"
    ARTIFACTS.mkdir(exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.perf.floor_api:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "FLOOR_DATABASE_URL": env["SCHAKEL_DATABASE_URL"],
                "FLOOR_DB_SCHEMA": schema,
                "FLOOR_VERBLIJF_PLACES": VERBLIJF_PLACES,
                # uvicorn's options by environment (auto_envvar_prefix): no log line per request.
                "UVICORN_LOG_LEVEL": "warning",
                "UVICORN_ACCESS_LOG": "false",
            },
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, f"floor did not start:\n{log_path.read_text()[-3000:]}"
                try:
                    if httpx.get(f"{url}/readyz", timeout=3).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)  # polling the readiness probe, with the deadline above
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


def wrk(url: str, authorization: str) -> dict[str, int]:
    return load.run(SCRIPT, url, {"PERF_AUTHORIZATION": authorization}, connections=CONNECTIONS, seconds=SECONDS)


def measured_wrk(server: str, path: str, authorization: str) -> tuple[dict[str, int], str]:
    """wrk on ``server`` + ``path``; its report, and the CPU per request of the server and PostgreSQL."""
    with cpu.measured(server) as spent:
        stats = wrk(f"{server}{path}", authorization)
    return stats, spent.per_request(stats["requests"])


async def test_referrals_against_floor(infra: Infrastructure, isolation: Isolation) -> None:
    env = isolation.env(infra) | {
        "SCHAKEL_LOG_LEVEL": "WARNING",
        "SCHAKEL_RATE_LIMITING": "false",
        "SCHAKEL_VERBLIJF_REFERRALS_PER_DAY": VERBLIJF_PLACES,
    }
    referrer = bearer("referrer", "03:01234567", env)["Authorization"]

    with floor_process(env, f"{isolation.schema}_floor") as floor:
        floor_stats, floor_cpu = measured_wrk(floor, "/v1/referrals", "")
        transactional_stats, transactional_cpu = measured_wrk(floor, "/v1/referrals/transactional", "")
        rows_stats, rows_cpu = measured_wrk(floor, "/v1/referrals/rows", "")
    with service_process("intake", free_port(), env, "perf-intake") as intake:
        schakel_stats, schakel_cpu = measured_wrk(intake, "/v1/referrals", referrer)

    runs = {"floor (a)": floor_stats, "transactional": transactional_stats, "rows": rows_stats, "intake": schakel_stats}
    for name, stats in runs.items():
        print(f"\nwrk {name}:", stats)
    for stats in runs.values():
        assert stats["requests"] > 0
        assert stats["status_errors"] == stats["timeouts"] == stats["connect_errors"] == 0, stats

    def row(what: str, floor: dict[str, int], spent: str) -> report.Row:
        cpu_note = f"CPU per request (server + PostgreSQL): floor {spent}, Schakel {schakel_cpu}"
        return report.wrk_row(what, floor, schakel_stats, cpu_note)

    report.ROWS.append(
        row(
            f"`POST /v1/referrals`, wrk {CONNECTIONS} connections, {SECONDS} s, fresh valid BSN each",
            floor_stats,
            floor_cpu,
        )
    )
    transactional = load.per_second(transactional_stats) / load.per_second(floor_stats)
    report.ROWS.append(
        row(
            f"the same against floor (a)'s row and an outbox row in one transaction ({transactional:.1%} of floor (a))",
            transactional_stats,
            transactional_cpu,
        )
    )
    rows = load.per_second(rows_stats) / load.per_second(floor_stats)
    report.ROWS.append(
        row(
            f"the same against intake's own rows and statement, bare, in one transaction ({rows:.1%} of floor (a))",
            rows_stats,
            rows_cpu,
        )
    )
