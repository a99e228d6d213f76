"""The doorbraak: the expert team takes up the case of a youth nobody could place, meets, decides how
to break through, and the case closes when the youth starts care, the decision is withdrawn or the
referral is.

A maatwerk decision is carried out by a maatwerk contract in contracting that names it
(``ContractConcluded.decision_id``): its provider is then admitted for this youth's placement alone
and proposed like any candidate (``matching.propose_next``). A decision still open at its due moment
raises ``DecisionOverdue`` once (``timers.run_due``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import date

from contracts.contracting import ContractConcluded, ContractKind
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
    MeetingHeld,
    WithdrawalReason,
)
from contracts.envelope import Envelope, EventAttributes
from contracts.intake import CareStarted
from contracts.verblijf import Setting
from services.capacity import domain
from services.capacity import doorbraak_rules as rules
from services.capacity.commands import Work
from services.capacity.commands.alerts import raise_alert
from services.capacity.commands.escalations import placement_to_change
from services.capacity.commands.matching import open_decision_outside, propose_next, release
from services.capacity.commands.shortages import reevaluate
from services.capacity.store import Decision, DoorbraakCase, Meeting, Placement, PlacementAdmission
from services.runtime.auth import Principal
from services.runtime.errors import Conflict, Invalid, NotFound
from services.runtime.workdays import dutch_date

log = logging.getLogger(__name__)


# --- the expert team's hand -------------------------------------------------------------------


async def take_up(uow: Work, placement_id: uuid.UUID, team: DoorbraakTeam, by: Principal) -> tuple[DoorbraakCase, bool]:
    """Open the case of an escalated, unplaced youth; the open case it already has (and False) when
    taken up before, so a retry or a colleague's second click changes nothing."""
    placement = await placement_to_change(uow, placement_id)
    existing = await uow.store.open_case_of(placement.id)
    if existing is not None:
        return existing, False
    why = rules.why_not_taken_up(placement.status, placement.escalation_level)
    if why is not None:
        raise Conflict(f"placement {placement_id} cannot be taken up: {why}")
    case = DoorbraakCase(
        id=uuid.uuid4(),
        placement_id=placement.id,
        referral_id=placement.referral_id,
        team=team,
        status="open",
        first_escalated_at=placement.first_escalated_at or placement.escalated_at or uow.now,
        taken_up_at=uow.now,
        taken_up_by=by.actor,
    )
    await uow.store.insert_case(case)
    uow.collect(
        CaseTakenUp(
            case_id=case.id,
            placement_id=placement.id,
            referral_id=placement.referral_id,
            client_ref=placement.client_ref,
            age=placement.age,
            municipality_code=placement.municipality_code,
            settings=[Setting(s) for s in placement.settings],
            urgency=placement.urgency,
            team=team,
            first_escalated_at=case.first_escalated_at,
            taken_up_at=uow.now,
        )
    )
    return case, True


async def record_meeting(
    uow: Work, case_id: uuid.UUID, held_on: date, parties: list[str], notes: str | None, by: Principal
) -> tuple[Meeting, bool]:
    """Record a meeting held about an open case; the same meeting posted again is returned (False)."""
    case, _ = await _open_case(uow, case_id)
    why = rules.why_not_held(held_on, dutch_date(uow.now))
    if why is not None:
        raise Invalid(why)
    for earlier in await uow.store.meetings(case.id):
        if (earlier.held_on, earlier.parties, earlier.notes) == (held_on, parties, notes):
            return earlier, False
    meeting = Meeting(uuid.uuid4(), case.id, held_on, list(parties), notes, uow.now, by.actor)
    await uow.store.insert_meeting(meeting)
    uow.collect(
        MeetingHeld(
            case_id=case.id,
            meeting_id=meeting.id,
            placement_id=case.placement_id,
            referral_id=case.referral_id,
            held_on=held_on,
            parties=list(parties),
            recorded_at=uow.now,
        )
    )
    return meeting, True


async def decide(uow: Work, case_id: uuid.UUID, terms: rules.DecisionTerms, by: Principal) -> tuple[Decision, bool]:
    """Decide how to break through, due ``terms.working_days`` working days from now.

    One open decision per case: posting the same terms again returns it (False); other terms
    conflict until it is carried out or withdrawn.
    """
    case, placement = await _open_case(uow, case_id)
    why = rules.why_not_decided(terms)
    if why is not None:
        raise Invalid(why)
    current = await uow.store.open_decision(case.id)
    if current is not None:
        if _terms(current) == terms:
            return current, False
        raise Conflict(
            f"case {case_id} has open decision {current.id} ({current.kind}, due {current.due_date}); "
            "withdraw it before deciding otherwise"
        )
    due = rules.due_date(uow.now, terms.working_days)
    decision = Decision(
        id=uuid.uuid4(),
        case_id=case.id,
        kind=terms.kind,
        executor=terms.executor,
        provider_agb=terms.provider_agb,
        settings=list(terms.settings),
        working_days=terms.working_days,
        due_date=due,
        overdue_from=rules.overdue_from(due),
        notes=terms.notes,
        decided_at=uow.now,
        decided_by=by.actor,
    )
    await uow.store.insert_decision(decision)
    made = uow.collect(
        DecisionMade(
            decision_id=decision.id,
            case_id=case.id,
            placement_id=case.placement_id,
            referral_id=case.referral_id,
            municipality_code=placement.municipality_code,
            kind=terms.kind,
            executor=terms.executor,
            provider_agb=terms.provider_agb,
            settings=[Setting(s) for s in terms.settings],
            working_days=terms.working_days,
            due_date=due,
            first_escalated_at=case.first_escalated_at,
            decided_at=uow.now,
        )
    )
    if terms.kind is DecisionKind.BUITEN_REGIO and placement.status == "open":
        # A place outside the region: asked of the pool at once (an open proposal is answered first).
        await uow.store.lock_settings([placement.demand_setting, *placement.settings])
        touched = await propose_next(uow, placement, made)
        await reevaluate(uow, {placement.demand_setting, *touched}, made)
    return decision, True


