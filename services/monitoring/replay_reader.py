"""The rebuild's readers: processes that read the topics and fold the capacity reports.

The rebuild was bound by one core: 60 % of its CPU went to reading records from Kafka and decoding
them, and half of what it decoded were capacity reports that end as ~2,000 rows (``NewestReports``).
A reader reads its topics up to their end offsets, keeps only the newest capacity report of each
provider setting, and hands every other record to the rebuild as its raw bytes. Bytes cross the
pipe for almost nothing, where a decoded event costs about as much to pass between processes as to
decode again (or more), so the rebuild still decodes and applies those itself, as before.

The rebuild starts each reader as ``python -m services.monitoring.replay_reader`` and talks to it
over its stdin and stdout in frames (a length, then a pickle). In: ``Setup``, then ``GO`` once the
rebuild holds its lock, so no event the live service applied before that moment is left out. Out,
per topic and in this order: ``Started``, a ``Read`` per poll, ``Finished``; ``Failed`` instead when
it cannot go on. A command of its own rather than ``multiprocessing``: a spawned process imports the
caller's main module again (the whole rebuild, or a script without a main guard, which then fails),
and a forked one copies the rebuild's event loop and threads. This module imports only what a
reader needs. A reader whose rebuild is gone ends at its next frame (a broken pipe), or at once
while it still waits for ``GO`` (its stdin closes).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import pickle
import signal
import struct
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.capacity import CapacityReported
from contracts.envelope import InvalidEvent, decode, named_type
from services.runtime.settings import KafkaSettings

if TYPE_CHECKING:
    from services.monitoring.settings import MonitoringSettings
    from services.monitoring.store import Projection
    from services.runtime.consumer import Consumer

# How long the reader may take to stop once the rebuild is done with it.
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Topic:
    name: str  # the topic on the broker, namespace included
    folds_reports: bool  # whether its capacity reports are folded here (those of the capacity events)


@dataclass(frozen=True)
class Setup:
    kafka: KafkaSettings  # only the Kafka settings: a reader needs no more, and imports no more
    topics: list[Topic]


GO = "go"


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


@dataclass
class Kept(Generic[T]):
    at: datetime
    value: T
    ids: set[str]  # the events of this time seen so far: a second delivery of one is no later report


class Newest(Generic[T]):
    """Something of each provider setting, kept for its newest capacity report.

    The rule of ``record_capacity``: a newer report replaces an older one, and of two of the same
    time the later one wins; a report delivered twice (the outbox may publish it again) counts where
    it came first, as the inbox would have it. The rebuild keeps the reports, the reader their bytes.
    """

    def __init__(self) -> None:
        self.newest: dict[tuple[str, str], Kept[T]] = {}

    def keep(self, report: CapacityReported, event_id: str, value: T) -> None:
        key = (report.agb, report.setting)
        kept = self.newest.get(key)
        if kept is None or kept.at < report.reported_at:
            self.newest[key] = Kept(report.reported_at, value, {event_id})
        elif kept.at == report.reported_at and event_id not in kept.ids:
            kept.value = value
            kept.ids.add(event_id)

    def values(self) -> list[T]:
        return [kept.value for kept in self.newest.values()]


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
        event_id = str(envelope.id)
        self.keep(report, event_id, raw)
        return event_id


def folds_reports(consumer: Consumer[Projection]) -> bool:
    """Whether ``consumer``'s topic is the one whose capacity reports a reader folds."""
    return CapacityReported.event_type in consumer.handled_types


