"""``python -m services.sim.national``: write a national year of events straight onto the topics.

For the replay benchmark: no service is involved; the events go to Kafka as the outbox relays would
put them there (key = subject, the CloudEvents headers), on topics created with the services' config.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from datetime import date
from multiprocessing.sharedctypes import Synchronized
from typing import Annotated

import typer
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from contracts import topics
from services.runtime.kafka import topic_config
from services.runtime.outbox import event_headers
from services.runtime.settings import KafkaSettings
from services.sim.national.generate import events, split

app = typer.Typer(add_completion=False)

BATCH_BYTES = 512 * 1024
# Batches in flight before their acknowledgements are awaited: bounds memory (~16 MB).
WINDOW_BATCHES = 32
partitioner = DefaultPartitioner()
PROGRESS_STEP = 1_000


def topic_name(namespace: str, name: str) -> str:
    return f"{namespace}.{name}" if namespace else name


async def ensure_topics(kafka: KafkaSettings, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(**kafka.kafka_client())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(n, num_partitions=partitions, replication_factor=1, topic_configs=topic_config(n))
            for n in names
            if n not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # a service created it meanwhile
        # A new topic has no leader for a moment; producing then only earns retries and warnings.
        deadline = time.monotonic() + 30
        while not all(p["leader"] >= 0 for t in await admin.describe_topics(names) for p in t["partitions"]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"topics {names} have no leader after 30 s")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def produce(
    kafka: KafkaSettings,
    names: dict[str, str],
    count: int,
    *,
    seed: int,
    year: int,
    part: int = 0,
    parts: int = 1,
    progress: Callable[[int, date | None], None],
) -> Counter[str]:
    """Write ``count`` events of part ``part`` of ``parts`` onto the topics ``names``; ``progress``
    hears of every ``PROGRESS_STEP`` events written (and of the last few)."""
    producer = AIOKafkaProducer(
        **kafka.kafka_client(),
        acks="all",
        linger_ms=20,
        max_batch_size=BATCH_BYTES,
        max_request_size=4 * BATCH_BYTES,
        enable_idempotence=False,
    )
    await producer.start()
    per_topic: Counter[str] = Counter()
    last_day: date | None = None
    try:
        # One batch per partition, filled here and sent whole: a future per batch, not per event.
        # Keys are partitioned as the services' producers do (murmur2), so a subject's events
        # land in the partition its service would have chosen.
        partitions_of = {t: sorted(await producer.partitions_for(t)) for t in names.values()}
        batches: dict[tuple[str, int], BatchBuilder] = {}
        pending: list[asyncio.Future[object]] = []
        recent: dict[tuple[int, bytes], int] = {}

        async def send(topic: str, partition: int, batch: BatchBuilder) -> None:
            pending.append(await producer.send_batch(batch, topic, partition=partition))
            if len(pending) >= WINDOW_BATCHES:
                await asyncio.gather(*pending)
                pending.clear()

        for n, event in enumerate(events(count, seed=seed, year=year), start=1):
            envelope = event.envelope
            topic = names[event.topic]
            key = envelope.subject.encode()
            # An aggregate's events come one after the other: remember the last subjects' partitions
            # (murmur2 in pure Python is the dearest step per event).
            available = partitions_of[topic]
            partition = recent.get((len(available), key), -1)
            if partition < 0:
                if len(recent) > 10_000:
                    recent.clear()
                partition = recent[(len(available), key)] = partitioner(key, available, available)
            headers = [(k, v.encode()) for k, v in event_headers(envelope).items()]
            value = envelope.to_bytes()
            batch = batches.get((topic, partition))
            if batch is None or batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                if batch is not None:
                    await send(topic, partition, batch)
                batch = batches[(topic, partition)] = producer.create_batch()
                if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                    raise ValueError(f"an event of {len(value):,} bytes does not fit a batch")
            per_topic[topic] += 1
            last_day = event.day
            if n % PROGRESS_STEP == 0:
                progress(PROGRESS_STEP, event.day)
        for (topic, partition), batch in batches.items():
            if batch.record_count():
                await send(topic, partition, batch)
        await asyncio.gather(*pending)
        await producer.flush()
        progress(count % PROGRESS_STEP, last_day)
    finally:
        await producer.stop()
    return per_topic


def _worker(
    kafka: KafkaSettings, names: dict[str, str], count: int, seed: int, year: int, part: int, parts: int
) -> Counter[str]:
    """One writer process of several; its progress goes to the parent through ``_written``."""

    def progress(n: int, day: date | None) -> None:
        with _written.get_lock():
            _written.value += n
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with _rss.get_lock():
            _rss.value = max(_rss.value, rss)

    return asyncio.run(produce(kafka, names, count, seed=seed, year=year, part=part, parts=parts, progress=progress))


_written: Synchronized[int]
_rss: Synchronized[int]


def _share_counters(written: Synchronized[int], rss: Synchronized[int]) -> None:
    global _written, _rss
    _written, _rss = written, rss


class Progress:
    """A line every ``every`` events: how far, how fast, the simulated day, the largest RSS."""

    def __init__(self, count: int, every: int) -> None:
        self.count, self.every = count, every
        self.written = self.shown = 0
        self.started = time.perf_counter()

    def __call__(self, n: int, day: date | None = None, worker_rss_kb: int = 0) -> None:
        self.written += n
        if self.written - self.shown >= self.every or (self.written == self.count and self.shown < self.count):
            self.shown = self.written
            elapsed = time.perf_counter() - self.started
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            children = worker_rss_kb / 1024
            at = f"  at {day:%Y-%m-%d}" if day else ""
            typer.echo(
                f"{self.written:>10,} / {self.count:,} events  {self.written / self.count:6.1%}  "
                f"{self.written / elapsed:8,.0f} events/s{at}  max RSS {max(rss, children):,.0f} MB",
                err=True,
            )


def write(
    kafka: KafkaSettings, namespace: str, count: int, *, seed: int, year: int, partitions: int, every: int, workers: int
) -> tuple[Counter[str], float]:
    names = {t: topic_name(namespace, t) for t in topics.ALL}
    asyncio.run(ensure_topics(kafka, list(names.values()), partitions))
    progress = Progress(count, every)
    if workers == 1:
        per_topic = asyncio.run(produce(kafka, names, count, seed=seed, year=year, progress=progress))
        return per_topic, time.perf_counter() - progress.started
    # Several writers, each with every ``workers``-th region: an aggregate never spans two of them.
    counter: Synchronized[int] = multiprocessing.Value("q", 0)
    rss: Synchronized[int] = multiprocessing.Value("q", 0)
    per_topic = Counter[str]()
    with ProcessPoolExecutor(workers, initializer=_share_counters, initargs=(counter, rss)) as pool:
        futures = [
            pool.submit(_worker, kafka, names, n, seed + part, year, part, workers)
            for part, n in enumerate(split(count, workers))
        ]
        while not all(f.done() for f in futures):
            wait(futures, timeout=0.5, return_when=FIRST_EXCEPTION)
            progress(counter.value - progress.written, worker_rss_kb=rss.value)
        for future in futures:
            per_topic.update(future.result())
    return per_topic, time.perf_counter() - progress.started


@app.command()
def main(
    events_: Annotated[
        int, typer.Option("--events", min=1, help="Events to write (a national year is ~5 M).")
    ] = 5_000_000,
    seed: Annotated[int, typer.Option(help="Seed of every random choice: the same seed, the same events.")] = 2026,
    year: Annotated[int, typer.Option(help="The calendar year the events are dated in.")] = 2025,
    namespace: Annotated[
        str, typer.Option(envvar="SCHAKEL_TOPIC_NAMESPACE", help="Prefix of the topic names, as the services use it.")
    ] = "",
    bootstrap: Annotated[str, typer.Option(envvar="SCHAKEL_KAFKA_BOOTSTRAP_SERVERS")] = "127.0.0.1:9092",
    partitions: Annotated[
        int, typer.Option(min=1, envvar="SCHAKEL_KAFKA_PARTITIONS", help="For topics it creates.")
    ] = 3,
    every: Annotated[int, typer.Option(min=1, help="Print progress every this many events.")] = 100_000,
    workers: Annotated[
        int, typer.Option(min=1, max=16, help="Writer processes, each with its share of the regions.")
    ] = 1,
) -> None:
    """Write a national year (all 42 answering units of the 2013 registry) onto the event topics."""
    # The address from the option; authentication (SCHAKEL_KAFKA_SECURITY_PROTOCOL, ...) as the services read it.
    kafka = KafkaSettings(kafka_bootstrap_servers=bootstrap)
    per_topic, seconds = write(
        kafka, namespace, events_, seed=seed, year=year, partitions=partitions, every=every, workers=workers
    )
    for name, n in sorted(per_topic.items()):
        typer.echo(f"{name:<40} {n:>10,}")
    total = sum(per_topic.values())
    typer.echo(f"{'total':<40} {total:>10,} events in {seconds:,.1f} s: {total / seconds:,.0f} events/s")


if __name__ == "__main__":
    app()
