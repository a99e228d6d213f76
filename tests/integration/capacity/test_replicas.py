"""Two capacity processes on one database: each webhook gets each alert once and in order, each timer fires once.

Both apps are served for real (Kafka, PostgreSQL, uvicorn) on the same schema; the receiver is
a real HTTP server that checks every delivery with the ``standardwebhooks`` library.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from contracts.verblijf import Setting
from services.capacity.app import build
from services.capacity.settings import CapacitySettings
from services.capacity.webhooks.dispatcher import WebhookDispatcher
from services.runtime.clock import Clock
from services.runtime.roles import Role
from tests.integration.capacity import test_placements as placing
from tests.integration.capacity import test_webhooks as hooks
from tests.support.infra import Infrastructure, Isolation
from tests.support.polling import eventually
from tests.support.server import serving


class Replica:
    """One capacity process, served until ``stop``."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.url = ""
        self._stack = contextlib.AsyncExitStack()

    async def start(self) -> Replica:
        self.url = await self._stack.enter_async_context(serving(self.app))
        return self

    async def stop(self) -> None:
        await self._stack.aclose()

    @property
    def dispatcher(self) -> WebhookDispatcher:
        return self.app.state.webhooks


@pytest.fixture
async def replicas(infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool) -> AsyncIterator[list[Replica]]:
    settings = isolation.settings(CapacitySettings, infra, webhook_allow_http=True)
    started: list[Replica] = []
    try:
        for _ in range(2):  # one after the other, so the second finds the schema migrated
            started.append(await Replica(build(settings)).start())
        yield started
    finally:
        for replica in started:
            await replica.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[hooks.Receiver]:
    receiver = hooks.Receiver()
    async with serving(receiver.app) as url:
        receiver.url = url
        try:
            yield receiver
        finally:
            receiver.release()


async def _alerts(db: asyncpg.Pool) -> list[str]:
    return [str(r["id"]) for r in await db.fetch("SELECT id FROM alert ORDER BY seq")]


async def _leaseholder(db: asyncpg.Pool, webhook_id: str) -> str | None:
    return await db.fetchval("SELECT leased_by FROM webhook WHERE id = $1::uuid", webhook_id)


async def test_two_replicas_deliver_each_alert_once_in_order_and_one_carries_on_when_the_other_stops(
    replicas: list[Replica], receiver: hooks.Receiver, keys, http: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    sf = await keys(Role.SCHAKELFUNCTIONARIS, "sf.gooi")
    hook = await hooks._register(http, replicas[0].url, sf, f"{receiver.url}/sf")

    # Shortages open and resolve, reported to either replica in turn: six alerts.
    for i, occupied in enumerate([1, 0, 1, 0, 1, 0]):
        await hooks._report(http, replicas[i % 2].url, keys, occupied=occupied)
    first = await _alerts(db)
    assert len(first) == 6
    await eventually(lambda: hooks._delivered(receiver, "sf", 6), what="the first six alerts")
    # Both dispatchers had the chance to deliver everything; the lease let only one at a time.
    await eventually(lambda: _settled(db, hook["id"]), what="the cursor at the last alert")
    assert [r.id for r in receiver.requests["sf"]] == first

    # The receiver holds the next delivery, so the replica posting it is known and busy.
    receiver.holds["sf"] = asyncio.Event()
    for i, occupied in enumerate([1, 0, 1, 0, 1, 0]):
        await hooks._report(http, replicas[i % 2].url, keys, occupied=occupied)
    everything = await _alerts(db)
    assert len(everything) == 12
    await eventually(lambda: _in_flight(receiver), what="the seventh alert in flight")
    holder = await _leaseholder(db, hook["id"])
    [posting] = [r for r in replicas if r.dispatcher.holder == holder]
    [survivor] = [r for r in replicas if r is not posting]

    stopping = asyncio.create_task(posting.stop())
    await eventually(lambda: _flag(posting.dispatcher.stopping), what="the posting replica stopping")
    receiver.release()  # the post it is in finishes; the rest must come from the survivor
    await stopping
    await eventually(lambda: hooks._delivered(receiver, "sf", 12), what="all twelve alerts")
    await eventually(lambda: _settled(db, hook["id"]), what="the cursor at the last alert")

    attempts = receiver.requests["sf"]
    assert [r.id for r in attempts] == everything  # each once, in seq order, none refused
    assert all(r.status == 204 for r in attempts)
    assert [r.verified(hook["secret"])["id"] for r in attempts] == everything
    survivor_metrics = (await http.get(f"{survivor.url}/metrics")).text
    assert hooks._metric(survivor_metrics, "delivered") >= 1  # the survivor took over the stream


async def _settled(db: asyncpg.Pool, webhook_id: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT delivered_seq = (SELECT max(seq) FROM alert) FROM webhook WHERE id = $1::uuid", webhook_id
        )
    )


