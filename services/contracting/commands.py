"""What contracting does when asked: edit lots, admit Open House applicants, create and end contracts.

Each command is one transaction holding the state change and the events it causes. Open House
and contract events are keyed by the provider's AGB, so a provider's admission and the end of its
contract reach capacity in order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts import topics
from contracts.contracting import (
    ApplicationReceived,
    ApplicationRejected,
    ContractEnded,
    ContractKind,
    ProviderAdmitted,
    ProviderWaitlisted,
)
from contracts.envelope import Envelope, EventData
from contracts.identifiers import AgbCode, CalendarDate, ClientRef, PerceelCode
from services.contracting import store
from services.contracting.lots import Evidence, Lot, LotStatus, LotTerms, Outcome, Tariff, contract_period, decide
from services.runtime.auth import Principal
from services.runtime.db import Connection
from services.runtime.errors import Conflict, Invalid, NotFound
from services.runtime.service import Runtime
from services.runtime.workdays import dutch_date

SOURCE = "contracting"


def _today(now: datetime) -> date:
    # Contracts run on Dutch calendar days: between midnight and 02:00 the UTC date is yesterday.
    return dutch_date(now)


async def _emit(
    runtime: Runtime, conn: Connection, data: EventData, subject: str, now: datetime, cause: Envelope | None = None
) -> Envelope:
    envelope = Envelope.wrap(data, source=SOURCE, subject=subject, time=now, cause=cause)
    await runtime.emit(conn, topics.CONTRACTING_EVENTS, envelope)
    return envelope


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
    lot: str
    outcome: Outcome
    contract_id: uuid.UUID | None = None
    position: int | None = None
    reasons: tuple[str, ...] = ()


async def apply(
    runtime: Runtime, application: Application, now: datetime | None = None
) -> tuple[uuid.UUID, list[LotResult]]:
    """Decide every lot of the application: admitted (with a contract), waitlisted, or rejected with reasons."""
    now = now or datetime.now(UTC)
    application_id = uuid.uuid4()
    agb = application.provider_agb
    results = []
    async with runtime.pool.acquire() as conn, conn.transaction():
        lots: dict[str, Lot] = {}
        unknown = []
        for code in sorted(application.lots):  # locked in one order, so concurrent applications cannot deadlock
            lot = await store.get_lot(conn, code, lock=True)
            if lot is None:
                unknown.append(code)
            else:
                lots[code] = lot
        if unknown:
            raise Invalid(f"lots: unknown lot(s) {unknown}; see GET /v1/lots")
        await store.insert_application(conn, application_id, agb, application.kvk, application.evidence, now)
        received = await _emit(
            runtime,
            conn,
            ApplicationReceived(
                application_id=application_id, provider_agb=agb, lots=application.lots, received_at=now
            ),
            agb,
            now,
        )
        for code in application.lots:
            lot = lots[code]
            decision = decide(lot, application.evidence, _today(now), already=await _already(conn, agb, code))
            results.append(
                await _carry_out(
                    runtime, conn, application_id, agb, lot, decision.outcome, decision.reasons, now, received
                )
            )
    return application_id, results


async def _already(conn: Connection, agb: str, lot: str) -> str | None:
    contract_id = await store.running_open_house(conn, agb, lot)
    if contract_id:
        return f"already holds Open House contract {contract_id} for lot {lot}"
    position = await store.waitlist_position(conn, lot, agb)
    if position:
        return f"already on the waitlist of lot {lot} at position {position}"
    return None


async def _carry_out(
    runtime: Runtime,
    conn: Connection,
    application_id: uuid.UUID,
    agb: str,
    lot: Lot,
    outcome: Outcome,
    reasons: Sequence[str],
    now: datetime,
    cause: Envelope | None,
) -> LotResult:
    await store.record_decision(conn, application_id, lot.code, outcome.value, reasons, now)
    if outcome is Outcome.ADMITTED:
        contract_id = await _admit(runtime, conn, application_id, agb, lot, now, cause)
        return LotResult(lot.code, outcome, contract_id=contract_id)
    if outcome is Outcome.WAITLISTED:
        position = await store.join_waitlist(conn, lot.code, application_id, agb, now)
        await _emit(
            runtime,
            conn,
            ProviderWaitlisted(
                application_id=application_id, provider_agb=agb, lot=lot.code, position=position, waitlisted_at=now
            ),
            agb,
            now,
            cause,
        )
        return LotResult(lot.code, outcome, position=position)
    await _emit(
        runtime,
        conn,
        ApplicationRejected(
            application_id=application_id, provider_agb=agb, lot=lot.code, reasons=list(reasons), rejected_at=now
        ),
        agb,
        now,
        cause,
    )
    return LotResult(lot.code, outcome, reasons=tuple(reasons))


async def _admit(
    runtime: Runtime,
    conn: Connection,
    application_id: uuid.UUID,
    agb: str,
    lot: Lot,
    now: datetime,
    cause: Envelope | None,
) -> uuid.UUID:
    contract_id = uuid.uuid4()
    valid_from, valid_to = contract_period(_today(now), lot.contract_term_years)
    await store.insert_contract(
        conn,
        contract_id,
        ContractKind.OPEN_HOUSE,
        agb,
        lot.code,
        valid_from,
        valid_to,
        now,
        application_id=application_id,
    )
    await _emit(
        runtime,
        conn,
        ProviderAdmitted(
            application_id=application_id,
            contract_id=contract_id,
            provider_agb=agb,
            lot=lot.code,
            settings=lot.settings,
            min_capacity=lot.min_capacity,
            valid_from=valid_from,
            valid_to=valid_to,
            admitted_at=now,
        ),
        agb,
        now,
        cause,
    )
    return contract_id


async def put_lot(runtime: Runtime, lot: Lot, by: Principal, now: datetime | None = None) -> list[LotResult]:
    """Create or replace a lot. Reopening a waitlisted lot admits its waitlist in order of arrival —
    each one checked again against the lot's current requirements."""
    now = now or datetime.now(UTC)
    admitted: list[LotResult] = []
    async with runtime.pool.acquire() as conn, conn.transaction():
        before = await store.get_lot(conn, lot.code, lock=True)
        await store.put_lot(conn, lot, now, by.actor)
        if before is not None and before.status is LotStatus.WAITLIST and lot.status is LotStatus.OPEN:
            for row in await store.waiting(conn, lot.code):
                evidence = [Evidence.model_validate(e) for e in json.loads(row["evidence"])]
                decision = decide(lot, evidence, _today(now))
                await store.leave_waitlist(conn, row["seq"], decision.outcome.value, now)
                admitted.append(
                    await _carry_out(
                        runtime,
                        conn,
                        row["application_id"],
                        row["provider_agb"],
                        lot,
                        decision.outcome,
                        decision.reasons,
                        now,
                        None,
                    )
                )
    return admitted


