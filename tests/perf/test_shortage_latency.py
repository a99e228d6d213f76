"""Benchmark: how fast a shortage reaches the schakelfunctionaris and the metrics (issue 4).

Runs capacity and monitoring as processes against the session's Kafka and PostgreSQL, makes
a setting go short ``ROUNDS`` times through the HTTP API, and measures from just before the
PUT until (a) the ShortageDetected event arrives on the SSE stream and (b) monitoring's
``/metrics`` reads ``schakel_shortage_active{setting="crisisplek"} 1``. Each round ends with
the shortage resolved on both, so rounds do not overlap. Not part of ``make test``: run
``make perf``; the results join its table of ratios (tests/perf/conftest.py).

(b) is observed by polling /metrics as fast as the client can, so it includes up to one poll
interval (~1–3 ms here) of measurement error.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import statistics
import time

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.perf import report as table
from tests.support.infra import Infrastructure, Isolation
from tests.support.processes import bearer, service_process
from tests.support.server import free_port

pytestmark = pytest.mark.perf

ROUNDS = int(os.environ.get("SCHAKEL_PERF_ROUNDS", "200"))
AGB = "40000001"
GAUGE = re.compile(r'^schakel_shortage_active\{setting="crisisplek"\} (\S+)$', re.MULTILINE)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def test_shortage_alert_latency(infra: Infrastructure, isolation: Isolation) -> None:
    env = isolation.env(infra) | {"SCHAKEL_LOG_LEVEL": "WARNING"}
    admin, provider = bearer("admin", "beheer", env), bearer("provider", AGB, env)
    sf = bearer("schakelfunctionaris", "sf", env)

    with (
        service_process("capacity", free_port(), env, "perf-capacity") as capacity,
        service_process("monitoring", free_port(), env, "perf-monitoring") as monitoring,
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            (
                await http.put(f"{capacity}/v1/providers/{AGB}", headers=admin, json={"settings": ["crisisplek"]})
            ).raise_for_status()

            arrivals: asyncio.Queue[tuple[str, float]] = asyncio.Queue()

            async def listen() -> None:
                async with aconnect_sse(
                    http, "GET", f"{capacity}/v1/alerts/stream", headers=sf, timeout=None
                ) as source:
                    async for sse in source.aiter_sse():
                        if not sse.data:  # a keep-alive (comment or empty event) carries no alert
                            continue
                        await arrivals.put((json.loads(sse.data)["type"], time.perf_counter()))

            async def gauge_reads(value: float) -> float:
                while True:
                    match = GAUGE.search((await http.get(f"{monitoring}/metrics")).text)
                    if match and float(match.group(1)) == value:
                        return time.perf_counter()

            async def put(occupied: int) -> None:
                (
                    await http.put(
                        f"{capacity}/v1/capacity/{AGB}/crisisplek",
                        headers=provider,
                        json={"total": 1, "occupied": occupied},
                    )
                ).raise_for_status()

            listener = asyncio.create_task(listen())
            await put(0)
            await asyncio.wait_for(gauge_reads(0.0), 30)
            to_stream: list[float] = []
            to_metrics: list[float] = []
            try:
                for _ in range(ROUNDS):
                    start = time.perf_counter()
                    gauge = asyncio.create_task(gauge_reads(1.0))
                    await put(1)
                    kind, arrived = await asyncio.wait_for(arrivals.get(), 30)
                    assert kind.endswith("ShortageDetected")
                    to_stream.append(arrived - start)
                    to_metrics.append(await asyncio.wait_for(gauge, 30) - start)
                    await put(0)
                    kind, _ = await asyncio.wait_for(arrivals.get(), 30)
                    assert kind.endswith("ShortageResolved")
                    await asyncio.wait_for(gauge_reads(0.0), 30)
            finally:
                listener.cancel()

    report = {
        "rounds": ROUNDS,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "sse_ms": _summary(to_stream),
        "metrics_ms": _summary(to_metrics),
    }
    print("\nshortage latency:", json.dumps(report, indent=2))
    assert len(to_stream) == len(to_metrics) == ROUNDS
    for what, seconds in (("SSE", to_stream), ("`/metrics`", to_metrics)):
        summary = _summary(seconds)
        table.ROWS.append(
            table.Row(
                what=f"shortage → {what}, {ROUNDS} rounds (value: p50)",
                unit="ms",
                floor=None,
                schakel=summary["p50"],
                schakel_p99_ms=summary["p99"],
                note=f"max {summary['max']} ms; no floor",
            )
        )


def _summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50": round(statistics.median(ms), 1),
        "p99": round(_percentile(ms, 0.99), 1),
        "max": round(max(ms), 1),
        "mean": round(statistics.fmean(ms), 1),
    }
