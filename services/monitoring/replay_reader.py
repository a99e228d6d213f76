"""The rebuild's reader: a second process that reads the topics and folds the capacity reports.

The rebuild was bound by one core: 60 % of its CPU went to reading records from Kafka and decoding
them, and half of what it decoded were capacity reports that end as ~2,000 rows (``NewestReports``).
This process reads every topic up to the end offsets, keeps only the newest capacity report of each
provider setting, and hands every other record to the rebuild as its raw bytes. Bytes cross the
pipe for almost nothing, where a decoded event costs more to pass between processes than to decode
again, so the rebuild still decodes and applies those itself, as before.

What this process hands over, per topic and in this order: ``Started``, a ``Read`` per poll,
``Finished``; ``Failed`` instead when it cannot go on. It reads the end offsets only when the
rebuild says so (``go``): after the rebuild holds its lock, so no event the live service applied
before that moment is left out.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.capacity import CapacityReported
from contracts.envelope import InvalidEvent, decode, named_type
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import Projection
from services.runtime.consumer import Consumer

# How long the reader may take to stop once the rebuild is done with it or has failed.
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Topic:
    name: str  # the topic on the broker, namespace included
    folds_reports: bool  # whether its capacity reports are folded here (those of the capacity events)


@dataclass(frozen=True)
class Started:
    total: int  # records the topic holds up to its end offsets


@dataclass(frozen=True)
class Read:
    """One poll: the records to decode and apply, in their partitions' order, and what was folded."""

    values: list[bytes]
    folded: list[str]  # ids of the capacity reports folded here, as text; the rebuild records them as applied

    @property
    def count(self) -> int:
        return len(self.values) + len(self.folded)


@dataclass(frozen=True)
class Finished:
    newest: list[bytes]  # the newest capacity report of each provider setting folded from the topic


@dataclass(frozen=True)
class Failed:
    reason: str


Message = Started | Read | Finished | Failed
T = TypeVar("T")


class Newest(Generic[T]):
    """Something of each provider setting, kept for its newest capacity report.

    The rule of ``record_capacity``: a newer report replaces an older one, and of two of the same
    time the later one wins. The rebuild keeps the reports themselves, the reader their bytes.
    """

    def __init__(self) -> None:
        self.newest: dict[tuple[str, str], tuple[datetime, T]] = {}

    def keep(self, report: CapacityReported, value: T) -> None:
        kept = self.newest.get((report.agb, report.setting))
        if kept is None or kept[0] <= report.reported_at:
            self.newest[(report.agb, report.setting)] = (report.reported_at, value)

    def values(self) -> list[T]:
        return [value for _, value in self.newest.values()]


class NewestRaw(Newest[bytes]):
    """The reader's side: the newest capacity report of each provider setting, as the bytes it came in."""

    def fold(self, raw: bytes) -> str | None:
        """Keep ``raw`` if it is a valid capacity report and the newest of its setting so far; its
        event id as text, or None when it is anything else (the rebuild decodes and applies that itself)."""
        if named_type(raw) != CapacityReported.event_type:
            return None
        try:
            envelope, report = decode(raw, accept={CapacityReported.event_type})
        except InvalidEvent:
            return None  # the rebuild decodes it again, and counts it skipped as it counts every invalid record
        if not isinstance(report, CapacityReported):
            return None  # the bytes named one type and hold another
        self.keep(report, raw)
        return str(envelope.id)


class ReaderProcess:
    """The rebuild's side of a reader: starts it, lets it go, hands on what it reads, stops it."""

    def __init__(self, settings: MonitoringSettings, consumers: Sequence[Consumer[Projection]]) -> None:
        self.consumers = list(consumers)
        topics = [Topic(settings.topic(c.topic), CapacityReported.event_type in c.handled_types) for c in consumers]
        self.finished = 0
        # spawn, not fork: the rebuild has an event loop, open sockets and threads a fork would copy.
        context = multiprocessing.get_context("spawn")
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=run, args=(settings, topics, theirs), name="rebuild-reader", daemon=True)
        self.process.start()
        theirs.close()  # ours is then the only end left: the reader's death reads as EOF here

    def go(self) -> None:
        self.conn.send(True)

    async def next(self) -> Message:
        try:
            # In a thread: waiting on the event loop for the pipe to be readable measured slower (the
            # loop then blocked in recv until the reader had written the whole poll).
            message: Message = await asyncio.to_thread(self.conn.recv)
        except EOFError:
            raise RuntimeError(f"the rebuild's reader stopped (exit code {self.process.exitcode})") from None
        if isinstance(message, Failed):
            raise RuntimeError(f"the rebuild's reader failed: {message.reason}")
        self.finished += isinstance(message, Finished)
        return message

    def stop(self) -> None:
        """Let a reader that read everything end; end any other at once (the rebuild failed)."""
        if self.finished == len(self.consumers):
            self.process.join(STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def run(settings: MonitoringSettings, topics: list[Topic], conn: Connection) -> None:
    """The reader process: wait for ``go``, then read ``topics`` one after the other."""
    try:
        conn.recv()
        asyncio.run(_read_all(settings, topics, conn))
    except (EOFError, BrokenPipeError):
        pass  # the rebuild stopped or failed first; nothing is waiting for more
    except Exception as exc:
        conn.send(Failed(f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


async def _read_all(settings: MonitoringSettings, topics: list[Topic], conn: Connection) -> None:
    for topic in topics:
        await _read_topic(settings, topic, conn)


async def _read_topic(settings: MonitoringSettings, topic: Topic, conn: Connection) -> None:
    """Every partition of ``topic`` up to its end offset, one ``Read`` per poll.

    A poll's partitions go as one batch: a key's events are in one partition, so they keep their
    order, and a batch costs a dozen round trips to PostgreSQL whatever its size.
    """
    kafka = AIOKafkaConsumer(**settings.kafka_client(), enable_auto_commit=False, group_id=None)
    await kafka.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in await _partitions(settings, topic.name)]
        # The offsets before the assignment: once assigned, the consumer fetches, and the broker
        # answers each offset request only after the fetch it waits behind (0.5 s, twice per topic).
        ends = await kafka.end_offsets(partitions)
        starts = await kafka.beginning_offsets(partitions)
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        conn.send(Started(sum(ends[tp] - starts[tp] for tp in partitions)))
        reports = NewestRaw()
        while [tp for tp in ends if await kafka.position(tp) < ends[tp]]:
            fetched = await kafka.getmany(*ends, timeout_ms=1000)
            values: list[bytes] = []
            folded: list[str] = []
            for tp, records in fetched.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break  # newer than the replay: the live consumer applies it
                    value: bytes = record.value or b""
                    report = reports.fold(value) if topic.folds_reports else None
                    if report is None:
                        values.append(value)
                    else:
                        folded.append(report)
            if values or folded:
                conn.send(Read(values, folded))  # blocks while the rebuild is behind
        conn.send(Finished(reports.values()))
    finally:
        await kafka.stop()


async def _partitions(settings: MonitoringSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**settings.kafka_client())
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in description["partitions"])
    finally:
        await admin.close()
