"""The expert team (Expertteam / Doorbraaktafel): a few youths of the year whom no provider takes are
escalated by the schakelfunctionaris, taken up by the expert team, discussed, and given a maatwerk
decision that the contracting office carries out with a contract for that youth alone; capacity then
proposes that provider, who accepts, and care starts as usual.

Every third month or so (``DOORBRAAK_EVERY_DAYS``) the first youth referred for a regional verblijf
setting becomes such a case; until its maatwerk contract exists, every provider declines it. When
capacity does not offer the doorbraak routes (``GET /v1/cases`` answers 404), that is counted once
and nobody is picked, so the rest of the run goes on as before.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from contracts.verblijf import Setting
from services.sim import region
from services.sim.calls import Calls
from services.sim.schedule import Case, Provider
from services.sim.world import Actor, World

log = logging.getLogger("services.sim")

FIRST_DOORBRAAK_DAY = 2
DOORBRAAK_EVERY_DAYS = 90
# Settings the region contracts itself: crisis places are placed the same day, JeugdzorgPlus supra-regionally.
REGIONAL_SETTINGS = frozenset(set(Setting) - {Setting.CRISISPLEK, Setting.JEUGDZORGPLUS})
# Simulated days from one step of a case to the next.
ESCALATE_AFTER_DAYS = 2
DECIDE_AFTER_DAYS = 2
CONTRACT_AFTER_DAYS = 2
WORKING_DAYS = 10
PARTIES = ["expertteam", "schakelfunctionaris", "gemeente", "aanbieder"]
UNAVAILABLE = "doorbraak not offered by capacity"

# Where a case stands: escalate it, take it up, decide, contract; then it is the providers' again.
ESCALATE, DECIDE, CONTRACT, DONE = "escalate", "decide", "contract", "done"


@dataclass
class Doorbraak:
    """One youth's way through the expert team, as far as the simulator took it."""

    case: Case
    step: str
    on_day: int  # the simulated day the next step is due
    placement_id: str | None = None
    case_id: str | None = None
    decision_id: str | None = None
    lot: str | None = None
    decided_on: int | None = None  # the contract runs from the decision: a retry posts the same body


# --- decisions (pure) ------------------------------------------------------------------------


def is_doorbraak_day(day: int) -> bool:
    return day >= FIRST_DOORBRAAK_DAY and (day - FIRST_DOORBRAAK_DAY) % DOORBRAAK_EVERY_DAYS == 0


def eligible(case: Case) -> bool:
    """A youth the expert team could take: referred for a regional verblijf setting, not to be withdrawn,
    not placed nor allocated yet."""
    return (
        case.referral_id is not None
        and bool(case.settings)
        and case.settings[0] in REGIONAL_SETTINGS
        and case.withdraw_on is None
        and not case.withdrawn
        and case.placed_on is None
        and case.allocation_id is None
        and not case.doorbraak
    )


def pick(cases: Iterable[Case], day: int, since: int) -> Case | None:
    """The first eligible youth referred from ``since`` up to ``day``: the slot's doorbraak case."""
    return next((c for c in cases if since <= c.day <= day and eligible(c)), None)


def maatwerk_settings(case: Case) -> list[Setting]:
    """Where a maatwerk arrangement may place the youth, closest to home first: its own settings, their
    alternatives, and residential care as the region's last resort."""
    wanted = [*case.settings, *(a for s in case.settings for a in region.ALTERNATIVES[s]), Setting.RESIDENTIEEL]
    return [s for s in dict.fromkeys(wanted) if s in REGIONAL_SETTINGS]


def maatwerk_provider(
    providers: Sequence[Provider], case: Case, tried: Collection[str] = ()
) -> tuple[Provider, Setting, str] | None:
    """Who takes the youth on a maatwerk contract, in which setting and under which lot: a provider
    that has not declined the youth yet (capacity proposes a provider once per youth), of the first
    setting in ``maatwerk_settings`` that has one (by AGB, spread over youths by their number)."""
    for setting in maatwerk_settings(case):
        offering = sorted(
            (p for p in providers if setting in p.beds and p.lots and p.agb not in tried), key=lambda p: p.agb
        )
        if offering:
            provider = offering[case.number % len(offering)]
            return provider, setting, provider.lots[0]
    return None


def declines(case: Case | None, agb: str) -> bool:
    """A doorbraak youth is declined by every provider but the one its maatwerk contract names."""
    return case is not None and case.doorbraak and case.maatwerk_agb != agb


def next_level(placement: dict[str, Any]) -> bool:
    """Whether the schakelfunctionaris still has to escalate the placement (to reach the expert team)."""
    return placement.get("escalation_level") != "expertteam"


# --- the actor ---------------------------------------------------------------------------------