class NewContract(BaseModel):
    """A contract beside Open House (body of ``POST /v1/contracts``)."""

    model_config = ConfigDict(extra="forbid")

    kind: ContractKind = Field(
        description="maatwerk, uitloop or taakgericht; open_house only to register a "
        "contract already running before Schakel (new ones come from applications)."
    )
    provider_agb: AgbCode
    lot: PerceelCode
    client_ref: ClientRef | None = Field(default=None, description="The one youth of a maatwerk contract.")
    valid_from: CalendarDate
    valid_to: CalendarDate | None = Field(default=None, description="Defaults to the lot's contract term.")
    tariffs: list[Tariff] = Field(
        default_factory=list, max_length=500, description="Prices of its own (maatwerk), if agreed."
    )

    @model_validator(mode="after")
    def _consistent(self) -> NewContract:
        if self.kind is ContractKind.OPEN_HOUSE and self.tariffs:
            raise ValueError("tariffs: an Open House contract pays the lot's tariffs")
        if (self.kind is ContractKind.MAATWERK) != (self.client_ref is not None):
            raise ValueError("client_ref: a maatwerk contract names exactly one client_ref; other kinds none")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to lies before valid_from")
        return self


async def create_contract(runtime: Runtime, new: NewContract, now: datetime | None = None) -> uuid.UUID:
    now = now or datetime.now(UTC)
    contract_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        lot = await store.get_lot(conn, new.lot)
        if lot is None:
            raise Invalid(f"lot: unknown lot {new.lot}; see GET /v1/lots")
        _check_tariffs(lot, new.tariffs)
        valid_to = new.valid_to or contract_period(new.valid_from, lot.contract_term_years)[1]
        if new.kind is ContractKind.OPEN_HOUSE:
            await _check_running_registration(conn, new, _today(now))
        await store.insert_contract(
            conn,
            contract_id,
            new.kind,
            new.provider_agb,
            lot.code,
            new.valid_from,
            valid_to,
            now,
            client_ref=new.client_ref,
            tariffs=new.tariffs,
        )
        if new.kind is ContractKind.OPEN_HOUSE:
            # Capacity and intake learn of it as of any admission.
            await _emit(
                runtime,
                conn,
                ProviderAdmitted(
                    application_id=contract_id,
                    contract_id=contract_id,
                    provider_agb=new.provider_agb,
                    lot=lot.code,
                    settings=lot.settings,
                    min_capacity=lot.min_capacity,
                    valid_from=new.valid_from,
                    valid_to=valid_to,
                    admitted_at=now,
                ),
                new.provider_agb,
                now,
            )
    return contract_id


