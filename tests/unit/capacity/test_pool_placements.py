"""Specification of the pool-aware schakelfunctie (docs/pools.md, issue 15 parts 4 and 5), on two
regions in memory whose pool events the test carries from one to the other: a youth the region cannot
place is asked of another member's provider, which holds the place and answers through its own
region; the region's shortage says where the pool has room; a pool-wide shortage is its own alert;
escalations of pooled settings reach the pool's expertisenetwerk in every member region. The same on
Kafka and PostgreSQL in tests/integration/capacity/test_pool_placements.py."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from contracts import topics
from contracts.capacity import (
    CaseEscalated,
    DeclineReason,
    EscalationLevel,
    EscalationReason,
    PlacementConfirmed,
    PlacementDeclined,
    PlacementProposed,
    PoolRoom,
    ShortageDetected,
)
from contracts.doorbraak import DecisionCarriedOut, DecisionKind, DoorbraakTeam, Executor
from contracts.envelope import Envelope, EventData
from contracts.pool import (
    NetworkCaseEscalated,
    PoolAnswer,
    PoolCapacityReported,
    PoolCaseEscalated,
    PoolPlacementAnswered,
    PoolPlacementRequested,
    PoolPlacementWithdrawn,
    PoolWideShortageDetected,
    PoolWideShortageResolved,
)
from contracts.verblijf import Setting
from services.capacity import doorbraak_rules as rules
from services.capacity import handlers
from services.capacity.commands import capacity, doorbraak, escalations, placements, pool_placements, timers
from services.capacity.domain import Candidate, CapacityFigures, Need, ShortageChange
from services.capacity.pool_rules import PoolOffer, best_pool_offer, pool_wide_change, why_not_held
from services.capacity.settings import CapacitySettings
from services.runtime.auth import Principal
from services.runtime.errors import Conflict
from services.runtime.roles import Role
from tests.unit.capacity import test_commands_in_memory as regional

GV, EEMLAND = "gooi-en-vechtstreek", "eemland"
JZP, RESIDENTIEEL = Setting.JEUGDZORGPLUS, Setting.RESIDENTIEEL
GV_AGB, EM_AGB, EM_OTHER = "20000001", "30000001", "30000002"
T0 = regional.T0
EXPERTTEAM = Principal(Role.EXPERTTEAM, "et.gooi")
SCHAKELFUNCTIONARIS = Principal(Role.SCHAKELFUNCTIONARIS, "sf.gooi")


class Member(regional.Region):
    """One member region's capacity in memory; ``deliver`` carries what it told the pool to another."""

    def __init__(self, region: str) -> None:
        super().__init__()
        self.settings = CapacitySettings(region=region, reservation_minutes=60)
        self._delivered: dict[str, int] = {}

    async def deliver(self, to: Member) -> None:
        """Apply to ``to``, in order, what this region published on the pool topic since the last delivery."""
        told = [e for t, e in self.bus.published if topics.is_pool_topic(t)]
        consumer = handlers.pool_consumer(to.settings.pools()[0])
        for envelope in told[self._delivered.get(to.settings.region, 0) :]:
            event = envelope.payload()
            async with to.work(cause=envelope) as uow:
                await consumer.handlers[type(event)](uow, event)
        self._delivered[to.settings.region] = len(told)

    def told(self, kind: type[EventData]) -> list[EventData]:
        return [e.payload() for t, e in self.bus.published if topics.is_pool_topic(t) and e.type == kind.event_type]

    def alerts(self, kind: type[EventData]) -> list[Envelope]:
        return [a.envelope for a in self.store.alerts if a.envelope.type == kind.event_type]


@pytest.fixture
async def gv() -> Member:
    """Gooi en Vechtstreek: its one JeugdzorgPlus place is taken."""
    region = Member(GV)
    await region.admit(GV_AGB, JZP)
    await region.report(GV_AGB, JZP, total=1, occupied=1)
    return region


@pytest.fixture
async def eemland(gv: Member) -> Member:
    """Eemland: one free JeugdzorgPlus place for ages 12 to 17, which Gooi en Vechtstreek has heard of."""
    region = Member(EEMLAND)
    await region.admit(EM_AGB, JZP)
    await _report(region, EM_AGB, total=2, occupied=1)
    await region.deliver(gv)
    return region


