"""Contracting's HTTP routes: lots, Open House applications, contracts, declarations and their rules."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from contracts.codes import Retourcode
from contracts.contracting import Contact, ContractKind
from services.contracting.commands import admission, contracts, declarations
from services.contracting.contract_store import ContractRecord, contract_store
from services.contracting.declaration_store import declaration_store
from services.contracting.domain.declaration_rules import RULES
from services.contracting.domain.declarations import AssessedDeclaration, Declaration
from services.contracting.domain.lots import Lot, LotTerms, Outcome, Tariff
from services.contracting.settings import ContractingSettings
from services.runtime.auth import Principal, require
from services.runtime.edge import BodyBudget
from services.runtime.errors import Forbidden, NotFound
from services.runtime.openapi import problems
from services.runtime.roles import Role
from services.runtime.service import Runtime, runtime_of

router = APIRouter(prefix="/v1", tags=["contracting"])
# The body of the largest allowed declaration (MAX_LINES lines), pretty-printed, with room to spare.
BODY_BYTES = 1024 * 1024

ALL_ROLES = tuple(Role)
OVERSEERS = (Role.OPERATOR, Role.ADMIN)
LotCode = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{0,19}$", description="Code of the lot (perceel)")]


def runtime(request: Request) -> Runtime[ContractingSettings]:
    """The running service, typed with contracting's settings."""
    return runtime_of(request)


def _own(principal: Principal, agb: str, what: str) -> None:
    if principal.agb != agb:
        raise Forbidden(f"a provider key for AGB {principal.agb} may only {what} for that AGB, not {agb}")


@router.get("/lots", response_model=list[Lot], summary="Every lot: products, settings, tariffs, requirements, status")
async def get_lots(request: Request, _: Principal = Depends(require(*ALL_ROLES))) -> list[Lot]:
    async with runtime(request).reading(contract_store) as uow:
        return await uow.store.all_lots()


@router.get("/lots/{code}", response_model=Lot, summary="One lot", responses=problems(404))
async def get_lot(code: LotCode, request: Request, _: Principal = Depends(require(*ALL_ROLES))) -> Lot:
    async with runtime(request).reading(contract_store) as uow:
        lot = await uow.store.get_lot(code)
    if lot is None:
        raise NotFound(f"no lot {code}")
    return lot


class LotResultView(BaseModel):
    lot: str
    outcome: Outcome
    contract_id: uuid.UUID | None = None
    position: int | None = None
    reasons: list[str] = []


class LotChanged(BaseModel):
    lot: Lot
    from_waitlist: list[LotResultView]


def _view(result: admission.LotResult) -> LotResultView:
    return LotResultView(
        lot=result.lot,
        outcome=result.outcome,
        contract_id=result.contract_id,
        position=result.position,
        reasons=list(result.reasons),
    )


@router.put(
    "/lots/{code}",
    response_model=LotChanged,
    summary="Create or replace a lot; reopening a waitlisted lot admits its waitlist in order",
)
async def put_lot(
    code: LotCode, terms: LotTerms, request: Request, principal: Principal = Depends(require(Role.ADMIN))
) -> LotChanged:
    lot = Lot(**terms.model_dump(), code=code)
    async with runtime(request).work(contract_store) as uow:
        admitted = await admission.put_lot(uow, lot, principal.actor)
    return LotChanged(lot=lot, from_waitlist=[_view(a) for a in admitted])


class ApplicationAnswer(BaseModel):
    application_id: uuid.UUID
    provider_agb: str
    lots: list[LotResultView]


@router.post(
    "/open-house/applications",
    status_code=201,
    response_model=ApplicationAnswer,
    summary="Apply for lots with evidence: per lot admitted, waitlisted (position) or rejected (reasons)",
)
async def post_application(
    application: admission.Application, request: Request, principal: Principal = Depends(require(Role.PROVIDER))
) -> ApplicationAnswer:
    _own(principal, application.provider_agb, "apply")
    async with runtime(request).work(contract_store) as uow:
        application_id, results = await admission.apply(uow, application)
    return ApplicationAnswer(
        application_id=application_id, provider_agb=application.provider_agb, lots=[_view(r) for r in results]
    )


class ContractView(BaseModel):
    id: uuid.UUID
    kind: ContractKind
    provider_agb: str
    lot: str
    client_ref: str | None
    valid_from: date
    valid_to: date
    tariffs: list[Tariff]
    application_id: uuid.UUID | None
    created_at: datetime
    ended_on: date | None
    end_reason: str | None
    decision_id: uuid.UUID | None


