"""Rebuild monitoring's read models: ``python -m services.monitoring.rebuild``.

Empties every read model and replays all four topics from their first offset, in one
transaction: the live service keeps showing the old figures until the new ones are complete,
and its consumers, blocked meanwhile, skip what the replay already applied (shared inbox).
The end offsets are read only after the read models are locked,
so no event applied by the live service before that moment can be lost.

Two processes of its own read the topics (``replay_reader``): one the capacity events, folding their
reports, one the other topics. This one decodes and writes what they hand over, each topic's polls
in order and the topics side by side, as the live consumers apply them. Each poll is applied as the
live consumers apply it (``apply_polled``: one statement per kind of write), under a savepoint;
while PostgreSQL writes one poll, the next is decoded. Capacity reports are folded to the newest of
each provider setting and written at the end (``NewestReports``): the result is the same, and a
national year's ~2.4 M reports of ~2,000 rows do not pile up row versions that one long
transaction can never prune. Their ids still go into the inbox, as every applied event's do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from contracts.capacity import CapacityReported
from contracts.envelope import EventAttributes, EventData, InvalidEvent, decode
from services.monitoring import handlers
from services.monitoring.replay_reader import Finished, Newest, Read, ReaderProcess, Started, folds_reports
from services.monitoring.settings import MonitoringSettings
from services.monitoring.store import Projection, ProjectionStore, live_channel
from services.runtime import collector, outbox
from services.runtime.batch_consumer import Polled, apply_polled
from services.runtime.clock import Clock
from services.runtime.consumer import Consumer, inbox_name
from services.runtime.db import Connection, create_pool, migrate
from services.runtime.inbox import count_first_deliveries
from services.runtime.kafka import ensure_topics, topics_with_dead_letters
from services.runtime.service import RUNTIME_MIGRATIONS
from services.runtime.signal import channel_name
from services.runtime.statements import StatementBatch

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
# Polls (each of every partition, ~3,000 events) decoded ahead of the one being written: enough to
# keep decoding while PostgreSQL writes. Each held costs ~25 MB of resident set, and each reader's
# decoder may hold one more while it waits to put it here.
READ_AHEAD = 2
# Records decoded between two chances for the writer to run. Decoding a whole poll at once (~75 ms)
# kept the writer from answering PostgreSQL, so PostgreSQL and Python took turns instead of working
# side by side.
DECODE_SLICE = 100

Progressed = Callable[[str, int, int], None]
M = TypeVar("M")


@dataclass
class Replayed:
    messages: int = 0
    applied: int = 0
    skipped: int = 0  # invalid, or failing: the live consumer dead-letters these too


@dataclass
class TopicProgress:
    """How far the replay of one topic is: its records applied, the folded ones included."""

    result: Replayed
    topic: str
    total: int
    on_progress: Progressed | None
    done: int = 0

    def __post_init__(self) -> None:
        self.add(0)

    def add(self, records: int) -> None:
        self.done += records
        self.result.messages += records
        if self.on_progress:
            self.on_progress(self.topic, self.done, self.total)


@dataclass(frozen=True)
class FoldedByReader:
    """The newest capacity report of each provider setting a reader folded from one topic."""

    reports: list[tuple[EventAttributes, CapacityReported]]


@dataclass(frozen=True)
class Decoded:
    """A poll as the reader handed it over, its records decoded for the consumer that applies them."""

    consumer: Consumer[Projection]
    batch: list[Polled]
    read: Read
    progress: TopicProgress


class Replay:
    """Applies replayed polls in one transaction, as the live consumers would with their runtime."""

    def __init__(self, conn: Connection, settings: MonitoringSettings) -> None:
        self.conn = conn
        self.settings = settings
        self.clock = Clock()
        self.outbox_channel = channel_name(outbox.CHANNEL, settings.db_schema)
        self.result = Replayed()
        self.reports = NewestReports()

    def decode(self, consumer: Consumer[Projection], raw: bytes) -> Polled:
        try:
            envelope, data = decode(raw, accept=consumer.handled_types)
        except InvalidEvent:
            self.result.skipped += 1
            return Polled(raw, None, None)
        return Polled(raw, envelope, data)

    async def record_folded(self, consumer: Consumer[Projection], event_ids: list[str]) -> None:
        """Record the capacity reports the reader folded as applied, as applying them would."""
        self.result.applied += await count_first_deliveries(self.conn, inbox_name(self.settings, consumer), event_ids)

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


class NewestReports(Newest[CapacityReported]):
    """The replay's capacity reports, only the newest of each provider setting, written once at the end.

    ``record_capacity`` keeps a row's newest report (a later one of the same time wins), so this is
    what writing them all would leave: inside one transaction every update of a row leaves a version
    that cannot be pruned before the commit, and each upsert of that row walks them all.
    """

    def folding(self, consumer: Consumer[Projection]) -> Consumer[Projection]:
        """``consumer`` with its capacity reports kept here instead of written."""
        record = consumer.batch
        assert record is not None

        async def apply(uow: handlers.Recording, events: Sequence[tuple[EventAttributes, EventData]]) -> None:
            rest = []
            for envelope, event in events:
                if isinstance(event, CapacityReported):
                    self.keep(event, str(envelope.id), event)
                else:
                    rest.append((envelope, event))
            if rest:
                await record(uow, rest)

        return dataclasses.replace(consumer, batch=apply)

    async def write(self, projection: ProjectionStore, result: Replayed) -> None:
        statements = StatementBatch()
        gathering = projection.gathering(statements)
        for report in self.values():
            await gathering.record_capacity(report)
        try:
            async with projection.conn.transaction():
                await statements.send(projection.conn)
            return
        except Exception as exc:
            log.warning("writing %d capacity reports failed (%s); writing them one by one", len(self.newest), exc)
        for report in self.values():
            try:
                async with projection.conn.transaction():
                    await projection.record_capacity(report)
            except Exception as exc:
                log.warning("replay skipped the capacity report of %s %s: %s", report.agb, report.setting, exc)
                result.applied, result.skipped = result.applied - 1, result.skipped + 1


async def rebuild(settings: MonitoringSettings, on_progress: Progressed | None = None) -> Replayed:
    channel = live_channel(settings)
    readers: list[ReaderProcess] = []
    try:
        # Started first: they get ready while the schema and the topics are.
        for share in _shares(handlers.consumers(channel, settings.pools())):
            readers.append(await ReaderProcess.start(settings, share))
        pool = await create_pool(settings.database_url, settings.db_schema, max_size=2)
        try:
            await migrate(pool, "runtime", RUNTIME_MIGRATIONS)
            await migrate(pool, settings.service, MIGRATIONS)
            await ensure_topics(settings, topics_with_dead_letters(settings) + settings.pool_topics_with_dead_letters())
            async with pool.acquire() as conn, conn.transaction():
                # First: a live consumer records its inbox rows first, so it waits here before it holds
                # anything the replay needs (else both would wait on each other's inbox rows).
                await conn.execute("LOCK TABLE inbox IN EXCLUSIVE MODE")
                for reader in readers:
                    await reader.go()
                projection = ProjectionStore(conn, channel)
                await projection.truncate(f"{settings.service}.")
                replay = Replay(conn, settings)
                await _replay(replay, readers, on_progress)
                await replay.reports.write(projection, replay.result)
                await projection.wake_live_pages()
            return replay.result
        finally:
            await pool.close()
    finally:
        # Each is stopped even when stopping another fails.
        await asyncio.gather(*(reader.stop() for reader in readers), return_exceptions=True)


def _shares(consumers: Sequence[Consumer[Projection]]) -> list[list[Consumer[Projection]]]:
    """The consumers each reader reads for: the capacity events alone (half of a national year, nearly
    all of it capacity reports to fold), every other topic in a second reader."""
    folding = [c for c in consumers if folds_reports(c)]
    return [share for share in (folding, [c for c in consumers if c not in folding]) if share]


async def _replay(replay: Replay, readers: Sequence[ReaderProcess], on_progress: Progressed | None) -> None:
    """Apply the polls of every reader as they come: each topic's in its order, the topics side by side
    as the live consumers apply them."""
    polls: asyncio.Queue[Decoded | FoldedByReader | Exception | None] = asyncio.Queue(maxsize=READ_AHEAD)
    decoders = [
        asyncio.create_task(_decode(replay, reader, polls, on_progress), name=f"replay-reader-{n}")
        for n, reader in enumerate(readers)
    ]
    try:
        running = len(decoders)
        while running:
            poll = await polls.get()
            if poll is None:
                running -= 1
            elif isinstance(poll, Exception):
                raise poll
            elif isinstance(poll, FoldedByReader):
                for envelope, report in poll.reports:
                    replay.reports.keep(report, str(envelope.id), report)
            else:
                await replay.apply(poll.consumer, poll.batch)
                if poll.read.folded:
                    await replay.record_folded(poll.consumer, poll.read.folded)
                poll.progress.add(poll.read.count)
    finally:
        for decoder in decoders:
            decoder.cancel()
        await asyncio.gather(*decoders, return_exceptions=True)


async def _decode(
    replay: Replay,
    reader: ReaderProcess,
    polls: asyncio.Queue[Decoded | FoldedByReader | Exception | None],
    on_progress: Progressed | None,
) -> None:
    """Decode what ``reader`` hands over, topic after topic, into ``polls``; then None, or what stopped it."""
    try:
        for consumer in reader.consumers:
            started = _expected(Started, await reader.next())
            progress = TopicProgress(replay.result, consumer.topic, started.total, on_progress)
            folding = replay.reports.folding(consumer)
            while not isinstance(message := await reader.next(), Finished):
                read = _expected(Read, message)
                batch: list[Polled] = []
                for raw in read.values:
                    batch.append(replay.decode(consumer, raw))
                    if len(batch) % DECODE_SLICE == 0:
                        await asyncio.sleep(0)  # PostgreSQL answered the writer? Let it send the next statement.
                await polls.put(Decoded(folding, batch, read, progress))
            # Recorded as applied already, with the polls that folded them; kept in the writer's order.
            newest = [replay.decode(consumer, raw) for raw in message.newest]
            await polls.put(
                FoldedByReader(
                    [(p.envelope, p.data) for p in newest if p.envelope and isinstance(p.data, CapacityReported)]
                )
            )
    except Exception as exc:
        await polls.put(exc)  # the writer raises it
        return
    await polls.put(None)


def _expected(kind: type[M], message: object) -> M:
    if not isinstance(message, kind):
        raise RuntimeError(f"the rebuild's reader sent {type(message).__name__} where {kind.__name__} belongs")
    return message


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
