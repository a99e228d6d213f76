"""Kafka topic names; every topic is keyed by the envelope's ``subject``."""

import re

INTAKE_EVENTS = "intake.events.v1"
CONTRACTING_EVENTS = "contracting.events.v1"
CAPACITY_EVENTS = "capacity.events.v1"
CAPACITY_ALERTS = "capacity.alerts.v1"

# The topics of one region's own services; every deployment creates them.
ALL = (INTAKE_EVENTS, CONTRACTING_EVENTS, CAPACITY_EVENTS, CAPACITY_ALERTS)

# A pool's topic, shared by its member regions (docs/pools.md): capacity figures and shortages of
# the pooled settings. This is its pattern, as the catalogue names it; ``pool_capacity`` makes a name.
POOL_PREFIX = "pool."
POOL_CAPACITY = "pool.<name>.capacity.v1"
POOL_PATTERNS = (POOL_CAPACITY,)
# A pool's name is one segment of a topic name: lower-case words joined by hyphens.
POOL_NAME = r"^[a-z0-9]+(-[a-z0-9]+)*$"

DLQ_SUFFIX = ".dlq"


def pool_capacity(pool: str) -> str:
    """The topic of pool ``pool``: what its members publish about their pooled settings."""
    if not re.fullmatch(POOL_NAME, pool):
        raise ValueError(f"pool name {pool!r} must be lower-case words joined by hyphens, e.g. midden-nederland")
    return POOL_CAPACITY.replace("<name>", pool)


def is_pool_topic(name: str) -> bool:
    """Whether ``name`` (a contract topic name, before any namespace) is a pool's, shared between regions."""
    return name.startswith(POOL_PREFIX)


def dead_letter(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return topic + DLQ_SUFFIX


def is_dead_letter(topic: str) -> bool:
    return topic.endswith(DLQ_SUFFIX)
