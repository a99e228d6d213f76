"""Kafka topic names; every topic is keyed by the envelope's ``subject``."""

INTAKE_EVENTS = "intake.events.v1"
CONTRACTING_EVENTS = "contracting.events.v1"
CAPACITY_EVENTS = "capacity.events.v1"
CAPACITY_ALERTS = "capacity.alerts.v1"

ALL = (INTAKE_EVENTS, CONTRACTING_EVENTS, CAPACITY_EVENTS, CAPACITY_ALERTS)

DLQ_SUFFIX = ".dlq"


def dead_letter(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return topic + DLQ_SUFFIX


def is_dead_letter(topic: str) -> bool:
    return topic.endswith(DLQ_SUFFIX)