class ReaderProcess:
    """The rebuild's side of a reader: starts it, lets it go, hands on what it reads, stops it."""

    def __init__(self, process: asyncio.subprocess.Process, consumers: Sequence[Consumer[Projection]]) -> None:
        self.process = process
        self.consumers = list(consumers)
        self.finished = 0

    @classmethod
    async def start(cls, settings: MonitoringSettings, consumers: Sequence[Consumer[Projection]]) -> ReaderProcess:
        """A reader for ``consumers``' topics, in their order; it waits for ``go``."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=READ_BUFFER,
        )
        kafka = KafkaSettings.model_construct(**{name: getattr(settings, name) for name in KafkaSettings.model_fields})
        topics = [Topic(settings.topic(c.topic), folds_reports(c)) for c in consumers]
        reader = cls(process, consumers)
        await reader._send(Setup(kafka, topics))
        return reader

    async def go(self) -> None:
        await self._send(GO)

    async def next(self) -> Message:
        assert self.process.stdout is not None
        try:
            [size] = FRAME.unpack(await self.process.stdout.readexactly(FRAME.size))
            if size > MAX_FRAME:
                raise RuntimeError(f"the rebuild's reader sent a frame of {size} bytes: its output is garbled")
            message: Message = pickle.loads(await self.process.stdout.readexactly(size))
        except asyncio.IncompleteReadError:
            raise RuntimeError(f"the rebuild's reader stopped (exit code {await self.process.wait()})") from None
        if isinstance(message, Failed):
            raise RuntimeError(f"the rebuild's reader failed: {message.reason}")
        self.finished += isinstance(message, Finished)
        return message

    async def stop(self) -> None:
        """Let a reader that read everything end; end any other at once (the rebuild failed)."""
        if self.finished == len(self.consumers):
            try:
                await asyncio.wait_for(self.process.wait(), STOP_SECONDS)
            except TimeoutError:
                pass
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()

    async def _send(self, message: object) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(_frame(message))
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            await self.next()  # gone already: raises why, from its last frame or its exit code
            raise


# Frames on a reader's stdin and stdout: the length of the pickle, then the pickle.
FRAME = struct.Struct("!Q")
# asyncio stops reading a reader's pipe once twice this is buffered (16 MB per reader): a poll of a
# national year is ~2 MB, so the pipe is not paused and resumed many times per poll.
READ_BUFFER = 8 * 1024 * 1024
# Far above any poll (aiokafka fetches at most 50 MB): a larger length means the output is garbled.
MAX_FRAME = 256 * 1024 * 1024


def _frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return FRAME.pack(len(payload)) + payload


def _read_frame(stream: IO[bytes]) -> Any:
    header = stream.read(FRAME.size)
    if len(header) < FRAME.size:
        raise EOFError
    [size] = FRAME.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError
    return pickle.loads(payload)


def serve() -> None:
    """The reader: ``Setup`` and ``GO`` from stdin, what it reads to stdout."""
    # The frames get stdout's descriptor to themselves: anything else written to it, from Python or
    # from a library's C code, goes to stderr instead of between the frames.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # Ctrl-C reaches the whole process group; the rebuild stops its readers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def send(message: object) -> None:
        out.write(_frame(message))  # blocks while the rebuild is behind: what is read ahead stays bounded
        out.flush()

    try:
        setup: Setup = _read_frame(sys.stdin.buffer)
        if _read_frame(sys.stdin.buffer) == GO:
            asyncio.run(_read_all(setup, send))
    except (EOFError, BrokenPipeError):
        pass  # the rebuild stopped or failed first; nothing is waiting for more
    except Exception as exc:
        traceback.print_exc()
        send(Failed(f"{type(exc).__name__}: {exc}"))


Send = Callable[[object], None]


async def _read_all(setup: Setup, send: Send) -> None:
    for topic in setup.topics:
        await _read_topic(setup.kafka, topic, send)


async def _read_topic(kafka_settings: KafkaSettings, topic: Topic, send: Send) -> None:
    """Every partition of ``topic`` up to its end offset, one ``Read`` per poll.

    A poll's partitions go as one batch: a key's events are in one partition, so they keep their
    order, and a batch costs a dozen round trips to PostgreSQL whatever its size.
    """
    kafka = AIOKafkaConsumer(**kafka_settings.kafka_client(), enable_auto_commit=False, group_id=None)
    await kafka.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in await _partitions(kafka_settings, topic.name)]
        # The offsets before the assignment: once assigned, the consumer fetches, and the broker
        # answers each offset request only after the fetch it waits behind (0.5 s, twice per topic).
        ends = await kafka.end_offsets(partitions)
        starts = await kafka.beginning_offsets(partitions)
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        send(Started(sum(ends[tp] - starts[tp] for tp in partitions)))
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
                send(Read(values, folded))
        send(Finished(reports.values()))
    finally:
        await kafka.stop()


async def _partitions(kafka_settings: KafkaSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**kafka_settings.kafka_client())
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in description["partitions"])
    finally:
        await admin.close()


if __name__ == "__main__":
    # By the module's own name, so the messages it pickles name this module, not ``__main__``.
    importlib.import_module("services.monitoring.replay_reader").serve()
