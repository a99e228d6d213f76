"""Rebuild monitoring's read models: ``python -m services.monitoring.rebuild``.

Empties every read model and replays all four topics from their first offset, in one
transaction: the live service keeps showing the old figures until the new ones are complete,
and its consumers, blocked meanwhile, skip what the replay already applied (shared inbox).
The end offsets are read only after the read models are locked,
so no event applied by the live service before that moment can be lost.

Each poll is applied as the live consumers apply it (``apply_polled``: one statement per kind of
write), under a savepoint; while PostgreSQL writes one poll, the next is read and decoded.
Capacity reports are folded to the newest of each provider setting and written at the end
(``NewestReports``): the result is the same, and a national year's ~2.4 M reports of ~2,000 rows
do not pile up row versions that one long transaction can never prune.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from contracts.capacity import CapacityReported
from contracts.envelope import EventAttributes, EventData, InvalidEvent
from services.monitoring import handlers
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import Projection, ProjectionStore, live_channel
from services.runtime import collector, outbox
from services.runtime.batch_consumer import Polled, apply_polled, polled
from services.runtime.clock import Clock
from services.runtime.consumer import Consumer
from services.runtime.db import Connection, create_pool, migrate
from services.runtime.kafka import ensure_topics, topics_with_dead_letters
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.signal import channel_name
from services.runtime.statements import StatementBatch

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
# Polls (each of every partition, ~3,000 events) read and decoded ahead of the one being written:
# enough to keep the reader busy while PostgreSQL writes; each held costs ~25 MB of resident set.
READ_AHEAD = 2
# Records decoded between two chances for the writer to run. Decoding a whole poll at once (~75 ms)
# kept the writer from answering PostgreSQL, so PostgreSQL and Python took turns instead of working
# side by side.
DECODE_SLICE = 100

Progressed = Callable[[str, int, int], None]


@dataclass
class Replayed:
    messages: int = 0
    applied: int = 0
    skipped: int = 0  # invalid, or failing: the live consumer dead-letters these too


class Replay:
    """Applies replayed polls in one transaction, as the live consumers would with their runtime."""

    def __init__(self, conn: Connection, settings: MonitoringSettings) -> None:
        self.conn = conn
        self.settings = settings
        self.clock = Clock()
        self.outbox_channel = channel_name(outbox.CHANNEL, settings.db_schema)
        self.result = Replayed()

    def decode(self, consumer: Consumer[Projection], record: object) -> Polled:
        try:
            return polled(record, consumer)
        except InvalidEvent:
            self.result.skipped += 1
            return Polled(record, None, None)

    async def apply(self, consumer: Consumer[Projection], batch: list[Polled]) -> None:
        try:
            async with self.conn.transaction():  # a savepoint: a bad event does not undo the replay
                self.result.applied += len(await self._apply(consumer, batch))
            return
        except Exception as exc:
            log.warning("replay of %d records failed (%s); applying them one by one", len(batch), exc)
        for item in batch:
            try:
                async with self.conn.transaction():
                    self.result.applied += len(await self._apply(consumer, [item]))
            except Exception as exc:
                what = f"{item.envelope.type} {item.envelope.id}" if item.envelope else "record"
                log.warning("replay skipped %s: %s", what, exc)
                self.result.skipped += 1

    async def _apply(self, consumer: Consumer[Projection], batch: list[Polled]) -> list[object]:
        return list(
            await apply_polled(
                self.conn,
                consumer,
                batch,
                settings=self.settings,
                now=self.clock.now(),
                outbox_channel=self.outbox_channel,
            )
        )


class NewestReports:
    """The replay's capacity reports, only the newest of each provider setting, written once at the end.

    ``record_capacity`` keeps a row's newest report (a later one of the same time wins), so this is
    what writing them all would leave: inside one transaction every update of a row leaves a version
    that cannot be pruned before the commit, and each upsert of that row walks them all.
    """

    def __init__(self) -> None:
        self.newest: dict[tuple[str, str], CapacityReported] = {}

    def folding(self, consumer: Consumer[Projection]) -> Consumer[Projection]:
        """``consumer`` with its capacity reports kept here instead of written."""
        record = consumer.batch
        assert record is not None

        async def apply(uow: handlers.Recording, events: Sequence[tuple[EventAttributes, EventData]]) -> None:
            rest = []
            for envelope, event in events:
                if isinstance(event, CapacityReported):
                    kept = self.newest.get((event.agb, event.setting))
                    if kept is None or kept.reported_at <= event.reported_at:
                        self.newest[(event.agb, event.setting)] = event
                else:
                    rest.append((envelope, event))
            if rest:
                await record(uow, rest)

        return dataclasses.replace(consumer, batch=apply)

    async def write(self, projection: ProjectionStore, result: Replayed) -> None:
        statements = StatementBatch()
        gathering = projection.gathering(statements)
        for report in self.newest.values():
            await gathering.record_capacity(report)
        try:
            async with projection.conn.transaction():
                await statements.send(projection.conn)
            return
        except Exception as exc:
            log.warning("writing %d capacity reports failed (%s); writing them one by one", len(self.newest), exc)
        for report in self.newest.values():
            try:
                async with projection.conn.transaction():
                    await projection.record_capacity(report)
            except Exception as exc:
                log.warning("replay skipped the capacity report of %s %s: %s", report.agb, report.setting, exc)
                result.applied, result.skipped = result.applied - 1, result.skipped + 1


async def rebuild(settings: MonitoringSettings, on_progress: Progressed | None = None) -> Replayed:
    pool = await create_pool(settings.database_url, settings.db_schema, max_size=2)
    try:
        await migrate(pool, "runtime", RUNTIME_MIGRATIONS)
        await migrate(pool, settings.service, MIGRATIONS)
        await ensure_topics(settings, topics_with_dead_letters(settings) + settings.pool_topics_with_dead_letters())
        channel = live_channel(settings)
        async with pool.acquire() as conn, conn.transaction():
            # First: a live consumer records its inbox rows first, so it waits here before it holds
            # anything the replay needs (else both would wait on each other's inbox rows).
            await conn.execute("LOCK TABLE inbox IN EXCLUSIVE MODE")
            projection = ProjectionStore(conn, channel)
            await projection.truncate(f"{settings.service}.")
            replay, reports = Replay(conn, settings), NewestReports()
            for consumer in handlers.consumers(channel, settings.pools()):
                await _replay(replay, reports.folding(consumer), on_progress)
            await reports.write(projection, replay.result)
            await projection.wake_live_pages()
        return replay.result
    finally:
        await pool.close()


async def _replay(replay: Replay, consumer: Consumer[Projection], on_progress: Progressed | None) -> None:
    settings = replay.settings
    topic = settings.topic(consumer.topic)
    kafka = AIOKafkaConsumer(**settings.kafka_client(), enable_auto_commit=False, group_id=None)
    await kafka.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(settings, topic)]
        # The offsets before the assignment: once assigned, the consumer fetches, and the broker
        # answers each offset request only after the fetch it waits behind (0.5 s, twice per topic).
        ends = await kafka.end_offsets(partitions)
        starts = await kafka.beginning_offsets(partitions)
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        polls: asyncio.Queue[list[Polled] | None] = asyncio.Queue(maxsize=READ_AHEAD)
        reader = asyncio.create_task(_read(replay, consumer, kafka, ends, polls), name=f"replay-{consumer.name}")
        done = 0
        if on_progress:
            on_progress(consumer.topic, 0, total)
        try:
            while (batch := await polls.get()) is not None:
                await replay.apply(consumer, batch)
                done += len(batch)
                if on_progress:
                    on_progress(consumer.topic, done, total)
            await reader  # raises what stopped the reading, if anything did
        finally:
            reader.cancel()
        replay.result.messages += done
    finally:
        await kafka.stop()


async def _read(
    replay: Replay,
    consumer: Consumer[Projection],
    kafka: AIOKafkaConsumer,
    ends: dict[TopicPartition, int],
    polls: asyncio.Queue[list[Polled] | None],
) -> None:
    """Read every partition up to its end offset, one decoded batch per poll; then None.

    A poll's partitions go as one batch: a key's events are in one partition, so they keep their
    order, and a batch costs a dozen round trips to PostgreSQL whatever its size.
    """
    try:
        while [tp for tp in ends if await kafka.position(tp) < ends[tp]]:
            fetched = await kafka.getmany(*ends, timeout_ms=1000)
            batch: list[Polled] = []
            for tp, records in fetched.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break  # newer than the replay: the live consumer applies it
                    batch.append(replay.decode(consumer, record))
                    if len(batch) % DECODE_SLICE == 0:
                        await asyncio.sleep(0)  # PostgreSQL answered the writer? Let it send the next statement.
            if batch:
                await polls.put(batch)
    except Exception:
        await polls.put(None)  # the writer still reads: it stops and raises this by awaiting the reader
        raise
    await polls.put(None)


async def _partitions(settings: MonitoringSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**settings.kafka_client())
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in description["partitions"])
    finally:
        await admin.close()


cli = typer.Typer(help="Rebuild monitoring's read models from the topics.", add_completion=False)


@cli.command()
def main() -> None:
    """Drop the read models and replay intake, contracting and capacity topics from the start."""
    settings = MonitoringSettings()
    collector.settle()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(topic: str, done: int, total: int) -> None:
            if topic not in tasks:
                tasks[topic] = bar.add_task(topic, total=total)
            bar.update(tasks[topic], completed=done, total=total)

        result = asyncio.run(rebuild(settings, progress))
    typer.echo(f"replayed {result.messages} messages: {result.applied} applied, {result.skipped} skipped")


if __name__ == "__main__":
    cli()
