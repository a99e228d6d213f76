"""Capacity's Kafka consumers: referrals open placement requests (and care started closes a doorbraak
case); contracts admit providers (and a maatwerk contract carries out a doorbraak decision)."""

from __future__ import annotations

from contracts import topics
from contracts.contracting import ContractConcluded, ContractEnded, ProviderAdmitted
from contracts.intake import CareStarted, ReferralReceived, ReferralWithdrawn
from services.capacity.commands import capacity, doorbraak, placements
from services.capacity.store import Store, open_store
from services.runtime.consumer import Consumer


def consumers() -> list[Consumer[Store]]:
    return [
        Consumer(
            "referrals",
            topics.INTAKE_EVENTS,
            {
                ReferralReceived: placements.open_request,
                ReferralWithdrawn: placements.withdraw,
                CareStarted: doorbraak.close_on_care_started,
            },
            store=open_store,
        ),
        Consumer(
            "contracts",
            topics.CONTRACTING_EVENTS,
            {
                ProviderAdmitted: capacity.admit,
                ContractEnded: capacity.end_contract,
                ContractConcluded: doorbraak.carry_out,
            },
            store=open_store,
        ),
    ]
