"""Specification of capacity's commands, run on the in-memory store: what a report, a referral,
a provider's answer, an acknowledgement and the passing of time change, and what they announce.
The same commands run on PostgreSQL in tests/integration/capacity."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.capacity import (
    AlertAcknowledged,
    CapacityReported,
    CapacityReportStale,
    CaseEscalated,
    DeclineReason,
    EscalationLevel,
    EscalationReason,
    PlacementConfirmed,
    PlacementDeclined,
    PlacementProposed,
    PlacementRequested,
    Severity,
    ShortageChanged,
    ShortageDetected,
    ShortageResolved,
)
from contracts.codes import Productcategorie, Urgentie, Verwijzer
from contracts.contracting import ContractEnded, ProviderAdmitted
from contracts.envelope import Envelope, EventData
from contracts.intake import ReferralReceived, ReferralWithdrawn, WithdrawalReason
from contracts.verblijf import Setting
from services.capacity.commands import Work, alerts, capacity, placements, timers
from services.capacity.domain import CapacityFigures
from services.capacity.settings import CapacitySettings
from services.capacity.store import Placement, Store
from services.runtime.auth import Principal
from services.runtime.errors import Conflict, NotFound
from services.runtime.roles import Role
from services.runtime.unit_of_work import InMemoryBus, in_memory
from tests.unit.capacity.fake_store import FakeStore

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HILVERSUM, HUIZEN = "0402", "0406"
NEAR, FAR = "20000001", "20000002"
CRISIS = Setting.CRISISPLEK
SCHAKELFUNCTIONARIS = Principal(Role.SCHAKELFUNCTIONARIS, "sf")


class Region:
    """A capacity service in memory: its store, what it published, and a clock the test moves."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.bus = InMemoryBus()
        self.now = T0
        self.settings = CapacitySettings()

    def work(self, cause: Envelope | None = None) -> AbstractAsyncContextManager[Work]:
        store: Store = self.store  # mypy holds the fake to the protocol here
        return in_memory(store, self.settings, self.now, self.bus, cause)

    async def admit(self, agb: str, *settings: Setting, municipality: str = HILVERSUM) -> None:
        async with self.work() as uow:
            await capacity.register_provider(uow, agb, list(settings), municipality)

    async def report(self, agb: str, setting: Setting, total: int, occupied: int) -> CapacityReported:
        async with self.work() as uow:
            figures = CapacityFigures(total=total, occupied=occupied)
            return await capacity.report_capacity(uow, agb, setting, figures, Principal(Role.PROVIDER, agb))

    async def refer(self, *settings: Setting, urgency: Urgentie = Urgentie.CRISIS) -> tuple[Envelope, Placement]:
        """A referral as intake announces it, applied as capacity's consumer applies it."""
        referral = ReferralReceived(
            referral_id=uuid.uuid4(),
            client_ref=uuid.uuid4().hex * 2,
            age=15,
            municipality_code=HILVERSUM,
            referrer_type=Verwijzer.HUISARTS,
            referrer_agb="01234567",
            product_category=Productcategorie.CRISIS,
            settings=list(settings),
            urgency=urgency,
            ambulant_tried=True,
            needs_gemeente_decision=True,
            received_at=self.now,
        )
        envelope = Envelope.wrap(referral, source="intake", time=self.now)
        async with self.work(cause=envelope) as uow:
            await placements.open_request(uow, referral)
        placement = await self.store.placement_of_referral(referral.referral_id)
        assert placement is not None
        return envelope, placement

    def placement(self, placement: Placement) -> Placement:
        return self.store.placements[placement.id]

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.bus.events()]

    def envelope_of(self, kind: type[EventData]) -> Envelope:
        [envelope] = [e for _, e in self.bus.published if e.type == kind.event_type]
        return envelope


@pytest.fixture
def region() -> Region:
    return Region()


