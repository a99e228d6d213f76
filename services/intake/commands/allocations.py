"""Toewijzing commands: issue, change, withdraw; start and end of care. Each one unit of work that
changes the toewijzing, re-derives its referral's status and announces what happened."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.codes import Productcategorie
from contracts.intake import (
    AllocationChanged,
    AllocationIssued,
    AllocationWithdrawn,
    CareEnded,
    CareStarted,
)
from services.intake import domain
from services.intake.commands import IntakeWork
from services.intake.commands.referrals import current_status, locked_referral, refresh_status
from services.intake.requests import (
    AllocationChangeIn,
    AllocationIn,
    AllocationRequestIn,
    AllocationWithdrawalIn,
    CareEndIn,
    CareStartIn,
    VolumeOrBudget,
)
from services.intake.store import IntakeStore, Row
from services.runtime.auth import Principal
from services.runtime.errors import Forbidden, Invalid, NotFound
from services.runtime.workdays import dutch_date

# How much care: a volume (per unit and frequency) or a budget.
AMOUNT_COLUMNS = ("volume", "unit", "frequency", "budget")
# The care a toewijzing (or a provider's request for one) is about: product, period and amount.
CARE_COLUMNS = ("product_category", "product_code", "start_date", "end_date", *AMOUNT_COLUMNS)


def amount_columns(amount: VolumeOrBudget) -> dict[str, Any]:
    """The ``AMOUNT_COLUMNS`` of an amount, as stored and published: codes as their values."""
    return amount.model_dump(mode="json", include=set(AMOUNT_COLUMNS))


def care_columns(body: AllocationIn | AllocationRequestIn) -> dict[str, Any]:
    """The ``CARE_COLUMNS`` of a body, as stored."""
    return {
        "product_category": body.product_category.value,
        "product_code": body.product_code,
        "start_date": body.start_date,
        "end_date": body.end_date,
        **amount_columns(body),
    }


def asked_care(referral: Row, body: AllocationIn | AllocationRequestIn) -> dict[str, Any]:
    """What an event about care for a referral names besides its own facts: the referral, its youth and
    municipality, the product and the period."""
    return {
        "referral_id": referral["id"],
        "client_ref": referral["client_ref"],
        "municipality_code": referral["municipality_code"],
        "product_category": body.product_category,
        "product_code": body.product_code,
        "start_date": body.start_date,
        "end_date": body.end_date,
    }


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], values: dict[str, Any]) -> M:
    """``values`` as a ``model``, merged from a stored row and a change: a rule it breaks is a 422."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise Invalid("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None


async def issue(
    uow: IntakeWork, referral_id: uuid.UUID, body: AllocationIn, by: Principal
) -> tuple[AllocationIssued, domain.ReferralStatus]:
    """The gemeente of the youth's municipality issues a toewijzing on a referral; its new status."""
    referral = await locked_referral(uow.store, referral_id)
    domain.check_own_municipality(by, referral["municipality_code"], "a referral")
    return await issue_on(uow, referral, body)


async def issue_on(
    uow: IntakeWork, referral: Row, body: AllocationIn, request_id: uuid.UUID | None = None
) -> tuple[AllocationIssued, domain.ReferralStatus]:
    """Issue a toewijzing on a locked, open ``referral`` (perhaps granting a request); the referral's new status."""
    store, now = uow.store, uow.now
    domain.check_referral_open(await current_status(store, referral), "issue a toewijzing")
    await store.lock_client(referral["client_ref"])
    domain.check_no_stacking(
        await store.allocations_of_client(referral["client_ref"]),
        body.product_category.value,
        body.product_code,
        body.start_date,
        body.end_date,
    )
    allocation_id = uuid.uuid4()
    number = await store.next_allocation_number(referral["municipality_code"])
    event = AllocationIssued(
        allocation_id=allocation_id,
        allocation_number=number,
        **asked_care(referral, body),
        provider_agb=body.provider_agb,
        **amount_columns(body),
        issued_at=now,
        request_id=request_id,
    )
    await store.insert_allocation(
        {
            "id": allocation_id,
            "number": number,
            "municipality_code": referral["municipality_code"],
            "referral_id": referral["id"],
            "client_ref": referral["client_ref"],
            "provider_agb": body.provider_agb,
            **care_columns(body),
            "issued_at": now,
            "request_id": request_id,
        }
    )
    status = await refresh_status(
        store, referral["id"], now, "allocated", f"toewijzing {number} to {body.provider_agb}"
    )
    uow.collect(event)
    return event, status


async def _locked_allocation(store: IntakeStore, allocation_id: uuid.UUID) -> Row:
    allocation = await store.lock_allocation(allocation_id)
    if allocation is None:
        raise NotFound(f"no toewijzing {allocation_id}")
    return allocation


async def _municipality_allocation(store: IntakeStore, allocation_id: uuid.UUID, by: Principal) -> Row:
    allocation = await _locked_allocation(store, allocation_id)
    domain.check_own_municipality(by, allocation["municipality_code"], "a toewijzing")
    return allocation


async def _provider_allocation(store: IntakeStore, allocation_id: uuid.UUID, by: Principal) -> Row:
    allocation = await _locked_allocation(store, allocation_id)
    if allocation["provider_agb"] != by.subject:
        raise Forbidden(
            f"toewijzing {allocation['number']} is for provider {allocation['provider_agb']}, not {by.subject}"
        )
    return allocation


