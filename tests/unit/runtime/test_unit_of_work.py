"""The unit of work: events are wrapped in one place, carry their cause, and leave only on commit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from contracts import topics
from contracts.capacity import AlertAcknowledged, ShortageDetected
from contracts.envelope import Envelope
from contracts.verblijf import Setting
from services.runtime.settings import ServiceSettings
from services.runtime.unit_of_work import InMemoryBus, InMemoryStore, in_memory

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class ProbeSettings(ServiceSettings):
    service: str = "probe"
    port: int = 0
    database_url: str = "postgresql://unused"


class Shelf(InMemoryStore):
    def __init__(self) -> None:
        self.items: dict[str, int] = {}


def _shortage(setting: Setting = Setting.CRISISPLEK) -> ShortageDetected:
    return ShortageDetected(
        shortage_id=uuid.uuid4(), setting=setting, free_places=0, waiting=2, severity="kritiek", detected_at=NOW
    )


async def test_collected_events_are_published_on_commit_with_their_topic_subject_time_and_source() -> None:
    bus, shelf = InMemoryBus(), Shelf()
    async with in_memory(shelf, ProbeSettings(), NOW, bus) as uow:
        uow.store.items["crisisplek"] = 0
        envelope = uow.collect(_shortage())
        assert bus.published == []  # nothing leaves before the commit
    assert bus.published == [(topics.CAPACITY_ALERTS, envelope)]
    assert (envelope.subject, envelope.source, envelope.time) == ("crisisplek", "probe", NOW)
    assert envelope.correlationid == envelope.id and envelope.causationid is None
    assert shelf.items == {"crisisplek": 0}


async def test_a_failed_unit_of_work_publishes_nothing_and_leaves_the_store_as_it_was() -> None:
    bus, shelf = InMemoryBus(), Shelf()
    shelf.items["crisisplek"] = 3
    with pytest.raises(RuntimeError):
        async with in_memory(shelf, ProbeSettings(), NOW, bus) as uow:
            uow.store.items["crisisplek"] = 0
            uow.collect(_shortage())
            raise RuntimeError("a rule refused the change")
    assert bus.published == []
    assert shelf.items == {"crisisplek": 3}


async def test_events_collected_while_handling_an_event_carry_its_correlation_and_causation() -> None:
    bus, cause = InMemoryBus(), Envelope.wrap(_shortage(), source="capacity", time=NOW)
    async with in_memory(Shelf(), ProbeSettings(), NOW, bus, cause=cause) as uow:
        first = uow.collect(
            AlertAcknowledged(
                alert_id=cause.id,
                alert_type=cause.type,
                acknowledged_by_role="schakelfunctionaris",
                acknowledged_by="sf-1",
                acknowledged_at=NOW,
            )
        )
        second = uow.collect(_shortage(Setting.GEZINSHUIS), cause=first)
    assert (first.correlationid, first.causationid) == (cause.correlationid, cause.id)
    assert (second.correlationid, second.causationid) == (cause.correlationid, first.id)
    assert [type(e) for e in bus.events()] == [AlertAcknowledged, ShortageDetected]
    assert [t for t, _ in bus.published] == [topics.CAPACITY_ALERTS, topics.CAPACITY_ALERTS]
