"""What contracting learns from intake's allocation events: the allocations declarations are checked against."""

from __future__ import annotations

from contracts.intake import AllocationChanged, AllocationIssued, AllocationWithdrawn, CareEnded, CareStarted
from services.contracting.allocation_store import AllocationStore
from services.contracting.domain.declarations import Allocation
from services.contracting.settings import ContractingSettings
from services.runtime.unit_of_work import UnitOfWork

AllocationWork = UnitOfWork[AllocationStore, ContractingSettings]


def _allocation(
    event: AllocationIssued | AllocationChanged, product_category: str, product_code: str | None
) -> Allocation:
    return Allocation(
        allocation_id=event.allocation_id,
        allocation_number=event.allocation_number,
        municipality_code=event.municipality_code,
        client_ref=event.client_ref,
        provider_agb=event.provider_agb,
        product_category=product_category,
        product_code=product_code,
        start_date=event.start_date,
        end_date=event.end_date,
        volume=event.volume,
        unit=event.unit,
        frequency=event.frequency,
        budget=event.budget,
    )


async def learn_issued(uow: AllocationWork, event: AllocationIssued) -> None:
    allocation = _allocation(event, event.product_category, event.product_code)
    await uow.store.upsert_allocation(allocation, event.issued_at)


async def learn_changed(uow: AllocationWork, event: AllocationChanged) -> None:
    # A change never alters the product, so the stored product stays.
    if not await uow.store.change_allocation(_allocation(event, "", None)):
        # Changing an allocation not yet seen is a retry: intake keys both by the same subject, so it comes.
        raise LookupError(f"allocation {event.allocation_id} is not known yet")


async def learn_withdrawn(uow: AllocationWork, event: AllocationWithdrawn) -> None:
    await uow.store.record_withdrawal(event.allocation_id, event.reason, event.effective_date, event.withdrawn_at)


async def learn_care_started(uow: AllocationWork, event: CareStarted) -> None:
    await uow.store.record_care(event.allocation_id, started_on=event.start_date)


async def learn_care_ended(uow: AllocationWork, event: CareEnded) -> None:
    await uow.store.record_care(event.allocation_id, ended_on=event.end_date, end_reason=event.reason)
