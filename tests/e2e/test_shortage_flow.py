"""The headline flow, with capacity and monitoring running as real processes over HTTP.

A provider takes its last crisis place → ShortageDetected reaches the schakelfunctionaris'
alert stream and monitoring's ``schakel_shortage_active`` gauge; a freed place resolves both.
"""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from httpx_sse import aconnect_sse

from tests.support.polling import eventually
from tests.support.processes import bearer, service_process
from tests.support.server import free_port

AGB = "23456789"


def _gauge(metrics: str, name: str, setting: str) -> float | None:
    match = re.search(rf'^{name}\{{setting="{setting}"\}} (\S+)$', metrics, re.MULTILINE)
    return float(match.group(1)) if match else None


async def test_a_shortage_reaches_the_alert_stream_and_the_metrics_and_resolves(env: dict[str, str]) -> None:
    provider, admin = bearer("provider", AGB, env), bearer("admin", "beheer", env)
    schakelfunctionaris = bearer("schakelfunctionaris", "sf.gooi", env)

    with (
        service_process("capacity", free_port(), env, "e2e-capacity") as capacity,
        service_process("monitoring", free_port(), env, "e2e-monitoring") as monitoring,
    ):
        async with httpx.AsyncClient(timeout=30) as http:

            async def monitoring_sees(setting: str, name: str, value: float) -> bool:
                metrics = (await http.get(f"{monitoring}/metrics")).text
                return _gauge(metrics, name, setting) == value

            (
                await http.put(f"{capacity}/v1/providers/{AGB}", headers=admin, json={"settings": ["crisisplek"]})
            ).raise_for_status()
            (
                await http.put(
                    f"{capacity}/v1/capacity/{AGB}/crisisplek", headers=provider, json={"total": 2, "occupied": 1}
                )
            ).raise_for_status()
            await eventually(
                lambda: monitoring_sees("crisisplek", "schakel_places_free", 1.0),
                what="monitoring to count one free crisis place",
            )

            alerts: list[dict] = []

            async def listen() -> None:
                async with aconnect_sse(
                    http, "GET", f"{capacity}/v1/alerts/stream", headers=schakelfunctionaris, params={"since": 0}
                ) as source:
                    async for sse in source.aiter_sse():
                        alerts.append(json.loads(sse.data))
                        if len(alerts) == 2:
                            return

            listener = asyncio.create_task(listen())
            (
                await http.put(
                    f"{capacity}/v1/capacity/{AGB}/crisisplek", headers=provider, json={"total": 2, "occupied": 2}
                )
            ).raise_for_status()
            await eventually(
                lambda: monitoring_sees("crisisplek", "schakel_shortage_active", 1.0),
                what="schakel_shortage_active{setting=crisisplek} to read 1",
            )
            # The report (capacity.events.v1) and the alert (capacity.alerts.v1) leave in one relay
            # batch but on two topics, which Kafka does not order: monitoring may apply either first.
            await eventually(
                lambda: monitoring_sees("crisisplek", "schakel_places_free", 0.0),
                what="monitoring to count no free crisis place",
            )
            assert await monitoring_sees("gezinshuis", "schakel_shortage_active", 0.0)

            (
                await http.put(
                    f"{capacity}/v1/capacity/{AGB}/crisisplek", headers=provider, json={"total": 2, "occupied": 1}
                )
            ).raise_for_status()
            await asyncio.wait_for(listener, 30)
            await eventually(
                lambda: monitoring_sees("crisisplek", "schakel_shortage_active", 0.0),
                what="the shortage to read resolved",
            )

    assert [a["type"] for a in alerts] == [
        "nl.schakel.capacity.ShortageDetected",
        "nl.schakel.capacity.ShortageResolved",
    ]
    assert alerts[0]["data"]["setting"] == "crisisplek"
    assert alerts[0]["data"]["free_places"] == 0
