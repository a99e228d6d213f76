"""Capacity's Kafka consumers: referrals open placement requests (and care started closes a doorbraak
case); contracts admit providers (and a maatwerk contract carries out a doorbraak decision); the
other members of each pool this region takes part in tell it their places and shortages, ask its
providers for places and answer its own requests, and escalate cases for the expertisenetwerk."""

from __future__ import annotations

from collections.abc import Sequence

from contracts import topics
from contracts.contracting import ContractConcluded, ContractEnded, ProviderAdmitted
from contracts.intake import CareStarted, ReferralReceived, ReferralWithdrawn
from contracts.pool import (
    Pool,
    PoolCapacityReported,
    PoolCaseEscalated,
    PoolPlacementAnswered,
    PoolPlacementRequested,
    PoolPlacementWithdrawn,
    PoolShortageDetected,
    PoolShortageResolved,
)
from services.capacity.commands import capacity, doorbraak, placements, pool_placements, pools
from services.capacity.store import Store, open_store
from services.runtime.consumer import Consumer


def consumers(pools_joined: Sequence[Pool] = ()) -> list[Consumer[Store]]:
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
            relevant={ReferralReceived: placements.needs_placement},
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
        *(pool_consumer(pool) for pool in pools_joined),
    ]


def pool_consumer(pool: Pool) -> Consumer[Store]:
    """The pool's topic into this region's read model of it (its own group, in the region's namespace)."""
    return Consumer(
        f"pool-{pool.name}",
        pool.topic,
        {
            PoolCapacityReported: pool_placements.record_places,
            PoolShortageDetected: pools.record_shortage_detected,
            PoolShortageResolved: pools.record_shortage_resolved,
            PoolCaseEscalated: pools.record_escalation,
            PoolPlacementRequested: pool_placements.receive_request,
            PoolPlacementAnswered: pool_placements.receive_answer,
            PoolPlacementWithdrawn: pool_placements.receive_withdrawal,
        },
        store=open_store,
    )