async def test_taking_the_last_place_opens_a_shortage_and_freeing_one_resolves_it(region: Region) -> None:
    await region.admit(NEAR, CRISIS)
    full = await region.report(NEAR, CRISIS, total=1, occupied=1)
    assert (full.free, full.regional_free) == (0, 0)
    [detected] = region.bus.events(ShortageDetected)
    assert isinstance(detected, ShortageDetected)
    assert (detected.setting, detected.free_places, detected.severity) == (CRISIS, 0, Severity.TEKORT)
    assert region.store.shortages[CRISIS].id == detected.shortage_id
    assert [a.setting for a in region.store.alerts] == [CRISIS]
    assert region.store.notifications == [region.settings.db_schema]

    region.now += timedelta(hours=1)
    freed = await region.report(NEAR, CRISIS, total=2, occupied=1)
    assert freed.regional_free == 1
    [resolved] = region.bus.events(ShortageResolved)
    assert isinstance(resolved, ShortageResolved)
    assert (resolved.shortage_id, resolved.duration_seconds) == (detected.shortage_id, 3600)
    assert CRISIS not in region.store.shortages
    assert region.kinds() == ["CapacityReported", "ShortageDetected", "CapacityReported", "ShortageResolved"]
    # Both alerts are caused by the report they judge, in the same chain.
    report = region.bus.published[0][1]
    assert region.bus.published[1][1].causationid == report.id


async def test_a_report_for_a_setting_the_provider_is_not_admitted_for_changes_nothing(region: Region) -> None:
    await region.admit(NEAR, Setting.GEZINSHUIS)
    before, published = region.store.snapshot(), list(region.bus.published)
    with pytest.raises(Conflict, match="not admitted for crisisplek"):
        await region.report(NEAR, CRISIS, total=1, occupied=0)
    assert region.store.snapshot() == before
    assert region.bus.published == published


async def test_a_crisis_referral_is_proposed_to_the_nearest_free_place(region: Region) -> None:
    await region.admit(NEAR, CRISIS, municipality=HILVERSUM)
    await region.admit(FAR, CRISIS, municipality=HUIZEN)
    await region.report(FAR, CRISIS, total=2, occupied=0)
    await region.report(NEAR, CRISIS, total=1, occupied=0)
    referral, placement = await region.refer(CRISIS)

    [requested] = region.bus.events(PlacementRequested)
    [proposed] = region.bus.events(PlacementProposed)
    assert isinstance(proposed, PlacementProposed)
    assert (proposed.placement_id, proposed.provider_agb, proposed.setting) == (placement.id, NEAR, CRISIS)
    assert proposed.reserved_until == T0 + timedelta(minutes=region.settings.reservation_minutes)
    assert placement.status == "proposed"
    # The reserved bed is not free for anyone else.
    assert sum(p.free for p in await region.store.providers_of(CRISIS)) == 2
    # The request answers the referral, and the proposal the request: one chain.
    request = region.envelope_of(PlacementRequested)
    assert (request.causationid, request.correlationid) == (referral.id, referral.correlationid)
    assert region.envelope_of(PlacementProposed).causationid == request.id
    assert isinstance(requested, PlacementRequested) and requested.referral_id == placement.referral_id


async def test_a_redelivered_referral_opens_no_second_request(region: Region) -> None:
    await region.admit(NEAR, CRISIS)
    await region.report(NEAR, CRISIS, total=1, occupied=0)
    referral, placement = await region.refer(CRISIS)
    published = len(region.bus.published)
    data = referral.payload()
    assert isinstance(data, ReferralReceived)
    async with region.work(cause=referral) as uow:
        await placements.open_request(uow, data)
    assert list(region.store.placements) == [placement.id]
    assert len(region.bus.published) == published


async def test_accepting_confirms_the_placement_and_reports_the_place_occupied(region: Region) -> None:
    await region.admit(NEAR, CRISIS)
    await region.report(NEAR, CRISIS, total=2, occupied=0)
    _, placement = await region.refer(CRISIS)
    region.now += timedelta(minutes=5)
    async with region.work() as uow:
        await placements.accept(uow, placement.id, Principal(Role.PROVIDER, NEAR))

    [confirmed] = region.bus.events(PlacementConfirmed)
    assert isinstance(confirmed, PlacementConfirmed) and confirmed.provider_agb == NEAR
    confirmation = region.placement(placement)
    assert (confirmation.status, confirmation.confirmed_agb, confirmation.confirmed_at) == (
        "confirmed",
        NEAR,
        region.now,
    )
    assert confirmation.escalation_due_at is None
    occupancy = region.store.history[-1]
    assert (occupancy.figures.occupied, occupancy.reported_by) == (1, f"placement:{placement.id}")
    last_report = region.bus.events(CapacityReported)[-1]
    assert isinstance(last_report, CapacityReported) and (last_report.occupied, last_report.free) == (1, 1)
    assert [p.outcome for p in region.store.proposals] == ["accepted"]


