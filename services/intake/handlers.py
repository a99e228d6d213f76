"""Intake's consumers: placements confirmed by capacity, and contracts from contracting."""

from __future__ import annotations

from contracts import topics
from contracts.capacity import PlacementConfirmed
from contracts.contracting import ContractEnded, ProviderAdmitted
from services.intake import store
from services.intake.commands import contracts, referrals
from services.intake.store import IntakeStore
from services.runtime.consumer import Consumer


def consumers() -> list[Consumer[IntakeStore]]:
    return [
        Consumer(
            "placements", topics.CAPACITY_EVENTS, {PlacementConfirmed: referrals.record_placement}, store=store.postgres
        ),
        Consumer(
            "contracts",
            topics.CONTRACTING_EVENTS,
            {ProviderAdmitted: contracts.learn_admitted, ContractEnded: contracts.learn_ended},
            store=store.postgres,
        ),
    ]
