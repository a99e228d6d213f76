"""The doorbraak's commands on the in-memory store: taking up a case, meetings and decisions, a
maatwerk contract carrying a decision out (and its provider proposed for this youth alone), the
case closing, and a decision overdue raised once. The same on PostgreSQL in
tests/integration/capacity/test_doorbraak.py."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, timedelta

import pytest

from contracts.capacity import DeclineReason, PlacementConfirmed, PlacementDeclined, PlacementProposed
from contracts.codes import Productcategorie
from contracts.contracting import ContractConcluded, ContractEnded, ContractKind
from contracts.doorbraak import (
    CaseClosed,
    CaseClosedReason,
    CaseTakenUp,
    DecisionCarriedOut,
    DecisionKind,
    DecisionMade,
    DecisionOverdue,
    DecisionWithdrawn,
    DoorbraakTeam,
    Executor,
    MeetingHeld,
    WithdrawalReason,
)
from contracts.envelope import Envelope
from contracts.intake import CareStarted, ReferralWithdrawn
from contracts.intake import WithdrawalReason as ReferralWithdrawalReason
from contracts.verblijf import Setting
from services.capacity import doorbraak_rules as rules
from services.capacity.commands import capacity, doorbraak, escalations, placements, timers
from services.capacity.store import DoorbraakCase, Placement
from services.runtime.auth import Principal
from services.runtime.errors import Conflict, Invalid
from services.runtime.roles import Role
from tests.unit.capacity.test_commands_in_memory import NEAR, SCHAKELFUNCTIONARIS, T0, Region

CRISIS = Setting.CRISISPLEK
MAATWERK_AGB = "40000001"
EXPERTTEAM = Principal(Role.EXPERTTEAM, "et.gooi")
MAATWERK = rules.DecisionTerms(DecisionKind.MAATWERK, Executor.GEMEENTE, MAATWERK_AGB, ("crisisplek",), 5, "bel eerst")


@pytest.fixture
async def region() -> Region:
    region = Region()
    await region.admit(NEAR, CRISIS)
    await region.report(NEAR, CRISIS, total=1, occupied=1)
    return region


async def _escalated(region: Region) -> Placement:
    """A crisis youth nobody can place, escalated by the schakelfunctionaris."""
    _, placement = await region.refer(CRISIS)
    async with region.work() as uow:
        await escalations.escalate_by_hand(uow, placement.id, SCHAKELFUNCTIONARIS, "niemand heeft plek")
    return region.placement(placement)


async def _case(region: Region, placement: Placement) -> DoorbraakCase:
    async with region.work() as uow:
        case, created = await doorbraak.take_up(uow, placement.id, DoorbraakTeam.EXPERTTEAM, EXPERTTEAM)
    assert created
    return case


async def _decide(region: Region, case: DoorbraakCase, terms: rules.DecisionTerms = MAATWERK) -> uuid.UUID:
    async with region.work() as uow:
        decision, _ = await doorbraak.decide(uow, case.id, terms, EXPERTTEAM)
    return decision.id


def _concluded(placement: Placement, decision_id: uuid.UUID | None, **changes: object) -> Envelope:
    fields: dict[str, object] = dict(
        contract_id=uuid.uuid4(),
        kind=ContractKind.MAATWERK,
        provider_agb=MAATWERK_AGB,
        lot="CRISIS",
        settings=[CRISIS],
        client_ref=placement.client_ref,
        decision_id=decision_id,
        valid_from=date(2026, 11, 24),
        valid_to=date(2027, 11, 23),
        concluded_at=T0,
    )
    return Envelope.wrap(ContractConcluded.model_validate(fields | changes), source="contracting")


async def _apply(region: Region, envelope: Envelope) -> None:
    """Apply another service's event as capacity's consumers do."""
    event = envelope.payload()
    async with region.work(cause=envelope) as uow:
        if isinstance(event, ContractConcluded):
            await doorbraak.carry_out(uow, event)
        elif isinstance(event, CareStarted):
            await doorbraak.close_on_care_started(uow, event)
        elif isinstance(event, ReferralWithdrawn):
            await placements.withdraw(uow, event)


def _care_started(placement: Placement, agb: str = MAATWERK_AGB) -> Envelope:
    started = CareStarted(
        allocation_id=uuid.uuid4(),
        referral_id=placement.referral_id,
        client_ref=placement.client_ref,
        municipality_code=placement.municipality_code,
        provider_agb=agb,
        product_category=Productcategorie.CRISIS,
        start_date=date(2026, 11, 25),
        reported_at=T0,
    )
    return Envelope.wrap(started, source="intake")


# --- taking up --------------------------------------------------------------------------------


async def test_the_expert_team_takes_up_an_escalated_youth_once(region: Region) -> None:
    placement = await _escalated(region)
    case = await _case(region, placement)

    [taken] = region.bus.events(CaseTakenUp)
    assert isinstance(taken, CaseTakenUp)
    assert (taken.case_id, taken.placement_id, taken.client_ref) == (case.id, placement.id, placement.client_ref)
    assert taken.first_escalated_at == placement.first_escalated_at == T0
    assert (taken.urgency, taken.settings, taken.team) == (placement.urgency, [CRISIS], DoorbraakTeam.EXPERTTEAM)
    published = len(region.bus.published)

    async with region.work() as uow:
        again, created = await doorbraak.take_up(uow, placement.id, DoorbraakTeam.EXPERTTEAM, EXPERTTEAM)
    assert (again, created) == (case, False)
    assert len(region.bus.published) == published


async def test_a_youth_not_escalated_cannot_be_taken_up_and_nothing_changes(region: Region) -> None:
    _, placement = await region.refer(CRISIS)
    published, before = len(region.bus.published), region.store.snapshot()

    with pytest.raises(Conflict, match="not escalated"):
        async with region.work() as uow:
            await doorbraak.take_up(uow, placement.id, DoorbraakTeam.EXPERTTEAM, EXPERTTEAM)

    assert len(region.bus.published) == published and region.store.snapshot() == before


async def test_the_first_escalation_stays_when_the_youth_escalates_further(region: Region) -> None:
    placement = await _escalated(region)
    region.now += timedelta(hours=1)
    async with region.work() as uow:
        await escalations.escalate_by_hand(uow, placement.id, SCHAKELFUNCTIONARIS, None)
    escalated = region.placement(placement)
    assert (escalated.escalated_at, escalated.first_escalated_at) == (T0 + timedelta(hours=1), T0)


# --- meetings and decisions -------------------------------------------------------------------


async def test_a_meeting_travels_without_its_notes_and_a_repost_is_the_same_meeting(region: Region) -> None:
    case = await _case(region, await _escalated(region))
    async with region.work() as uow:
        meeting, created = await doorbraak.record_meeting(
            uow, case.id, date(2026, 11, 23), ["gemeente", "aanbieder"], "vertrouwelijk", EXPERTTEAM
        )
    assert created
    [held] = region.bus.events(MeetingHeld)
    assert isinstance(held, MeetingHeld)
    assert (held.meeting_id, held.parties) == (meeting.id, ["gemeente", "aanbieder"])
    assert "vertrouwelijk" not in str([e.model_dump() for _, e in region.bus.published])

    async with region.work() as uow:
        again, created = await doorbraak.record_meeting(
            uow, case.id, date(2026, 11, 23), ["gemeente", "aanbieder"], "vertrouwelijk", EXPERTTEAM
        )
    assert (again, created) == (meeting, False)
    assert len(region.bus.events(MeetingHeld)) == 1


async def test_a_meeting_in_the_future_is_refused(region: Region) -> None:
    case = await _case(region, await _escalated(region))
    with pytest.raises(Invalid, match="after today"):
        async with region.work() as uow:
            await doorbraak.record_meeting(uow, case.id, date(2026, 11, 24), [], None, EXPERTTEAM)


async def test_a_decision_is_due_in_working_days_and_one_is_open_at_a_time(region: Region) -> None:
    case = await _case(region, await _escalated(region))
    decision_id = await _decide(region, case)

    [made] = region.bus.events(DecisionMade)
    assert isinstance(made, DecisionMade)
    assert (made.decision_id, made.kind, made.executor) == (decision_id, DecisionKind.MAATWERK, Executor.GEMEENTE)
    assert (made.due_date, made.working_days, made.provider_agb) == (date(2026, 11, 30), 5, MAATWERK_AGB)
    assert "bel eerst" not in str(region.bus.published)

    async with region.work() as uow:
        again, created = await doorbraak.decide(uow, case.id, MAATWERK, EXPERTTEAM)
    assert (again.id, created) == (decision_id, False)
    with pytest.raises(Conflict, match="has open decision"):
        async with region.work() as uow:
            await doorbraak.decide(
                uow, case.id, rules.DecisionTerms(DecisionKind.PGB, Executor.GEMEENTE, None, (), 3, None), EXPERTTEAM
            )
    assert len(region.bus.events(DecisionMade)) == 1


# --- the decision moves the system ------------------------------------------------------------


async def test_a_maatwerk_contract_carries_the_decision_out_and_its_provider_is_proposed_for_this_youth(
    region: Region,
) -> None:
    placement = await _escalated(region)
    case = await _case(region, placement)
    decision_id = await _decide(region, case)
    concluded = _concluded(placement, decision_id)

    await _apply(region, concluded)

    [carried] = region.bus.events(DecisionCarriedOut)
    assert isinstance(carried, DecisionCarriedOut)
    assert (carried.decision_id, carried.contract_id) == (decision_id, concluded.payload().contract_id)  # type: ignore[attr-defined]
    [proposed] = region.bus.events(PlacementProposed)
    assert isinstance(proposed, PlacementProposed)
    assert (proposed.placement_id, proposed.provider_agb, proposed.setting) == (placement.id, MAATWERK_AGB, CRISIS)
    assert region.placement(placement).status == "proposed"
    # Admitted for this youth alone: never a candidate for anyone else.
    assert MAATWERK_AGB not in {c.agb for c in await region.store.candidates([CRISIS])}

    async with region.work() as uow:
        await placements.accept(uow, placement.id, Principal(Role.PROVIDER, MAATWERK_AGB))
    [confirmed] = region.bus.events(PlacementConfirmed)
    assert isinstance(confirmed, PlacementConfirmed) and confirmed.provider_agb == MAATWERK_AGB
    assert region.store.cases[case.id].status == "open"  # until the youth starts care

    await _apply(region, _care_started(placement))
    [closed] = region.bus.events(CaseClosed)
    assert isinstance(closed, CaseClosed)
    assert (closed.case_id, closed.reason) == (case.id, CaseClosedReason.ZORG_GESTART)
    assert closed.first_escalated_at == T0
    assert region.store.cases[case.id].status == "closed"


async def test_a_redelivered_or_foreign_contract_changes_nothing(region: Region) -> None:
    placement = await _escalated(region)
    decision_id = await _decide(region, await _case(region, placement))
    published, before = len(region.bus.published), region.store.snapshot()

    await _apply(region, _concluded(placement, decision_id, client_ref="f" * 64))
    await _apply(region, _concluded(placement, uuid.uuid4()))
    await _apply(region, _concluded(placement, None))
    assert len(region.bus.published) == published and region.store.snapshot() == before

    await _apply(region, _concluded(placement, decision_id))
    published = len(region.bus.published)
    await _apply(region, _concluded(placement, decision_id))
    assert len(region.bus.published) == published


async def test_a_maatwerk_provider_waits_for_the_open_proposal_to_be_answered(region: Region) -> None:
    placement = await _escalated(region)
    decision_id = await _decide(region, await _case(region, placement))
    await region.report(NEAR, CRISIS, total=2, occupied=1)  # a place comes free: proposed to NEAR
    assert region.placement(placement).status == "proposed"

    await _apply(region, _concluded(placement, decision_id))
    assert [p.agb for p in region.store.proposals] == [NEAR]

    async with region.work() as uow:
        await placements.decline(uow, placement.id, Principal(Role.PROVIDER, NEAR), DeclineReason.GROEP_VOL, None)
    assert region.bus.events(PlacementDeclined)
    assert [p.agb for p in region.store.proposals] == [NEAR, MAATWERK_AGB]


async def test_a_provider_that_declined_the_youth_is_proposed_again_under_its_maatwerk_contract(region: Region) -> None:
    """The arrangement is made so that the provider who said "zorgzwaarte" can say yes: its earlier
    answer does not count against the contract made for this youth; an answer after it does."""
    await region.report(NEAR, CRISIS, total=2, occupied=1)
    _, placement = await region.refer(CRISIS)
    async with region.work() as uow:
        await placements.decline(uow, placement.id, Principal(Role.PROVIDER, NEAR), DeclineReason.ZORGZWAARTE, None)
    assert region.placement(placement).escalation_level is not None  # every candidate declined
    case = await _case(region, region.placement(placement))
    region.now += timedelta(hours=1)
    decision_id = await _decide(region, case, dataclasses.replace(MAATWERK, provider_agb=NEAR))

    await _apply(
        region, _concluded(region.placement(placement), decision_id, provider_agb=NEAR, concluded_at=region.now)
    )

    assert [(p.agb, p.outcome) for p in region.store.proposals] == [(NEAR, "declined"), (NEAR, None)]
    async with region.work() as uow:
        await placements.decline(uow, placement.id, Principal(Role.PROVIDER, NEAR), DeclineReason.GROEP_VOL, None)
    assert [p.agb for p in region.store.proposals] == [NEAR, NEAR], "declined under the contract: not proposed again"


async def test_ending_the_maatwerk_contract_ends_its_providers_admission_for_the_youth(region: Region) -> None:
    placement = await _escalated(region)
    decision_id = await _decide(region, await _case(region, placement))
    await region.report(NEAR, CRISIS, total=2, occupied=1)
    concluded = _concluded(placement, decision_id)
    await _apply(region, concluded)
    contract = concluded.payload()
    assert isinstance(contract, ContractConcluded)
    ended = ContractEnded(
        contract_id=contract.contract_id,
        provider_agb=MAATWERK_AGB,
        lot="CRISIS",
        end_date=date(2026, 11, 23),
        reason="ontbonden",
        ended_at=T0,
        settings=[CRISIS],
        kind=ContractKind.MAATWERK,
    )
    async with region.work(cause=Envelope.wrap(ended, source="contracting")) as uow:
        await capacity.end_contract(uow, ended)

    async with region.work() as uow:
        await placements.decline(uow, placement.id, Principal(Role.PROVIDER, NEAR), DeclineReason.GROEP_VOL, None)
    assert [p.agb for p in region.store.proposals] == [NEAR]
    assert region.placement(placement).status == "open"


async def test_care_starting_without_a_place_here_closes_the_case_and_the_youth_stops_waiting(region: Region) -> None:
    placement = await _escalated(region)
    case = await _case(region, placement)
    await _decide(region, case, rules.DecisionTerms(DecisionKind.PGB, Executor.GEMEENTE, None, (), 10, None))

    await _apply(region, _care_started(placement, agb="50000009"))

    [carried] = region.bus.events(DecisionCarriedOut)
    assert isinstance(carried, DecisionCarriedOut) and carried.contract_id is None
    [closed] = region.bus.events(CaseClosed)
    assert isinstance(closed, CaseClosed) and closed.reason is CaseClosedReason.ZORG_GESTART
    assert region.placement(placement).status == "elsewhere"


async def test_care_starting_elsewhere_withdraws_a_decision_naming_another_provider(region: Region) -> None:
    placement = await _escalated(region)
    await _decide(region, await _case(region, placement))

    await _apply(region, _care_started(placement, agb="50000009"))

    [withdrawn] = region.bus.events(DecisionWithdrawn)
    assert isinstance(withdrawn, DecisionWithdrawn) and withdrawn.reason is WithdrawalReason.ANDERE_OPLOSSING
    assert region.bus.events(DecisionCarriedOut) == []


# --- ending a case ----------------------------------------------------------------------------


async def test_withdrawing_the_decision_closes_the_case_and_a_retry_changes_nothing(region: Region) -> None:
    case = await _case(region, await _escalated(region))
    decision_id = await _decide(region, case)

    async with region.work() as uow:
        withdrawn = await doorbraak.withdraw_decision(
            uow, case.id, decision_id, WithdrawalReason.NIET_UITVOERBAAR, "geen aanbieder"
        )
    assert (withdrawn.status, withdrawn.withdrawal_reason) == ("withdrawn", WithdrawalReason.NIET_UITVOERBAAR)
    assert [type(e).__name__ for e in region.bus.events()][-2:] == ["DecisionWithdrawn", "CaseClosed"]
    [closed] = region.bus.events(CaseClosed)
    assert isinstance(closed, CaseClosed) and closed.reason is CaseClosedReason.BESLUIT_INGETROKKEN
    published = len(region.bus.published)

    async with region.work() as uow:
        await doorbraak.withdraw_decision(uow, case.id, decision_id, WithdrawalReason.NIET_UITVOERBAAR, None)
    assert len(region.bus.published) == published
    with pytest.raises(Conflict, match="already withdrawn"):
        async with region.work() as uow:
            await doorbraak.withdraw_decision(uow, case.id, decision_id, WithdrawalReason.OVERIG, None)


async def test_a_withdrawn_referral_withdraws_the_decision_and_closes_the_case(region: Region) -> None:
    placement = await _escalated(region)
    case = await _case(region, placement)
    await _decide(region, case)
    withdrawn = ReferralWithdrawn(
        referral_id=placement.referral_id,
        client_ref=placement.client_ref,
        municipality_code=placement.municipality_code,
        reason=ReferralWithdrawalReason.NIET_MEER_NODIG,
        withdrawn_at=region.now,
    )

    await _apply(region, Envelope.wrap(withdrawn, source="intake"))

    [decision] = region.bus.events(DecisionWithdrawn)
    assert isinstance(decision, DecisionWithdrawn) and decision.reason is WithdrawalReason.VERWIJZING_INGETROKKEN
    [closed] = region.bus.events(CaseClosed)
    assert isinstance(closed, CaseClosed) and closed.reason is CaseClosedReason.VERWIJZING_INGETROKKEN
    assert region.placement(placement).status == "withdrawn"


# --- time -------------------------------------------------------------------------------------


async def test_a_decision_not_carried_out_by_its_due_date_raises_decision_overdue_once(region: Region) -> None:
    placement = await _escalated(region)
    case = await _case(region, placement)
    decision_id = await _decide(region, case)  # due Monday 30 November 2026

    region.now = rules.overdue_from(date(2026, 11, 30)) - timedelta(seconds=1)
    await timers.run_due(region.work)
    assert region.bus.events(DecisionOverdue) == []

    region.now += timedelta(seconds=1)
    await timers.run_due(region.work)
    await timers.run_due(region.work)
    [overdue] = region.bus.events(DecisionOverdue)
    assert isinstance(overdue, DecisionOverdue)
    assert (overdue.decision_id, overdue.due_date, overdue.executor) == (
        decision_id,
        date(2026, 11, 30),
        Executor.GEMEENTE,
    )
    assert [a.envelope.type for a in region.store.alerts][-1] == DecisionOverdue.event_type


async def test_a_decision_carried_out_in_time_is_never_overdue(region: Region) -> None:
    placement = await _escalated(region)
    decision_id = await _decide(region, await _case(region, placement))
    await _apply(region, _concluded(placement, decision_id))

    region.now += timedelta(days=30)
    await timers.run_due(region.work)
    assert region.bus.events(DecisionOverdue) == []