async def _check_running_registration(conn: Connection, new: NewContract, today: date) -> None:
    """An Open House contract registered by hand is one that already runs, from before Schakel."""
    if new.valid_from > today:
        raise Invalid(
            "valid_from: a new Open House contract comes from an application; only one already "
            "running may be registered"
        )
    running = await store.running_open_house(conn, new.provider_agb, new.lot)
    if running:
        raise Conflict(f"provider {new.provider_agb} already holds Open House contract {running} for lot {new.lot}")


def _check_tariffs(lot: LotTerms, tariffs: Sequence[Tariff]) -> None:
    # The lot's own validator knows what a consistent set of tariffs is.
    try:
        LotTerms.model_validate({**lot.model_dump(exclude={"code"}), "tariffs": [t.model_dump() for t in tariffs]})
    except ValueError as exc:
        raise Invalid(f"tariffs: {exc}") from exc


class ContractEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_date: CalendarDate = Field(description="Last day the contract runs.")
    reason: str = Field(min_length=1, max_length=200, description="e.g. uittreding, faillissement, einde looptijd")


async def end_contract(runtime: Runtime, contract_id: uuid.UUID, end: ContractEnd, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await store.get_contract(conn, contract_id, lock=True)
        if row is None:
            raise NotFound(f"no contract with id {contract_id}")
        if row["ended_on"] is not None:
            raise Conflict(f"contract {contract_id} already ended on {row['ended_on']}")
        if end.end_date < row["valid_from"]:
            raise Invalid(f"end_date {end.end_date} lies before the contract starts on {row['valid_from']}")
        await store.end_contract(conn, contract_id, end.end_date, end.reason, now)
        lot = await store.get_lot(conn, row["lot"])
        await _emit(
            runtime,
            conn,
            ContractEnded(
                contract_id=contract_id,
                provider_agb=row["provider_agb"],
                lot=row["lot"],
                end_date=end.end_date,
                reason=end.reason,
                ended_at=now,
                settings=lot.settings if lot else [],
                kind=ContractKind(row["kind"]),
            ),
            row["provider_agb"],
            now,
        )
