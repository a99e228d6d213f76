"""Capacity's Kafka consumers: referrals open placement requests; contracts admit providers."""

from __future__ import annotations

from contracts import topics
from contracts.contracting import ContractEnded, ProviderAdmitted
from contracts.envelope import Envelope
from contracts.intake import ReferralReceived, ReferralWithdrawn
from services.capacity import alerts, placements, store
from services.runtime.clock import Clock
from services.runtime.consumer import Consumer
from services.runtime.db import Connection
from services.runtime.service import Runtime


def consumers(runtime: Runtime, clock: Clock) -> list[Consumer]:
    async def on_referral(conn: Connection, envelope: Envelope, event: ReferralReceived) -> None:
        await placements.open_request(runtime, conn, envelope, event, clock.now())

    async def on_withdrawal(conn: Connection, envelope: Envelope, event: ReferralWithdrawn) -> None:
        await placements.withdraw(runtime, conn, envelope, event, clock.now())

    async def on_admitted(conn: Connection, envelope: Envelope, event: ProviderAdmitted) -> None:
        # Admission alone changes no figures: its places count from the provider's first report.
        if event.settings:
            await store.admit_provider(
                conn, event.provider_agb, event.settings, str(event.contract_id), event.admitted_at
            )

    async def on_contract_ended(conn: Connection, envelope: Envelope, event: ContractEnded) -> None:
        # Its places stop counting and it is no longer proposed; open proposals run out on their timer.
        ended = await store.end_admissions(conn, str(event.contract_id), clock.now())
        await alerts.reevaluate(runtime, conn, ended, clock.now(), cause=envelope)

    return [
        Consumer("referrals", topics.INTAKE_EVENTS, {ReferralReceived: on_referral, ReferralWithdrawn: on_withdrawal}),
        Consumer(
            "contracts", topics.CONTRACTING_EVENTS, {ProviderAdmitted: on_admitted, ContractEnded: on_contract_ended}
        ),
    ]