class ExpertTeam(Actor):
    def __init__(self, world: World, calls: Calls) -> None:
        super().__init__(world, calls)
        self.cases: list[Doorbraak] = []
        self.available: bool | None = None  # None: not asked yet
        self.slot_since: int | None = None  # an open slot: the day a youth is wanted from

    async def pick(self, day: int) -> None:
        """On a doorbraak day a slot opens; the first eligible youth referred from then on fills it."""
        if is_doorbraak_day(day) and self.slot_since is None:
            self.slot_since = day
        if self.slot_since is None:
            return
        case = pick(self.world.cases, day, self.slot_since)
        if case is None or not await self._offered():
            return
        case.doorbraak = True
        self.slot_since = None
        self.cases.append(Doorbraak(case, ESCALATE, day + ESCALATE_AFTER_DAYS))
        self.calls.counts["doorbraak youth"] += 1
        log.info("day %d: youth %d (%s) will need the expert team", day, case.number, case.settings[0])

    async def act(self, day: int) -> None:
        """The steps due today, case by case (a refused step is tried again the next day)."""
        for doorbraak in self.cases:
            if doorbraak.step == DONE or doorbraak.on_day > day:
                continue
            if doorbraak.case.withdrawn or doorbraak.case.placed_on is not None:
                doorbraak.step = DONE  # placed another way, or no longer followed
                continue
            if doorbraak.step == ESCALATE and await self._escalate_and_take_up(doorbraak):
                doorbraak.step, doorbraak.on_day = DECIDE, day + DECIDE_AFTER_DAYS
            elif doorbraak.step == DECIDE and await self._meet_and_decide(doorbraak, day):
                doorbraak.step, doorbraak.on_day = CONTRACT, day + CONTRACT_AFTER_DAYS
            elif doorbraak.step == CONTRACT and await self._contract(doorbraak):
                doorbraak.step = DONE

    async def _offered(self) -> bool:
        """Whether capacity has the doorbraak routes; asked once, a 404 counted once."""
        if self.available is None:
            try:
                answer = await self.calls.http.get(
                    f"{self.calls.urls.capacity}/v1/cases",
                    params={"status": "open", "limit": 1},
                    headers={"Authorization": f"Bearer {self.calls.keys.expertteam}"},
                )
            except httpx.TransportError:
                return False  # ask again on the next day
            self.available = answer.status_code != 404
            if not self.available:
                self.calls.counts[UNAVAILABLE] += 1
                log.warning("capacity answers 404 on /v1/cases: no youth goes to the expert team in this run")
        return self.available

    async def _escalate_and_take_up(self, doorbraak: Doorbraak) -> bool:
        calls, capacity = self.calls, self.calls.urls.capacity
        placements = (
            await calls.call(
                "GET",
                capacity,
                "/v1/placements?status=open&status=proposed&limit=1000",
                calls.keys.schakelfunctionaris,
                what="placements",
            )
            or []
        )
        found = [p for p in placements if p["referral_id"] == doorbraak.case.referral_id]
        if not found:
            return False  # capacity has not heard of the request yet (or placed the youth meanwhile)
        placement: dict[str, Any] | None = found[0]
        doorbraak.placement_id = found[0]["id"]
        path = f"/v1/placements/{doorbraak.placement_id}/escalate"
        # Up to the schakelfunctionaris, and from there to the expert team, by hand: two steps at most.
        for _ in range(2):
            if placement is None or not next_level(placement):
                break
            placement = await calls.call(
                "POST",
                capacity,
                path,
                calls.keys.schakelfunctionaris,
                {"note": "Geen aanbieder neemt deze jeugdige op."},
                what="escalation by hand",
                ref=doorbraak.placement_id,
            )
        if placement is None:
            return False
        taken = await calls.call(
            "POST",
            capacity,
            "/v1/cases",
            calls.keys.expertteam,
            {"placement_id": doorbraak.placement_id, "team": "expertteam"},
            what="doorbraak case taken up",
            ref=lambda answer: answer["case_id"],
        )
        if taken is None:
            return False
        doorbraak.case_id = taken["case_id"]
        return True

    async def _meet_and_decide(self, doorbraak: Doorbraak, day: int) -> bool:
        calls, capacity, key = self.calls, self.calls.urls.capacity, self.calls.keys.expertteam
        path = f"/v1/cases/{doorbraak.case_id}"
        # The case file tells whom the youth was proposed to already.
        case_file = await calls.call("GET", capacity, path, key, what="doorbraak case file")
        if case_file is None:
            return False
        tried = {proposal["agb"] for proposal in case_file.get("proposals", [])}
        chosen = maatwerk_provider(self.world.providers, doorbraak.case, tried)
        if chosen is None:  # no provider left at all: the youth waits as any other
            doorbraak.step, doorbraak.case.doorbraak = DONE, False
            return False
        provider, setting, lot = chosen
        held_on = self._date(day)
        meeting = {"held_on": held_on, "parties": PARTIES, "notes": None}
        # The same meeting posted again (a retry) is the same meeting: no second one.
        if await calls.call("POST", capacity, f"{path}/meetings", key, meeting, what="doorbraak meeting") is None:
            return False
        decision = {
            "kind": "maatwerk",
            "executor": "contractmanagement",
            "provider_agb": provider.agb,
            "settings": [setting.value],
            "working_days": WORKING_DAYS,
        }
        answer = await calls.call(
            "POST",
            capacity,
            f"{path}/decisions",
            key,
            decision,
            what="doorbraak decision",
            ref=lambda answer: answer["decision_id"],
        )
        if answer is None:
            return False
        doorbraak.decision_id, doorbraak.lot, doorbraak.decided_on = answer["decision_id"], lot, day
        doorbraak.case.maatwerk_agb = provider.agb
        return True

    async def _contract(self, doorbraak: Doorbraak) -> bool:
        """The contracting office carries the decision out: a maatwerk contract for this youth alone."""
        case = doorbraak.case
        assert doorbraak.decided_on is not None
        body = {
            "kind": "maatwerk",
            "provider_agb": case.maatwerk_agb,
            "lot": doorbraak.lot,
            "client_ref": case.client_ref,
            "decision_id": doorbraak.decision_id,
            "valid_from": self._date(doorbraak.decided_on),
        }
        answer = await self.calls.call(
            "POST",
            self.calls.urls.contracting,
            "/v1/contracts",
            self.calls.keys.admin,
            body,
            what="maatwerk contract",
            ref=lambda answer: answer["id"],
        )
        return answer is not None
