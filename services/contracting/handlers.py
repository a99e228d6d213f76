"""Contracting's consumer of intake's events: each one applied by a command of ``commands/allocations.py``."""

from __future__ import annotations

from contracts import topics
from contracts.intake import AllocationChanged, AllocationIssued, AllocationWithdrawn, CareEnded, CareStarted
from services.contracting.allocation_store import AllocationStore, allocation_store
from services.contracting.commands import allocations
from services.runtime.consumer import Consumer


def consumers() -> list[Consumer[AllocationStore]]:
    return [
        Consumer(
            "intake-events",
            topics.INTAKE_EVENTS,
            {
                AllocationIssued: allocations.learn_issued,
                AllocationChanged: allocations.learn_changed,
                AllocationWithdrawn: allocations.learn_withdrawn,
                CareStarted: allocations.learn_care_started,
                CareEnded: allocations.learn_care_ended,
            },
            store=allocation_store,
        )
    ]
