"""A small in-memory stand-in for the four services' HTTP APIs, enough for the simulator to go on
(no Kafka, no database): ids for referrals and toewijzingen, a placement proposed to every provider
with a matching setting for each verblijf referral, and capacity's doorbraak routes (escalation by
hand, cases, meetings, decisions) with contracting's maatwerk contract that proposes the provider it
names. Every request body is kept in ``sent``."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from typing import Any

import httpx

from services.sim import region
from services.sim.calls import Urls
from services.sim.driver import Simulator
from services.sim.keys import Keys
from services.sim.schedule import Calendar

TODAY = date(2026, 11, 24)
CONTRACTED_FROM = date(2026, 9, 15)
LEVELS = {None: "schakelfunctionaris", "schakelfunctionaris": "expertteam"}


class FakeRegion:
    """Answers what the simulator needs; ``doorbraak=False`` is a capacity without the doorbraak routes."""

    def __init__(self, providers: dict[str, set[str]], *, doorbraak: bool = True) -> None:
        self.providers = providers
        self.doorbraak = doorbraak
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.requests: list[tuple[str, str]] = []
        self.numbers = itertools.count(1)
        self.placements: dict[str, dict[str, Any]] = {}
        self.cases: dict[str, str] = {}  # case id → placement id
        self.decisions: dict[str, tuple[str, list[str]]] = {}  # decision id → placement id, settings

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = request.url.path
        self.requests.append((request.method, path))
        if body is not None:
            self.sent.append((path, body))
        if path.startswith("/v1/cases"):
            return self._doorbraak(request, path, body)
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
                    "escalation_level": None,
                    "tried": [],
                }
            return httpx.Response(201, json={"referral_id": f"r{number}", "client_ref": f"{number:064x}"})
        if path.endswith("/allocations"):
            number = next(self.numbers)
            return httpx.Response(201, json={"allocation_id": f"a{number}", "allocation_number": number})
        if path == "/v1/placements":  # the schakelfunctie's view: every youth waiting, and to whom it is proposed
            return httpx.Response(200, json=[self._placement(p) for p in self.placements.values()])
        if path.endswith("/escalate") and self.doorbraak:
            placement = self.placements[path.split("/")[3]]
            placement["escalation_level"] = LEVELS[placement["escalation_level"]]
            return httpx.Response(200, json=self._placement(placement))
        if path == "/v1/contracts" and request.method == "POST" and body.get("decision_id"):
            # Contracting concludes the maatwerk contract; capacity then proposes its provider.
            placement_id, settings = self.decisions[body["decision_id"]]
            placement = self.placements[placement_id]
            placement["candidates"], placement["maatwerk_setting"] = [body["provider_agb"]], settings[0]
            return httpx.Response(201, json={"id": f"m{next(self.numbers)}", **body})
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
            setting = placement.get("maatwerk_setting") or next(
                s for s in placement["settings"] if s in self.providers[agb]
            )
            return httpx.Response(200, json={"confirmed_setting": setting})
        if path.endswith("/decline"):
            # Nobody left to ask: the youth waits, unplaced (open), for the schakelfunctie.
            placement = self.placements[path.split("/")[3]]
            placement["tried"].append({"agb": placement["candidates"][0], "outcome": "declined"})
            placement["candidates"] = placement["candidates"][1:]
            return httpx.Response(200, json={"status": "ok"})  # the simulator reads an empty answer as refused
        if path == "/v1/lots":
            return httpx.Response(200, json=[])
        if path == "/v1/declarations":
            return httpx.Response(201, json={"lines": [{"approved": True} for _ in body["lines"]]})
        return httpx.Response(200, json={"status": "ok"})  # the simulator reads an empty answer as refused

    def _placement(self, placement: dict[str, Any]) -> dict[str, Any]:
        proposed = [{"agb": placement["candidates"][0], "outcome": None}] if placement["candidates"] else []
        return {**placement, "proposals": proposed}

    def _doorbraak(self, request: httpx.Request, path: str, body: Any) -> httpx.Response:
        if not self.doorbraak:
            return httpx.Response(404, json={"title": "Not Found", "status": 404, "detail": "Not Found"})
        parts = path.split("/")
        if request.method == "GET" and path == "/v1/cases":
            return httpx.Response(200, json=[])
        if request.method == "GET":  # a case file: whom the youth was proposed to
            placement = self.placements[self.cases[parts[3]]]
            return httpx.Response(200, json={"case_id": parts[3], "proposals": placement["tried"]})
        if path == "/v1/cases":
            placement = self.placements[body["placement_id"]]
            assert placement["escalation_level"] is not None, "taken up before it was escalated"
            case_id = f"c{next(self.numbers)}"
            self.cases[case_id] = placement["id"]
            return httpx.Response(201, json={"case_id": case_id, "placement_id": placement["id"], "status": "open"})
        if parts[-1] == "meetings":
            return httpx.Response(201, json={"meeting_id": f"mt{next(self.numbers)}", **body})
        if parts[-1] == "decisions":
            decision_id = f"d{next(self.numbers)}"
            self.decisions[decision_id] = (self.cases[parts[3]], body["settings"])
            due = (TODAY + timedelta(days=14)).isoformat()
            return httpx.Response(201, json={"decision_id": decision_id, "due_date": due, **body})
        return httpx.Response(404, json={"detail": f"no route {path}"})


def simulator(days: int, *, doorbraak: bool = True) -> tuple[Simulator, FakeRegion]:
    sim = Simulator(Urls(), seed=5, calendar=Calendar.ending(TODAY, days))
    world = sim.world
    world.crunches = []
    # A provider's key is its AGB, so the stand-in knows who asks.
    sim.calls.keys = Keys(
        providers={p.agb: p.agb for p in world.providers},
        schakelfunctionaris="sf",
        expertteam="et",
        admin="admin",
        gemeenten={m.code: m.code for m in region.MUNICIPALITIES},
        referrers={f"{kind.type.value}:{agb}": agb for kind, agbs in world.referrers.items() for agb in agbs},
    )
    for provider in world.providers:
        provider.admitted_lots = set(provider.lots)
    fake = FakeRegion({p.agb: {s.value for s in p.beds} for p in world.providers}, doorbraak=doorbraak)
    sim.calls.http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
    return sim, fake