def _contract(contract: ContractRecord) -> ContractView:
    return ContractView.model_validate(contract, from_attributes=True)


@router.get(
    "/contracts",
    response_model=list[ContractView],
    summary="Contracts: a provider sees its own, operator and admin all",
)
async def get_contracts(
    request: Request,
    provider_agb: Annotated[str | None, Query(pattern=r"^\d{8}$", description="Only this provider's")] = None,
    principal: Principal = Depends(require(Role.PROVIDER, *OVERSEERS)),
) -> list[ContractView]:
    if principal.role is Role.PROVIDER:
        if provider_agb is not None:
            _own(principal, provider_agb, "see contracts")
        provider_agb = principal.agb
    async with runtime(request).reading(contract_store) as uow:
        return [_contract(c) for c in await uow.store.list_contracts(provider_agb)]


@router.post(
    "/contracts",
    status_code=201,
    response_model=ContractView,
    summary="Create a maatwerk, uitloop or taakgericht contract (a gemeente: maatwerk only)",
    responses=problems(409),
)
async def post_contract(
    new: contracts.NewContract, request: Request, principal: Principal = Depends(require(Role.ADMIN, Role.GEMEENTE))
) -> ContractView:
    # A gemeente arranges maatwerk for its own youth (a doorbraak decision it carries out); the
    # region's other contracts are the contract office's.
    if principal.role is Role.GEMEENTE and new.kind is not ContractKind.MAATWERK:
        raise Forbidden(f"a gemeente key may create maatwerk contracts only, not {new.kind}")
    async with runtime(request).work(contract_store) as uow:
        return _contract(await contracts.create_contract(uow, new))


@router.post(
    "/contracts/{contract_id}/end",
    response_model=ContractView,
    summary="End a contract (exit, bankruptcy); capacity stops proposing the provider",
    responses=problems(404, 409),
)
async def end_contract(
    contract_id: uuid.UUID, end: contracts.ContractEnd, request: Request, _: Principal = Depends(require(Role.ADMIN))
) -> ContractView:
    async with runtime(request).work(contract_store) as uow:
        return _contract(await contracts.end_contract(uow, contract_id, end))


@router.post(
    "/declarations",
    status_code=201,
    response_model=AssessedDeclaration,
    summary="Submit a monthly declaration; every line comes back with its return codes",
    responses=problems(409),
    # Up to MAX_LINES lines need more than the default body budget (SCHAKEL_MAX_BODY_BYTES).
    dependencies=[Depends(BodyBudget(BODY_BYTES))],
)
async def post_declaration(
    declaration: Declaration, request: Request, principal: Principal = Depends(require(Role.PROVIDER))
) -> AssessedDeclaration:
    _own(principal, declaration.provider_agb, "declare")
    async with runtime(request).work(declaration_store) as uow:
        return await declarations.submit(uow, declaration)


@router.get(
    "/declarations/{declaration_id}",
    response_model=AssessedDeclaration,
    summary="An assessed declaration, per line",
    responses=problems(404),
)
async def get_declaration(
    declaration_id: uuid.UUID, request: Request, principal: Principal = Depends(require(Role.PROVIDER, *OVERSEERS))
) -> AssessedDeclaration:
    async with runtime(request).reading(declaration_store) as uow:
        stored = await uow.store.get_declaration(declaration_id)
    # A provider learns nothing about another provider's declarations, not even that they exist.
    if stored is None or (principal.role is Role.PROVIDER and stored.provider_agb != principal.agb):
        raise NotFound(f"no declaration {declaration_id}")
    return stored.answer


class PublishedRule(BaseModel):
    code: str
    return_code: Retourcode
    description: str
    contact: Contact
    active: bool
    switchable: bool


@router.get(
    "/declaration-rules",
    response_model=list[PublishedRule],
    summary="Every declaration check: its return code, what it checks, whom to ask, and whether it is on",
)
async def get_rules(request: Request, _: Principal = Depends(require(*ALL_ROLES))) -> list[PublishedRule]:
    active = runtime(request).settings.rules()
    return [
        PublishedRule(
            code=r.code,
            return_code=r.return_code,
            description=r.description,
            contact=r.contact,
            active=active.active(r.code),
            switchable=r.switchable,
        )
        for r in RULES
    ]