async def test_an_answer_from_a_provider_not_proposed_fails_and_changes_nothing(region: Region) -> None:
    await region.admit(NEAR, CRISIS)
    await region.report(NEAR, CRISIS, total=1, occupied=0)
    _, placement = await region.refer(CRISIS)
    before, published = region.store.snapshot(), list(region.bus.published)
    async with region.work() as uow:
        with pytest.raises(Conflict, match=f"no open proposal to provider {FAR}"):
            await placements.accept(uow, placement.id, Principal(Role.PROVIDER, FAR))
    # The unit of work ended without error, yet the failed command had changed nothing.
    assert region.store.snapshot() == before and region.bus.published == published
    with pytest.raises(NotFound):
        async with region.work() as uow:
            await placements.decline(uow, uuid.uuid4(), Principal(Role.PROVIDER, NEAR), DeclineReason.OVERIG, None)
    assert region.store.snapshot() == before and region.bus.published == published


async def test_a_failing_command_publishes_nothing_and_rolls_its_changes_back(region: Region) -> None:
    await region.admit(NEAR, CRISIS)
    before, published = region.store.snapshot(), list(region.bus.published)
    with pytest.raises(Conflict):
        async with region.work() as uow:
            # The report is stored and announced before the second one fails the whole unit of work.
            figures = CapacityFigures(total=1, occupied=1)
            await capacity.report_capacity(uow, NEAR, CRISIS, figures, Principal(Role.PROVIDER, NEAR))
            assert region.store.history and uow.collected
            await capacity.report_capacity(uow, NEAR, Setting.GEZINSHUIS, figures, Principal(Role.PROVIDER, NEAR))
    assert region.store.snapshot() == before
    assert region.bus.published == published


async def test_when_every_candidate_declines_the_case_goes_to_the_expert_team(region: Region) -> None:
    await region.admit(NEAR, CRISIS)
    await region.report(NEAR, CRISIS, total=1, occupied=0)
    _, placement = await region.refer(CRISIS)
    async with region.work() as uow:
        await placements.decline(uow, placement.id, Principal(Role.PROVIDER, NEAR), DeclineReason.GROEP_VOL, "vol")

    [declined] = region.bus.events(PlacementDeclined)
    assert isinstance(declined, PlacementDeclined) and declined.reason is DeclineReason.GROEP_VOL
    assert len(region.bus.events(PlacementProposed)) == 1  # NEAR is never asked again
    [escalated] = region.bus.events(CaseEscalated)
    assert isinstance(escalated, CaseEscalated)
    assert (escalated.level, escalated.reason) == (
        EscalationLevel.EXPERTTEAM,
        EscalationReason.ALLE_KANDIDATEN_AFGEWEZEN,
    )
    waiting = region.placement(placement)
    assert (waiting.status, waiting.escalation_level) == ("open", EscalationLevel.EXPERTTEAM)
    assert region.store.proposals[0].note == "vol"
    assert region.store.alerts[-1].setting == CRISIS


async def test_an_open_shortage_turns_critical_when_more_youths_wait_than_there_are_places(region: Region) -> None:
    await region.admit(NEAR, CRISIS)
    await region.report(NEAR, CRISIS, total=1, occupied=1)
    _, placement = await region.refer(CRISIS)

    assert region.placement(placement).status == "open"
    [changed] = region.bus.events(ShortageChanged)
    assert isinstance(changed, ShortageChanged)
    assert (changed.previous_severity, changed.severity, changed.waiting) == (Severity.TEKORT, Severity.KRITIEK, 1)
    assert region.store.shortages[CRISIS].severity is Severity.KRITIEK
    # Withdrawn, the youth no longer counts as demand: the shortage is plain short again.
    withdrawn = ReferralWithdrawn(
        referral_id=placement.referral_id,
        client_ref=placement.client_ref,
        municipality_code=placement.municipality_code,
        reason=WithdrawalReason.ELDERS_GEHOLPEN,
        withdrawn_at=region.now,
    )
    async with region.work(cause=Envelope.wrap(withdrawn, source="intake")) as uow:
        await placements.withdraw(uow, withdrawn)
    assert region.placement(placement).status == "withdrawn"
    assert [e.severity for e in region.bus.events(ShortageChanged) if isinstance(e, ShortageChanged)] == [
        Severity.KRITIEK,
        Severity.TEKORT,
    ]