async def _in_flight(receiver: hooks.Receiver) -> bool:
    return receiver.in_flight["sf"] == 1


async def _flag(value: bool) -> bool:
    return value


# --- timers: both replicas find the same things due at the same moment --------------------


async def test_each_timer_fires_once_when_two_replicas_find_it_due_together(
    infra: Infrastructure, isolation: Isolation, db: asyncpg.Pool, keys, http: httpx.AsyncClient
) -> None:
    settings = isolation.settings(
        CapacitySettings, infra, test_clock=True, timer_interval_seconds=3600, reservation_minutes=60
    )
    clocks = [Clock(), Clock()]
    apps = [build(settings, clock) for clock in clocks]
    async with serving(apps[0]) as url, serving(apps[1]):
        admin, sf = await keys(Role.ADMIN, "beheer"), await keys(Role.SCHAKELFUNCTIONARIS, "sf")
        c = placing.Capacity(url, clocks[0], http, infra, isolation, admin, sf)
        registered = await http.put(
            f"{url}/v1/providers/{placing.NEAR}",
            headers=admin,
            json={"settings": ["crisisplek", "gezinshuis"], "municipality_code": placing.HILVERSUM},
        )
        assert registered.status_code == 200, registered.text
        await placing.report(c, keys, placing.NEAR, "crisisplek", 1, 0)
        proposed = await c.placement(await c.referral(Setting.CRISISPLEK), "proposed")  # lapses after 60 min
        waiting = await c.placement(await c.referral(Setting.GEZINSHUIS), "open")  # escalates after 4 h

        async def both_replicas_after(delta: timedelta) -> None:
            for clock in clocks:
                clock.advance(delta)
            await asyncio.gather(*(app.state.timers.run_now() for app in apps))

        await both_replicas_after(timedelta(minutes=61))
        lapsed = await c.placement(uuid.UUID(proposed["referral_id"]), "open")
        assert [p["outcome"] for p in lapsed["proposals"]] == ["timeout"]
        await both_replicas_after(timedelta(hours=3))
        await both_replicas_after(timedelta(hours=21))  # the crisisplek report is now 25 h old

        escalations = await _alert_data(http, url, sf, "CaseEscalated")
        assert sorted((e["placement_id"], e["level"]) for e in escalations) == sorted(
            [(lapsed["id"], "expertteam"), (waiting["id"], "schakelfunctionaris")]
        )
        [stale] = await _alert_data(http, url, sf, "CapacityReportStale")
        assert (stale["agb"], stale["setting"]) == (placing.NEAR, "crisisplek")
        timeouts = await db.fetchval("SELECT count(*) FROM proposal WHERE outcome = 'timeout'")
        assert timeouts == 1


async def _alert_data(http: httpx.AsyncClient, url: str, sf: dict[str, str], kind: str) -> list[dict]:
    response = await http.get(f"{url}/v1/alerts", headers=sf, params={"type": f"nl.schakel.capacity.{kind}"})
    assert response.status_code == 200, response.text
    return [a["event"]["data"] for a in response.json()]