async def _report(region: Member, agb: str, total: int, occupied: int, age_min: int = 12) -> None:
    async with region.work() as uow:
        figures = CapacityFigures(total=total, occupied=occupied, age_min=age_min, age_max=17)
        await capacity.report_capacity(uow, agb, JZP, figures, Principal(Role.PROVIDER, agb))


async def _asked(gv: Member, eemland: Member) -> PoolPlacementRequested:
    """A JeugdzorgPlus youth of Gooi en Vechtstreek, asked of Eemland's provider, which holds the place."""
    await gv.refer(JZP)
    [requested] = gv.told(PoolPlacementRequested)
    assert isinstance(requested, PoolPlacementRequested)
    await gv.deliver(eemland)
    return requested


# --- pure rules ----------------------------------------------------------------------------------


def test_the_provider_to_ask_is_in_the_most_preferred_setting_then_has_the_most_room_and_never_declined() -> None:
    need = Need(settings=(RESIDENTIEEL, JZP), age=15, municipality_code="0402", tried=frozenset({(EM_AGB, JZP)}))
    offers = [
        PoolOffer("p", EEMLAND, EM_AGB, "jeugdzorgplus", 5),
        PoolOffer("p", "lekstroom", "40000001", "jeugdzorgplus", 1),
        PoolOffer("p", "utrecht-stad", "50000001", "jeugdzorgplus", 3),
        PoolOffer("p", "flevoland", "60000001", "gezinshuis", 9),
    ]
    assert best_pool_offer(need, offers) == offers[2]
    assert best_pool_offer(need, offers, allowed=["residentieel"]) is None
    assert best_pool_offer(need, []) is None


def test_a_place_asked_of_a_region_is_held_only_when_free_within_the_age_range_and_in_time() -> None:
    def candidate(free: int) -> Candidate:
        return Candidate(EM_AGB, JZP, free, 12, 17, None, None)

    later = T0 + timedelta(hours=1)
    assert why_not_held(candidate(1), 15, later, T0) is None
    assert why_not_held(candidate(0), 15, later, T0) is DeclineReason.GROEP_VOL
    assert why_not_held(None, 15, later, T0) is DeclineReason.GROEP_VOL
    assert why_not_held(candidate(1), 10, later, T0) is DeclineReason.LEEFTIJD
    assert why_not_held(candidate(1), 15, T0, T0) is DeclineReason.GEEN_REACTIE


@pytest.mark.parametrize(
    ("open_now", "short_here", "room_elsewhere", "change"),
    [
        (False, True, False, ShortageChange.DETECTED),
        (False, True, True, ShortageChange.NONE),
        (False, False, False, ShortageChange.NONE),
        (True, True, False, ShortageChange.NONE),
        (True, False, False, ShortageChange.RESOLVED),
        (True, True, True, ShortageChange.RESOLVED),
    ],
)
def test_the_pool_is_short_while_the_region_is_and_no_other_member_has_room(
    open_now: bool, short_here: bool, room_elsewhere: bool, change: ShortageChange
) -> None:
    assert pool_wide_change(open_now, short_here, room_elsewhere) is change


# --- the proposal crosses the border ---------------------------------------------------------------


async def test_a_youth_the_region_cannot_place_is_asked_of_the_member_with_room_and_nothing_identifying_travels(
    gv: Member, eemland: Member
) -> None:
    envelope, placement = await gv.refer(JZP)
    [requested] = gv.told(PoolPlacementRequested)
    assert isinstance(requested, PoolPlacementRequested)
    assert (requested.region, requested.to_region, requested.agb, requested.setting) == (GV, EEMLAND, EM_AGB, JZP)
    assert (requested.age, requested.urgency) == (15, placement.urgency)
    assert requested.reserved_until == T0 + timedelta(minutes=60)
    # This region keeps the placement: proposed, to a provider it names with its region.
    assert gv.placement(placement).status == "proposed"
    [proposed] = gv.bus.events(PlacementProposed)
    assert isinstance(proposed, PlacementProposed) and proposed.provider_region == EEMLAND
    # Its own places are untouched: the place is held in Eemland, not here.
    assert (await gv.store.providers_of(JZP))[0].reserved == 0
    referral = envelope.payload()
    on_the_pool = json.dumps([e.model_dump(mode="json") for t, e in gv.bus.published if topics.is_pool_topic(t)])
    for secret in (referral.client_ref, str(referral.referral_id), str(placement.id), referral.municipality_code):
        assert secret not in on_the_pool


