"""Benchmark: the write routes beside intake's referrals, each beside floor (a) in the same run.

The same wrk load (32 connections, ``SCHAKEL_PERF_SECONDS``) goes to the route and to floor (a)'s
catch-all route (tests/perf/floor_api.py: the body stored as one row, nothing else), with the same
bodies (tests/perf/writes.lua):

- capacity ``PUT /v1/capacity/{agb}/{setting}``: 8 admitted providers × 2 settings, each with its
  own key, reporting 0..10 occupied of 10 — a report locks its setting, rematches and judges the
  shortage, so the settings' row locks are part of what is measured;
- contracting ``POST /v1/contracts``: an admin registering a maatwerk contract for a fresh
  client_ref each time.

Like tests/perf/test_intake_floor.py it asserts only that every request was answered 2xx.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.perf import report
from tests.perf import wrk as load
from tests.perf.test_intake_floor import CONNECTIONS, SECONDS, floor_process
from tests.support.infra import Infrastructure, Isolation
from tests.support.processes import bearer, service_process
from tests.support.server import free_port

pytestmark = pytest.mark.perf

SCRIPT = Path(__file__).with_name("writes.lua")
PROVIDERS = [f"7000{n:04d}" for n in range(1, 9)]
SETTINGS = ("crisisplek", "gezinshuis")


def wrk(base: str, method: str, targets: list[tuple[str, str]], body: str) -> dict[str, int]:
    env = {
        "PERF_METHOD": method,
        "PERF_TARGETS": ",".join(f"{path}|{authorization}" for path, authorization in targets),
        "PERF_BODY": body,
    }
    stats = load.run(SCRIPT, base, env, connections=CONNECTIONS, seconds=SECONDS)
    assert stats["requests"] > 0
    assert stats["status_errors"] == stats["timeouts"] == stats["connect_errors"] == 0, stats
    return stats


def _row(what: str, floor: dict[str, int], schakel: dict[str, int]) -> report.Row:
    return report.wrk_row(f"{what}, wrk {CONNECTIONS} connections, {SECONDS} s", floor, schakel)


@pytest.fixture
def env(infra: Infrastructure, isolation: Isolation) -> dict[str, str]:
    return isolation.env(infra) | {"SCHAKEL_LOG_LEVEL": "WARNING", "SCHAKEL_RATE_LIMITING": "false"}


async def test_capacity_reports_against_floor(env: dict[str, str], isolation: Isolation) -> None:
    body = '{"total": 10, "occupied": {free}, "closed_to_admission": false}'
    with service_process("capacity", free_port(), env, "perf-capacity") as capacity:
        admin = bearer("admin", "beheer", env)
        async with httpx.AsyncClient(timeout=30) as http:
            for agb in PROVIDERS:
                answer = await http.put(
                    f"{capacity}/v1/providers/{agb}", headers=admin, json={"settings": list(SETTINGS)}
                )
                assert answer.status_code == 200, answer.text
        keys = {agb: bearer("provider", agb, env)["Authorization"] for agb in PROVIDERS}
        targets = [(f"/v1/capacity/{agb}/{setting}", keys[agb]) for agb in PROVIDERS for setting in SETTINGS]
        schakel = wrk(capacity, "PUT", targets, body)
    with floor_process(env, f"{isolation.schema}_floor") as floor:
        floor_stats = wrk(floor, "PUT", [(path, "") for path, _ in targets], body)
    report.ROWS.append(
        _row("capacity `PUT /v1/capacity/{agb}/{setting}`, 8 providers × 2 settings", floor_stats, schakel)
    )


async def test_maatwerk_contracts_against_floor(env: dict[str, str], isolation: Isolation) -> None:
    body = (
        '{"kind": "maatwerk", "provider_agb": "70009999", "lot": "JEUGD-GGZ", "client_ref": "{ref}", '
        '"valid_from": "2026-01-01"}'
    )
    with service_process("contracting", free_port(), env, "perf-contracting") as contracting:
        admin = bearer("admin", "beheer", env)["Authorization"]
        schakel = wrk(contracting, "POST", [("/v1/contracts", admin)], body)
    with floor_process(env, f"{isolation.schema}_floor") as floor:
        floor_stats = wrk(floor, "POST", [("/v1/contracts", "")], body)
    report.ROWS.append(_row("contracting `POST /v1/contracts` (maatwerk, fresh client_ref)", floor_stats, schakel))
