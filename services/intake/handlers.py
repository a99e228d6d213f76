"""Intake's consumers: placements confirmed by capacity, and contracts from contracting."""

from __future__ import annotations

from contracts import topics
from contracts.capacity import PlacementConfirmed
from contracts.contracting import ContractEnded, ProviderAdmitted
from contracts.envelope import Envelope
from services.intake import store
from services.intake.referrals import on_placement_confirmed
from services.runtime.consumer import Consumer
from services.runtime.db import Connection


async def on_provider_admitted(conn: Connection, _envelope: Envelope, event: ProviderAdmitted) -> None:
    await store.upsert_contract(conn, event.contract_id, event.provider_agb, event.valid_from, event.valid_to)


async def on_contract_ended(conn: Connection, _envelope: Envelope, event: ContractEnded) -> None:
    await store.end_contract(conn, event.contract_id, event.provider_agb, event.end_date)


def consumers() -> list[Consumer]:
    return [
        Consumer("placements", topics.CAPACITY_EVENTS, {PlacementConfirmed: on_placement_confirmed}),
        Consumer(
            "contracts",
            topics.CONTRACTING_EVENTS,
            {ProviderAdmitted: on_provider_admitted, ContractEnded: on_contract_ended},
        ),
    ]