async def test_the_providers_region_holds_the_place_so_its_shortage_and_pool_figures_count_it(
    gv: Member, eemland: Member
) -> None:
    requested = await _asked(gv, eemland)
    held = eemland.store.pool_requests[requested.request_id]
    assert (held.from_region, held.agb, held.outcome) == (GV, EM_AGB, None)
    [provider] = await eemland.store.providers_of(JZP)
    assert (provider.reserved, provider.free) == (1, 0)
    last = eemland.told(PoolCapacityReported)[-1]
    assert isinstance(last, PoolCapacityReported) and (last.free, last.reserved) == (0, 1)
    assert JZP.value in eemland.store.shortages  # its last place is held: Eemland is short now


async def test_the_provider_accepts_in_its_own_region_and_the_youths_region_confirms_the_placement(
    gv: Member, eemland: Member
) -> None:
    requested = await _asked(gv, eemland)
    async with eemland.work() as uow:
        await pool_placements.accept(uow, requested.request_id, Principal(Role.PROVIDER, EM_AGB))
    [answered] = eemland.told(PoolPlacementAnswered)
    assert isinstance(answered, PoolPlacementAnswered) and answered.answer is PoolAnswer.ACCEPTED
    assert eemland.store.current[(EM_AGB, JZP)].figures.occupied == 2  # the place is taken there
    await eemland.deliver(gv)
    [placement] = gv.store.placements.values()
    assert (placement.status, placement.confirmed_agb) == ("confirmed", EM_AGB)
    [confirmed] = gv.bus.events(PlacementConfirmed)
    assert isinstance(confirmed, PlacementConfirmed) and confirmed.provider_region == EEMLAND
    assert confirmed.client_ref == placement.client_ref  # for this region's intake, on this region's topic


async def test_only_the_provider_asked_may_answer_and_only_in_its_own_region(gv: Member, eemland: Member) -> None:
    requested = await _asked(gv, eemland)
    with pytest.raises(Conflict, match="not open for provider 30000002"):
        async with eemland.work() as uow:
            await pool_placements.accept(uow, requested.request_id, Principal(Role.PROVIDER, EM_OTHER))
    [placement] = gv.store.placements.values()
    with pytest.raises(Conflict, match="answers through that region's Schakel"):
        async with gv.work() as uow:
            await placements.accept(uow, placement.id, Principal(Role.PROVIDER, EM_AGB))


async def test_a_decline_travels_back_and_with_nobody_left_the_youth_escalates_for_the_expertisenetwerk_too(
    gv: Member, eemland: Member
) -> None:
    requested = await _asked(gv, eemland)
    async with eemland.work() as uow:
        await pool_placements.decline(
            uow, requested.request_id, Principal(Role.PROVIDER, EM_AGB), DeclineReason.ZORGZWAARTE, "te zwaar"
        )
    assert eemland.store.pool_requests[requested.request_id].note == "te zwaar"
    [provider] = await eemland.store.providers_of(JZP)
    assert provider.free == 1  # the place is given back
    await eemland.deliver(gv)
    [placement] = gv.store.placements.values()
    [declined] = gv.bus.events(PlacementDeclined)
    assert isinstance(declined, PlacementDeclined) and declined.reason is DeclineReason.ZORGZWAARTE
    assert (placement.status, placement.escalation_level) == ("open", EscalationLevel.EXPERTTEAM)
    # Every candidate said no: the expert team, and over the pool every member's expertisenetwerk.
    [told] = gv.told(PoolCaseEscalated)
    assert isinstance(told, PoolCaseEscalated)
    assert (told.region, told.level, told.reason) == (
        GV,
        EscalationLevel.EXPERTTEAM,
        EscalationReason.ALLE_KANDIDATEN_AFGEWEZEN,
    )
    [own] = gv.alerts(NetworkCaseEscalated)
    await gv.deliver(eemland)
    [theirs] = eemland.alerts(NetworkCaseEscalated)
    assert theirs.data["region"] == GV and theirs.data["settings"] == ["jeugdzorgplus"]
    assert own.data == theirs.data
    for data in (told.model_dump(mode="json"), theirs.data):
        assert "client_ref" not in data and "municipality_code" not in data and "referral_id" not in data
    [regional_escalation] = gv.alerts(CaseEscalated)
    assert regional_escalation.data["client_ref"] == placement.client_ref  # the regional alert is unchanged


