"""Monitoring is a projection: every event it handles is recorded once, wakes the live pages and
announces nothing; a handler that fails leaves the read models as they were.

The handlers run through an in-memory unit of work on a store that only notes what it is asked to
record: what the SQL then does with it is the integration tests' subject (real PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts import capacity, contracting, doorbraak, intake, topics
from contracts.envelope import Envelope, EventData
from services.monitoring import handlers
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import Projection, ProjectionStore
from services.runtime.consumer import Consumer
from services.runtime.unit_of_work import InMemoryBus, InMemoryStore, in_memory

NOW = datetime(2025, 3, 3, 9, tzinfo=UTC)
# What each handled event is recorded as; an alert's envelope id is the alert id acknowledged later.
RECORDED_AS: dict[type[EventData], str] = {
    capacity.CapacityReported: "record_capacity",
    capacity.PlacementRequested: "record_placement_request",
    capacity.PlacementProposed: "record_proposal",
    capacity.PlacementDeclined: "record_decline",
    capacity.PlacementConfirmed: "record_confirmation",
    capacity.ShortageDetected: "record_shortage",
    capacity.ShortageChanged: "change_shortage",
    capacity.ShortageResolved: "resolve_shortage",
    capacity.CaseEscalated: "record_escalation",
    capacity.AlertAcknowledged: "record_acknowledgement",
    intake.ReferralReceived: "record_referral",
    intake.ReferralWithdrawn: "withdraw_referral",
    intake.CareStarted: "record_care_start",
    intake.CareEnded: "record_care_end",
    contracting.DeclarationAssessed: "record_declaration",
    doorbraak.CaseTakenUp: "take_up_case",
    doorbraak.MeetingHeld: "record_meeting",
    doorbraak.DecisionMade: "record_decision",
    doorbraak.DecisionCarriedOut: "carry_out_decision",
    doorbraak.DecisionWithdrawn: "withdraw_decision",
    doorbraak.DecisionOverdue: "record_overdue_decision",
    doorbraak.CaseClosed: "close_case",
}
RECORDED_UNDER_ALERT_ID = {capacity.ShortageDetected, capacity.CaseEscalated}


class NotedProjection(InMemoryStore):
    """A fake projection store: notes each call it gets, in order; ``failing`` names one that raises."""

    def __init__(self, failing: str | None = None) -> None:
        self.noted: list[tuple[str, tuple[Any, ...]]] = []
        self.failing = failing

    def __getattr__(self, name: str) -> Callable[..., Awaitable[None]]:
        if name not in vars(Projection):
            raise AttributeError(name)

        async def note(*args: Any) -> None:
            self.noted.append((name, args))
            if name == self.failing:
                raise RuntimeError(f"{name} failed")

        return note


def _consumers() -> dict[str, Consumer[Projection]]:
    return {c.topic: c for c in handlers.consumers("live")}


def _handled() -> list[Any]:
    return [pytest.param(c, kind, id=kind.__name__) for c in _consumers().values() for kind in c.handlers]


def _envelope() -> Envelope:
    # The handlers read only the envelope's id; the event travels beside it.
    return Envelope.model_construct(id=uuid.uuid4())


async def _apply(store: NotedProjection, consumer: Consumer[Projection], event: EventData) -> InMemoryBus:
    bus, envelope = InMemoryBus(), _envelope()
    async with in_memory(store, MonitoringSettings(), NOW, bus, cause=envelope) as uow:
        await consumer.handlers[type(event)](uow, event)
    return bus


def test_every_event_monitoring_handles_has_its_record() -> None:
    assert {kind for consumer in _consumers().values() for kind in consumer.handlers} == set(RECORDED_AS)


@pytest.mark.parametrize(("consumer", "kind"), _handled())
async def test_an_event_is_recorded_once_then_wakes_the_live_pages_and_announces_nothing(
    consumer: Consumer[Projection], kind: type[EventData]
) -> None:
    store, event = NotedProjection(), kind.model_construct()
    bus = await _apply(store, consumer, event)
    [(method, args), woken] = store.noted
    assert (method, args[-1]) == (RECORDED_AS[kind], event)
    assert woken == ("wake_live_pages", ())
    assert bus.published == []


@pytest.mark.parametrize("kind", sorted(RECORDED_UNDER_ALERT_ID, key=lambda k: k.__name__))
async def test_an_alert_is_recorded_under_its_envelope_id_which_is_the_id_acknowledged(
    kind: type[EventData],
) -> None:
    store, envelope, bus = NotedProjection(), _envelope(), InMemoryBus()
    consumer = _consumers()[topics.CAPACITY_ALERTS]
    async with in_memory(store, MonitoringSettings(), NOW, bus, cause=envelope) as uow:
        await consumer.handlers[kind](uow, kind.model_construct())
    assert store.noted[0][1][0] == envelope.id


async def test_a_handler_that_fails_after_recording_leaves_the_projection_as_it_was() -> None:
    store = NotedProjection(failing="wake_live_pages")
    consumer = _consumers()[topics.INTAKE_EVENTS]
    with pytest.raises(RuntimeError, match="wake_live_pages failed"):
        await _apply(store, consumer, intake.ReferralReceived.model_construct())
    assert store.noted == []


def test_the_consumers_record_through_the_postgresql_store_on_the_live_channel() -> None:
    for consumer in _consumers().values():
        assert consumer.store is not None
        store = consumer.store(object())
        assert isinstance(store, ProjectionStore) and store.live_channel == "live"
