"""Consumer lag and dead letters waiting, read from Kafka's offsets beside the consumers, never inside them.

Every few seconds a task asks Kafka for each consumer group's committed offsets and for the first
and end offset of every partition it reads, and of the dead-letter topics beside them; ``/metrics``
shows the last answer, so a scrape never waits on Kafka. Measured outside the handler, a lag keeps
rising while a consumer is stuck (a handler that blocks, PostgreSQL away) and stays when it died.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contracts.topics import dead_letter
from services.runtime.consumer import Consumer
from services.runtime.periodic import Periodic
from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Watched:
    """One consumer group on one topic, as Kafka knows it."""

    group: str
    topic: str
    from_beginning: bool


def watched(settings: ServiceSettings, consumers: Sequence[Consumer]) -> list[Watched]:
    return [Watched(settings.group_id(c.name), settings.topic(c.topic), c.start_from_beginning) for c in consumers]


def partition_lag(committed: int | None, start: int, end: int, *, from_beginning: bool) -> int:
    """Messages a group has yet to apply on one partition.

    A group that never committed starts where ``auto_offset_reset`` puts it: at the first message
    still there, or at the end. An offset below the first message (records expired) reads from it.
    """
    if committed is None or committed < 0:
        return end - start if from_beginning else 0
    return max(end - max(committed, start), 0)


@dataclass
class Reading:
    """What Kafka said at the last refresh."""

    # (group, topic, partition) -> messages behind
    lag: dict[tuple[str, str, int], int] = field(default_factory=dict)
    # (group, topic, partition) -> the group's committed offset, where it has one
    committed: dict[tuple[str, str, int], int] = field(default_factory=dict)
    # source topic -> messages on its dead-letter topic
    dead_letters: dict[str, int] = field(default_factory=dict)


class KafkaOffsets(Collector):
    """``schakel_consumer_lag_messages``, ``schakel_consumer_committed_offset`` and
    ``schakel_dead_letters_waiting_messages``, refreshed
    in the background every ``settings.kafka_offsets_interval_seconds``."""

    def __init__(self, settings: ServiceSettings, consumers: Sequence[Consumer], registry: CollectorRegistry) -> None:
        self._settings = settings
        self._watched = watched(settings, consumers)
        self._topics = sorted({w.topic for w in self._watched})
        self.reading = Reading()
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._loop = Periodic("kafka-offsets", self.refresh, settings.kafka_offsets_interval_seconds)
        registry.register(self)

    def start(self) -> None:
        if self._watched:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        await self._close()

    async def refresh(self) -> None:
        """Read the offsets once; on failure keep the last reading and start clients afresh next time."""
        try:
            # end_offsets can wait forever on a partition that does not exist: bound every read.
            # asyncio.timeout, not wait_for: in Python 3.11 wait_for can drop the cancellation that
            # stops this loop at shutdown, and the shutdown then waits forever.
            async with asyncio.timeout(max(10.0, self._settings.kafka_offsets_interval_seconds)):
                self.reading = await self._read()
        except Exception as exc:
            log.warning(
                "consumer lag and dead letters not read from Kafka (%s: %s); trying again", type(exc).__name__, exc
            )
            await self._close()

    async def _read(self) -> Reading:
        admin, offsets = await self._clients()
        dlq = {topic: dead_letter(topic) for topic in self._topics}
        described = await admin.describe_topics([*self._topics, *dlq.values()])
        partitions = [
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if t["error_code"] == 0
            for p in t["partitions"]
        ]
        starts = await offsets.beginning_offsets(partitions)
        ends = await offsets.end_offsets(partitions)
        reading = Reading()
        for w in self._watched:
            mine = [tp for tp in partitions if tp.topic == w.topic]
            committed = await admin.list_consumer_group_offsets(w.group, partitions=mine) if mine else {}
            for tp in mine:
                at = committed.get(tp)
                if at is not None and at.offset >= 0:
                    reading.committed[(w.group, w.topic, tp.partition)] = at.offset
                reading.lag[(w.group, w.topic, tp.partition)] = partition_lag(
                    at.offset if at else None, starts[tp], ends[tp], from_beginning=w.from_beginning
                )
        for topic, dlq_topic in dlq.items():
            waiting = [ends[tp] - starts[tp] for tp in partitions if tp.topic == dlq_topic]
            if waiting:
                reading.dead_letters[topic] = sum(waiting)
        return reading

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._offsets is None:
            connection = self._settings.kafka_client()
            client_id = f"schakel-{self._settings.service}-offsets"
            self._admin = AIOKafkaAdminClient(**connection, client_id=client_id, request_timeout_ms=10_000)
            self._offsets = AIOKafkaConsumer(
                **connection,
                client_id=client_id,
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=10_000,
            )
            await self._admin.start()
            await self._offsets.start()
        return self._admin, self._offsets

    async def _close(self) -> None:
        admin, offsets, self._admin, self._offsets = self._admin, self._offsets, None, None
        for client in (offsets, admin):
            if client is not None:
                try:
                    # Bounded: a broker that went away must not hold up a refresh or the service's shutdown.
                    async with asyncio.timeout(5):
                        await (client.stop() if isinstance(client, AIOKafkaConsumer) else client.close())
                except Exception as exc:
                    log.debug("closing a Kafka offsets client failed: %s", exc)

    def collect(self) -> Iterator[Metric]:
        reading = self.reading
        lag = GaugeMetricFamily(
            "schakel_consumer_lag_messages",
            "Messages a consumer group has yet to apply: the partition's end offset minus the "
            "group's committed offset, read from Kafka every few seconds.",
            labels=["group", "topic", "partition"],
        )
        for (group, topic, partition), n in sorted(reading.lag.items()):
            lag.add_metric([group, topic, str(partition)], n)
        yield lag
        committed = GaugeMetricFamily(
            "schakel_consumer_committed_offset",
            "The offset a consumer group committed: the next message it will apply. "
            "It stands still while the group applies nothing.",
            labels=["group", "topic", "partition"],
        )
        for (group, topic, partition), offset in sorted(reading.committed.items()):
            committed.add_metric([group, topic, str(partition)], offset)
        yield committed
        waiting = GaugeMetricFamily(
            "schakel_dead_letters_waiting_messages",
            "Messages on a topic's dead-letter topic (<topic>.dlq) until they expire, "
            "replayed or not, by source topic.",
            labels=["topic"],
        )
        for topic, n in sorted(reading.dead_letters.items()):
            waiting.add_metric([topic], n)
        yield waiting