async def test_a_request_the_region_cannot_hold_is_declined_at_once(gv: Member, eemland: Member) -> None:
    await _report(eemland, EM_AGB, total=2, occupied=1, age_min=16)  # a youth of 15 is too young now
    await eemland.deliver(gv)
    await gv.refer(JZP)
    await gv.deliver(eemland)
    [answered] = eemland.told(PoolPlacementAnswered)
    assert isinstance(answered, PoolPlacementAnswered)
    assert (answered.answer, answered.reason) == (PoolAnswer.DECLINED, DeclineReason.LEEFTIJD)
    assert (await eemland.store.providers_of(JZP))[0].reserved == 0


async def test_a_reservation_that_lapses_in_the_youths_region_is_withdrawn_and_the_place_given_back(
    gv: Member, eemland: Member
) -> None:
    requested = await _asked(gv, eemland)
    gv.now += timedelta(minutes=61)
    await timers.run_due(gv.work)
    [withdrawn] = gv.told(PoolPlacementWithdrawn)
    assert isinstance(withdrawn, PoolPlacementWithdrawn) and withdrawn.request_id == requested.request_id
    await gv.deliver(eemland)
    assert eemland.store.pool_requests[requested.request_id].outcome == "withdrawn"
    assert (await eemland.store.providers_of(JZP))[0].free == 1


async def test_a_reservation_nobody_answers_lapses_in_the_providers_region_too(gv: Member, eemland: Member) -> None:
    requested = await _asked(gv, eemland)
    eemland.now += timedelta(minutes=61)
    await timers.run_due(eemland.work)
    [answered] = eemland.told(PoolPlacementAnswered)
    assert isinstance(answered, PoolPlacementAnswered) and answered.reason is DeclineReason.GEEN_REACTIE
    assert eemland.store.pool_requests[requested.request_id].outcome == "timeout"


async def test_a_place_asked_of_another_member_is_not_asked_again_for_the_next_youth_before_it_reports(
    gv: Member, eemland: Member
) -> None:
    gv.now += timedelta(minutes=1)  # after Eemland told its one free place
    _, first = await gv.refer(JZP)
    _, second = await gv.refer(JZP)
    assert (gv.placement(first).status, gv.placement(second).status) == ("proposed", "open")
    assert len(gv.told(PoolPlacementRequested)) == 1


async def test_room_appearing_in_the_pool_is_asked_for_a_youth_who_waits_here(gv: Member) -> None:
    _, placement = await gv.refer(JZP)
    assert gv.placement(placement).status == "open"
    eemland = Member(EEMLAND)
    await eemland.admit(EM_AGB, JZP)
    await _report(eemland, EM_AGB, total=1, occupied=0)
    await eemland.deliver(gv)
    assert gv.placement(placement).status == "proposed"
    assert [e.to_region for e in gv.told(PoolPlacementRequested) if isinstance(e, PoolPlacementRequested)] == [EEMLAND]


async def test_a_decision_for_a_place_outside_the_region_uses_the_pool_and_is_carried_out_when_taken(
    gv: Member, eemland: Member
) -> None:
    await gv.admit(regional.NEAR, RESIDENTIEEL)
    await gv.admit(regional.FAR, RESIDENTIEEL)
    await gv.report(regional.NEAR, RESIDENTIEEL, total=1, occupied=0)
    await gv.report(regional.FAR, RESIDENTIEEL, total=1, occupied=0)
    _, placement = await gv.refer(RESIDENTIEEL, JZP)
    for _ in range(2):
        async with gv.work() as uow:
            await escalations.escalate_by_hand(uow, placement.id, SCHAKELFUNCTIONARIS, None)
    async with gv.work() as uow:
        case, _ = await doorbraak.take_up(uow, placement.id, DoorbraakTeam.EXPERTTEAM, EXPERTTEAM)
    terms = rules.DecisionTerms(
        DecisionKind.BUITEN_REGIO, Executor.SCHAKELFUNCTIONARIS, None, ("jeugdzorgplus",), 5, None
    )
    async with gv.work() as uow:
        await doorbraak.decide(uow, case.id, terms, EXPERTTEAM)
    assert gv.told(PoolPlacementRequested) == []  # the open proposal is answered first
    first = gv.store.proposals[-1]
    async with gv.work() as uow:
        await placements.decline(uow, placement.id, Principal(Role.PROVIDER, first.agb), DeclineReason.GROEP_VOL, None)
    # Not the region's other residentieel place: the decision says outside the region.
    [requested] = gv.told(PoolPlacementRequested)
    assert isinstance(requested, PoolPlacementRequested) and requested.setting is JZP
    await gv.deliver(eemland)
    async with eemland.work() as uow:
        await pool_placements.accept(uow, requested.request_id, Principal(Role.PROVIDER, EM_AGB))
    await eemland.deliver(gv)
    assert gv.placement(placement).status == "confirmed"
    assert len(gv.bus.events(DecisionCarriedOut)) == 1