async def change(
    uow: IntakeWork, allocation_id: uuid.UUID, body: AllocationChangeIn, by: Principal
) -> AllocationChanged:
    """The gemeente changes a running toewijzing's end date, volume or budget."""
    store = uow.store
    allocation = await _municipality_allocation(store, allocation_id, by)
    end_date = body.end_date or allocation["end_date"]
    domain.check_change(domain.AllocationFacts.of(allocation), end_date)
    amount = validated(
        VolumeOrBudget,
        {k: allocation[k] for k in AMOUNT_COLUMNS} | body.model_dump(include=set(AMOUNT_COLUMNS), exclude_none=True),
    )
    if end_date > allocation["end_date"]:
        await store.lock_client(allocation["client_ref"])
        others = await store.allocations_of_client(allocation["client_ref"], exclude=allocation_id)
        domain.check_no_stacking(
            others, allocation["product_category"], allocation["product_code"], allocation["start_date"], end_date
        )
    await store.update_allocation(allocation_id, end_date=end_date, **amount_columns(amount))
    await _refresh(uow, allocation, "allocation_changed", f"toewijzing {allocation['number']}: {body.reason}")
    event = AllocationChanged(
        **_parties(allocation),
        allocation_number=allocation["number"],
        client_ref=allocation["client_ref"],
        reason=body.reason,
        start_date=allocation["start_date"],
        end_date=end_date,
        **amount_columns(amount),
        changed_at=uow.now,
    )
    uow.collect(event)
    return event


async def withdraw(
    uow: IntakeWork, allocation_id: uuid.UUID, body: AllocationWithdrawalIn, by: Principal
) -> tuple[AllocationWithdrawn, domain.ReferralStatus]:
    """The gemeente withdraws a toewijzing from a date, or as never valid (reden 13)."""
    allocation = await _municipality_allocation(uow.store, allocation_id, by)
    effective = domain.check_withdrawal(
        domain.AllocationFacts.of(allocation), body.effective_date or dutch_date(uow.now), body.reason
    )
    await uow.store.update_allocation(
        allocation_id, withdrawn_at=uow.now, withdrawal_reason=body.reason.value, effective_date=effective
    )
    status = await _refresh(
        uow, allocation, "allocation_withdrawn", f"toewijzing {allocation['number']}: reden {body.reason.value}"
    )
    event = AllocationWithdrawn(
        **_parties(allocation), reason=body.reason, effective_date=effective, withdrawn_at=uow.now
    )
    uow.collect(event)
    return event, status


async def start_care(
    uow: IntakeWork, allocation_id: uuid.UUID, body: CareStartIn, by: Principal
) -> domain.ReferralStatus:
    """JW305: the provider of the toewijzing reports that care started."""
    allocation = await _provider_allocation(uow.store, allocation_id, by)
    domain.check_care_start(domain.AllocationFacts.of(allocation), body.start_date, dutch_date(uow.now))
    await uow.store.update_allocation(allocation_id, care_start=body.start_date, care_started_at=uow.now)
    await uow.store.mark_care_started(allocation["referral_id"], uow.now)
    status = await _refresh(
        uow, allocation, "care_started", f"toewijzing {allocation['number']} from {body.start_date}"
    )
    uow.collect(CareStarted(**_care_parties(allocation), start_date=body.start_date, reported_at=uow.now))
    return status


async def end_care(uow: IntakeWork, allocation_id: uuid.UUID, body: CareEndIn, by: Principal) -> domain.ReferralStatus:
    """JW307: the provider of the toewijzing reports that care ended, with a JZ588 reason."""
    allocation = await _provider_allocation(uow.store, allocation_id, by)
    domain.check_care_end(domain.AllocationFacts.of(allocation), body.end_date, dutch_date(uow.now))
    await uow.store.update_allocation(
        allocation_id, care_end=body.end_date, care_end_reason=body.reason.value, care_ended_at=uow.now
    )
    status = await _refresh(
        uow,
        allocation,
        "care_ended",
        f"toewijzing {allocation['number']} on {body.end_date}: reden {body.reason.value}",
    )
    uow.collect(CareEnded(**_care_parties(allocation), end_date=body.end_date, reason=body.reason, reported_at=uow.now))
    return status


async def _refresh(uow: IntakeWork, allocation: Row, step: str, detail: str) -> domain.ReferralStatus:
    """Re-derive the referral's status after a change to ``allocation``, noting the change in its history."""
    return await refresh_status(uow.store, allocation["referral_id"], uow.now, step, detail)


def _parties(allocation: Row) -> dict[str, Any]:
    """Which toewijzing an event is about, and between whom."""
    return {
        "allocation_id": allocation["id"],
        "referral_id": allocation["referral_id"],
        "municipality_code": allocation["municipality_code"],
        "provider_agb": allocation["provider_agb"],
    }


def _care_parties(allocation: Row) -> dict[str, Any]:
    """What a start or end of care names besides its own facts: the toewijzing, the youth and the product."""
    return {
        **_parties(allocation),
        "client_ref": allocation["client_ref"],
        "product_category": Productcategorie(allocation["product_category"]),
    }