async def withdraw_decision(
    uow: Work, case_id: uuid.UUID, decision_id: uuid.UUID, reason: WithdrawalReason, notes: str | None
) -> Decision:
    """The team withdraws its decision, with a reason code; the case closes (besluit_ingetrokken).
    Withdrawing it again for the same reason returns it unchanged."""
    case, placement = await _locked(uow, case_id)
    decision = await uow.store.decision(decision_id)
    if decision is None or decision.case_id != case.id:
        raise NotFound(f"case {case_id} has no decision {decision_id}")
    if decision.status == "withdrawn" and decision.withdrawal_reason is reason:
        return decision
    if decision.status != "open":
        raise Conflict(f"decision {decision_id} was already {decision.status.replace('_', ' ')}")
    withdrawn = await _withdraw(uow, case, decision, reason, notes)
    await _close(uow, case, placement, CaseClosedReason.BESLUIT_INGETROKKEN)
    return withdrawn


# --- what other services tell capacity --------------------------------------------------------


async def carry_out(uow: Work, concluded: ContractConcluded) -> None:
    """A contract names an open decision: the decision is carried out, and a maatwerk contract's
    provider is admitted for this youth's placement alone and proposed (now if the youth waits with
    no proposal, else as soon as the open proposal is answered or lapses)."""
    if concluded.decision_id is None:
        return
    found = await _decision_locked(uow, concluded.decision_id)
    if found is None:
        return  # not ours, settled already, or a redelivery
    case, decision, placement = found
    maatwerk = concluded.kind is ContractKind.MAATWERK
    if maatwerk and concluded.client_ref != placement.client_ref:
        # A contract for another youth cannot carry out this youth's decision.
        log.warning("contract %s names decision %s but another client", concluded.contract_id, decision.id)
        return
    await _carried_out(uow, case, decision, concluded.contract_id)
    if not maatwerk or placement.status not in domain.UNPLACED:
        return
    contracted = [s.value for s in concluded.settings]
    setting = rules.proposal_setting(placement.settings, decision.settings, contracted)
    if setting is None:
        return
    await uow.store.admit_for_placement(
        PlacementAdmission(
            placement.id, concluded.provider_agb, setting, str(concluded.contract_id), decision.id, uow.now
        )
    )
    if placement.status == "open":
        await uow.store.lock_settings([placement.demand_setting, setting])
        touched = await propose_next(uow, placement, uow.cause)
        await reevaluate(uow, {placement.demand_setting, *touched})


async def carry_out_outside(uow: Work, placement: Placement, cause: Envelope) -> None:
    """A provider of another pool member took the youth: an open decision on a place outside the
    region is carried out (a decision of another kind waits for care to start, as before)."""
    found = await open_decision_outside(uow, placement)
    if found is not None:
        case, decision = found
        await _carried_out(uow, case, decision, None, cause)


async def close_on_care_started(uow: Work, started: CareStarted) -> None:
    """The youth started care: its case closes (zorg_gestart). An open decision is settled first; a
    youth still unplaced here (a PGB, a place outside the region) stops waiting ('elsewhere')."""
    placement = await uow.store.placement_of_referral(started.referral_id)
    if placement is None:
        return
    case = await uow.store.open_case_of(placement.id)
    if case is None:
        return
    decision = await uow.store.open_decision(case.id)
    if decision is not None:
        settled = rules.settle_on_care_start(decision.provider_agb, started.provider_agb)
        if settled is rules.Settlement.CARRIED_OUT:
            await _carried_out(uow, case, decision, None)
        else:
            await _withdraw(uow, case, decision, WithdrawalReason.ANDERE_OPLOSSING, None)
    if placement.status in domain.UNPLACED:
        await uow.store.lock_settings([placement.demand_setting, *placement.settings])
        await reevaluate(uow, await release(uow, placement, "elsewhere"))
    await _close(uow, case, placement, CaseClosedReason.ZORG_GESTART)


