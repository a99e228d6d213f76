"""Contracting's consumer of intake's events: the allocations declarations are checked against."""

from __future__ import annotations

from contracts import topics
from contracts.envelope import Envelope
from contracts.intake import AllocationChanged, AllocationIssued, AllocationWithdrawn, CareEnded, CareStarted
from services.contracting import store
from services.contracting.domain import Allocation
from services.runtime.consumer import Consumer
from services.runtime.db import Connection


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


async def on_allocation_issued(conn: Connection, _envelope: Envelope, event: AllocationIssued) -> None:
    await store.upsert_allocation(conn, _allocation(event, event.product_category, event.product_code), event.issued_at)


async def on_allocation_changed(conn: Connection, _envelope: Envelope, event: AllocationChanged) -> None:
    # A change never alters the product, so the stored product stays.
    status = await store.change_allocation(conn, _allocation(event, "", None))
    if status.endswith(" 0"):
        # Changing an allocation not yet seen is a retry: intake keys both by the same subject, so it comes.
        raise LookupError(f"allocation {event.allocation_id} is not known yet")


async def on_allocation_withdrawn(conn: Connection, _envelope: Envelope, event: AllocationWithdrawn) -> None:
    await store.record_withdrawal(conn, event.allocation_id, event.reason, event.effective_date, event.withdrawn_at)


async def on_care_started(conn: Connection, _envelope: Envelope, event: CareStarted) -> None:
    await store.record_care(conn, event.allocation_id, started_on=event.start_date)


async def on_care_ended(conn: Connection, _envelope: Envelope, event: CareEnded) -> None:
    await store.record_care(conn, event.allocation_id, ended_on=event.end_date, end_reason=event.reason)


def consumers() -> list[Consumer]:
    return [
        Consumer(
            "intake-events",
            topics.INTAKE_EVENTS,
            {
                AllocationIssued: on_allocation_issued,
                AllocationChanged: on_allocation_changed,
                AllocationWithdrawn: on_allocation_withdrawn,
                CareStarted: on_care_started,
                CareEnded: on_care_ended,
            },
        )
    ]
