"""Contracts beside Open House (maatwerk, uitloop, taakgericht, or an Open House contract from before
Schakel), ending a contract, and registering one — what an admission does too.

An Open House contract is announced as ``ProviderAdmitted``, every other kind as
``ContractConcluded``; a maatwerk contract may name the doorbraak decision it carries out
(``decision_id``), and capacity then proposes its provider for that one youth. Contract events are
keyed by the provider's AGB, so a provider's contracts and their ends reach capacity in order.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.contracting import ContractConcluded, ContractEnded, ContractKind, ProviderAdmitted
from contracts.envelope import EventAttributes
from contracts.identifiers import AgbCode, CalendarDate, ClientRef, PerceelCode
from services.contracting.contract_store import ContractRecord, ContractStore
from services.contracting.domain.lots import Lot, LotTerms, Tariff, contract_period
from services.contracting.settings import ContractingSettings
from services.runtime.errors import Conflict, Invalid, NotFound
from services.runtime.unit_of_work import UnitOfWork
from services.runtime.workdays import dutch_date

ContractWork = UnitOfWork[ContractStore, ContractingSettings]


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
    decision_id: uuid.UUID | None = Field(
        default=None,
        description="The doorbraak decision (GET capacity /v1/cases/{id}) a maatwerk contract carries out; "
        "posting again with the same decision_id and body returns the contract made the first time.",
    )
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
        if self.decision_id is not None and self.kind is not ContractKind.MAATWERK:
            raise ValueError("decision_id: only a maatwerk contract carries out a doorbraak decision")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to lies before valid_from")
        return self


class ContractEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_date: CalendarDate = Field(description="Last day the contract runs.")
    reason: str = Field(min_length=1, max_length=200, description="e.g. uittreding, faillissement, einde looptijd")


async def register(uow: ContractWork, contract: ContractRecord, lot: Lot, cause: EventAttributes | None = None) -> None:
    """Record ``contract`` for ``lot`` and announce it: an Open House contract as an admission, so
    capacity and intake learn of it however it came; the other kinds as ``ContractConcluded``."""
    await uow.store.insert_contract(contract)
    if contract.kind is ContractKind.OPEN_HOUSE:
        uow.collect(
            ProviderAdmitted(
                # One registered by hand came from no application: its own id stands in.
                application_id=contract.application_id or contract.id,
                contract_id=contract.id,
                provider_agb=contract.provider_agb,
                lot=lot.code,
                settings=lot.settings,
                min_capacity=lot.min_capacity,
                valid_from=contract.valid_from,
                valid_to=contract.valid_to,
                admitted_at=contract.created_at,
            ),
            cause=cause,
        )
        return
    uow.collect(
        ContractConcluded(
            contract_id=contract.id,
            kind=contract.kind,
            provider_agb=contract.provider_agb,
            lot=lot.code,
            settings=lot.settings,
            client_ref=contract.client_ref,
            decision_id=contract.decision_id,
            valid_from=contract.valid_from,
            valid_to=contract.valid_to,
            concluded_at=contract.created_at,
        ),
        cause=cause,
    )


async def create_contract(uow: ContractWork, new: NewContract) -> ContractRecord:
    """Register a contract beside Open House. One contract carries out one doorbraak decision: the
    same post again returns it, another contract for that decision is a conflict."""
    lot = await uow.store.get_lot(new.lot)
    if lot is None:
        raise Invalid(f"lot: unknown lot {new.lot}; see GET /v1/lots")
    _check_tariffs(lot, new.tariffs)
    if new.kind is ContractKind.OPEN_HOUSE:
        await _check_running_registration(uow.store, new, dutch_date(uow.now))
    valid_to = new.valid_to or contract_period(new.valid_from, lot.contract_term_years)[1]
    if new.decision_id is not None:
        earlier = await uow.store.contract_of_decision(new.decision_id)
        if earlier is not None:
            return _same_contract(earlier, new, valid_to)
    contract = ContractRecord(
        id=uuid.uuid4(),
        kind=new.kind,
        provider_agb=new.provider_agb,
        lot=lot.code,
        valid_from=new.valid_from,
        valid_to=valid_to,
        created_at=uow.now,
        client_ref=new.client_ref,
        tariffs=tuple(new.tariffs),
        decision_id=new.decision_id,
    )
    await register(uow, contract, lot)
    return contract


def _same_contract(earlier: ContractRecord, new: NewContract, valid_to: date) -> ContractRecord:
    """``earlier`` when ``new`` asks for the very same contract (a retry); else a conflict."""
    asked = (new.kind, new.provider_agb, new.lot, new.client_ref, new.valid_from, valid_to, tuple(new.tariffs))
    made = (earlier.kind, earlier.provider_agb, earlier.lot, earlier.client_ref, earlier.valid_from, earlier.valid_to)
    if asked != (*made, earlier.tariffs):
        raise Conflict(
            f"decision {new.decision_id} is already carried out by contract {earlier.id} with other terms; "
            "one contract carries out one decision"
        )
    return earlier


async def _check_running_registration(store: ContractStore, new: NewContract, today: date) -> None:
    """An Open House contract registered by hand is one that already runs, from before Schakel."""
    if new.valid_from > today:
        raise Invalid(
            "valid_from: a new Open House contract comes from an application; only one already "
            "running may be registered"
        )
    running = await store.running_open_house(new.provider_agb, new.lot)
    if running:
        raise Conflict(f"provider {new.provider_agb} already holds Open House contract {running} for lot {new.lot}")


def _check_tariffs(lot: LotTerms, tariffs: Sequence[Tariff]) -> None:
    # The lot's own validator knows what a consistent set of tariffs is.
    try:
        LotTerms.model_validate({**lot.model_dump(exclude={"code"}), "tariffs": [t.model_dump() for t in tariffs]})
    except ValueError as exc:
        raise Invalid(f"tariffs: {exc}") from exc


async def end_contract(uow: ContractWork, contract_id: uuid.UUID, end: ContractEnd) -> ContractRecord:
    """End the contract on ``end.end_date``; capacity stops proposing the provider for the lot's settings."""
    contract = await uow.store.get_contract(contract_id, lock=True)
    if contract is None:
        raise NotFound(f"no contract with id {contract_id}")
    if contract.ended_on is not None:
        raise Conflict(f"contract {contract_id} already ended on {contract.ended_on}")
    if end.end_date < contract.valid_from:
        raise Invalid(f"end_date {end.end_date} lies before the contract starts on {contract.valid_from}")
    await uow.store.end_contract(contract_id, end.end_date, end.reason, uow.now)
    lot = await uow.store.get_lot(contract.lot)
    uow.collect(
        ContractEnded(
            contract_id=contract_id,
            provider_agb=contract.provider_agb,
            lot=contract.lot,
            end_date=end.end_date,
            reason=end.reason,
            ended_at=uow.now,
            settings=lot.settings if lot else [],
            kind=contract.kind,
        )
    )
    return dataclasses.replace(contract, ended_on=end.end_date, end_reason=end.reason)
