"""Which events monitoring applies, and where a waiting-time norm comes from."""

from __future__ import annotations

from contracts import capacity, intake, topics
from contracts.envelope import registered_events
from services.monitoring import handlers
from services.monitoring.settings import MonitoringSettings


def test_every_topic_has_a_consumer_and_handlers_are_of_that_topics_service() -> None:
    consumers = {c.topic: c for c in handlers.consumers("channel")}
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
    for consumer in handlers.consumers("channel"):
        assert consumer.handled_types <= known


def test_the_schakelfunctie_events_are_all_applied() -> None:
    consumers = {c.topic: c for c in handlers.consumers("channel")}
    assert {capacity.PlacementRequested.event_type, capacity.PlacementDeclined.event_type} <= consumers[
        topics.CAPACITY_EVENTS
    ].handled_types
    assert {capacity.CaseEscalated.event_type, capacity.AlertAcknowledged.event_type} <= consumers[
        topics.CAPACITY_ALERTS
    ].handled_types
    assert intake.CareEnded.event_type in consumers[topics.INTAKE_EVENTS].handled_types


def test_a_category_without_a_configured_norm_has_the_fallback() -> None:
    settings = MonitoringSettings(default_max_wait_days={"46": 1}, fallback_max_wait_days=42)
    assert settings.max_wait_days("46") == 1
    assert settings.max_wait_days("45") == 42
