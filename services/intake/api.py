"""Intake's HTTP routes for referrals and the region's municipalities, with their response models;
also what every intake route uses: its unit of work, the typed runtime and the vault."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from contracts.identifiers import CalendarDate
from services.intake import domain, registry, store
from services.intake.commands import IntakeWork, referrals
from services.intake.privacy import Vault
from services.intake.requests import ReferralIn, WithdrawalIn
from services.intake.settings import IntakeSettings
from services.runtime.auth import Principal, require
from services.runtime.openapi import problems
from services.runtime.roles import Role
from services.runtime.service import Runtime, runtime_of
from services.runtime.workdays import dutch_date, working_days_between

router = APIRouter(prefix="/v1", tags=["intake"])


def runtime(request: Request) -> Runtime[IntakeSettings]:
    return runtime_of(request)


def work(request: Request) -> AbstractAsyncContextManager[IntakeWork]:
    """The unit of work a route's command runs in."""
    return runtime(request).work(store.postgres)


def reading(request: Request) -> AbstractAsyncContextManager[IntakeWork]:
    """The unit of work a route that only reads runs in: one snapshot, so a referral, its history and
    its toewijzingen are shown as they were committed together."""
    return runtime(request).reading(store.postgres)


def vault(request: Request) -> Vault:
    """The vault that seals personal data, made once from the settings' keys."""
    sealing: Vault = request.app.state.vault
    return sealing


class ReferralCreated(BaseModel):
    referral_id: uuid.UUID
    client_ref: str
    status: str
    needs_gemeente_decision: bool
    contracted_provider: bool | None
    consult_gemeente: bool


@router.post(
    "/referrals",
    status_code=201,
    response_model=ReferralCreated,
    summary="Refer a youth (any statutory referrer; a provider for a direct GP referral)",
)
async def post_referral(
    body: ReferralIn, request: Request, by: Principal = Depends(require(Role.REFERRER, Role.GEMEENTE, Role.PROVIDER))
) -> ReferralCreated:
    async with work(request) as uow:
        received = await referrals.receive(uow, body, by, vault(request))
    return ReferralCreated(
        referral_id=received.referral_id,
        client_ref=received.client_ref,
        status=domain.ReferralStatus.RECEIVED.value,
        needs_gemeente_decision=received.needs_gemeente_decision,
        contracted_provider=received.contracted_provider,
        consult_gemeente=received.contracted_provider is False,
    )


class Waiting(BaseModel):
    """From receipt to the first start of care (or the withdrawal); ``ongoing`` while neither came."""

    since: datetime
    until: datetime | None
    ongoing: bool
    seconds: float
    days: int
    working_days: int


class HistoryStep(BaseModel):
    at: datetime
    status: str
    step: str
    detail: str


class AllocationView(BaseModel):
    """A toewijzing of the referral, as stored."""

    id: uuid.UUID
    number: int
    provider_agb: str
    product_category: str
    product_code: str | None
    start_date: date
    end_date: date
    volume: int | None
    unit: str | None
    frequency: str | None
    budget: int | None
    issued_at: datetime
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    effective_date: date | None
    care_start: date | None
    care_end: date | None
    care_end_reason: str | None


class ReferralView(BaseModel):
    """A referral: what was referred (pseudonymous), its status, waiting time, history and toewijzingen."""

    referral_id: uuid.UUID
    client_ref: str
    age: int
    municipality_code: str
    referrer_type: str
    referrer_agb: str | None
    veilig_thuis: bool
    provider_agb: str | None
    contracted_provider: bool | None
    product_category: str
    settings: list[str]
    urgency: str
    ambulant_tried: bool
    needs_gemeente_decision: bool
    referral_date: date
    received_at: datetime
    status: str
    placed_at: datetime | None
    placed_with: str | None
    consult_gemeente: bool
    waiting: Waiting
    history: list[HistoryStep]
    allocations: list[AllocationView]

    @classmethod
    def of(cls, record: referrals.ReferralRecord) -> ReferralView:
        referral, now = record.referral, record.at
        until = referral["care_started_at"] or referral["withdrawn_at"]
        seconds = domain.waiting_seconds(referral["received_at"], until, now)
        return cls.model_validate(
            {
                **referral,
                "referral_id": referral["id"],
                "consult_gemeente": referral["contracted_provider"] is False,
                "waiting": Waiting(
                    since=referral["received_at"],
                    until=until,
                    ongoing=until is None,
                    seconds=seconds,
                    days=int(seconds // 86_400),
                    working_days=working_days_between(dutch_date(referral["received_at"]), dutch_date(until or now)),
                ),
                "history": record.history,
                "allocations": record.allocations,
            }
        )


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralView,
    summary="A referral's status, history and waiting time so far",
    responses=problems(404),
)
async def get_referral(
    referral_id: uuid.UUID,
    request: Request,
    by: Principal = Depends(require(Role.REFERRER, Role.GEMEENTE, Role.PROVIDER, Role.OPERATOR)),
) -> ReferralView:
    async with reading(request) as uow:
        record = await referrals.read(uow, referral_id, by)
    return ReferralView.of(record)


class ReferralWithdrawal(BaseModel):
    referral_id: uuid.UUID
    status: domain.ReferralStatus


@router.post(
    "/referrals/{referral_id}/withdrawal",
    response_model=ReferralWithdrawal,
    summary="Withdraw a referral (its referrer or gemeente)",
    responses=problems(404, 409),
)
async def withdraw_referral(
    referral_id: uuid.UUID,
    body: WithdrawalIn,
    request: Request,
    by: Principal = Depends(require(Role.REFERRER, Role.GEMEENTE, Role.PROVIDER)),
) -> ReferralWithdrawal:
    async with work(request) as uow:
        status = await referrals.withdraw(uow, referral_id, body, by)
    return ReferralWithdrawal(referral_id=referral_id, status=status)


class RegistryMunicipality(BaseModel):
    code: str
    name: str


@router.get(
    "/registry/municipalities",
    response_model=list[RegistryMunicipality],
    summary="The active region's municipalities on a date (default today)",
)
async def registry_municipalities(
    request: Request, on: CalendarDate | None = None, _: Principal = Depends(require(*Role))
) -> list[RegistryMunicipality]:
    service = runtime(request)
    day = on or dutch_date(service.now())
    return [
        RegistryMunicipality(code=m.code, name=m.name) for m in registry.load().members(service.settings.region, day)
    ]
