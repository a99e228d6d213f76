"""Capacity's Kafka consumers: referrals open placement requests; contracts admit providers."""

from __future__ import annotations

from contracts import topics
from contracts.contracting import ContractEnded, ProviderAdmitted
from contracts.intake import ReferralReceived, ReferralWithdrawn
from services.capacity.commands import capacity, placements
from services.capacity.store import Store, open_store
from services.runtime.consumer import Consumer


def consumers() -> list[Consumer[Store]]:
    return [
        Consumer(
            "referrals",
            topics.INTAKE_EVENTS,
            {ReferralReceived: placements.open_request, ReferralWithdrawn: placements.withdraw},
            store=open_store,
        ),
        Consumer(
            "contracts",
            topics.CONTRACTING_EVENTS,
            {ProviderAdmitted: capacity.admit, ContractEnded: capacity.end_contract},
            store=open_store,
        ),
    ]
