"""Two regions of one pool as real processes (docs/pools.md, issue 15 part 6): Gooi en Vechtstreek and
Eemland each run their own intake and capacity, with their own schemas, key stores and topic
namespaces; only the pool's topic is shared. A JeugdzorgPlus youth of Gooi en Vechtstreek finds no
place at home; the proposal crosses to Eemland's provider, which accepts in Eemland, and the youth's
own region confirms the placement (its intake hears it). Both regions full: Gooi en Vechtstreek's
pool-wide shortage. An escalation in Eemland reaches Gooi en Vechtstreek's expertisenetwerk on its
live stream. A key of one region opens nothing in the other."""

from __future__ import annotations

import asyncio
import json

import httpx
from httpx_sse import aconnect_sse

from contracts import topics
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import TopicReader
from tests.support.polling import eventually, scraped
from tests.support.processes import bearer
from tests.support.regions import (
    AGB_EM,
    AMERSFOORT,
    BIRTH_DATE,
    EEMLAND,
    GP,
    GV,
    HILVERSUM,
    gooi_full_eemland_free,
    jeugdzorgplus_referral,
    ok,
    region_env,
    region_services,
)

BSN_GV, BSN_EM = "111222333", "123456782"


async def test_a_place_found_across_the_border_the_pool_alert_the_networks_stream_and_no_reading_across(
    infra: Infrastructure, isolation: Isolation
) -> None:
    env_gv, env_em = region_env(infra, isolation, "gv"), region_env(infra, isolation, "em")
    provider_em = bearer("provider", AGB_EM, env_em)
    sf_gv, sf_em = bearer("schakelfunctionaris", "sf.gooi", env_gv), bearer("schakelfunctionaris", "sf.em", env_em)
    gemeente_gv, gemeente_em = bearer("gemeente", HILVERSUM, env_gv), bearer("gemeente", AMERSFOORT, env_em)
    huisarts_gv, huisarts_em = bearer("referrer", f"02:{GP}", env_gv), bearer("referrer", f"02:{GP}", env_em)
    network_gv = bearer("expertisenetwerk", "midden-nederland", env_gv)

    with (
        region_services(env_gv, GV, "pools-gv", "intake", "capacity") as (intake_gv, capacity_gv),
        region_services(env_em, EEMLAND, "pools-em", "intake", "capacity") as (intake_em, capacity_em),
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            # Gooi en Vechtstreek's JeugdzorgPlus place is taken; Eemland has one free.
            await gooi_full_eemland_free(
                http, {"gv": capacity_gv, "em": capacity_em}, {"gv": env_gv, "em": env_em}, timeout=60
            )

            # The expertisenetwerk of Gooi en Vechtstreek listens from now on.
            heard: list[dict] = []

            async def listen() -> None:
                async with aconnect_sse(
                    http, "GET", f"{capacity_gv}/v1/alerts/stream", headers=network_gv, timeout=None
                ) as source:
                    async for sse in source.aiter_sse():
                        heard.append({"event": sse.event, **json.loads(sse.data)})

            listener = asyncio.create_task(listen())
            # A new stream starts at the latest alert: it must be open before the shortage is raised.
            await scraped(http, capacity_gv, "schakel_alert_streams_open 1.0", timeout=60)
            try:
                referral = await ok(
                    await http.post(
                        f"{intake_gv}/v1/referrals", headers=huisarts_gv, json=jeugdzorgplus_referral(BSN_GV, HILVERSUM)
                    ),
                    201,
                )

                async def asked() -> list[dict] | None:
                    return await ok(await http.get(f"{capacity_em}/v1/pool-requests", headers=provider_em)) or None

                [request] = await eventually(asked, timeout=60, what="eemland's provider to be asked")
                assert (request["from_region"], request["setting"], request["urgency"]) == (
                    GV,
                    "jeugdzorgplus",
                    "spoed",
                )
                assert set(request) >= {"id", "age"} and "client_ref" not in request
                await ok(await http.post(f"{capacity_em}/v1/pool-requests/{request['id']}/accept", headers=provider_em))

                async def placed() -> dict | None:
                    view = await ok(
                        await http.get(f"{intake_gv}/v1/referrals/{referral['referral_id']}", headers=gemeente_gv)
                    )
                    return view if view["status"] == "placed" else None

                await eventually(placed, timeout=60, what="gooi-en-vechtstreek's intake to learn the placement")

                # Both regions full now: the pool has no room for Gooi en Vechtstreek either (it had one
                # before it heard of Eemland's place, which ended when it did).
                async def pool_wide() -> dict | None:
                    alerts = await ok(
                        await http.get(
                            f"{capacity_gv}/v1/alerts",
                            headers=sf_gv,
                            params={"type": "nl.schakel.capacity.PoolWideShortageDetected"},
                        )
                    )
                    return next((a for a in alerts if EEMLAND in a["event"]["data"]["members_short"]), None)

                wide = await eventually(pool_wide, timeout=60, what="the pool-wide shortage with both regions short")
                assert sorted(wide["event"]["data"]["members_short"]) == [EEMLAND, GV]

                # A youth of Eemland waits; its schakelfunctionaris escalates early.
                theirs = await ok(
                    await http.post(
                        f"{intake_em}/v1/referrals",
                        headers=huisarts_em,
                        json=jeugdzorgplus_referral(BSN_EM, AMERSFOORT),
                    ),
                    201,
                )

                async def waiting_in_eemland() -> dict | None:
                    placements = await ok(await http.get(f"{capacity_em}/v1/placements", headers=sf_em))
                    return next((p for p in placements if p["referral_id"] == theirs["referral_id"]), None)

                waiting = await eventually(waiting_in_eemland, timeout=60, what="eemland's youth waiting")
                await ok(await http.post(f"{capacity_em}/v1/placements/{waiting['id']}/escalate", headers=sf_em))

                def escalation() -> dict | None:
                    return next((a for a in heard if a["event"] == "NetworkCaseEscalated"), None)

                async def on_the_stream() -> dict | None:
                    return escalation()

                received = await eventually(on_the_stream, timeout=60, what="the escalation on the network's stream")
                data = received["data"]
                assert (data["region"], data["level"], data["settings"]) == (
                    EEMLAND,
                    "schakelfunctionaris",
                    ["jeugdzorgplus"],
                )
                assert "client_ref" not in data and theirs["client_ref"] not in json.dumps(received)
                assert {a["event"] for a in heard} >= {"PoolWideShortageDetected", "NetworkCaseEscalated"}
                assert "CaseEscalated" not in {a["event"] for a in heard}  # the region's own, with client_ref
            finally:
                listener.cancel()

            # A key of one region opens nothing in the other: each has its own key store.
            cross = await http.get(f"{intake_em}/v1/referrals/{theirs['referral_id']}", headers=gemeente_gv)
            assert cross.status_code == 401, cross.text
            assert (
                await http.get(f"{intake_em}/v1/referrals/{theirs['referral_id']}", headers=gemeente_em)
            ).status_code == 200
            assert (await http.get(f"{capacity_em}/v1/pool-requests", headers=network_gv)).status_code == 401

    async with TopicReader(infra.kafka, isolation.topic(topics.pool_capacity("midden-nederland"))) as reader:
        records = await reader.until(lambda rs: any(b"PoolCaseEscalated" in r.value for r in rs), what="the pool topic")
    for record in records:
        for secret in (
            BSN_GV,
            BSN_EM,
            BIRTH_DATE,
            referral["client_ref"],
            theirs["client_ref"],
            referral["referral_id"],
        ):
            assert secret.encode() not in record.value
