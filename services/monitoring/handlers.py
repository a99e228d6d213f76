"""Monitoring's consumers: every topic's events into the read models.

Monitoring is a projection: a handler records what happened through ``uow.store`` and announces
nothing. Each runs in the consumer's transaction, and every change wakes the live pages (a NOTIFY
delivered at commit), exactly when it is visible. The consumers apply what one poll brought at
once (``record_all``): the same records, their writes gathered into a few statements. Types without a handler here are acked and
ignored by the runtime consumer; they must still be known to ``contracts`` (imported below), or
they would count as invalid and go to the dead-letter topic.

Each pool the region takes part in has its own consumer of the pool's topic (``pool-<name>``): the
places and shortages of every member, this region's own included, since monitoring records nothing
of the pool elsewhere. What a region that is no member tells, or about a setting the pool does not
share, is skipped with a warning, as capacity skips it: members disagreeing on the pools file must
not put anything on this region's pages it did not agree to.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from contracts import capacity, contracting, doorbraak, intake, topics
from contracts.envelope import EventAttributes, EventData
from contracts.pool import Pool, PoolCapacityReported, PoolShortageDetected, PoolShortageResolved
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import Projection, ProjectionStore
from services.runtime.consumer import BatchHandler, Consumer, Handler
from services.runtime.statements import StatementBatch
from services.runtime.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Recording = UnitOfWork[Projection, MonitoringSettings]
# How one event is recorded: the store, the envelope (an alert's id is its envelope's id) and the event.
Record = Callable[[Projection, EventAttributes, Any], Awaitable[None]]

RECORDS: Mapping[str, Mapping[type[EventData], Record]] = {
    topics.CAPACITY_EVENTS: {
        capacity.CapacityReported: lambda store, _, event: store.record_capacity(event),
        capacity.PlacementRequested: lambda store, _, event: store.record_placement_request(event),
        capacity.PlacementProposed: lambda store, _, event: store.record_proposal(event),
        capacity.PlacementDeclined: lambda store, _, event: store.record_decline(event),
        capacity.PlacementConfirmed: lambda store, _, event: store.record_confirmation(event),
        doorbraak.CaseTakenUp: lambda store, _, event: store.take_up_case(event),
        doorbraak.MeetingHeld: lambda store, _, event: store.record_meeting(event),
        doorbraak.DecisionMade: lambda store, _, event: store.record_decision(event),
        doorbraak.DecisionCarriedOut: lambda store, _, event: store.carry_out_decision(event),
        doorbraak.DecisionWithdrawn: lambda store, _, event: store.withdraw_decision(event),
        doorbraak.CaseClosed: lambda store, _, event: store.close_case(event),
    },
    topics.CAPACITY_ALERTS: {
        # The alert id the schakelfunctionaris acknowledges is the envelope id of the alert.
        capacity.ShortageDetected: lambda store, envelope, event: store.record_shortage(envelope.id, event),
        capacity.ShortageChanged: lambda store, _, event: store.change_shortage(event),
        capacity.ShortageResolved: lambda store, _, event: store.resolve_shortage(event),
        capacity.CaseEscalated: lambda store, envelope, event: store.record_escalation(envelope.id, event),
        capacity.AlertAcknowledged: lambda store, _, event: store.record_acknowledgement(event),
        doorbraak.DecisionOverdue: lambda store, _, event: store.record_overdue_decision(event),
    },
    topics.INTAKE_EVENTS: {
        intake.ReferralReceived: lambda store, _, event: store.record_referral(event),
        intake.ReferralWithdrawn: lambda store, _, event: store.withdraw_referral(event),
        intake.CareStarted: lambda store, _, event: store.record_care_start(event),
        intake.CareEnded: lambda store, _, event: store.record_care_end(event),
    },
    topics.CONTRACTING_EVENTS: {
        contracting.DeclarationAssessed: lambda store, _, event: store.record_declaration(event),
    },
}

# The consumer group of each topic, named as before: a new name would replay the topic from its start.
GROUPS = {
    topics.CAPACITY_EVENTS: "capacity-events",
    topics.CAPACITY_ALERTS: "capacity-alerts",
    topics.INTAKE_EVENTS: "intake-events",
    topics.CONTRACTING_EVENTS: "contracting-events",
}


def pool_records(pool: Pool) -> Mapping[type[EventData], Record]:
    """How the events on ``pool``'s topic are recorded: only what its members tell of its settings."""

    def told_by_member(record: Record) -> Record:
        async def apply(store: Projection, envelope: EventAttributes, event: Any) -> None:
            if member_sharing(pool, event):
                await record(store, envelope, event)

        return apply

    return {
        PoolCapacityReported: told_by_member(lambda store, _, event: store.record_pool_places(event)),
        PoolShortageDetected: told_by_member(lambda store, _, event: store.record_pool_shortage(event)),
        PoolShortageResolved: told_by_member(lambda store, _, event: store.resolve_pool_shortage(event)),
    }


def member_sharing(pool: Pool, event: PoolCapacityReported | PoolShortageDetected | PoolShortageResolved) -> bool:
    """Whether ``event`` on ``pool``'s topic is one of its members telling of a setting it shares."""
    if event.pool == pool.name and event.region in pool.members and pool.shares(event.setting):
        return True
    log.warning(
        "pool %s: skipping %s of %s (pool %s) about %s: not a member sharing it in this region's pools file",
        pool.name,
        type(event).__name__,
        event.region,
        event.pool,
        event.setting,
    )
    return False


def _handler(record: Record) -> Handler[Projection]:
    """Records the event, then wakes the live pages: every change shows there at its commit."""

    async def apply(uow: Recording, event: Any) -> None:
        await record(uow.store, uow.consumed, event)
        await uow.store.wake_live_pages()

    return apply


def record_all(records: Mapping[type[EventData], Record]) -> BatchHandler[Projection]:
    """Records a poll's events in their order, sent as a few statements per kind of write; wakes the pages once."""

    async def apply(uow: Recording, events: Sequence[tuple[EventAttributes, EventData]]) -> None:
        statements = StatementBatch()
        gathering = uow.store.gathering(statements)
        for envelope, event in events:
            await records[type(event)](gathering, envelope, event)
        await uow.store.write_gathered(statements)
        await uow.store.wake_live_pages()

    return apply


def consumers(live_channel: str, pools: Sequence[Pool] = ()) -> list[Consumer[Projection]]:
    """Monitoring's consumer groups, one per topic and one per pool in ``pools`` (those the region
    takes part in, ``MonitoringSettings.pools()``); ``live_channel`` is NOTIFYed with every change."""
    store = functools.partial(ProjectionStore, live_channel=live_channel)
    recorded = [(GROUPS[topic], topic, records) for topic, records in RECORDS.items()]
    recorded += [(f"pool-{pool.name}", pool.topic, pool_records(pool)) for pool in pools]
    return [
        Consumer(
            group,
            topic,
            {model: _handler(record) for model, record in records.items()},
            store=store,
            batch=record_all(records),
        )
        for group, topic, records in recorded
    ]
