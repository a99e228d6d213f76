"""Every date the simulator sends has happened: it runs the past up to today. Intake refuses a care
start or end after today, so the simulator is driven here against a small in-memory stand-in for the
services' HTTP APIs (no Kafka, no database), and every request body it sends is searched for dates."""

from __future__ import annotations

import itertools
import json
import re
from datetime import date
from typing import Any

import httpx

from services.sim import region
from services.sim.calls import Urls
from services.sim.driver import Simulator
from services.sim.keys import Keys
from services.sim.run import backfill
from services.sim.schedule import Calendar

TODAY = date(2026, 11, 24)
CONTRACTED_FROM = date(2026, 9, 15)
DATE = re.compile(r'"(\w+)": "(\d{4}-\d{2}-\d{2})"')
# A toewijzing runs on into the future; an evidence document's expiry lies ahead by nature.
MAY_BE_AHEAD = {"end_date", "valid_until"}


class FakeRegion:
    """Answers what the simulator needs to go on: ids for referrals and toewijzingen, and a placement
    proposed to every provider with a matching setting for each verblijf referral."""

    def __init__(self, providers: dict[str, set[str]]) -> None:
        self.providers = providers
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.numbers = itertools.count(1)
        self.placements: dict[str, dict[str, Any]] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = request.url.path
        if body is not None:
            self.sent.append((path, body))
        if path == "/v1/referrals":
            number = next(self.numbers)
            candidates = [agb for agb, settings in self.providers.items() if set(body["settings"]) & settings]
            if candidates:
                self.placements[f"p{number}"] = {
                    "id": f"p{number}",
                    "referral_id": f"r{number}",
                    "requested_at": f"{number:08d}",
                    "settings": body["settings"],
                    "candidates": candidates[number % len(candidates) :],
                }
            return httpx.Response(201, json={"referral_id": f"r{number}"})
        if path.endswith("/allocations"):
            number = next(self.numbers)
            return httpx.Response(201, json={"allocation_id": f"a{number}", "allocation_number": number})
        if path == "/v1/placements":  # the schakelfunctie's view: every youth proposed, and to whom
            return httpx.Response(
                200,
                json=[
                    {**p, "proposals": [{"agb": p["candidates"][0], "outcome": None}]} for p in self.placements.values()
                ],
            )
        if path == "/v1/contracts":
            return httpx.Response(
                200,
                json=[
                    {
                        "provider_agb": agb,
                        "kind": "open_house",
                        "ended_on": None,
                        "valid_from": CONTRACTED_FROM.isoformat(),
                    }
                    for agb in self.providers
                ],
            )
        if path.endswith("/accept"):
            agb = request.headers["Authorization"].removeprefix("Bearer ")
            placement = self.placements.pop(path.split("/")[3])
            setting = next(s for s in placement["settings"] if s in self.providers[agb])
            return httpx.Response(200, json={"confirmed_setting": setting})
        if path.endswith("/decline"):
            placement = self.placements[path.split("/")[3]]
            placement["candidates"] = placement["candidates"][1:]
            if not placement["candidates"]:
                del self.placements[placement["id"]]
            return httpx.Response(200, json={"status": "ok"})  # the simulator reads an empty answer as refused
        if path == "/v1/lots":
            return httpx.Response(200, json=[])
        if path == "/v1/declarations":
            return httpx.Response(201, json={"lines": [{"approved": True} for _ in body["lines"]]})
        return httpx.Response(200, json={"status": "ok"})  # the simulator reads an empty answer as refused


def _simulator(days: int) -> tuple[Simulator, FakeRegion]:
    sim = Simulator(Urls(), seed=5, calendar=Calendar.ending(TODAY, days))
    world = sim.world
    world.crunches = []
    # A provider's key is its AGB, so the stand-in knows who asks.
    sim.calls.keys = Keys(
        providers={p.agb: p.agb for p in world.providers},
        schakelfunctionaris="sf",
        gemeenten={m.code: m.code for m in region.MUNICIPALITIES},
        referrers={f"{kind.type.value}:{agb}": agb for kind, agbs in world.referrers.items() for agb in agbs},
    )
    for provider in world.providers:
        provider.admitted_lots = set(provider.lots)
    fake = FakeRegion({p.agb: {s.value for s in p.beds} for p in world.providers})
    sim.calls.http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
    return sim, fake


async def _admitted(sim: Simulator) -> None:
    await sim.admit_providers()
    sim.world.tariffs = {
        (code, unit): [(date(2025, 1, 1), date(2027, 12, 31), 10_000)]
        for code, unit in [("45A53", "04"), ("54001", "01"), ("41A06", "16")]
    }


def _dates(fake: FakeRegion) -> list[tuple[str, str, date]]:
    return [
        (path, name, date.fromisoformat(value))
        for path, body in fake.sent
        for name, value in DATE.findall(json.dumps(body))
    ]


async def test_a_backfill_sends_no_date_after_today_but_toewijzing_ends() -> None:
    sim, fake = _simulator(120)
    await _admitted(sim)
    await backfill(sim, speed=1e9)
    sent = _dates(fake)
    names = {name for _, name, _ in sent}
    assert {"referral_date", "start_date", "end_date", "period_start", "period_end"} <= names, names
    ahead = [(path, name, day) for path, name, day in sent if day > TODAY and name not in MAY_BE_AHEAD]
    assert ahead == []
    care_ends = [day for path, name, day in sent if path.endswith("/end")]
    assert care_ends and max(care_ends) <= TODAY
    assert min(day for _, name, day in sent if name == "referral_date") == date(2026, 7, 28)
    # A declaration only covers months that have passed (nothing of the current month), under contract.
    assert max(day for _, name, day in sent if name == "period_end") < TODAY.replace(day=1)
    assert min(day for _, name, day in sent if name == "period_start") == CONTRACTED_FROM
    await sim.calls.http.aclose()


async def test_live_rounds_send_today_at_the_latest() -> None:
    sim, fake = _simulator(30)
    await _admitted(sim)
    await backfill(sim, speed=1e9)
    before = len(fake.sent)
    live_crunches: list = []
    for round_ in range(1, 60):
        await sim.today_round(round_, live_crunches)
    live = _dates(_only(fake, before))
    assert any(name == "referral_date" and day == TODAY for _, name, day in live)
    assert [(p, n, d) for p, n, d in live if d > TODAY and n not in MAY_BE_AHEAD] == []
    await sim.calls.http.aclose()


def _only(fake: FakeRegion, start: int) -> FakeRegion:
    later = FakeRegion({})
    later.sent = fake.sent[start:]
    return later