async def test_acknowledging_an_alert_twice_announces_it_once(region: Region) -> None:
    await region.admit(NEAR, CRISIS)
    await region.report(NEAR, CRISIS, total=1, occupied=1)
    alert_id = region.store.alerts[0].envelope.id
    async with region.work() as uow:
        assert await alerts.acknowledge(uow, alert_id, SCHAKELFUNCTIONARIS) is True
    async with region.work() as uow:
        assert await alerts.acknowledge(uow, alert_id, SCHAKELFUNCTIONARIS) is False

    [acknowledged] = region.bus.events(AlertAcknowledged)
    assert isinstance(acknowledged, AlertAcknowledged)
    assert (acknowledged.alert_id, acknowledged.alert_type) == (alert_id, ShortageDetected.event_type)
    assert region.store.alerts[0].acknowledged_by == "sf"
    with pytest.raises(NotFound):
        async with region.work() as uow:
            await alerts.acknowledge(uow, uuid.uuid4(), SCHAKELFUNCTIONARIS)
    assert len(region.bus.events(AlertAcknowledged)) == 1


async def test_a_reservation_nobody_answers_lapses_to_the_next_candidate(region: Region) -> None:
    await region.admit(NEAR, CRISIS, municipality=HILVERSUM)
    await region.admit(FAR, CRISIS, municipality=HUIZEN)
    await region.report(NEAR, CRISIS, total=1, occupied=0)
    await region.report(FAR, CRISIS, total=1, occupied=0)
    _, placement = await region.refer(CRISIS)

    region.now += timedelta(minutes=region.settings.reservation_minutes - 1)
    await timers.run_due(region.work)
    assert region.bus.events(PlacementDeclined) == []
    region.now += timedelta(minutes=1)
    await timers.run_due(region.work)

    [lapsed] = region.bus.events(PlacementDeclined)
    assert isinstance(lapsed, PlacementDeclined)
    assert (lapsed.provider_agb, lapsed.reason) == (NEAR, DeclineReason.GEEN_REACTIE)
    assert [p.provider_agb for p in region.bus.events(PlacementProposed) if isinstance(p, PlacementProposed)] == [
        NEAR,
        FAR,
    ]
    assert region.placement(placement).status == "proposed"


async def test_a_youth_still_unplaced_when_the_timer_runs_out_goes_to_the_schakelfunctionaris(region: Region) -> None:
    _, placement = await region.refer(CRISIS)  # no provider at all
    region.now += timedelta(hours=4)
    await timers.run_due(region.work)

    [escalated] = region.bus.events(CaseEscalated)
    assert isinstance(escalated, CaseEscalated)
    assert (escalated.level, escalated.reason) == (
        EscalationLevel.SCHAKELFUNCTIONARIS,
        EscalationReason.TERMIJN_VERLOPEN,
    )
    assert region.placement(placement).escalation_due_at == region.now + timedelta(hours=24)


async def test_a_report_nobody_refreshes_raises_one_stale_alert(region: Region) -> None:
    await region.admit(NEAR, CRISIS)
    await region.report(NEAR, CRISIS, total=3, occupied=0)
    region.now += timedelta(hours=region.settings.stale_after_hours)
    await timers.run_due(region.work)
    await timers.run_due(region.work)

    [stale] = region.bus.events(CapacityReportStale)
    assert isinstance(stale, CapacityReportStale)
    assert (stale.agb, stale.last_reported_at, stale.detected_at) == (NEAR, T0, region.now)


async def test_an_ended_contract_takes_its_places_out_of_the_region(region: Region) -> None:
    contract_id = uuid.uuid4()
    admitted = ProviderAdmitted(
        application_id=uuid.uuid4(),
        contract_id=contract_id,
        provider_agb=NEAR,
        lot="JH-VERBLIJF-RES",
        settings=[CRISIS],
        valid_from=date(2026, 1, 1),
        valid_to=date(2027, 12, 31),
        admitted_at=T0,
    )
    async with region.work() as uow:
        await capacity.admit(uow, admitted)
    await region.report(NEAR, CRISIS, total=2, occupied=0)
    assert region.bus.events(ShortageDetected) == []

    ended = ContractEnded(
        contract_id=contract_id,
        provider_agb=NEAR,
        lot="JH-VERBLIJF-RES",
        end_date=date(2026, 12, 1),
        reason="opgezegd",
        ended_at=region.now,
        settings=[CRISIS],
    )
    async with region.work(cause=Envelope.wrap(ended, source="contracting")) as uow:
        await capacity.end_contract(uow, ended)
    assert await region.store.admitted_settings(NEAR) == set()
    [detected] = region.bus.events(ShortageDetected)
    assert isinstance(detected, ShortageDetected) and detected.free_places == 0
