"""Monitoring's consumers: every topic's events into the read models.

Each handler runs in the consumer's transaction; a NOTIFY in that transaction wakes the live
pages exactly when the change is visible. Types without a handler here are acked and ignored
by the runtime consumer; they must still be known to ``contracts`` (imported below), or they
would count as invalid and go to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from contracts import capacity, contracting, intake, topics
from contracts.envelope import Envelope, EventData
from services.monitoring import store
from services.runtime.consumer import Consumer, Handler
from services.runtime.db import Connection
from services.runtime.signal import notify

LIVE_CHANNEL = "schakel_monitoring_live"

# --- capacity.events.v1 and capacity.alerts.v1 ------------------------------------------------


async def on_capacity_reported(conn: Connection, _envelope: Envelope, event: capacity.CapacityReported) -> None:
    await store.upsert_provider_capacity(conn, event)


async def on_shortage_detected(conn: Connection, envelope: Envelope, event: capacity.ShortageDetected) -> None:
    await store.record_shortage_alert(conn, envelope.id, event)


async def on_shortage_changed(conn: Connection, _envelope: Envelope, event: capacity.ShortageChanged) -> None:
    await store.change_shortage(conn, event)


async def on_shortage_resolved(conn: Connection, _envelope: Envelope, event: capacity.ShortageResolved) -> None:
    await store.resolve_shortage(conn, event.shortage_id, event.setting, event.detected_at, event.resolved_at)


async def on_placement_requested(conn: Connection, _envelope: Envelope, event: capacity.PlacementRequested) -> None:
    await store.record_placement_request(conn, event)


async def on_placement_proposed(conn: Connection, _envelope: Envelope, event: capacity.PlacementProposed) -> None:
    await store.count_placement_step(
        conn, event.placement_id, event.referral_id, "proposed", event.setting, event.proposed_at, event.provider_agb
    )


async def on_placement_declined(conn: Connection, _envelope: Envelope, event: capacity.PlacementDeclined) -> None:
    await store.count_placement_step(
        conn, event.placement_id, event.referral_id, "declined", event.setting, event.declined_at, event.provider_agb
    )


async def on_placement_confirmed(conn: Connection, _envelope: Envelope, event: capacity.PlacementConfirmed) -> None:
    await store.count_placement_step(
        conn, event.placement_id, event.referral_id, "confirmed", event.setting, event.confirmed_at, event.provider_agb
    )


async def on_case_escalated(conn: Connection, envelope: Envelope, event: capacity.CaseEscalated) -> None:
    # The alert id the schakelfunctionaris acknowledges is the envelope id of this alert.
    await store.record_escalation(conn, envelope.id, event)


async def on_alert_acknowledged(conn: Connection, _envelope: Envelope, event: capacity.AlertAcknowledged) -> None:
    await store.record_acknowledgement(conn, event)


# --- intake.events.v1 -------------------------------------------------------------------------


async def on_referral_received(conn: Connection, _envelope: Envelope, event: intake.ReferralReceived) -> None:
    await store.record_referral(conn, event)


async def on_referral_withdrawn(conn: Connection, _envelope: Envelope, event: intake.ReferralWithdrawn) -> None:
    await store.withdraw_referral(conn, event.referral_id, event.withdrawn_at)


async def on_care_started(conn: Connection, _envelope: Envelope, event: intake.CareStarted) -> None:
    await store.record_care_start(conn, event)


async def on_care_ended(conn: Connection, _envelope: Envelope, event: intake.CareEnded) -> None:
    await store.record_care_end(conn, event)


# --- contracting.events.v1 --------------------------------------------------------------------


async def on_declaration_assessed(
    conn: Connection, _envelope: Envelope, event: contracting.DeclarationAssessed
) -> None:
    await store.record_declaration(conn, event)


async def on_waiting_norm(conn: Connection, envelope: Envelope, event: EventData) -> None:
    """A lot's maximum waiting time, from whichever contracting event carries one."""
    days, categories = waiting_norm_of(event)
    for category in categories:
        await store.set_waiting_norm(conn, category, days, envelope.time)


_NORM_FIELDS = ("max_wait_days", "max_waiting_days")
_CATEGORY_FIELDS = ("product_category", "product_categories")


def waiting_norm_of(event: EventData) -> tuple[int, list[str]]:
    """(days, product categories) of an event that states a maximum waiting time, else (0, [])."""
    days = next((getattr(event, f) for f in _NORM_FIELDS if getattr(event, f, None) is not None), None)
    raw = next((getattr(event, f) for f in _CATEGORY_FIELDS if getattr(event, f, None)), None)
    if days is None or raw is None:
        return 0, []
    categories = raw if isinstance(raw, list | tuple | set | frozenset) else [raw]
    return int(days), [str(getattr(c, "value", c)) for c in categories]


def contracting_handlers() -> dict[type[EventData], Handler]:
    """Contracting is still growing: any of its events that carries a max wait sets the norm."""
    handlers: dict[type[EventData], Handler] = {contracting.DeclarationAssessed: on_declaration_assessed}
    for model in vars(contracting).values():
        if (
            isinstance(model, type)
            and issubclass(model, EventData)
            and model is not EventData
            and model not in handlers
            and any(f in model.model_fields for f in _NORM_FIELDS)
        ):
            handlers[model] = on_waiting_norm
    return handlers


CAPACITY_EVENT_HANDLERS: Mapping[type[EventData], Handler] = {
    capacity.CapacityReported: on_capacity_reported,
    capacity.PlacementRequested: on_placement_requested,
    capacity.PlacementProposed: on_placement_proposed,
    capacity.PlacementDeclined: on_placement_declined,
    capacity.PlacementConfirmed: on_placement_confirmed,
}
CAPACITY_ALERT_HANDLERS: Mapping[type[EventData], Handler] = {
    capacity.ShortageDetected: on_shortage_detected,
    capacity.ShortageChanged: on_shortage_changed,
    capacity.ShortageResolved: on_shortage_resolved,
    capacity.CaseEscalated: on_case_escalated,
    capacity.AlertAcknowledged: on_alert_acknowledged,
}
INTAKE_HANDLERS: Mapping[type[EventData], Handler] = {
    intake.ReferralReceived: on_referral_received,
    intake.ReferralWithdrawn: on_referral_withdrawn,
    intake.CareStarted: on_care_started,
    intake.CareEnded: on_care_ended,
}


def _notifying(handler: Handler, channel: str) -> Handler:
    async def apply(conn: Connection, envelope: Envelope, event: Any) -> None:
        await handler(conn, envelope, event)
        await notify(conn, channel)

    return apply


def consumers(channel: str, after_commit: Callable[[Envelope, EventData], Awaitable[None]] | None) -> list[Consumer]:
    """Monitoring's consumer groups, one per topic; ``channel`` is NOTIFYed with every change."""

    def wrap(handlers: Mapping[type[EventData], Handler]) -> dict[type[EventData], Handler]:
        return {model: _notifying(handler, channel) for model, handler in handlers.items()}

    return [
        Consumer("capacity-events", topics.CAPACITY_EVENTS, wrap(CAPACITY_EVENT_HANDLERS), after_commit=after_commit),
        Consumer("capacity-alerts", topics.CAPACITY_ALERTS, wrap(CAPACITY_ALERT_HANDLERS), after_commit=after_commit),
        Consumer("intake-events", topics.INTAKE_EVENTS, wrap(INTAKE_HANDLERS), after_commit=after_commit),
        Consumer(
            "contracting-events", topics.CONTRACTING_EVENTS, wrap(contracting_handlers()), after_commit=after_commit
        ),
    ]
