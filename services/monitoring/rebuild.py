"""Rebuild monitoring's read models: ``python -m services.monitoring.rebuild``.

Empties every read model and replays all four topics from their first offset, in one
transaction: the live service keeps showing the old figures until the new ones are complete,
and its consumers, blocked meanwhile, skip what the replay already applied (shared inbox).
The end offsets are read only after the read models are locked, so no event applied by the
live service before that moment can be lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from contracts.envelope import InvalidEvent, decode
from services.monitoring import handlers
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import Projection, ProjectionStore, live_channel
from services.runtime import outbox
from services.runtime.clock import Clock
from services.runtime.consumer import Consumer, apply_once
from services.runtime.db import Connection, create_pool, migrate
from services.runtime.kafka import ensure_topics, topics_with_dead_letters
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.signal import channel_name

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Replayed:
    messages: int = 0
    applied: int = 0
    skipped: int = 0  # invalid, or failing: the live consumer dead-letters these too


class Replay:
    """Applies replayed events in one transaction, as the live consumer would with its runtime."""

    def __init__(self, conn: Connection, settings: MonitoringSettings) -> None:
        self.conn = conn
        self.settings = settings
        self.clock = Clock()
        self.outbox_channel = channel_name(outbox.CHANNEL, settings.db_schema)
        self.result = Replayed()

    async def apply(self, consumer: Consumer[Projection], raw: bytes) -> None:
        try:
            envelope, data = decode(raw, accept=consumer.handled_types)
        except InvalidEvent:
            self.result.skipped += 1
            return
        if data is None:
            return
        try:
            async with self.conn.transaction():  # a savepoint: one bad event does not undo the replay
                applied = await apply_once(
                    self.conn,
                    consumer,
                    envelope,
                    data,
                    settings=self.settings,
                    now=self.clock.now(),
                    outbox_channel=self.outbox_channel,
                )
            if applied:
                self.result.applied += 1
        except Exception as exc:
            log.warning("replay skipped %s %s: %s", envelope.type, envelope.id, exc)
            self.result.skipped += 1


async def rebuild(settings: MonitoringSettings, on_progress: Callable[[str, int, int], None] | None = None) -> Replayed:
    pool = await create_pool(settings.database_url, settings.db_schema, max_size=2)
    try:
        await migrate(pool, "runtime", RUNTIME_MIGRATIONS)
        await migrate(pool, settings.service, MIGRATIONS)
        await ensure_topics(settings, topics_with_dead_letters(settings))
        channel = live_channel(settings)
        async with pool.acquire() as conn, conn.transaction():
            projection = ProjectionStore(conn, channel)
            await projection.truncate(f"{settings.service}.")
            replay = Replay(conn, settings)
            for consumer in handlers.consumers(channel, after_commit=None):
                await _replay(replay, consumer, on_progress)
            await projection.wake_live_pages()
        return replay.result
    finally:
        await pool.close()


async def _replay(
    replay: Replay, consumer: Consumer[Projection], on_progress: Callable[[str, int, int], None] | None
) -> None:
    settings = replay.settings
    topic = settings.topic(consumer.topic)
    kafka = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await kafka.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(settings, topic)]
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        ends = await kafka.end_offsets(partitions)
        starts = await kafka.beginning_offsets(partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        done = 0
        if on_progress:
            on_progress(consumer.topic, 0, total)
        while [tp for tp in partitions if await kafka.position(tp) < ends[tp]]:
            batch = await kafka.getmany(*partitions, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue  # newer than the replay: the live consumer applies it
                    done += 1
                    await replay.apply(consumer, record.value)
            if on_progress:
                on_progress(consumer.topic, done, total)
        replay.result.messages += done
    finally:
        await kafka.stop()


async def _partitions(settings: MonitoringSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
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
