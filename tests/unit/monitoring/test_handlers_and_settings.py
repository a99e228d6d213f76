"""Which events monitoring applies, and where a waiting-time norm comes from."""

from __future__ import annotations

from typing import ClassVar

from contracts import capacity, intake, topics
from contracts.envelope import EventData, registered_events
from services.monitoring import handlers
from services.monitoring.settings import MonitoringSettings


def test_every_topic_has_a_consumer_and_handlers_are_of_that_topics_service() -> None:
    consumers = {c.topic: c for c in handlers.consumers("channel", after_commit=None)}
    assert set(consumers) == set(topics.ALL)
    prefixes = {
        topics.INTAKE_EVENTS: "nl.schakel.intake.",
        topics.CONTRACTING_EVENTS: "nl.schakel.contracting.",
        topics.CAPACITY_EVENTS: "nl.schakel.capacity.",
        topics.CAPACITY_ALERTS: "nl.schakel.capacity.",
    }
    for topic, consumer in consumers.items():
        assert consumer.handled_types and all(t.startswith(prefixes[topic]) for t in consumer.handled_types)


def test_every_event_type_monitoring_handles_is_known_to_the_contracts() -> None:
    known = set(registered_events())
    for consumer in handlers.consumers("channel", after_commit=None):
        assert consumer.handled_types <= known


def test_the_schakelfunctie_events_are_all_applied() -> None:
    consumers = {c.topic: c for c in handlers.consumers("channel", after_commit=None)}
    assert {capacity.PlacementRequested.event_type, capacity.PlacementDeclined.event_type} <= consumers[
        topics.CAPACITY_EVENTS
    ].handled_types
    assert {capacity.CaseEscalated.event_type, capacity.AlertAcknowledged.event_type} <= consumers[
        topics.CAPACITY_ALERTS
    ].handled_types
    assert intake.CareEnded.event_type in consumers[topics.INTAKE_EVENTS].handled_types


class _LotNorm(EventData):
    event_type: ClassVar[str] = "nl.schakel.test.LotNormForMonitoring"
    lot: str
    product_categories: list[str]
    max_wait_days: int


def test_a_contracting_event_that_carries_a_max_wait_sets_the_norm_of_its_categories() -> None:
    event = _LotNorm(lot="JH-VERBLIJF", product_categories=["43", "44"], max_wait_days=28)
    assert handlers.waiting_norm_of(event) == (28, ["43", "44"])
    assert handlers.waiting_norm_of(capacity.PlacementDeclined.model_construct()) == (0, [])


def test_the_contract_norm_wins_over_the_configured_default() -> None:
    settings = MonitoringSettings(default_max_wait_days={"46": 1}, fallback_max_wait_days=42)
    assert settings.max_wait_days("46", {}) == 1
    assert settings.max_wait_days("45", {}) == 42
    assert settings.max_wait_days("45", {"45": 28}) == 28
