"""The doorbraak's HTTP routes: the expert team takes up an escalated youth's case, records meetings
and decisions, and withdraws a decision; the case roles read the case file.

Retries are safe the way the rest of Schakel makes them safe: by a natural key, not a header. Taking
up a youth with an open case returns that case (200); posting the same meeting, or the same decision
while it is open, returns the first (200); withdrawing a withdrawn decision for the same reason
returns it. Anything else that contradicts the state is a 409.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from contracts.capacity import DeclineReason
from contracts.codes import Urgentie
from contracts.doorbraak import CaseClosedReason, DecisionKind, DoorbraakTeam, Executor, WithdrawalReason
from contracts.identifiers import AgbCode
from contracts.verblijf import Setting
from services.capacity import doorbraak_rules as rules
from services.capacity.api import runtime
from services.capacity.audience import CASE_READERS, case_seen_by
from services.capacity.commands import doorbraak
from services.capacity.store import Decision, Meeting, open_store
from services.capacity.store.case_reads import case_file, list_cases
from services.runtime.auth import Principal, require
from services.runtime.errors import Forbidden, NotFound
from services.runtime.openapi import problems
from services.runtime.roles import Role

router = APIRouter(prefix="/v1", tags=["doorbraak"])

Note = Annotated[str, Field(max_length=2000)]


# --- bodies -----------------------------------------------------------------------------------


class TakeUp(BaseModel):
    placement_id: uuid.UUID = Field(description="The escalated youth's placement (GET /v1/placements).")
    team: DoorbraakTeam = DoorbraakTeam.EXPERTTEAM


class NewMeeting(BaseModel):
    held_on: date
    parties: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=20, description="Roles at the table (e.g. gemeente, aanbieder), never names."
    )
    notes: Note | None = Field(default=None, description="What was said; stays in capacity, never on Kafka.")


class NewDecision(BaseModel):
    kind: DecisionKind
    executor: Executor
    provider_agb: AgbCode | None = Field(default=None, description="The provider the decision names, if any.")
    settings: list[Setting] = Field(default_factory=list, max_length=len(Setting))
    working_days: int = Field(ge=1, le=60, description="Working days (Mon–Fri, no public holidays) to carry it out.")
    notes: Note | None = Field(default=None, description="Why; stays in capacity, never on Kafka.")

    def terms(self) -> rules.DecisionTerms:
        return rules.DecisionTerms(
            kind=self.kind,
            executor=self.executor,
            provider_agb=self.provider_agb,
            settings=tuple(s.value for s in self.settings),
            working_days=self.working_days,
            notes=self.notes,
        )


class Withdrawal(BaseModel):
    reason: WithdrawalReason
    notes: Note | None = Field(default=None, description="Stays in capacity, never on Kafka.")


# --- views ------------------------------------------------------------------------------------


class OpenDecision(BaseModel):
    decision_id: uuid.UUID
    kind: DecisionKind
    executor: Executor
    due_date: date
    overdue: bool


class CaseSummary(BaseModel):
    """A case in the list: pseudonymous, as the expert team works it."""

    case_id: uuid.UUID
    placement_id: uuid.UUID
    referral_id: uuid.UUID
    team: DoorbraakTeam
    status: Literal["open", "closed"]
    municipality_code: str
    age: int
    urgency: Urgentie
    settings: list[Setting]
    placement_status: str
    first_escalated_at: datetime
    taken_up_at: datetime
    closed_at: datetime | None
    closed_reason: CaseClosedReason | None
    open_decision: OpenDecision | None


class CaseProposal(BaseModel):
    agb: str
    setting: Setting
    proposed_at: datetime
    reserved_until: datetime
    outcome: str | None
    reason: DeclineReason | None
    note: str | None
    decided_at: datetime | None


class CaseEscalation(BaseModel):
    level: str
    reason: str | None
    escalated_at: datetime


class MeetingView(BaseModel):
    meeting_id: uuid.UUID
    held_on: date
    parties: list[str]
    notes: str | None
    recorded_at: datetime
    recorded_by: str


class DecisionView(BaseModel):
    decision_id: uuid.UUID
    kind: DecisionKind
    executor: Executor
    provider_agb: str | None
    settings: list[Setting]
    working_days: int
    due_date: date
    notes: str | None
    decided_at: datetime
    decided_by: str
    status: Literal["open", "carried_out", "withdrawn"]
    overdue: bool
    carried_out_at: datetime | None
    contract_id: uuid.UUID | None
    withdrawn_at: datetime | None
    withdrawal_reason: WithdrawalReason | None
    withdrawal_notes: str | None


class CaseFile(CaseSummary):
    """The case with its history: when the youth was referred and how urgently, where it was
    proposed and why providers declined (codes), its reservations, escalations, meetings, decisions."""

    client_ref: str
    referred_at: datetime
    escalation_level: str | None
    escalation_note: str | None
    confirmed_agb: str | None
    confirmed_setting: Setting | None
    confirmed_at: datetime | None
    proposals: list[CaseProposal]
    escalations: list[CaseEscalation]
    meetings: list[MeetingView]
    decisions: list[DecisionView]


def _open_decision(row: Any) -> OpenDecision | None:
    if row["decision_id"] is None:
        return None
    return OpenDecision(
        decision_id=row["decision_id"],
        kind=row["decision_kind"],
        executor=row["decision_executor"],
        due_date=row["decision_due_date"],
        overdue=row["overdue"],
    )


def _summary(row: Any) -> CaseSummary:
    return CaseSummary.model_validate({**dict(row), "open_decision": _open_decision(row)})


def _meeting(meeting: Meeting) -> MeetingView:
    return MeetingView(
        meeting_id=meeting.id,
        held_on=meeting.held_on,
        parties=meeting.parties,
        notes=meeting.notes,
        recorded_at=meeting.recorded_at,
        recorded_by=meeting.recorded_by,
    )


def _decision(decision: Decision, now: datetime) -> DecisionView:
    return DecisionView(
        decision_id=decision.id,
        kind=decision.kind,
        executor=decision.executor,
        provider_agb=decision.provider_agb,
        settings=[Setting(s) for s in decision.settings],
        working_days=decision.working_days,
        due_date=decision.due_date,
        notes=decision.notes,
        decided_at=decision.decided_at,
        decided_by=decision.decided_by,
        status=decision.status,
        overdue=decision.status == "open" and decision.overdue_from <= now,
        carried_out_at=decision.carried_out_at,
        contract_id=decision.contract_id,
        withdrawn_at=decision.withdrawn_at,
        withdrawal_reason=decision.withdrawal_reason,
        withdrawal_notes=decision.withdrawal_notes,
    )


async def _case_file(request: Request, case_id: uuid.UUID, principal: Principal) -> CaseFile:
    found = await case_file(runtime(request).pool, case_id, runtime(request).now())
    if found is None:
        raise NotFound(f"no case with id {case_id}")
    seen = case_seen_by(found, principal.role)
    return CaseFile.model_validate({**seen, "open_decision": _open_decision(found)})


def _replayed(created: bool, response: Response) -> None:
    """A retry or a second click answers 200 with what the first made."""
    if not created:
        response.status_code = 200


# --- routes -----------------------------------------------------------------------------------

# The pool's expertisenetwerk may take up and work the cases of its own region (as DoorbraakTeam.EXPERTISENETWERK).
EXPERTTEAM = require(Role.EXPERTTEAM, Role.EXPERTISENETWERK)


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseFile,
    summary="Take up the case of an escalated, unplaced youth (its open case if it has one: 200)",
    responses={
        200: {"model": CaseFile, "description": "The youth's open case, taken up before"},
        **problems(403, 404, 409),
    },
)
async def take_up_case(
    body: TakeUp, request: Request, response: Response, principal: Principal = Depends(EXPERTTEAM)
) -> CaseFile:
    if principal.role is Role.EXPERTISENETWERK and body.team is not DoorbraakTeam.EXPERTISENETWERK:
        raise Forbidden("an expertisenetwerk key takes up a case as team expertisenetwerk")
    async with runtime(request).work(open_store) as uow:
        case, created = await doorbraak.take_up(uow, body.placement_id, body.team, principal)
    _replayed(created, response)
    return await _case_file(request, case.id, principal)


@router.get(
    "/cases",
    response_model=list[CaseSummary],
    summary="Cases of the expert team: overdue decisions first, then the longest escalated",
)
async def get_cases(
    request: Request,
    status: Annotated[Literal["open", "closed"] | None, Query(description="open or closed; both if absent")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    _: Principal = Depends(require(*CASE_READERS)),
) -> list[CaseSummary]:
    rows = await list_cases(runtime(request).pool, status=status, now=runtime(request).now(), limit=limit)
    return [_summary(r) for r in rows]


@router.get(
    "/cases/{case_id}",
    response_model=CaseFile,
    summary="One case file with its history (no BSN, name or birth date)",
    responses=problems(404),
)
async def get_case(
    case_id: uuid.UUID, request: Request, principal: Principal = Depends(require(*CASE_READERS))
) -> CaseFile:
    return await _case_file(request, case_id, principal)


@router.post(
    "/cases/{case_id}/meetings",
    status_code=201,
    response_model=MeetingView,
    summary="Record a meeting of the expert team or the doorbraaktafel (notes stay in capacity)",
    responses={200: {"model": MeetingView, "description": "The same meeting, recorded before"}, **problems(404, 409)},
)
async def post_meeting(
    case_id: uuid.UUID,
    body: NewMeeting,
    request: Request,
    response: Response,
    principal: Principal = Depends(EXPERTTEAM),
) -> MeetingView:
    async with runtime(request).work(open_store) as uow:
        meeting, created = await doorbraak.record_meeting(
            uow, case_id, body.held_on, body.parties, body.notes, principal
        )
    _replayed(created, response)
    return _meeting(meeting)


@router.post(
    "/cases/{case_id}/decisions",
    status_code=201,
    response_model=DecisionView,
    summary="Decide how to break through, due in working days; one open decision per case",
    responses={
        200: {"model": DecisionView, "description": "The same decision, still open, made before"},
        **problems(404, 409),
    },
)
async def post_decision(
    case_id: uuid.UUID,
    body: NewDecision,
    request: Request,
    response: Response,
    principal: Principal = Depends(EXPERTTEAM),
) -> DecisionView:
    async with runtime(request).work(open_store) as uow:
        decision, created = await doorbraak.decide(uow, case_id, body.terms(), principal)
        now = uow.now
    _replayed(created, response)
    return _decision(decision, now)


@router.post(
    "/cases/{case_id}/decisions/{decision_id}/withdrawal",
    response_model=DecisionView,
    summary="Withdraw a decision with a reason code; the case closes (besluit_ingetrokken)",
    responses=problems(404, 409),
)
async def withdraw_decision(
    case_id: uuid.UUID,
    decision_id: uuid.UUID,
    body: Withdrawal,
    request: Request,
    _: Principal = Depends(EXPERTTEAM),
) -> DecisionView:
    async with runtime(request).work(open_store) as uow:
        decision = await doorbraak.withdraw_decision(uow, case_id, decision_id, body.reason, body.notes)
        now = uow.now
    return _decision(decision, now)