# --- the shortage says where the pool has room; the pool-wide shortage ----------------------------


async def test_a_shortage_of_a_pooled_setting_says_where_the_pool_has_room() -> None:
    gv = Member(GV)
    eemland = Member(EEMLAND)
    await eemland.admit(EM_AGB, JZP)
    await _report(eemland, EM_AGB, total=3, occupied=1)
    await eemland.deliver(gv)
    await gv.admit(GV_AGB, JZP, Setting.CRISISPLEK)
    await gv.report(GV_AGB, JZP, total=1, occupied=1)
    await gv.report(GV_AGB, Setting.CRISISPLEK, total=1, occupied=1)
    pooled, regional_only = gv.bus.events(ShortageDetected)
    assert isinstance(pooled, ShortageDetected) and isinstance(regional_only, ShortageDetected)
    assert pooled.pool_room == [PoolRoom(pool="midden-nederland", region=EEMLAND, free=2)]
    assert regional_only.pool_room is None  # crisisplek is not pooled


async def test_the_pool_is_short_when_the_region_is_and_no_other_member_has_room_and_recovers_with_room(
    gv: Member, eemland: Member
) -> None:
    # Short before any other member told of room; Eemland's free place ended that.
    [first] = gv.alerts(PoolWideShortageDetected)
    [ended] = gv.alerts(PoolWideShortageResolved)
    assert ended.data["shortage_id"] == first.data["shortage_id"] and ended.data["room_elsewhere"] == [EEMLAND]
    [detected] = gv.bus.events(ShortageDetected)
    assert isinstance(detected, ShortageDetected) and detected.pool_room == []  # nobody had told of room yet
    requested = await _asked(gv, eemland)
    async with eemland.work() as uow:
        await pool_placements.accept(uow, requested.request_id, Principal(Role.PROVIDER, EM_AGB))
    await eemland.deliver(gv)
    _, wide = gv.alerts(PoolWideShortageDetected)
    assert wide.data["members_short"] == [EEMLAND, GV] and wide.data["setting"] == "jeugdzorgplus"
    await _report(eemland, EM_AGB, total=3, occupied=2)
    await eemland.deliver(gv)
    _, resolved = gv.alerts(PoolWideShortageResolved)
    assert resolved.data["room_elsewhere"] == [EEMLAND] and resolved.data["shortage_id"] == wide.data["shortage_id"]


async def test_an_escalation_of_an_unpooled_setting_stays_in_the_region(gv: Member) -> None:
    await gv.admit(regional.NEAR, Setting.CRISISPLEK)
    await gv.report(regional.NEAR, Setting.CRISISPLEK, total=1, occupied=1)
    _, placement = await gv.refer(Setting.CRISISPLEK)
    async with gv.work() as uow:
        await escalations.escalate_by_hand(uow, placement.id, SCHAKELFUNCTIONARIS, None)
    assert gv.told(PoolCaseEscalated) == [] and gv.alerts(NetworkCaseEscalated) == []
    assert len(gv.alerts(CaseEscalated)) == 1


async def test_the_expertisenetwerk_takes_up_a_case_of_its_own_region_as_its_team(gv: Member) -> None:
    _, placement = await gv.refer(JZP)
    async with gv.work() as uow:
        await escalations.escalate_by_hand(uow, placement.id, SCHAKELFUNCTIONARIS, None)
    network = Principal(Role.EXPERTISENETWERK, "midden-nederland")
    async with gv.work() as uow:
        case, created = await doorbraak.take_up(uow, placement.id, DoorbraakTeam.EXPERTISENETWERK, network)
    assert (
        created
        and case.team is DoorbraakTeam.EXPERTISENETWERK
        and case.taken_up_by == "expertisenetwerk:midden-nederland"
    )
    assert uuid.UUID(str(case.id))
