"""Open House admission: an application decided per lot (admitted, waitlisted or rejected), and editing a
lot, where reopening a waitlisted lot admits its waitlist in order of arrival.

Open House events are keyed by the provider's AGB; the decisions on an application are caused by
its ApplicationReceived.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.contracting import ApplicationReceived, ApplicationRejected, ContractKind, ProviderWaitlisted
from contracts.envelope import EventAttributes
from contracts.identifiers import AgbCode, PerceelCode
from services.contracting.commands.contracts import ContractWork, register
from services.contracting.contract_store import ContractRecord
from services.contracting.domain.lots import Evidence, Lot, LotStatus, Outcome, contract_period, decide
from services.runtime.errors import Invalid
from services.runtime.workdays import dutch_date


class Application(BaseModel):
    """An Open House application (body of ``POST /v1/open-house/applications``)."""

    model_config = ConfigDict(extra="forbid")

    provider_agb: AgbCode
    kvk: str = Field(pattern=r"^\d{8}$", description="KvK number: 8 digits.")
    lots: list[PerceelCode] = Field(min_length=1, max_length=50)
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _distinct_lots(self) -> Application:
        if len(set(self.lots)) != len(self.lots):
            raise ValueError("lots: each lot at most once")
        return self


@dataclass(frozen=True)
class LotResult:
    """What became of one provider for one lot: a contract, a place on the waitlist, or the reasons why not."""

    lot: str
    outcome: Outcome
    contract_id: uuid.UUID | None = None
    position: int | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Applicant:
    """Who is decided on, under which application."""

    application_id: uuid.UUID
    provider_agb: str


async def apply(uow: ContractWork, application: Application) -> tuple[uuid.UUID, list[LotResult]]:
    """Decide every lot of the application: admitted (with a contract), waitlisted, or rejected with reasons."""
    applicant = Applicant(uuid.uuid4(), application.provider_agb)
    lots: dict[str, Lot] = {}
    unknown = []
    for code in sorted(application.lots):  # locked in one order, so concurrent applications cannot deadlock
        lot = await uow.store.get_lot(code, lock=True)
        if lot is None:
            unknown.append(code)
        else:
            lots[code] = lot
    if unknown:
        raise Invalid(f"lots: unknown lot(s) {unknown}; see GET /v1/lots")
    await uow.store.insert_application(
        applicant.application_id, applicant.provider_agb, application.kvk, application.evidence, uow.now
    )
    received = uow.collect(
        ApplicationReceived(
            application_id=applicant.application_id,
            provider_agb=applicant.provider_agb,
            lots=application.lots,
            received_at=uow.now,
        )
    )
    results = []
    for code in application.lots:
        already = await _already(uow, applicant.provider_agb, code)
        decision = decide(lots[code], application.evidence, dutch_date(uow.now), already=already)
        results.append(await _carry_out(uow, applicant, lots[code], decision.outcome, decision.reasons, received))
    return applicant.application_id, results


async def _already(uow: ContractWork, agb: str, lot: str) -> str | None:
    contract_id = await uow.store.running_open_house(agb, lot)
    if contract_id:
        return f"already holds Open House contract {contract_id} for lot {lot}"
    position = await uow.store.waitlist_position(lot, agb)
    if position:
        return f"already on the waitlist of lot {lot} at position {position}"
    return None


async def _carry_out(
    uow: ContractWork,
    applicant: Applicant,
    lot: Lot,
    outcome: Outcome,
    reasons: Sequence[str],
    cause: EventAttributes | None,
) -> LotResult:
    application_id, agb = applicant.application_id, applicant.provider_agb
    await uow.store.record_decision(application_id, lot.code, outcome.value, reasons, uow.now)
    if outcome is Outcome.ADMITTED:
        valid_from, valid_to = contract_period(dutch_date(uow.now), lot.contract_term_years)
        contract = ContractRecord(
            id=uuid.uuid4(),
            kind=ContractKind.OPEN_HOUSE,
            provider_agb=agb,
            lot=lot.code,
            valid_from=valid_from,
            valid_to=valid_to,
            created_at=uow.now,
            application_id=application_id,
        )
        await register(uow, contract, lot, cause)
        return LotResult(lot.code, outcome, contract_id=contract.id)
    if outcome is Outcome.WAITLISTED:
        position = await uow.store.join_waitlist(lot.code, application_id, agb, uow.now)
        uow.collect(
            ProviderWaitlisted(
                application_id=application_id, provider_agb=agb, lot=lot.code, position=position, waitlisted_at=uow.now
            ),
            cause=cause,
        )
        return LotResult(lot.code, outcome, position=position)
    uow.collect(
        ApplicationRejected(
            application_id=application_id, provider_agb=agb, lot=lot.code, reasons=list(reasons), rejected_at=uow.now
        ),
        cause=cause,
    )
    return LotResult(lot.code, outcome, reasons=tuple(reasons))


async def put_lot(uow: ContractWork, lot: Lot, by: str) -> list[LotResult]:
    """Create or replace a lot, as actor ``by``. Reopening a waitlisted lot admits its waitlist in order of
    arrival — each one checked again against the lot's current requirements."""
    before = await uow.store.get_lot(lot.code, lock=True)
    await uow.store.put_lot(lot, uow.now, by)
    if before is None or before.status is not LotStatus.WAITLIST or lot.status is not LotStatus.OPEN:
        return []
    admitted = []
    for waiting in await uow.store.waiting(lot.code):
        decision = decide(lot, waiting.evidence, dutch_date(uow.now))
        await uow.store.leave_waitlist(waiting.seq, decision.outcome.value, uow.now)
        applicant = Applicant(waiting.application_id, waiting.provider_agb)
        admitted.append(await _carry_out(uow, applicant, lot, decision.outcome, decision.reasons, None))
    return admitted