async def close_for_withdrawn_referral(uow: Work, placement: Placement) -> None:
    """The referral was withdrawn: an open decision is withdrawn with it and the case closes."""
    case = await uow.store.open_case_of(placement.id)
    if case is None:
        return
    decision = await uow.store.open_decision(case.id)
    if decision is not None:
        await _withdraw(uow, case, decision, WithdrawalReason.VERWIJZING_INGETROKKEN, None)
    await _close(uow, case, placement, CaseClosedReason.VERWIJZING_INGETROKKEN)


# --- time -------------------------------------------------------------------------------------


async def raise_overdue(uow: Work, decision_id: uuid.UUID) -> None:
    """Raise ``DecisionOverdue`` once for an open decision past its due moment."""
    found = await _decision_locked(uow, decision_id)
    if found is None:
        return  # settled meanwhile
    case, decision, placement = found
    if decision.overdue_alerted_at is not None or decision.overdue_from > uow.now:
        return  # another process raised it
    await uow.store.set_decision(decision.id, overdue_alerted_at=uow.now)
    overdue = DecisionOverdue(
        decision_id=decision.id,
        case_id=case.id,
        placement_id=case.placement_id,
        referral_id=case.referral_id,
        municipality_code=placement.municipality_code,
        kind=decision.kind,
        executor=decision.executor,
        due_date=decision.due_date,
        overdue_at=uow.now,
    )
    await raise_alert(uow, overdue, placement.demand_setting)


# --- the steps they share ---------------------------------------------------------------------


async def _locked(uow: Work, case_id: uuid.UUID) -> tuple[DoorbraakCase, Placement]:
    """The case and its placement, the placement locked first: its row is the lock of its case
    (``store/doorbraak.py``), so the case is read again once it is held."""
    found = await uow.store.case(case_id)
    if found is None:
        raise NotFound(f"no case with id {case_id}")
    placement = await placement_to_change(uow, found.placement_id)
    case = await uow.store.case(case_id)
    if case is None:  # a case is never deleted
        raise NotFound(f"no case with id {case_id}")
    return case, placement


async def _open_case(uow: Work, case_id: uuid.UUID) -> tuple[DoorbraakCase, Placement]:
    case, placement = await _locked(uow, case_id)
    if case.status != "open":
        raise Conflict(f"case {case_id} is closed ({case.closed_reason})")
    return case, placement


async def _decision_locked(uow: Work, decision_id: uuid.UUID) -> tuple[DoorbraakCase, Decision, Placement] | None:
    """An open decision of an open case, with both, under its placement's lock; None when there is
    no such decision or it is settled."""
    found = await uow.store.decision(decision_id)
    if found is None:
        return None
    try:
        case, placement = await _open_case(uow, found.case_id)
    except (NotFound, Conflict):
        return None
    decision = await uow.store.decision(decision_id)
    if decision is None or decision.status != "open":
        return None
    return case, decision, placement


def _terms(decision: Decision) -> rules.DecisionTerms:
    return rules.DecisionTerms(
        kind=decision.kind,
        executor=decision.executor,
        provider_agb=decision.provider_agb,
        settings=tuple(decision.settings),
        working_days=decision.working_days,
        notes=decision.notes,
    )


async def _carried_out(
    uow: Work,
    case: DoorbraakCase,
    decision: Decision,
    contract_id: uuid.UUID | None,
    cause: EventAttributes | None = None,
) -> Envelope:
    await uow.store.set_decision(decision.id, status="carried_out", carried_out_at=uow.now, contract_id=contract_id)
    return uow.collect(
        DecisionCarriedOut(
            decision_id=decision.id,
            case_id=case.id,
            placement_id=case.placement_id,
            referral_id=case.referral_id,
            contract_id=contract_id,
            carried_out_at=uow.now,
        ),
        cause=cause,
    )


async def _withdraw(
    uow: Work, case: DoorbraakCase, decision: Decision, reason: WithdrawalReason, notes: str | None
) -> Decision:
    await uow.store.set_decision(
        decision.id, status="withdrawn", withdrawn_at=uow.now, withdrawal_reason=reason, withdrawal_notes=notes
    )
    uow.collect(
        DecisionWithdrawn(
            decision_id=decision.id,
            case_id=case.id,
            placement_id=case.placement_id,
            referral_id=case.referral_id,
            reason=reason,
            withdrawn_at=uow.now,
        )
    )
    return replace(decision, status="withdrawn", withdrawn_at=uow.now, withdrawal_reason=reason, withdrawal_notes=notes)


async def _close(uow: Work, case: DoorbraakCase, placement: Placement, reason: CaseClosedReason) -> None:
    await uow.store.set_case(case.id, status="closed", closed_at=uow.now, closed_reason=reason)
    uow.collect(
        CaseClosed(
            case_id=case.id,
            placement_id=case.placement_id,
            referral_id=case.referral_id,
            municipality_code=placement.municipality_code,
            reason=reason,
            first_escalated_at=case.first_escalated_at,
            taken_up_at=case.taken_up_at,
            closed_at=uow.now,
        )
    )
